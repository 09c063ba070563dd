"""What the relay records while it runs: thread mappings, the platform ids of what it
posted, inbound dedupe, polling offsets and health. None of it is configuration, so none
of it bumps the configuration version. Everything here takes the database, nothing more."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pocketping.core.delivery import DoneWrite
from pocketping.core.models import BridgeRecord, Message, OutboxItem, Project, Session
from pocketping.relay.planner import enqueue_notice
from pocketping.store import bridges as repo
from pocketping.store import operators as operator_repo
from pocketping.store import projects as project_repo
from pocketping.store import sessions as session_repo
from pocketping.store.bridges import Thread
from pocketping.store.db import Database

PREPARED_FOR_SECONDS = 10.0


@dataclass(frozen=True)
class DeliveryContext:
    session: Session
    project: Project
    message: Message | None
    thread: Thread | None


@dataclass(frozen=True)
class Prepared:
    """What a delivery needs that a whole chain of rows can read at once."""

    session: Session
    project: Project
    message: Message | None
    thread: Thread | None
    at: float  # time.monotonic() when read

    def fresh(self) -> bool:
        """Only for the delivery that follows at once, not for a retry much later."""
        return time.monotonic() - self.at < PREPARED_FOR_SECONDS


class ProjectCache:
    """Projects change rarely and a delivery only shows their name: kept for a few seconds."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Project]] = {}

    async def get(self, tx: Any, project_id: str) -> Project:
        now = time.monotonic()
        hit = self._cache.get(project_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        project = await project_repo.get_project(tx, project_id)
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[project_id] = (now + self.ttl, project)
        return project


async def prepare_deliveries(db: Database, projects: ProjectCache, bridge_id: str, session_id: str,
                             items: list[OutboxItem]) -> dict[int, Prepared]:
    """One read for a chain's rows (one bridge, one session): the session, their messages and
    the thread. A thread the chain opens later is the deliverer's to pass on (``opened``)."""
    message_ids = [i.message_id for i in items if i.message_id]
    async with db.read() as tx:
        session = await session_repo.find_session_any_project(tx, session_id)
        if session is None:
            return {}
        project = await projects.get(tx, session.project_id)
        found = await session_repo.find_messages(tx, session_id, message_ids)
        thread = await repo.find_thread(tx, bridge_id, session_id)
    now = time.monotonic()
    return {i.id: Prepared(session, project, found.get(i.message_id) if i.message_id else None, thread, now)
            for i in items}


async def delivery_context(db: Database, projects: ProjectCache, bridge_id: str, session_id: str,
                           message_id: str | None, prepared: Prepared | None = None,
                           opened: Thread | None = None) -> DeliveryContext | None:
    """Everything one delivery needs; None when the session was erased. ``opened``: a thread
    this chain opened after ``prepared`` was read (it replaces the one read then)."""
    if prepared is not None and prepared.fresh():
        return DeliveryContext(prepared.session, prepared.project, prepared.message, opened or prepared.thread)
    async with db.read() as tx:
        session = await session_repo.find_session_any_project(tx, session_id)
        if session is None:
            return None
        project = await projects.get(tx, session.project_id)
        message = await session_repo.find_message(tx, session_id, message_id) if message_id else None
        thread = await repo.find_thread(tx, bridge_id, session_id)
        return DeliveryContext(session, project, message, thread)


async def session_exists(db: Database, session_id: str) -> bool:
    async with db.read() as tx:
        return await session_repo.find_session_any_project(tx, session_id) is not None


async def assignee_name(db: Database, operator_id: str | None) -> str | None:
    """How the card names whom the conversation is assigned to."""
    if operator_id is None:
        return None
    async with db.read() as tx:
        operator = await operator_repo.find_operator(tx, operator_id)
    return operator.display_name if operator else None


async def find_thread(db: Database, bridge_id: str, session_id: str) -> Thread | None:
    async with db.read() as tx:
        return await repo.find_thread(tx, bridge_id, session_id)


async def save_thread(db: Database, bridge_id: str, session_id: str, external_id: str) -> Thread:
    """Map the session to this thread; returns the mapping as saved."""
    await db.write_soon(lambda tx: repo.save_thread(tx, bridge_id, session_id, external_id))
    now = db.clock.now()
    return Thread(bridge_id, session_id, external_id, "open", now, now)


async def set_thread_status(db: Database, bridge_id: str, session_id: str, status: str) -> None:
    await db.write_soon(lambda tx: repo.set_thread_status(tx, bridge_id, session_id, status))


def posted_write(bridge_id: str, message_id: str, external_ids: list[str]) -> DoneWrite:
    """The record of what was posted, for the transaction that marks the delivery done."""
    return lambda tx: repo.record_posted(tx, bridge_id, message_id, external_ids)


async def posted_ids(db: Database, bridge_id: str, message_id: str) -> list[str]:
    async with db.read() as tx:
        return await repo.posted_ids(tx, bridge_id, message_id)


@dataclass(frozen=True)
class Resolved:
    bridge: BridgeRecord
    session: Session


async def resolve_thread(db: Database, bridge_id: str, external_thread_id: str) -> Resolved | None:
    """The session behind a platform thread of this bridge (None: not one of ours)."""
    async with db.read() as tx:
        bridge = await repo.find_bridge(tx, bridge_id)
        if bridge is None:
            return None
        thread = await repo.find_thread_by_external(tx, bridge_id, external_thread_id)
        if thread is None:
            return None
        session = await session_repo.find_session(tx, bridge.project_id, thread.session_id)
        return Resolved(bridge, session) if session else None


async def thread_being_opened(db: Database, bridge_id: str) -> bool:
    async with db.read() as tx:
        return await repo.thread_being_opened(tx, bridge_id)


async def mark_seen(db: Database, source: str, key: str) -> bool:
    async with db.transaction() as tx:
        return await repo.mark_seen(tx, source, key)


async def save_state(db: Database, bridge_id: str, changes: dict[str, Any]) -> None:
    async with db.transaction() as tx:
        await repo.merge_state(tx, bridge_id, changes)


async def set_bridge_status(db: Database, bridge_id: str, status: str, detail: str | None) -> None:
    async with db.transaction() as tx:
        await repo.set_status(tx, bridge_id, status, detail)


async def load_bridges(db: Database) -> list[BridgeRecord]:
    async with db.read() as tx:
        return await repo.list_bridges(tx)


async def load_bridge(db: Database, bridge_id: str) -> BridgeRecord | None:
    async with db.read() as tx:
        return await repo.find_bridge(tx, bridge_id)


async def post_notice(db: Database, outbox_wake: Callable[[], None], project_id: str, bridge_id: str,
                      session_id: str, text: str) -> None:
    """Answer in one thread (durably, paced and in order with everything else posted there)."""
    async with db.transaction() as tx:
        await enqueue_notice(tx, project_id, bridge_id, session_id, text)
    outbox_wake()
