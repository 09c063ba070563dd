"""Saved replies: shortcuts and the placeholders filled from the visitor's identity (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pocketping.core.models import Identity
from pocketping.errors import InvalidInput

SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_TEXT = 4000
_PLACEHOLDER = re.compile(r"\{(name|email)\}")


@dataclass(frozen=True)
class SavedReply:
    id: str
    project_id: str
    shortcut: str
    text: str

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "projectId": self.project_id, "shortcut": self.shortcut, "text": self.text}


def check_shortcut(value: str) -> str:
    shortcut = value.strip().lstrip("/").lower()
    if not SHORTCUT.match(shortcut):
        raise InvalidInput("a shortcut is 1-64 lowercase letters, digits, '-' or '_', starting with a letter or "
                           "digit (like invoice or where-is-my-order)", code="invalid_shortcut")
    return shortcut


def check_reply_text(value: str) -> str:
    text = value.strip()
    if not text or len(text) > MAX_TEXT:
        raise InvalidInput(f"a saved reply's text is 1-{MAX_TEXT} characters", code="invalid_reply_text")
    return text


def fill(text: str, identity: Identity | None) -> str:
    """``{name}`` and ``{email}`` from the identity; an unknown one becomes "there" / "" so a
    greeting still reads ("Hi {name}," -> "Hi there,")."""
    values = {"name": (identity.name if identity else None) or "there",
              "email": (identity.email if identity else None) or ""}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
