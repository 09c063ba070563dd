// Localized strings. One '|'-separated line per locale keeps the bundle small; the order is `T`.

export const enum T {
  Open, OpenUnread, Close, Minimize, Message, Placeholder, Send, Online, Away, Connecting, Typing,
  Closed, Reopened, Ai, Sending, Sent, Delivered, Read, Failed, AwayForm, Email, Notify, Thanks,
  ChatWith, Deleted, Messages, Attach, TooLarge, BadType, Retry, Cancel, Edited,
}

const LOCALES: Record<string, string> = {
  en: "Open chat|Open chat ({n} unread)|Close chat|Minimize|Message|Write a message…|Send|Online|Away|Connecting…|{n} is typing|Conversation closed|Conversation reopened|AI|Sending|Sent|Delivered|Read|Not sent|We're away right now. Leave your email and we'll get back to you.|Email|Notify me|Thanks! We'll reply to {n}.|Chat with {n}|Message deleted|Messages|Attach a file|Too large|Type not allowed|Retry|Cancel|edited",
  fr: "Ouvrir le chat|Ouvrir le chat ({n} non lus)|Fermer le chat|Réduire|Message|Écrivez un message…|Envoyer|En ligne|Absent|Connexion…|{n} écrit|Conversation fermée|Conversation rouverte|IA|Envoi|Envoyé|Remis|Lu|Non envoyé|Nous sommes absents. Laissez votre e-mail, nous vous répondrons.|E-mail|Me prévenir|Merci ! Nous répondrons à {n}.|Discuter avec {n}|Message supprimé|Messages|Joindre un fichier|Trop volumineux|Type non autorisé|Réessayer|Annuler|modifié",
  de: "Chat öffnen|Chat öffnen ({n} ungelesen)|Chat schließen|Minimieren|Nachricht|Nachricht schreiben…|Senden|Online|Abwesend|Verbinde…|{n} schreibt|Unterhaltung beendet|Unterhaltung wieder geöffnet|KI|Wird gesendet|Gesendet|Zugestellt|Gelesen|Nicht gesendet|Wir sind gerade nicht da. Hinterlassen Sie Ihre E-Mail, wir melden uns.|E-Mail|Benachrichtigen|Danke! Wir antworten an {n}.|Chat mit {n}|Nachricht gelöscht|Nachrichten|Datei anhängen|Zu groß|Typ nicht erlaubt|Wiederholen|Abbrechen|bearbeitet",
  es: "Abrir chat|Abrir chat ({n} sin leer)|Cerrar chat|Minimizar|Mensaje|Escribe un mensaje…|Enviar|En línea|Ausente|Conectando…|{n} está escribiendo|Conversación cerrada|Conversación reabierta|IA|Enviando|Enviado|Entregado|Leído|No enviado|Ahora no estamos. Déjanos tu email y te responderemos.|Email|Avisarme|¡Gracias! Responderemos a {n}.|Chatear con {n}|Mensaje eliminado|Mensajes|Adjuntar un archivo|Demasiado grande|Tipo no permitido|Reintentar|Cancelar|editado",
  pt: "Abrir chat|Abrir chat ({n} não lidas)|Fechar chat|Minimizar|Mensagem|Escreva uma mensagem…|Enviar|Online|Ausente|Conectando…|{n} está digitando|Conversa encerrada|Conversa reaberta|IA|Enviando|Enviada|Entregue|Lida|Não enviada|Estamos ausentes. Deixe seu e-mail e responderemos.|E-mail|Avise-me|Obrigado! Responderemos para {n}.|Conversar com {n}|Mensagem apagada|Mensagens|Anexar um arquivo|Grande demais|Tipo não permitido|Repetir|Cancelar|editada",
  ar: "فتح المحادثة|فتح المحادثة ({n} غير مقروءة)|إغلاق المحادثة|تصغير|رسالة|اكتب رسالة…|إرسال|متصل|غير متاح|جارٍ الاتصال…|{n} يكتب|أُغلقت المحادثة|أُعيد فتح المحادثة|ذكاء اصطناعي|جارٍ الإرسال|أُرسلت|وصلت|قُرئت|لم تُرسل|نحن غير متاحين الآن. اترك بريدك الإلكتروني وسنرد عليك.|البريد الإلكتروني|أعلمني|شكرًا! سنرد على {n}.|محادثة مع {n}|حُذفت الرسالة|الرسائل|إرفاق ملف|كبير جدًا|نوع غير مسموح|إعادة|إلغاء|معدّلة",
}

/** The first supported language among the candidates (e.g. "pt-BR" -> "pt"), else English. */
export function pickLocale(...candidates: (string | null | undefined)[]): string {
  for (const c of candidates) {
    const code = (c || "").slice(0, 2).toLowerCase()
    if (LOCALES[code]) return code
  }
  return "en"
}

export function strings(locale: string): (key: T, n?: string | number) => string {
  const table = LOCALES[locale].split("|")
  return (key, n) => table[key].replace("{n}", String(n))
}

export const rtl = (locale: string) => locale == "ar"
