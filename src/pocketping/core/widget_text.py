"""Widget labels the server sends (so features a project may not use cost the bundle nothing),
in the widget's six locales, picked the way the widget picks its own language."""

from __future__ import annotations

from pocketping.core.models import LOCALES, Project

TEXT: dict[str, dict[str, str]] = {
    "en": {"transcript": "Email me this conversation", "name": "Name", "start": "Start chat",
           "accept": "Accept", "ok": "OK",
           "consent": "This chat stores what you write and the page you are on, to answer you."},
    "fr": {"transcript": "M'envoyer cette conversation par e-mail", "name": "Nom", "start": "Démarrer le chat",
           "accept": "Accepter", "ok": "OK",
           "consent": "Ce chat enregistre vos messages et la page consultée, pour vous répondre."},
    "de": {"transcript": "Diese Unterhaltung per E-Mail senden", "name": "Name", "start": "Chat starten",
           "accept": "Akzeptieren", "ok": "OK",
           "consent": "Dieser Chat speichert Ihre Nachrichten und die besuchte Seite, um Ihnen zu antworten."},
    "es": {"transcript": "Enviarme esta conversación por email", "name": "Nombre", "start": "Iniciar chat",
           "accept": "Aceptar", "ok": "OK",
           "consent": "Este chat guarda lo que escribe y la página que visita, para responderle."},
    "pt": {"transcript": "Enviar esta conversa por e-mail", "name": "Nome", "start": "Iniciar conversa",
           "accept": "Aceitar", "ok": "OK",
           "consent": "Este chat guarda o que escreve e a página que visita, para lhe responder."},
    "ar": {"transcript": "أرسل لي هذه المحادثة بالبريد", "name": "الاسم", "start": "ابدأ المحادثة",
           "accept": "موافق", "ok": "حسنًا",
           "consent": "تحفظ هذه المحادثة ما تكتبه والصفحة التي تزورها، للرد عليك."},
}

assert set(TEXT) == set(LOCALES)


def pick_locale(*candidates: object) -> str:
    """The first supported language among the candidates ("pt-BR" -> "pt"), else English."""
    for candidate in candidates:
        code = (candidate if isinstance(candidate, str) else "")[:2].lower()
        if code in TEXT:
            return code
    return "en"


def visitor_locale(project: Project, metadata: dict[str, object]) -> str:
    """The project's locale if it sets one, else the visitor's browser language."""
    return pick_locale(project.widget.locale, metadata.get("language"))


def widget_text(locale: str, key: str) -> str:
    return TEXT.get(locale, TEXT["en"])[key]
