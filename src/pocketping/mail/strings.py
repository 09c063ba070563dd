"""Every word a mail says, in the widget's six locales."""

from __future__ import annotations

from pocketping.core.models import LOCALES

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "replies_subject": "New reply from {project}",
        "replies_intro": "You have a new reply in your conversation with {project}:",
        "transcript_subject": "Your conversation with {project}",
        "transcript_intro": "Here is your conversation with {project}, as you asked:",
        "continue": "Continue the conversation",
        "answer": "You can also answer this email: your answer goes to the same conversation.",
        "unsubscribe": "Stop these emails",
        "you": "You",
        "why": "You get this email because you left your address in the chat on {project}'s site.",
        # To operators (always in English, like everything PocketPing writes for the team).
        "team_new_subject": "New conversation on {project}",
        "team_new_intro": "A visitor started a conversation on {project} while nobody is online:",
        "team_unanswered_subject": "Unanswered message on {project}",
        "team_unanswered_intro": "A visitor is waiting for an answer on {project} and nobody is online:",
        "team_handoff_subject": "A visitor needs a person on {project}",
        "team_handoff_intro": "The AI handed a conversation on {project} over to a person, and nobody is online:",
        "team_continue": "Open it in the inbox",
        "team_why": "You get this email because you asked to hear of conversations while nobody is online "
                    "(pocketping operator update --notify email).",
    },
    "fr": {
        "replies_subject": "Nouvelle réponse de {project}",
        "replies_intro": "Vous avez une nouvelle réponse dans votre conversation avec {project} :",
        "transcript_subject": "Votre conversation avec {project}",
        "transcript_intro": "Voici votre conversation avec {project}, comme demandé :",
        "continue": "Reprendre la conversation",
        "answer": "Vous pouvez aussi répondre à cet e-mail : votre réponse rejoint la même conversation.",
        "unsubscribe": "Ne plus recevoir ces e-mails",
        "you": "Vous",
        "why": "Vous recevez cet e-mail car vous avez laissé votre adresse dans le chat du site de {project}.",
    },
    "de": {
        "replies_subject": "Neue Antwort von {project}",
        "replies_intro": "Sie haben eine neue Antwort in Ihrer Unterhaltung mit {project}:",
        "transcript_subject": "Ihre Unterhaltung mit {project}",
        "transcript_intro": "Hier ist Ihre Unterhaltung mit {project}, wie gewünscht:",
        "continue": "Unterhaltung fortsetzen",
        "answer": "Sie können auch auf diese E-Mail antworten: Ihre Antwort landet in derselben Unterhaltung.",
        "unsubscribe": "Diese E-Mails abbestellen",
        "you": "Sie",
        "why": "Sie erhalten diese E-Mail, weil Sie Ihre Adresse im Chat auf der Website von {project} "
               "hinterlassen haben.",
    },
    "es": {
        "replies_subject": "Nueva respuesta de {project}",
        "replies_intro": "Tienes una nueva respuesta en tu conversación con {project}:",
        "transcript_subject": "Tu conversación con {project}",
        "transcript_intro": "Aquí tienes tu conversación con {project}, como pediste:",
        "continue": "Continuar la conversación",
        "answer": "También puedes responder a este email: tu respuesta llega a la misma conversación.",
        "unsubscribe": "No recibir más estos emails",
        "you": "Tú",
        "why": "Recibes este email porque dejaste tu dirección en el chat del sitio de {project}.",
    },
    "pt": {
        "replies_subject": "Nova resposta de {project}",
        "replies_intro": "Você tem uma nova resposta na sua conversa com {project}:",
        "transcript_subject": "Sua conversa com {project}",
        "transcript_intro": "Aqui está sua conversa com {project}, como pediu:",
        "continue": "Continuar a conversa",
        "answer": "Você também pode responder a este e-mail: sua resposta vai para a mesma conversa.",
        "unsubscribe": "Não receber mais estes e-mails",
        "you": "Você",
        "why": "Você recebe este e-mail porque deixou seu endereço no chat do site de {project}.",
    },
    "ar": {
        "replies_subject": "رد جديد من {project}",
        "replies_intro": "لديك رد جديد في محادثتك مع {project}:",
        "transcript_subject": "محادثتك مع {project}",
        "transcript_intro": "إليك محادثتك مع {project} كما طلبت:",
        "continue": "متابعة المحادثة",
        "answer": "يمكنك أيضًا الرد على هذه الرسالة: سيصل ردك إلى المحادثة نفسها.",
        "unsubscribe": "إيقاف هذه الرسائل",
        "you": "أنت",
        "why": "تصلك هذه الرسالة لأنك تركت عنوانك في المحادثة على موقع {project}.",
    },
}

assert set(STRINGS) == set(LOCALES)


def words(locale: str) -> dict[str, str]:
    return STRINGS.get(locale, STRINGS["en"])


def word(locale: str, kind: str, key: str) -> str:
    """``key`` for a mail of ``kind``: its own wording if it has one (``team_new_subject``, then
    ``team_why`` for every team mail), else the common one."""
    table = words(locale)
    group = kind.split("_", 1)[0]
    return table.get(f"{kind}_{key}") or table.get(f"{group}_{key}") or table[key]
