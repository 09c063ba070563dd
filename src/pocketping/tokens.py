"""Session tokens: what a widget keeps to resume its session. A session id alone grants nothing."""

from __future__ import annotations

from dataclasses import dataclass

from pocketping.crypto import Keyring

_PURPOSE = "pocketping/session-token/v1"


@dataclass(frozen=True)
class SessionToken:
    project_id: str
    session_id: str
    visitor_id: str


def issue(keyring: Keyring, project_id: str, session_id: str, visitor_id: str) -> str:
    body = f"{project_id}.{session_id}.{visitor_id}"
    return f"v1.{body}.{keyring.sign(_PURPOSE, body)}"


def read(keyring: Keyring, token: object) -> SessionToken | None:
    """The token's claims if its signature holds, else None (never an exception)."""
    if not isinstance(token, str) or len(token) > 300:
        return None
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != "v1":
        return None
    _, project_id, session_id, visitor_id, signature = parts
    if not keyring.verify(_PURPOSE, f"{project_id}.{session_id}.{visitor_id}", signature):
        return None
    return SessionToken(project_id, session_id, visitor_id)


# --- links in mail ------------------------------------------------------------------------------
# A reply mail's "continue the conversation" link carries a resume token: it restores the session
# in the widget (the widget hands it over as its token) until it expires. An unsubscribe token
# names one session's mail and never expires (an old mail's unsubscribe link must keep working).

_RESUME = "pocketping/resume-link/v1"
_UNSUBSCRIBE = "pocketping/unsubscribe/v1"


def issue_resume(keyring: Keyring, project_id: str, session_id: str, visitor_id: str, expires: int) -> str:
    body = f"{project_id}.{session_id}.{visitor_id}.{expires}"
    return f"r1.{body}.{keyring.sign(_RESUME, body)}"


def read_resume(keyring: Keyring, token: object, now: float) -> SessionToken | None:
    """The claims of an unexpired resume token whose signature holds, else None."""
    if not isinstance(token, str) or len(token) > 300:
        return None
    parts = token.split(".")
    if len(parts) != 6 or parts[0] != "r1" or not parts[4].isdigit():
        return None
    _, project_id, session_id, visitor_id, expires, signature = parts
    if int(expires) < now or not keyring.verify(_RESUME, ".".join(parts[1:5]), signature):
        return None
    return SessionToken(project_id, session_id, visitor_id)


def issue_unsubscribe(keyring: Keyring, session_id: str) -> str:
    return f"u1.{session_id}.{keyring.sign(_UNSUBSCRIBE, session_id)}"


def read_unsubscribe(keyring: Keyring, token: object) -> str | None:
    """The session an unsubscribe token names, if its signature holds."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "u1" or not keyring.verify(_UNSUBSCRIBE, parts[1], parts[2]):
        return None
    return parts[1]
