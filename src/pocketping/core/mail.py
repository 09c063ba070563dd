"""Per-project mail options (stored in the project's settings) and their rules (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pocketping.errors import InvalidInput

DEFAULT_EMAIL_DELAY = 300


@dataclass(frozen=True)
class MailOptions:
    replies: bool  # mail a visitor the replies they have not seen
    delay_seconds: int


def mail_options(extra: dict[str, Any], *, mail_ready: bool) -> MailOptions:
    """``email_replies`` unset means on once SMTP is configured."""
    replies = extra.get("email_replies")
    return MailOptions(replies=mail_ready and (replies is None or bool(replies)),
                       delay_seconds=int(extra.get("email_delay", DEFAULT_EMAIL_DELAY)))


def check_email_delay(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 7 * 86400:
        raise InvalidInput("--email-delay must be 0-604800 seconds", code="invalid_setting", field="emailDelay")
    return value


def check_on_off(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("on", "off"):
        return bool(value == "on")
    raise InvalidInput(f"{name} must be on or off", code="invalid_setting")


PRECHAT = ("off", "optional", "required")


def check_prechat(value: Any) -> str:
    if value not in PRECHAT:
        raise InvalidInput("--prechat must be off, optional or required", code="invalid_setting")
    return str(value)


# Consent before collection (docs/privacy.md): "off" shows nothing; "notice" shows the consent text
# once; "required" collects no metadata, address or country and takes no email before the visitor
# accepts it.
CONSENT = ("off", "notice", "required")
DEFAULT_CONSENT = "notice"


def check_consent(value: Any) -> str:
    if value not in CONSENT:
        raise InvalidInput("--consent must be off, notice or required", code="invalid_setting", field="consent")
    return str(value)


def consent_mode(extra: dict[str, Any]) -> str:
    """A project's consent mode, from its settings (``Project.extra``)."""
    value = extra.get("consent")
    return str(value) if value in CONSENT else DEFAULT_CONSENT
