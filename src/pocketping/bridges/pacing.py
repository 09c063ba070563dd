"""Pacing per destination, shared by every bridge of this process.

Platforms limit how fast a bot may post into one place (Telegram: about one message a
second per chat and 20 a minute per group; Slack: about one a second per channel).
Waiting here, before the call, is cheaper than being told off with a 429; a 429 still
arrives now and then, and ``penalize`` makes every sender to that place wait it out.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from pocketping.clock import Clock
from pocketping.errors import DeliveryError


class PacingBusy(DeliveryError):
    """The destination is booked for longer than a delivery should hold its lease: try later."""


@dataclass
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    sent: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    tokens: float | None = None  # the short-burst bucket (None: full, never used)
    refilled: float = 0.0


@dataclass(frozen=True)
class Limit:
    rate: float = 0.0  # sends per second on average (0: no such limit) ...
    burst: int = 1  # ... with short bursts of this many allowed
    per_window: int = 0  # at most this many sends ...
    window: float = 60.0  # ... in any window of this many seconds (0: no such limit)


class Pacer:
    def __init__(self, clock: Clock, *, enabled: bool = True) -> None:
        self.clock = clock
        # Off (POCKETPING_BRIDGE_PACING=off) only our own pacing stops: a platform's 429 still holds.
        self.enabled = enabled
        self._lanes: dict[str, _Lane] = {}

    def _lane(self, key: str) -> _Lane:
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        return lane

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def delay(self, key: str, limit: Limit) -> float:
        """Seconds until the next send to ``key`` is allowed (0: now)."""
        lane = self._lane(key)
        now = self._now()
        ready = lane.blocked_until
        if not self.enabled:
            return max(0.0, ready - now)
        if limit.rate:
            tokens = self._tokens(lane, limit, now)
            if tokens < 1:
                ready = max(ready, now + (1 - tokens) / limit.rate)
        if limit.per_window and len(lane.sent) >= limit.per_window:
            ready = max(ready, lane.sent[-limit.per_window] + limit.window)
        return max(0.0, ready - now)

    async def wait(self, key: str, limit: Limit, *, max_wait: float = 30.0) -> None:
        """Wait for a free slot and take it; raise ``PacingBusy`` rather than wait over ``max_wait``."""
        lane = self._lane(key)
        async with lane.lock:  # first come, first served
            while True:
                delay = self.delay(key, limit)
                if delay <= 0:
                    break
                if delay > max_wait:
                    raise PacingBusy(f"waiting {delay:.0f}s for the platform's rate limit", retry_after=delay)
                await self.clock.sleep(delay)
            now = self._now()
            if limit.rate:
                lane.tokens = self._tokens(lane, limit, now) - 1
                lane.refilled = now
            lane.sent.append(now)
            keep = max(limit.per_window, 1)
            while len(lane.sent) > keep:
                lane.sent.popleft()

    @staticmethod
    def _tokens(lane: _Lane, limit: Limit, now: float) -> float:
        if lane.tokens is None:
            return float(limit.burst)
        return min(float(limit.burst), lane.tokens + (now - lane.refilled) * limit.rate)

    def penalize(self, key: str, seconds: float) -> None:
        """The platform said 'retry after': nobody sends to ``key`` before then."""
        lane = self._lane(key)
        lane.blocked_until = max(lane.blocked_until, self._now() + seconds)

    def busy(self, key: str, limit: Limit) -> bool:
        return self.delay(key, limit) > 0

    def penalized(self, key: str) -> bool:
        """The platform told us to hold off (a 429) and the time is not up."""
        return self._lane(key).blocked_until > self._now()

