"""Operators (the people answering in the web inbox) and their sign-ins. No I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pocketping.core.models import iso
from pocketping.errors import InvalidInput

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


def clean_email(value: str) -> str:
    """Emails are compared case-insensitively: stored trimmed and in lower case."""
    email = value.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInput(f"{value!r} is not an email address", code="invalid_email")
    return email


@dataclass(frozen=True)
class Operator:
    id: str
    email: str
    name: str | None
    is_admin: bool
    project_ids: tuple[str, ...]  # explicit grants; an admin reaches every project
    created_at: datetime

    @property
    def display_name(self) -> str:
        """How replies are signed: the operator's name, else the part of the email before @."""
        return self.name or self.email.split("@", 1)[0]

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "name": self.name, "displayName": self.display_name,
                "admin": self.is_admin, "projects": list(self.project_ids), "createdAt": iso(self.created_at)}


@dataclass(frozen=True)
class InboxLogin:
    """A signed-in browser: who, and which projects they reach right now."""

    id: str  # sha256 of the cookie token
    operator: Operator
    project_ids: tuple[str, ...]  # resolved: every project for an admin
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime

    def reaches(self, project_id: str) -> bool:
        return project_id in self.project_ids
