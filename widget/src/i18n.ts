// Localized strings: one '|'-separated line per locale, in the order of `T`. Only English is in
// the bundle; the server serves the others (/widget/i18n/<code>.txt) and the widget fetches the
// visitor's on first use, so each language costs the bundle two letters.

export const enum T {
  Open, OpenUnread, Close, Minimize, Message, Placeholder, Send, Online, Away, Connecting, Typing,
  Closed, Reopened, Ai, Sending, Sent, Delivered, Read, Failed, AwayForm, Email, Notify, Thanks,
  ChatWith, Deleted, Messages, Attach, TooLarge, BadType, Retry, Cancel, Edited,
}

const EN = "Open chat|Open chat ({n} unread)|Close chat|Minimize|Message|Write a message…|Send|Online|Away|Connecting…|{n} is typing|Conversation closed|Conversation reopened|AI|Sending|Sent|Delivered|Read|Not sent|We're away right now. Leave your email and we'll get back to you.|Email|Notify me|Thanks! We'll reply to {n}.|Chat with {n}|Message deleted|Messages|Attach a file|Too large|Type not allowed|Retry|Cancel|edited"

/** The languages the server has strings for. */
export const CODES = ["en", "fr", "de", "es", "pt", "ar"]

/** The first supported language among the candidates (e.g. "pt-BR" -> "pt"), else English. */
export function pickLocale(...candidates: (string | null | undefined)[]): string {
  for (const c of candidates) {
    const code = (c || "").slice(0, 2).toLowerCase()
    if (CODES.includes(code)) return code
  }
  return "en"
}

/** The strings of one locale's line (English when it has not arrived). */
export function strings(line = EN): (key: T, n?: string | number) => string {
  const table = line.split("|")
  return (key, n) => table[key].replace("{n}", String(n))
}

export const rtl = (locale: string) => locale == "ar"
