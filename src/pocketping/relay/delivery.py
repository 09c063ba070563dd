"""The outbox handler for target "bridge": one row = one item for one bridge's thread.

Crash safety: what the platform answered is recorded before the next step (the thread
mapping right after the thread is created, each part's message ids by ``checkpoint``), so a
retry after a crash skips what is already posted. The only unavoidable window is between
the platform accepting a call and our write of its answer (no platform offers idempotency
keys there); it is a few milliseconds wide.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from pocketping.bridges.base import (
    Bridge,
    DeleteRefused,
    DeletesMessages,
    EditsMessages,
    ErasesThreads,
    Outgoing,
    OutgoingFile,
    Posted,
    RenamesThreads,
    SendsFiles,
    SplitsText,
    ThreadGone,
)
from pocketping.bridges.pacing import PacingBusy
from pocketping.core.delivery import Checkpoint, DoneWrite
from pocketping.core.models import Message, OutboxItem
from pocketping.ephemeral import Delivered
from pocketping.errors import DeliveryError
from pocketping.relay import runtime as rt
from pocketping.relay.health import BridgeHealth
from pocketping.relay.live import LiveBridges
from pocketping.relay.ports import Files
from pocketping.relay.sink import reply_external_id
from pocketping.relay.team_copy import DELETED_TEXT, GONE_NOTE, build_card
from pocketping.relay.threads import ThreadCache
from pocketping.store.bridges import Thread
from pocketping.store.db import Database

log = logging.getLogger(__name__)


class _Erased(Exception):
    """The session was erased while this delivery opened a thread for it."""


class BridgeDelivery:
    def __init__(self, db: Database, live: LiveBridges, health: BridgeHealth, threads: ThreadCache,
                 delivered: Delivered, *, public_base: str | None, project_ttl_seconds: float,
                 files: Files | None = None) -> None:
        self.db = db
        self.files = files
        self.live = live
        self.health = health
        self.threads = threads
        self.delivered = delivered
        self.public_base = public_base
        self.projects = rt.ProjectCache(project_ttl_seconds)
        self._prepared: dict[int, rt.Prepared] = {}  # outbox row id -> what prepare() read for it
        # (bridge id, session id) -> the thread a delivery opened and when (time.monotonic()):
        # rows prepared before then get it instead of the one prepare() read.
        self._opened: dict[tuple[str, str], tuple[float, Thread]] = {}
        self._done_writes: dict[int, DoneWrite] = {}  # outbox row id -> written with its outcome

    async def prepare(self, items: list[OutboxItem]) -> None:
        """The outbox is about to deliver these rows of one chain (one bridge, one session):
        read their session and messages at once instead of once per row."""
        if len(self._prepared) > 10_000:
            self._prepared.clear()
        session_id = items[0].session_id
        if session_id is None:
            return
        for item_id, prepared in (await rt.prepare_deliveries(self.db, self.projects, items[0].target_id,
                                                               session_id, items)).items():
            self._prepared[item_id] = prepared

    def done_write(self, item: OutboxItem) -> DoneWrite | None:
        return self._done_writes.pop(item.id, None)

    def _opened_since(self, bridge_id: str, session_id: str, prepared: rt.Prepared | None) -> Thread | None:
        opened = self._opened.get((bridge_id, session_id))
        if opened is None or prepared is None or opened[0] < prepared.at:
            return None
        return opened[1]

    async def deliver(self, item: OutboxItem, checkpoint: Checkpoint) -> dict[str, Any] | None:
        bridge = await self.live.instance(item.target_id)
        if bridge is None:
            return {"skipped": "the bridge was removed"}
        if item.session_id is None:
            return {"skipped": "no session"}
        prepared = self._prepared.pop(item.id, None)
        ctx = await rt.delivery_context(self.db, self.projects, bridge.id, item.session_id, item.message_id,
                                        prepared, self._opened_since(bridge.id, item.session_id, prepared))
        if ctx is None:
            return {"skipped": "the session was erased"}
        progress: dict[str, Any] = dict(item.result or {})
        try:
            if item.action == "post":
                result = await self._post(bridge, item, ctx, progress, checkpoint)
            elif item.action in ("close", "reopen"):
                result = await self._close_or_reopen(bridge, item, ctx, progress, checkpoint)
            elif item.action == "edit":
                result = await self._edit(bridge, item, ctx)
            elif item.action == "delete":
                result = await self._delete(bridge, item, ctx, progress, checkpoint)
            elif item.action == "identified":
                result = await self._identified(bridge, item, ctx, progress, checkpoint)
            else:
                return {"skipped": f"unknown action {item.action}"}
        except PacingBusy:
            raise
        except _Erased:
            return {"skipped": "the session was erased"}
        except DeliveryError as exc:
            if exc.retry_after is None:  # being asked to slow down is not a fault of the bridge
                await self.health.delivery_failed(bridge.id, exc.message)
            raise
        await self.health.delivered_ok(bridge.id)
        return result

    # --- threads -----------------------------------------------------------------------
    async def _open(self, bridge: Bridge, ctx: rt.DeliveryContext, note: str | None = None) -> str:
        assignee = await rt.assignee_name(self.db, ctx.session.assignee_id)
        card = build_card(ctx.session, ctx.project, self.public_base, note=note, assignee=assignee)
        with self.threads.opening(bridge.id):  # a reply in the new thread before its mapping waits for it
            posted = await bridge.open_thread(card)
            if not posted.thread_id:
                raise DeliveryError(f"{bridge.label} did not return a thread id")
            # Recorded at once: a retry after a crash from here on reuses this thread.
            try:
                thread = await rt.save_thread(self.db, bridge.id, ctx.session.id, posted.thread_id)
            except Exception:
                if await rt.session_exists(self.db, ctx.session.id):
                    raise
                # Erased while the thread was being opened (the thread's row has no session to
                # point to): the erasure never knew this thread, so it goes now.
                if isinstance(bridge, ErasesThreads):
                    await bridge.erase_thread(posted.thread_id, list(posted.message_ids))
                raise _Erased(ctx.session.id) from None
            self.threads.remember(bridge.id, ctx.session.id, posted.thread_id)
        if len(self._opened) > 10_000:
            self._opened.clear()
        self._opened[(bridge.id, ctx.session.id)] = (time.monotonic(), thread)
        return posted.thread_id

    async def _thread(self, bridge: Bridge, ctx: rt.DeliveryContext) -> str:
        if ctx.thread is not None:
            return ctx.thread.external_id
        return await self._open(bridge, ctx)

    # --- posting -----------------------------------------------------------------------
    def _outgoing(self, item: OutboxItem, ctx: rt.DeliveryContext) -> Outgoing | None:
        payload = item.payload
        kind = payload.get("kind", "notice")
        author = payload.get("author") or (ctx.session.label() if kind == "visitor" else "PocketPing")
        message = ctx.message
        if message is not None and message.kind == "message":
            if message.deleted_at is not None:
                return None  # withdrawn before it could be delivered
            # An edit made before delivery wins.
            return Outgoing(author=str(author), text=message.text, kind=kind, message=message)
        return Outgoing(author=str(author), text=str(payload.get("text", "")), kind=kind,
                        note_id=item.message_id or f"outbox_{item.id}", note_at=item.created_at)

    async def _post(self, bridge: Bridge, item: OutboxItem, ctx: rt.DeliveryContext, progress: dict[str, Any],
                    checkpoint: Checkpoint) -> dict[str, Any]:
        outgoing = self._outgoing(item, ctx)
        if outgoing is None:
            return {"skipped": "the message was deleted"}
        thread_id = await self._thread(bridge, ctx)
        attached = outgoing.message.attachments if outgoing.message is not None else ()
        # A short text rides on the first file (a caption); a long one, or one for a bridge that
        # uploads nothing, is posted first as usual.
        with_files = bool(attached) and isinstance(bridge, SendsFiles)
        carried = with_files and len(outgoing.text) <= int(getattr(bridge, "caption_chars", 0))
        text_parts: list[Outgoing] = []
        if outgoing.text.strip() and not carried:
            text_parts = bridge.parts(outgoing) if isinstance(bridge, SplitsText) else [outgoing]
        file_steps = len(attached)
        total = len(text_parts) + file_steps
        done: list[list[str]] = [list(p) for p in progress.get("parts", [])]
        while len(done) < total:
            step = len(done)
            try:
                posted = await self._post_step(bridge, thread_id, outgoing, text_parts, step, carried, ctx)
            except ThreadGone:
                log.info("%s thread %s of %s is gone; opening a new one", bridge.label, thread_id, ctx.session.id)
                thread_id = await self._open(bridge, ctx, note=GONE_NOTE)
                posted = await self._post_step(bridge, thread_id, outgoing, text_parts, step, carried, ctx)
            done.append(list(posted.message_ids))
            progress["parts"] = done
            progress["thread"] = thread_id
            if len(done) < total:
                # Recorded before the next part; after the last one, the outcome itself records it.
                await checkpoint(progress)
        if item.message_id and ctx.message is not None:
            if len(self._done_writes) > 10_000:
                self._done_writes.clear()
            # Recorded with the outcome (one transaction fewer; a retry records nothing new).
            self._done_writes[item.id] = rt.posted_write(bridge.id, item.message_id, [i for p in done for i in p])
        if item.payload.get("kind") == "visitor" and ctx.message is not None:
            self._announce_delivered(ctx.session.project_id, ctx.message)
        return progress

    async def _post_step(self, bridge: Bridge, thread_id: str, outgoing: Outgoing, text_parts: list[Outgoing],
                         step: int, carried: bool, ctx: rt.DeliveryContext) -> Posted:
        """Post the ``step``-th piece of an item: its text parts first, then each of its files."""
        if step < len(text_parts):
            return await bridge.post(thread_id, text_parts[step])
        index = step - len(text_parts)
        attachment = outgoing.message.attachments[index]  # type: ignore[union-attr]
        link = (self.public_base or "") + attachment.url
        shown = outgoing if (carried and index == 0) else dataclasses.replace(outgoing, text="")
        if isinstance(bridge, SendsFiles) and self.files is not None and attachment.size <= bridge.max_file_bytes:
            data = await self.files.read(ctx.session.project_id, attachment.id)
            file = OutgoingFile(id=attachment.id, name=attachment.name, content_type=attachment.content_type,
                                size=len(data), data=data, link=link)
            return await bridge.post_file(thread_id, shown, file)
        # Over the platform's limit (or a bridge that uploads nothing): a signed link instead.
        line = f"📎 {attachment.name} ({attachment.size // 1000 + 1} KB): {link}"
        return await bridge.post(thread_id, dataclasses.replace(shown, text=(shown.text + "\n" + line).strip()))

    async def _edit(self, bridge: Bridge, item: OutboxItem, ctx: rt.DeliveryContext) -> dict[str, Any]:
        """An operator's edit: the copies this bridge posted change in place, part by part (the
        latest text, so edits in a row converge). A copy we cannot change (not recorded, with files,
        or a bridge that cannot edit) gets the edit as a line instead."""
        message = ctx.message
        if message is None or message.deleted_at is not None:
            return {"skipped": "the message was deleted"}
        outgoing = self._outgoing(item, ctx)
        ids = await rt.posted_ids(self.db, bridge.id, message.id) if isinstance(bridge, EditsMessages) else []
        thread_id = await self._thread(bridge, ctx)
        if outgoing is None or not ids or message.attachments:
            await bridge.post(thread_id, self._notice(item, str(item.payload.get("fallback", ""))))
            return {"fallback": "posted as a line"}
        parts = bridge.parts(outgoing) if isinstance(bridge, SplitsText) else [outgoing]
        assert isinstance(bridge, EditsMessages)
        for external_id, part in zip(ids, parts, strict=False):
            await bridge.edit_message(thread_id, external_id, part)
        for part in parts[len(ids):]:  # longer than before: the rest follows as new parts
            await bridge.post(thread_id, part)
        return {"edited": ids[:len(parts)]}

    async def _delete(self, bridge: Bridge, item: OutboxItem, ctx: rt.DeliveryContext, progress: dict[str, Any],
                      checkpoint: Checkpoint) -> dict[str, Any]:
        """An operator's withdrawal: every copy this bridge posted is deleted, and so is the reply
        itself when it was written in this thread and withdrawn elsewhere. A copy the platform will
        not delete (Telegram after 48 hours, missing permissions) is edited to "(deleted)"; what can
        be neither is told with a line. Each copy's outcome is kept in the row's result ("copies")."""
        message = ctx.message
        if message is None:
            return {"skipped": "the message is gone"}
        if ctx.thread is None:
            return {"skipped": "no thread yet"}  # nothing was posted: nothing to delete
        thread_id = ctx.thread.external_id
        ours = await rt.posted_ids(self.db, bridge.id, message.id)
        original = reply_external_id(bridge.id, message.client_id)
        targets = [*ours, *([original] if original and original not in ours else [])]
        copies: dict[str, str] = dict(progress.get("copies") or {})
        try:
            for external_id in targets:
                if external_id in copies:
                    continue  # done by an earlier attempt
                copies[external_id] = await self._delete_copy(bridge, item, thread_id, external_id,
                                                              editable=external_id in ours)
                progress["copies"] = copies
                await checkpoint(progress)
            if any(outcome.startswith("kept") for outcome in copies.values()) and not progress.get("noticed"):
                await bridge.post(thread_id, self._notice(item, str(item.payload.get("fallback", ""))))
                progress["noticed"] = True
        except ThreadGone:
            progress["gone"] = True  # the thread went, and its copies with it
        if not targets:
            progress["skipped"] = "no copy was posted"
        return progress

    async def _delete_copy(self, bridge: Bridge, item: OutboxItem, thread_id: str, external_id: str, *,
                           editable: bool) -> str:
        """"deleted", "edited: <why it could not be deleted>" or "kept: <why>"."""
        reason = f"{bridge.label} cannot delete messages"
        if isinstance(bridge, DeletesMessages):
            try:
                await bridge.delete_message(thread_id, external_id)
                return "deleted"
            except DeleteRefused as exc:
                reason = exc.reason
        if editable and isinstance(bridge, EditsMessages):
            tombstone = Outgoing(author=str(item.payload.get("author") or "PocketPing"), text=DELETED_TEXT,
                                 kind="operator", note_id=f"outbox_{item.id}", note_at=item.created_at)
            try:
                await bridge.edit_message(thread_id, external_id, tombstone)
                return f"edited: {reason}"
            except DeliveryError as exc:
                if not exc.permanent:
                    raise
                reason = f"{reason}; {exc.message}"
        return f"kept: {reason}"

    def _announce_delivered(self, project_id: str, message: Message) -> None:
        """Tell the visitor's tabs the team has it (once, even with several bridges)."""
        self.delivered.announce(project_id, message.session_id, message.id, message.seq)

    def _notice(self, item: OutboxItem, text: str) -> Outgoing:
        return Outgoing(author="PocketPing", text=text, kind="notice", note_id=f"outbox_{item.id}",
                        note_at=item.created_at)

    async def _identified(self, bridge: Bridge, item: OutboxItem, ctx: rt.DeliveryContext,
                          progress: dict[str, Any], checkpoint: Checkpoint) -> dict[str, Any]:
        """A notice in the thread, and (where the platform allows) the thread renamed after them."""
        thread = ctx.thread
        if thread is None:
            return {"skipped": "no thread yet"}  # the card, when it comes, already names them
        try:
            if not progress.get("noticed"):
                await bridge.post(thread.external_id, self._notice(item, str(item.payload.get("notice", ""))))
                progress["noticed"] = True
                await checkpoint(progress)
            if isinstance(bridge, RenamesThreads):
                card = build_card(ctx.session, ctx.project, self.public_base)
                await bridge.rename_thread(thread.external_id, card)
        except ThreadGone:
            progress["gone"] = True  # the next message opens a new thread, named afresh
        return progress

    async def _close_or_reopen(self, bridge: Bridge, item: OutboxItem, ctx: rt.DeliveryContext,
                               progress: dict[str, Any], checkpoint: Checkpoint) -> dict[str, Any]:
        thread = ctx.thread
        if thread is None:
            return {"skipped": "no thread yet"}
        closing = item.action == "close"
        notice = item.payload.get("notice")
        gone = False
        if not closing:
            try:
                await bridge.reopen_thread(thread.external_id)
            except ThreadGone:
                gone = True  # the next message opens a new one
        if notice and not progress.get("noticed") and not gone:
            try:
                await bridge.post(thread.external_id, self._notice(item, str(notice)))
            except ThreadGone:
                gone = True
            progress["noticed"] = True
            await checkpoint(progress)
        if closing and not gone:
            try:
                await bridge.close_thread(thread.external_id)
            except ThreadGone:
                gone = True
        await rt.set_thread_status(self.db, bridge.id, ctx.session.id, "closed" if closing else "open")
        if gone:
            progress["gone"] = True
        return progress
