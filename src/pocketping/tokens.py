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
