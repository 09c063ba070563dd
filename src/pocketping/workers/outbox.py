"""The durable delivery queue shared by bridges and webhooks.

Rows are written in the same transaction as the change they deliver (by the planners the
wiring lists). This worker delivers them:

* in order per chain, a chain being one target (a bridge, a webhook endpoint) and one session;
* concurrently across chains;
* with exponential backoff and jitter, honouring ``retry_after`` from the target;
* at least once, with a lease so several workers (or nodes) never deliver the same row at
  the same time; handlers make the step after the platform call idempotent by recording
  progress with ``checkpoint``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pocketping import logs
from pocketping.adaptive import AdaptiveLimit
from pocketping.clock import Clock, sleep_or_wake
from pocketping.core.delivery import Checkpoint, DoneWrite, OutboxHandler
from pocketping.core.models import OutboxItem
from pocketping.errors import DeliveryError
from pocketping.groupcommit import GroupCommit
from pocketping.store import outbox as q
from pocketping.store.db import Database, background

log = logging.getLogger(__name__)

__all__ = ["Checkpoint", "OutboxHandler", "OutboxWorker", "backoff_seconds"]

_NEVER = datetime.min.replace(tzinfo=UTC)
PREFETCH = 16  # rows of one chain read at once
# Commits wake the worker many times a second under load: it lets this many turns of the
# event loop pass before it looks, so wakes that come together make one look (no wall time).
COALESCE_TURNS = 3


@dataclass(frozen=True)
class _Op:
    kind: Literal["lease", "checkpoint", "done", "retry", "release"]
    item_id: int
    at: datetime = _NEVER
    result: dict[str, Any] | None = None
    error: str | None = None
    failed: bool = False
    write: DoneWrite | None = None  # "done": the handler's write committed with it
    # "done": the chain's next row, leased until ``at`` in the same transaction (one commit
    # for a row's outcome and the next one's lease); the op's answer says whether it was.
    lease_next: int | None = None


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter (1 s, 2 s, 4 s ... capped at 10 minutes). When the target said
    when to come back (``retry_after``), that wins, plus a little jitter so retries don't stampede."""
    if retry_after is not None:
        return float(retry_after) + random.uniform(0, min(1.0, retry_after * 0.1))
    base = min(600.0, float(2 ** min(attempts, 12)))
    return base / 2 + random.uniform(0, base / 2)


class OutboxWorker:
    def __init__(self, db: Database, clock: Clock, *, poll_seconds: float = 1.0, lease_seconds: float = 60.0,
                 retry_window_seconds: float = 86400.0, concurrency: int = 64, keep_done_days: float = 7.0,
                 on_delivered: Callable[[OutboxItem, dict[str, Any] | None], None] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.retry_window = timedelta(seconds=retry_window_seconds)
        # Delivered rows stay this long (``webhook deliveries`` shows them), then go.
        self.keep_done = timedelta(days=keep_done_days)
        self.handlers: dict[str, OutboxHandler] = {}
        self.on_delivered = on_delivered
        self._wake = asyncio.Event()
        self._active: set[tuple[str, str | None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # At most `concurrency` rounds at once, fewer while the event loop falls behind.
        self._sem = AdaptiveLimit(concurrency)
        self._runner: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        # Commits announced (notify) and the latest of them a look at the queue has covered:
        # the worker is idle only once it has looked since the last announcement.
        self._announced = 0
        self._looked = 0
        self._stopping = False
        # When the earliest chain head not yet ready becomes ready (None: no such head).
        self._next_ready: datetime | None = None
        # Leases, checkpoints and outcomes of concurrent deliveries share commits.
        self._state: GroupCommit[_Op, bool] = GroupCommit(self._apply, writers=1 if db.backend == "sqlite" else 4)

    def register(self, target: str, handler: OutboxHandler) -> None:
        self.handlers[target] = handler

    def notify(self) -> None:
        """New rows were committed: look now rather than at the next poll."""
        self._announced += 1
        self._idle.clear()
        self._wake.set()

    @property
    def next_ready_at(self) -> datetime | None:
        """When the earliest chain head that is not ready yet becomes ready, as of the last look
        (the worker sleeps until then unless woken); None if there was none."""
        return self._next_ready

    def _settle_idle(self) -> None:
        if not self._active and self._looked == self._announced:
            self._idle.set()

    def start(self) -> None:
        self._stopping = False
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="outbox-worker")
            self._sem.start()

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop polling, let deliveries in flight finish their current row, then cancel the rest."""
        self._stopping = True
        self._wake.set()
        if self._runner is not None:
            # Let the poller finish what it is doing (a cancelled database call can outlive its loop).
            done, _ = await asyncio.wait({self._runner}, timeout=grace_seconds)
            if not done:
                self._runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._runner
            self._runner = None
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        await self._sem.stop()

    async def prune(self) -> int:
        """Delete delivered rows older than the retention; pending and failed rows stay (the
        pruning worker calls this hourly)."""
        async with self.db.transaction() as tx:
            removed = await q.prune_done(tx, tx.now - self.keep_done)
        if removed:
            log.info("pruned %d delivered outbox rows", removed)
        return removed

    async def _run(self) -> None:
        with background():
            await self._poll()

    async def _poll(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                announced = self._announced
                await self.run_once()
                self._looked = announced
                self._settle_idle()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox poll failed; trying again shortly")
            if not self._stopping:
                await self._wait()
                for _ in range(COALESCE_TURNS):
                    await asyncio.sleep(0)

    async def _wait(self) -> None:
        """Sleep until the earliest chain head is ready (due, lease over), a commit or a finished
        chain wakes us, or at most ``poll_seconds`` (for rows other processes commit): never less."""
        seconds = self.poll_seconds
        if self._next_ready is not None:
            seconds = min(seconds, max(0.0, (self._next_ready - self.clock.now()).total_seconds()))
        await sleep_or_wake(self.clock, seconds, self._wake)

    async def run_once(self) -> int:
        """Start delivering every chain whose head is ready; returns how many chains were started.
        Notes when the next head becomes ready (the same query)."""
        async with self.db.read() as tx:
            heads = await q.chain_heads(tx, limit=500)
            now = tx.now
        started = 0
        self._next_ready = None
        for target_id, session_id, ready_at in heads:
            if ready_at > now:
                self._next_ready = ready_at  # heads come earliest first: nothing else is ready
                break
            chain = (target_id, session_id)
            if chain in self._active:
                continue  # its drain wakes us when it ends
            self._active.add(chain)
            self._idle.clear()
            task = asyncio.create_task(self._drain_chain(*chain))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _drain_chain(self, target_id: str, session_id: str | None) -> None:
        with background():
            await self._drain(target_id, session_id)

    async def _drain(self, target_id: str, session_id: str | None) -> None:
        try:
            more = True
            while more and not self._stopping:
                async with self._sem:  # taken per round, so a busy chain cannot starve the others
                    more = await self._deliver_some(target_id, session_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Not woken at once: the head is still ready, looking again now would loop.
            log.exception("outbox chain %s/%s failed; trying again at the next poll", target_id, session_id)
            crashed = True
        else:
            crashed = False
        finally:
            self._active.discard((target_id, session_id))
            self._settle_idle()
        if not crashed:
            self._wake.set()  # something may have become due while we were busy

    async def _apply(self, ops: list[_Op]) -> list[bool | BaseException]:
        """Row state changes of many deliveries, in one transaction (group commit), one
        statement per kind of change for all their rows. One delivery has at most one op
        waiting at a time, so the ops of a commit are of distinct rows or in their order."""
        if all(op.kind == "lease" for op in ops):  # the heads of rounds only: one statement
            async with self.db.one_statement() as tx:
                leased = await q.lease_many(tx, [op.item_id for op in ops], max(op.at for op in ops))
            return [op.item_id in leased for op in ops]
        async with self.db.transaction() as tx:
            leases = [(op.item_id, op.at) for op in ops if op.kind == "lease"]
            leases += [(op.lease_next, op.at) for op in ops if op.lease_next is not None]
            # One lease end for the batch: its ops were made within a moment of each other.
            leased = await q.lease_many(tx, [i for i, _ in leases],
                                        max(at for _, at in leases)) if leases else set()
            await q.checkpoint_many(tx, [(op.item_id, op.result or {}) for op in ops if op.kind == "checkpoint"])
            await q.done_many(tx, [(op.item_id, op.result) for op in ops if op.kind == "done"])
            for op in ops:
                if op.write is not None:
                    await op.write(tx)
            await q.retry_many(tx, [(op.item_id, op.error or "", op.at, op.failed)
                                    for op in ops if op.kind == "retry"])
            await q.release_many(tx, [op.item_id for op in ops if op.kind == "release"])
        return [op.item_id in leased if op.kind == "lease" else
                op.lease_next in leased if op.lease_next is not None else True for op in ops]

    async def _deliver_some(self, target_id: str, session_id: str | None) -> bool:
        """Deliver the chain's oldest pending rows while they are due (one read for several);
        True if there may be more."""
        async with self.db.read() as tx:
            items = await q.chain_rows(tx, target_id, session_id, PREFETCH)
        prepare = getattr(self.handlers.get(items[0].target), "prepare", None) if len(items) > 1 else None
        if prepare is not None:
            try:
                await prepare(items)  # optional: read what the rows need at once
            except Exception:
                log.exception("preparing outbox rows failed; delivering them one by one")
        leased = False  # whether the row up next was leased with the outcome of the one before
        for index, item in enumerate(items):
            if self._stopping:
                if leased:  # given back: another worker need not wait for the lease to end
                    await self._state.run(_Op("release", item.id))
                return False
            after = items[index + 1] if index + 1 < len(items) else None
            go_on, leased = await self._deliver(item, leased, after)
            if not go_on:
                return False
        return len(items) == PREFETCH

    async def _deliver(self, item: OutboxItem, leased: bool = False,
                       after: OutboxItem | None = None) -> tuple[bool, bool]:
        """Deliver one row if it is due and ours to take (``leased``: it is ours already); returns
        whether to go on with its chain, and whether ``after`` (the chain's next row) was leased
        with this one's outcome."""
        logs.bind(project_id=item.project_id, session_id=item.session_id)
        now = self.clock.now()
        if not leased:
            if item.next_attempt_at > now:
                return False, False
            if not await self._state.run(_Op("lease", item.id, at=now + timedelta(seconds=self.lease_seconds))):
                return False, False
        handler = self.handlers.get(item.target)
        if handler is None:
            await self._fail(item, DeliveryError(f"no handler for target {item.target!r}"), retry_in=60.0)
            return False, False

        async def checkpoint(result: dict[str, Any]) -> None:
            await self._state.run(_Op("checkpoint", item.id, result=result))

        try:
            result = await handler.deliver(item, checkpoint)
        except asyncio.CancelledError:
            raise
        except DeliveryError as exc:
            delay = 0.0 if exc.permanent else backoff_seconds(item.attempts, exc.retry_after)
            failed = await self._fail(item, exc, retry_in=delay, permanent=exc.permanent)
            return failed, False  # a failed row no longer blocks its chain; a retried one does
        except Exception as exc:
            log.exception("delivery of outbox row %s crashed", item.id)
            await self._fail(item, DeliveryError(f"{type(exc).__name__}: {exc}"),
                             retry_in=backoff_seconds(item.attempts))
            return False, False
        done_write = getattr(handler, "done_write", None)
        write = done_write(item) if done_write is not None else None
        # The next row, when due, is leased with this outcome (given back if the worker stops).
        now = self.clock.now()
        lease_next = after.id if after is not None and after.next_attempt_at <= now else None
        until = now + timedelta(seconds=self.lease_seconds)
        try:
            next_leased = await self._state.run(_Op("done", item.id, at=until, result=result, write=write,
                                                    lease_next=lease_next))
        except Exception:
            if write is None:
                raise
            # Delivered all the same: posting it again would duplicate it; only the record of it is lost.
            log.exception("recording what outbox row %s delivered failed; marking it delivered without that",
                          item.id)
            next_leased = await self._state.run(_Op("done", item.id, at=until, result=result,
                                                    lease_next=lease_next))
        if self.on_delivered is not None:
            try:
                self.on_delivered(item, result)
            except Exception:
                log.exception("on_delivered hook failed")
        return True, next_leased and lease_next is not None

    async def _fail(self, item: OutboxItem, exc: DeliveryError, *, retry_in: float,
                    permanent: bool = False) -> bool:
        now = self.clock.now()
        failed = permanent or (now - item.created_at) >= self.retry_window
        if failed:
            log.warning("outbox row %s (%s %s) failed for good: %s", item.id, item.target, item.action, exc.message)
        else:
            log.info("outbox row %s (%s %s) will be retried in %.1fs: %s", item.id, item.target, item.action,
                     retry_in, exc.message)
        await self._state.run(_Op("retry", item.id, at=now + timedelta(seconds=retry_in), error=exc.message,
                                  failed=failed))
        return failed

    async def wait_idle(self) -> None:
        """For tests and shutdown: wait until no chain is being delivered and the queue has been
        looked at since the last commit that added to it."""
        await self._idle.wait()

