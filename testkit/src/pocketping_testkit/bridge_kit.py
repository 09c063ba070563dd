"""Driving one bridge alone against a platform fake: a ``BridgeDeps`` made for a test, a stored
record, and ``RecordingSink``, an ``InboundSink`` that keeps every call and lets a test wait for
one (all on the test's own event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import httpx

from pocketping.bridges.base import InboundReply
from pocketping.bridges.deps import BridgeDeps, BridgeSettings, HttpClients
from pocketping.bridges.pacing import Pacer
from pocketping.bridges.slack.events import SlackEventsRouter
from pocketping.clock import Clock, SystemClock
from pocketping.core.models import BridgeRecord

T = TypeVar("T")


def make_deps(*, clock: Clock | None = None, pacing: bool = False, transport: httpx.AsyncBaseTransport | None = None,
              **settings: Any) -> BridgeDeps:
    """Deps as the relay builds them, for bridges on the test's loop. Our own pacing is off
    unless asked for (a platform's 429 still holds); ``settings`` are ``BridgeSettings`` fields
    (``telegram_api_url=fake.url`` ...); ``transport`` carries every HTTP call of the bridges."""
    clock = clock or SystemClock()
    return BridgeDeps(clock=clock, settings=BridgeSettings(**settings), pacer=Pacer(clock, enabled=pacing),
                      slack_events=SlackEventsRouter(clock), http=HttpClients(transport))


def bridge_record(type_: str, config: dict[str, Any], *, bridge_id: str = "brg_kit", project_id: str = "proj_kit",
                  state: dict[str, Any] | None = None) -> BridgeRecord:
    """A bridge as ``bridges.list_bridges`` would read it back (``config`` as ``check_config`` made it)."""
    now = datetime.now(UTC)
    return BridgeRecord(id=bridge_id, project_id=project_id, type=type_, config=config, status="starting",
                        status_detail=None, state=state or {}, created_at=now, updated_at=now)


class RecordingSink:
    """Stands where the relay's sink does: records what the bridge hands on."""

    def __init__(self) -> None:
        self.replies: list[InboundReply] = []
        self.edits: list[tuple[str, str, str, str]] = []  # (bridge id, thread id, external id, text)
        self.deletions: list[tuple[str, str, str]] = []  # (bridge id, thread id, external id)
        self.typing_in: list[tuple[str, str, str]] = []  # (bridge id, thread id, operator name)
        self.reports: list[tuple[str, str, str | None]] = []  # (bridge id, status, detail)
        self.state: dict[str, dict[str, Any]] = {}  # bridge id -> what save_state kept, merged
        self._seen: set[tuple[str, str]] = set()
        self._changed = asyncio.Condition()

    async def _record(self, add: Callable[[], None]) -> None:
        async with self._changed:
            add()
            self._changed.notify_all()

    # --- InboundSink ----------------------------------------------------------------------
    async def reply(self, reply: InboundReply) -> None:
        await self._record(lambda: self.replies.append(reply))

    async def edited(self, bridge_id: str, thread_id: str, external_id: str, text: str) -> None:
        await self._record(lambda: self.edits.append((bridge_id, thread_id, external_id, text)))

    async def deleted(self, bridge_id: str, thread_id: str, external_id: str) -> None:
        await self._record(lambda: self.deletions.append((bridge_id, thread_id, external_id)))

    async def typing(self, bridge_id: str, thread_id: str, operator_name: str) -> None:
        await self._record(lambda: self.typing_in.append((bridge_id, thread_id, operator_name)))

    async def seen(self, source: str, key: str) -> bool:
        if (source, key) in self._seen:
            return False
        self._seen.add((source, key))
        return True

    async def save_state(self, bridge_id: str, changes: dict[str, Any]) -> None:
        await self._record(lambda: self.state.setdefault(bridge_id, {}).update(changes))

    async def report(self, bridge_id: str, status: str, detail: str | None = None) -> None:
        await self._record(lambda: self.reports.append((bridge_id, status, detail)))

    # --- for the test -----------------------------------------------------------------------
    async def wait_for(self, found: Callable[[], T | None], timeout: float = 10.0, what: str = "it") -> T:
        """Wait (without polling) until ``found()`` returns something; returns it."""
        result: T | None = None

        def check() -> bool:
            nonlocal result
            result = found()
            return result is not None and result is not False

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(check), timeout)
        except TimeoutError:
            raise TimeoutError(f"the sink never got {what}") from None
        assert result is not None
        return result

    async def wait_reply(self, text: str, timeout: float = 10.0) -> InboundReply:
        return await self.wait_for(lambda: next((r for r in self.replies if r.text == text), None), timeout,
                                   f"the reply {text!r}")

    async def wait_status(self, bridge_id: str, status: Literal["active", "error"] = "active",
                          timeout: float = 10.0) -> str | None:
        """The detail of the first ``status`` the bridge reported (a receiver says "active" once
        it is listening)."""
        reported = await self.wait_for(
            lambda: next(((s, d) for b, s, d in self.reports if b == bridge_id and s == status), None), timeout,
            f"a {status!r} report from {bridge_id}")
        return reported[1]
