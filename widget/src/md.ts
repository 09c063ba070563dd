// A small, safe markdown subset: **bold**, *italic* / _italic_, `code`, [text](url) and bare links.
// Everything is built as DOM nodes with text content; only http(s) and mailto links become links.

import { h } from "./dom"

const RE =
  /\*\*(\S(?:.*?\S)?)\*\*|\*(\S(?:.*?\S)?)\*|(^|\W)_(\S(?:.*?\S)?)_(?!\w)|`([^`\n]+)`|\[([^\]\n]+)\]\(([^()\s]+)\)|((?:https?:\/\/|mailto:)[^\s<>"]*[^\s<>".,:;!?)\]'])/g

export function safeUrl(raw: string): string {
  try {
    const url = new URL(raw)
    return /^(https?|mailto):$/.test(url.protocol) ? url.href : ""
  } catch {
    return ""
  }
}

export function md(text: string, into: Node): Node {
  let last = 0
  for (const m of text.matchAll(RE)) {
    const at = m.index!
    into.appendChild(doc(text.slice(last, at) + (m[3] || "")))
    last = at + m[0].length
    if (m[1]) md(m[1], into.appendChild(h("strong")))
    else if (m[2] || m[4]) md(m[2] || m[4], into.appendChild(h("em")))
    else if (m[5]) into.appendChild(h("code", null, m[5]))
    else {
      const href = safeUrl(m[7] || m[8])
      const t = m[6] || m[8]
      // Text that looks like an address but is not where the link goes: say where it goes.
      const host = href && new URL(href).host
      into.appendChild(
        href
          ? h("a", { href, target: "_blank", rel: "noopener noreferrer nofollow ugc" },
              /\.\w/.test(t) && !t.includes(host) ? `${t} (${host})` : t)
          : doc(m[0]),
      )
    }
  }
  into.appendChild(doc(text.slice(last)))
  return into
}

const doc = (text: string) => document.createTextNode(text)
