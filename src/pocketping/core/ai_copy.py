"""What the AI says to a visitor without asking the model, in the widget's six locales, and
how a visitor's request for a person is recognised. Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import quote

from pocketping.core.models import LOCALES

DEFAULT_NO_ANSWER = ("I don't know the answer to that, but a person from the team can help: someone will get "
                     "back to you here as soon as possible.")

# The visitor asked for a person (or the model handed over): someone will answer, by email too
# when the visitor leaves an address.
HANDOFF: dict[str, tuple[str, str, str]] = {
    # (someone will answer, + by email (address known), + leave an address)
    "en": ("I've asked a person from the team to take over: someone will answer you here as soon as possible.",
           " You'll also get the answer by email.",
           " If you leave your email address, you'll also get the answer by email."),
    "fr": ("J'ai demandé à une personne de l'équipe de prendre le relais : quelqu'un vous répondra ici dès que "
           "possible.",
           " Vous recevrez aussi la réponse par e-mail.",
           " Si vous laissez votre adresse e-mail, vous recevrez aussi la réponse par e-mail."),
    "de": ("Ich habe eine Person aus dem Team gebeten, zu übernehmen: Jemand antwortet Ihnen hier so bald wie "
           "möglich.",
           " Sie erhalten die Antwort auch per E-Mail.",
           " Wenn Sie Ihre E-Mail-Adresse hinterlassen, erhalten Sie die Antwort auch per E-Mail."),
    "es": ("He pedido a una persona del equipo que se haga cargo: alguien le responderá aquí lo antes posible.",
           " También recibirá la respuesta por email.",
           " Si deja su dirección de email, también recibirá la respuesta por email."),
    "pt": ("Pedi a uma pessoa da equipa que assuma a conversa: alguém lhe responderá aqui o mais depressa "
           "possível.",
           " Também receberá a resposta por e-mail.",
           " Se deixar o seu endereço de e-mail, também receberá a resposta por e-mail."),
    "ar": ("طلبت من أحد أعضاء الفريق أن يتولى المحادثة: سيرد عليك أحدهم هنا في أقرب وقت ممكن.",
           " ستصلك الإجابة أيضًا بالبريد الإلكتروني.",
           " إذا تركت عنوان بريدك الإلكتروني، فستصلك الإجابة بالبريد أيضًا."),
}

SOURCES = {"en": "Sources", "fr": "Sources", "de": "Quellen", "es": "Fuentes", "pt": "Fontes", "ar": "المصادر"}

assert set(HANDOFF) == set(SOURCES) == set(LOCALES)


def handoff_text(locale: str, *, has_email: bool, mail_ready: bool) -> str:
    """What the visitor reads when a person takes over."""
    base, by_mail, leave = HANDOFF.get(locale, HANDOFF["en"])
    if not mail_ready:
        return base
    return base + (by_mail if has_email else leave)


# --- citations ---------------------------------------------------------------------------------

def _markdown_label(title: str) -> str:
    return " ".join(title.replace("[", "(").replace("]", ")").split())[:120] or "link"


def _markdown_url(url: str) -> str:
    # The widget's and the bridges' link syntax ends at a space or a parenthesis.
    return quote(url, safe=":/?#@!$&'*+,;=%~.-_")


def citations(locale: str, pages: Sequence[tuple[str, str]]) -> str:
    """The line that ends an answer: ``Sources: [Title](url) · ...`` for the (title, url)
    pages, each once (by URL), in the order given; "" without any."""
    seen: set[str] = set()
    links: list[str] = []
    for title, url in pages:
        if url in seen or not url.startswith(("https://", "http://")):
            continue
        seen.add(url)
        links.append(f"[{_markdown_label(title or url)}]({_markdown_url(url)})")
    if not links:
        return ""
    return f"{SOURCES.get(locale, SOURCES['en'])}: " + " · ".join(links)


# --- asking for a person -----------------------------------------------------------------------

# Anywhere in a message: a verb of talking followed closely by a person, or an unambiguous noun
# phrase. Matched on lower-cased text without accents (Arabic: without hamza or vowel marks).
_ANYWHERE = [
    # en
    r"\b(talk|speak|chat|connect me|put me through|transfer me)\b.{0,25}\b(human|person|agent|operator|"
    r"representative|rep|someone|somebody|staff|team member)s?\b",
    r"\b(real|actual|live) (person|human|agent|people)\b", r"\bhuman (agent|being|support|please)\b",
    # fr
    r"\b(parler|discuter|echanger|etre mis en relation|joindre)\b.{0,25}\b(humain|une personne|quelqu ?un|"
    r"conseiller|conseillere|agent|operateur|operatrice|interlocuteur)\b",
    r"\b(vraie personne|personne reelle|etre humain|un humain)\b",
    # de
    r"\b(mit|an)\s+(einem|einer|einen|dem|der)?\s*(echten\s+|richtigen\s+|realen\s+)?(menschen?|mitarbeiter(in)?|"
    r"person|berater(in)?|agent(en)?|kundenberater(in)?|kundendienst)\b.{0,20}\b(sprechen|reden|chatten|"
    r"verbunden|verbinden|schreiben)\b",
    r"\b(echte[nr]?|richtige[nr]?) (mensch(en)?|person)\b",
    # es
    r"\b(hablar|conversar|comunicarme|contactar|hable)\b.{0,25}\b(humano|una persona|agente|asesor|asesora|"
    r"operador|operadora|alguien)\b",
    r"\b(persona real|ser humano)\b",
    # pt
    r"\b(falar|conversar|fale)\b.{0,25}\b(humano|uma pessoa|atendente|agente|operador|operadora|alguem)\b",
    r"\b(pessoa real|ser humano)\b",
    # ar
    r"(التحدث|اتحدث|التكلم|اتكلم|تحدث|اكلم|كلم|التواصل|اتواصل).{0,25}(انسان|شخص|موظف|بشري|بشر|وكيل|احد)",
    r"(موظف خدمه العملاء|شخص حقيقي|انسان حقيقي)",
]
# In a short message ("agent?", "human please", "un conseiller svp"): the noun alone is enough.
_SHORT = [
    r"\b(human|agent|operator|representative|a person|real person)\b",
    r"\b(humain|conseiller|conseillere|agent|operateur)\b",
    r"\b(mensch|menschen|mitarbeiter|mitarbeiterin|agent|berater|beraterin)\b",
    r"\b(humano|agente|asesor|asesora|operador|una persona)\b",
    r"\b(humano|atendente|agente|operador|uma pessoa)\b",
    r"(انسان|موظف|بشري|شخص)",
]
ANYWHERE = re.compile("|".join(f"(?:{p})" for p in _ANYWHERE))
SHORT = re.compile("|".join(f"(?:{p})" for p in _SHORT))
SHORT_WORDS = 6
_ARABIC_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ة": "ه", "ى": "ي"})


def _normal(text: str) -> str:
    text = text.lower().translate(_ARABIC_ALEF).replace("’", "'").replace("'", " ")
    text = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def asks_for_person(text: str) -> bool:
    """True when a visitor's message asks to talk to a person rather than the AI."""
    normal = _normal(text)
    if not normal:
        return False
    if ANYWHERE.search(normal):
        return True
    return len(normal.split()) <= SHORT_WORDS and SHORT.search(normal) is not None


# --- greetings and small talk ------------------------------------------------------------------

# Whole messages made only of these ("good morning", "hello there!", "bonjour, ça va ?", "thanks a
# lot", "ok merci") are small talk: the AI answers them briefly itself (no knowledge-base search,
# so never "I don't know" and no hand-off). Matched on the normalised text, word by word.
_SMALL_TALK = [
    # en
    "hi", "hello", "hey", "heya", "hiya", "howdy", "yo", "greetings", "good morning", "good afternoon",
    "good evening", "good day", "good night", "morning", "evening", "afternoon", "there", "everyone",
    "everybody", "all", "guys", "folks", "team", "again", "how are you", "how are you doing", "how r u",
    "how is it going", "how s it going", "hows it going", "how are things", "what s up", "whats up",
    "wassup", "sup", "nice to meet you", "thanks", "thank you", "thx", "ty", "cheers", "so much",
    "very much", "a lot", "ok", "okay", "k", "kk", "cool", "great", "awesome", "perfect", "nice",
    "got it", "fine", "i m fine", "im fine", "good", "bye", "goodbye", "see you", "see ya", "have a nice day",
    "have a good day", "you too", "and you", "please", "sir", "madam", "dear", "friend",
    # fr
    "bonjour", "bonsoir", "salut", "coucou", "allo", "rebonjour", "bonne journee", "bonne soiree", "bonne nuit",
    "merci", "merci beaucoup", "beaucoup", "ca va", "comment ca va", "comment allez vous", "vous allez bien",
    "tu vas bien", "au revoir", "a bientot", "a plus", "d accord", "super", "parfait", "genial", "top", "madame",
    "monsieur", "tout le monde", "et vous", "et toi", "bien", "tres bien",
    # de
    "hallo", "guten morgen", "guten tag", "guten abend", "gute nacht", "moin", "servus", "gruss gott",
    "gruß gott", "danke", "danke schon", "danke sehr", "vielen dank", "tschuss", "auf wiedersehen",
    "wie geht s", "wie gehts", "wie geht es ihnen", "wie geht es dir", "alles klar", "prima", "zusammen",
    "und ihnen", "und dir", "gut", "sehr gut",
    # es
    "hola", "buenos dias", "buen dia", "buenas tardes", "buenas noches", "buenas", "que tal", "como estas",
    "como esta", "gracias", "muchas gracias", "mil gracias", "adios", "hasta luego", "vale", "perfecto",
    "saludos", "muy bien", "y tu", "y usted",
    # pt
    "ola", "oi", "bom dia", "boa tarde", "boa noite", "tudo bem", "tudo bom", "como vai", "como esta",
    "obrigado", "obrigada", "muito obrigado", "muito obrigada", "valeu", "tchau", "ate logo", "perfeito",
    "otimo", "beleza", "e voce",
    # ar (normalised: no hamza or vowel marks)
    "مرحبا", "اهلا", "اهلا وسهلا", "اهلا بك", "السلام عليكم", "سلام", "وعليكم السلام", "صباح الخير",
    "مساء الخير", "صباح النور", "مساء النور", "شكرا", "شكرا جزيلا", "شكرا لك", "كيف حالك", "مع السلامه",
    "تمام", "حسنا",
]
_SMALL_TALK_PHRASE = "|".join(sorted((re.escape(p) for p in _SMALL_TALK), key=len, reverse=True))
SMALL_TALK = re.compile(rf"(?:{_SMALL_TALK_PHRASE})(?: (?:{_SMALL_TALK_PHRASE}))*")
SMALL_TALK_WORDS = 12
_NOT_WORD = re.compile(r"[\W_]+")


def is_small_talk(text: str) -> bool:
    """True when a visitor's message is only a greeting, thanks or pleasantries ("good morning",
    "hello!", "bonjour", "thanks a lot"), with no question or request in it."""
    words = _NOT_WORD.sub(" ", _normal(text)).split()
    if not words or len(words) > SMALL_TALK_WORDS:
        return False
    return SMALL_TALK.fullmatch(" ".join(words)) is not None
