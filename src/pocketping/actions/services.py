"""What every action needs, as typed fields: settings, the database, the hub, the clock, the
limits, the planners and the group-commit writers. Built by ``pocketping.wiring``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from pocketping.actions.requests import AppendRequest, Connected, ConnectRequest, Sent
from pocketping.clock import Clock
from pocketping.config import Settings
from pocketping.files.storage import BlobStore
from pocketping.groupcommit import GroupCommit
from pocketping.hub import Hub
from pocketping.metrics import Metrics
from pocketping.nudge import Nudge
from pocketping.ratelimit import RateLimiter
from pocketping.store.db import Database, Planner


def _nothing() -> None:
    return None


def _login_slots() -> asyncio.Semaphore:
    # scrypt needs 32 MiB and a core for ~70 ms: at most two at a time, whatever comes in.
    return asyncio.Semaphore(2)


@dataclass
class Services:
    settings: Settings
    db: Database
    hub: Hub
    clock: Clock
    visitor_limiter: RateLimiter
    connection_limiter: RateLimiter
    # Where attachments' sealed bytes live (POCKETPING_STORAGE_URL) and how often a visitor may upload.
    files: BlobStore
    upload_limiter: RateLimiter
    # Who must be told, durably, of each event: outbox rows written in the event's own
    # transaction (bridges, webhooks, the AI timer). The wiring lists them.
    planners: tuple[Planner, ...] = ()
    # Called after a commit that wrote outbox rows (the outbox worker looks at once).
    on_outbox_rows: Callable[[], None] = _nothing
    # Group commit: writes that arrive together share one transaction (made on first use).
    message_writer: GroupCommit[AppendRequest, Sent] | None = None
    connect_writer: GroupCommit[ConnectRequest, Connected] | None = None
    login_hashing: asyncio.Semaphore = field(default_factory=_login_slots)
    # Wakes this node's AI scheduler after a commit that set a due time (the timer planner gives it).
    ai_due: Nudge = field(default_factory=Nudge)
    # What operators measure (GET /metrics); the no-op one unless the settings turn metrics on.
    metrics: Metrics = field(default_factory=Metrics)

    def outbox_committed(self) -> None:
        self.on_outbox_rows()

    def writers(self) -> int:
        """How many batches the database takes at once: SQLite has a single writer anyway."""
        return 1 if self.db.backend == "sqlite" else 4
