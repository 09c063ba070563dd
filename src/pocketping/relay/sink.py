"""What operators do in their threads, turned into the same actions every other edge uses
(through the ``TeamActions`` the wiring passes in)."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from pocketping.bridges.base import InboundReply
from pocketping.bridges.text import split_text
from pocketping.core.rules import CLIENT_ID
from pocketping.ephemeral import typing_event
from pocketping.errors import DeliveryError, InvalidInput, PocketPingError
from pocketping.hub import Hub
from pocketping.relay import commands
from pocketping.relay import runtime as rt
from pocketping.relay.health import BridgeHealth
from pocketping.relay.ports import Files, Notices, TeamActions
from pocketping.relay.threads import ThreadCache
from pocketping.store.db import Database

log = logging.getLogger(__name__)

# An operator may answer in a brand-new thread before its mapping is stored (the platform
# shows the thread as soon as it exists; we record it once the platform says its id). A reply
# in a thread we do not know waits for it while a thread of that bridge is being opened, here
# or by another process, up to THREAD_WAIT_SECONDS; then ``ThreadNotReady`` tells the
# transport not to acknowledge it, and the platform delivers it again.
THREAD_WAIT_SECONDS = 15.0
THREAD_RECHECK_SECONDS = 0.5  # how often another process's openings are looked up meanwhile


class ThreadNotReady(DeliveryError):
    """A reply in a thread that is still being opened, past the wait: deliver it again later."""


def reply_client_id(bridge_id: str, external_id: str, part: int = 0) -> str:
    """The idempotency key of a platform message: the same reply delivered twice is stored once."""
    suffix = f":{part}" if part else ""
    candidate = f"{bridge_id}:{external_id}{suffix}"
    if CLIENT_ID.match(candidate):
        return candidate
    digest = hashlib.sha256(external_id.encode()).hexdigest()[:24]
    return f"{bridge_id}:h{digest}{suffix}"


def reply_external_id(bridge_id: str, client_id: str | None) -> str | None:
    """The platform id of a reply written in ``bridge_id``'s thread (from its ``reply_client_id``);
    None for anything else, or when the id was too long to be kept (hashed)."""
    prefix = f"{bridge_id}:"
    if not client_id or not client_id.startswith(prefix):
        return None
    external = re.sub(r":\d+$", "", client_id[len(prefix):])
    return external if external and not external.startswith("h") else None


class Sink:
    """The ``InboundSink`` every bridge reports to."""

    def __init__(self, db: Database, hub: Hub, team: TeamActions, notices: Notices, health: BridgeHealth, *,
                 max_text_chars: int, public_base: str | None, files: Files | None = None,
                 threads: ThreadCache | None = None) -> None:
        self.db = db
        self.files = files
        self.threads = threads or ThreadCache(db)
        self.hub = hub
        self.team = team
        self.health = health
        self.max_text_chars = max_text_chars
        self.commands = commands.CommandContext(team, notices, self.seen, public_base)
        # Several nodes (``LiveBridges`` sets these when leases decide who runs a connection):
        # may this node still write a bridge's state, and what to do when the platform says
        # another process holds the connection.
        self.may_save: Callable[[str], bool] = lambda bridge_id: True
        self.on_conflict: Callable[[str], bool] | None = None

    async def _resolve(self, bridge_id: str, thread_id: str, what: str) -> rt.Resolved | None:
        """The conversation of a thread, waiting for the mapping of one being opened (see
        THREAD_WAIT_SECONDS); None for a thread that is not one of ours."""
        resolved = await rt.resolve_thread(self.db, bridge_id, thread_id)
        if resolved is not None:
            return resolved
        deadline = None
        while self.threads.opening_here(bridge_id) or await rt.thread_being_opened(self.db, bridge_id):
            if deadline is None:
                log.info("bridge %s: a %s in thread %s waits for the thread being opened to be recorded",
                         bridge_id, what, thread_id)
                deadline = time.monotonic() + THREAD_WAIT_SECONDS
            elif time.monotonic() >= deadline:
                raise ThreadNotReady(f"thread {thread_id} of bridge {bridge_id} is not recorded yet")
            await self.threads.opening_ended(THREAD_RECHECK_SECONDS)
            resolved = await rt.resolve_thread(self.db, bridge_id, thread_id)
            if resolved is not None:
                return resolved
        return None

    async def reply(self, reply: InboundReply) -> None:
        resolved = await self._resolve(reply.bridge_id, reply.thread_id, "reply")
        if resolved is None:
            return  # a thread that is not one of our conversations
        command = commands.parse(reply.text)
        if command is not None:
            await commands.run(self.commands, resolved, reply, command)
            return
        bridge, session = resolved.bridge, resolved.session
        name = (reply.operator_name or "").strip()[:100] or "Operator"
        attachments = await self._store_files(reply, bridge.project_id, session.id, bridge.type)
        pieces = split_text(reply.text, self.max_text_chars) if reply.text.strip() else [""]
        for i, piece in enumerate(pieces):
            try:
                # The files go with the first part (a file alone is a message with no text).
                await self.team.reply(bridge.project_id, session.id, piece, operator_name=name, source=bridge.type,
                                      origin=bridge.id, client_id=reply_client_id(bridge.id, reply.external_id, i),
                                      attachments=attachments if i == 0 else ())
            except InvalidInput as exc:
                log.info("ignored a %s reply in %s: %s", reply.platform_label, session.id, exc.message)

    async def _store_files(self, reply: InboundReply, project_id: str, session_id: str, source: str
                           ) -> tuple[str, ...]:
        """Download what the operator shared (size-limited) and store it like a visitor upload.
        A file that cannot be taken is skipped (logged), the rest of the reply still goes."""
        if not reply.files or self.files is None:
            return ()
        stored: list[str] = []
        for f in reply.files[:10]:
            try:
                if f.size is not None and f.size > self.files.max_bytes:
                    raise InvalidInput(f"{f.name} is larger than {self.files.max_bytes} bytes", code="file_too_large")
                data = await f.fetch(self.files.max_bytes)
                stored.append(await self.files.store(project_id, session_id, f.name, data, uploader=source))
            except PocketPingError as exc:
                log.info("skipped a file from %s in %s: %s", reply.platform_label, session_id, exc.message)
        return tuple(stored)

    async def edited(self, bridge_id: str, thread_id: str, external_id: str, text: str) -> None:
        resolved = await self._resolve(bridge_id, thread_id, "edit")
        if resolved is None or commands.parse(text) is not None:
            return
        project_id, session_id = resolved.bridge.project_id, resolved.session.id
        message = await self.team.find_reply(project_id, session_id, reply_client_id(bridge_id, external_id))
        if message is None:
            return
        try:
            await self.team.edit(project_id, session_id, message.id, text, origin=bridge_id)
        except InvalidInput as exc:
            log.info("ignored an edit in %s: %s", session_id, exc.message)

    async def deleted(self, bridge_id: str, thread_id: str, external_id: str) -> None:
        resolved = await self._resolve(bridge_id, thread_id, "deletion")
        if resolved is None:
            return
        project_id, session_id = resolved.bridge.project_id, resolved.session.id
        for part in range(0, 10):
            message = await self.team.find_reply(project_id, session_id, reply_client_id(bridge_id, external_id, part))
            if message is None:
                break
            try:
                await self.team.delete(project_id, session_id, message.id, origin=bridge_id)
            except InvalidInput as exc:
                log.info("ignored a deletion in %s: %s", session_id, exc.message)

    async def typing(self, bridge_id: str, thread_id: str, operator_name: str) -> None:
        resolved = await rt.resolve_thread(self.db, bridge_id, thread_id)
        if resolved is None:
            return
        name = (operator_name or "").strip()[:100] or None
        self.hub.publish(typing_event(resolved.bridge.project_id, resolved.session.id, sender="operator", active=True,
                                      operator_name=name, origin=bridge_id))

    async def seen(self, source: str, key: str) -> bool:
        return await rt.mark_seen(self.db, source, key)

    async def save_state(self, bridge_id: str, changes: dict[str, Any]) -> None:
        if not self.may_save(bridge_id):
            log.warning("bridge %s: not saving its state, this node no longer holds its lease", bridge_id)
            return
        await rt.save_state(self.db, bridge_id, changes)

    async def lost_connection(self, bridge_id: str) -> bool:
        """The platform says another process holds this bridge's connection (Telegram's 409):
        True if this node gives it up (several nodes), so the bridge stops receiving."""
        return self.on_conflict is not None and self.on_conflict(bridge_id)

    async def report(self, bridge_id: str, status: str, detail: str | None = None) -> None:
        await self.health.report(bridge_id, status, detail)
