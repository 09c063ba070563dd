"""What the relay needs from the rest of PocketPing, as narrow interfaces passed in by the
wiring: the actions operators take from their threads, and a way to post a line into one
thread. The relay never imports the actions; the actions implement these."""

from __future__ import annotations

from typing import Protocol

from pocketping.core.models import Message, Project


class TeamActions(Protocol):
    """What an operator does in a platform thread, carried out like from any other edge."""

    async def reply(self, project_id: str, session_id: str, text: str, *, operator_name: str, source: str,
                    origin: str, client_id: str, attachments: tuple[str, ...] = ()) -> None:
        """Raises ``InvalidInput`` for a reply that cannot be sent (the sink logs and drops it)."""

    async def find_reply(self, project_id: str, session_id: str, client_id: str) -> Message | None: ...

    async def edit(self, project_id: str, session_id: str, message_id: str, text: str, *, origin: str) -> None: ...

    async def delete(self, project_id: str, session_id: str, message_id: str, *, origin: str) -> None: ...

    async def close(self, project_id: str, session_id: str, *, origin: str) -> None: ...

    async def reopen(self, project_id: str, session_id: str, *, origin: str) -> None: ...

    async def set_ai(self, project_id: str, session_id: str, enabled: bool, *, origin: str) -> None: ...

    async def set_team_status(self, project_id: str, status: str, *, active: bool = False) -> None: ...

    async def assign(self, project_id: str, session_id: str, who: str, *, author: str, origin: str) -> None:
        """``who``: an operator's name or email, ``me`` (the operator named ``author``) or ``nobody``;
        raises ``InvalidInput`` saying who can be named."""

    async def note(self, project_id: str, session_id: str, text: str, *, operator_name: str, source: str,
                   origin: str) -> None: ...

    async def saved_reply(self, project_id: str, session_id: str, shortcut: str, *, operator_name: str, source: str,
                          origin: str, client_id: str) -> None:
        """Raises ``NotFound`` for an unknown shortcut."""

    async def project(self, project_id: str) -> Project: ...


class Files(Protocol):
    """Stored files: what a delivery uploads to a platform, what an operator shared there."""

    max_bytes: int  # the largest file taken from a platform (POCKETPING_MAX_UPLOAD_BYTES)

    async def read(self, project_id: str, file_id: str) -> bytes: ...

    async def store(self, project_id: str, session_id: str, name: str, data: bytes, *, uploader: str) -> str:
        """Store a file shared in a thread like a visitor's upload; its id (``InvalidInput`` if refused)."""
        ...


class Notices(Protocol):
    async def post(self, project_id: str, bridge_id: str, session_id: str, text: str) -> None:
        """A line for one thread only, durably and in order with the rest posted there."""
