"""Widget labels the server sends (so features a project may not use cost the bundle nothing),
in the widget's six locales, picked the way the widget picks its own language."""

from __future__ import annotations

from pocketping.core.models import LOCALES, Project

TEXT: dict[str, dict[str, str]] = {
    "en": {"transcript": "Email me this conversation", "name": "Name", "start": "Start chat"},
    "fr": {"transcript": "M'envoyer cette conversation par e-mail", "name": "Nom", "start": "Démarrer le chat"},
    "de": {"transcript": "Diese Unterhaltung per E-Mail senden", "name": "Name", "start": "Chat starten"},
    "es": {"transcript": "Enviarme esta conversación por email", "name": "Nombre", "start": "Iniciar chat"},
    "pt": {"transcript": "Enviar esta conversa por e-mail", "name": "Nome", "start": "Iniciar conversa"},
    "ar": {"transcript": "أرسل لي هذه المحادثة بالبريد", "name": "الاسم", "start": "ابدأ المحادثة"},
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
