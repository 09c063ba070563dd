"""What the group-committed writes of the actions take and give back (plain records).

Kept apart from the actions themselves so ``Services`` can name its writers' types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pocketping import tokens
from pocketping.core.models import Message, Project, Sender, Session


@dataclass(frozen=True)
class Sent:
    message: Message
    session: Session
    duplicate: bool = False


@dataclass(frozen=True)
class AppendRequest:
    """One message to store (visitor, operator or AI), batched with others by group commit."""

    project_id: str
    session_id: str
    sender: Sender
    source: str
    text: str
    client_id: str | None
    operator_name: str | None
    origin: str | None
    reopen: bool
    attachments: tuple[str, ...] = ()  # ids of stored files the message names


@dataclass(frozen=True)
class Connected:
    session: Session
    token: str
    created: bool
    project: Project | None = None


@dataclass(frozen=True)
class ConnectRequest:
    """One page view to resume or start a session for, batched with others by group commit.
    A widget's page view names its project by public key (and its origin): the batch looks the
    projects up itself, so a page view is one shared transaction and nothing else."""

    project: Project | None
    claims: tokens.SessionToken | None
    meta: dict[str, Any]
    ip: str | None
    country: str | None
    public_key: str = ""
    origin: str | None = None
    prechat_first: bool = False  # a new visitor of a project that requires the pre-chat form: no session yet


class PrechatFirst(Exception):
    """The answer to a page view with ``prechat_first`` when the project requires the pre-chat
    form and the visitor has no session: nothing was created; ask the form, then connect."""

    def __init__(self, project: Project) -> None:
        super().__init__("the pre-chat form comes first")
        self.project = project
