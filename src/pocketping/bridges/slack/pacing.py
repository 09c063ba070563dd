"""Slack asks for about one ``chat.postMessage`` per second per channel, short bursts allowed."""

from __future__ import annotations

import asyncio

from pocketping.clock import Clock
from pocketping.errors import DeliveryError

# Longer than this, a delivery gives its outbox lease back instead of waiting in place.
MAX_WAIT_IN_PLACE = 5.0


class ChannelPacer:
    """A token bucket (``rate`` per second, ``burst`` deep) that also honours a 429's ``Retry-After``."""

    def __init__(self, clock: Clock, *, rate: float = 1.0, burst: int = 3) -> None:
        self.clock = clock
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self._updated: float | None = None
        self._held_until = 0.0
        self._lock = asyncio.Lock()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def hold(self, seconds: float) -> None:
        """Slack said 429: nobody posts in this channel for ``seconds``."""
        self._held_until = max(self._held_until, self._now() + seconds)
        # When the hold ends, one message may go; the bucket refills from there.
        self.tokens = min(self.tokens, 1.0)
        self._updated = self._held_until

    async def wait(self) -> None:
        async with self._lock:
            now = self._now()
            held = self._held_until - now
            if held > MAX_WAIT_IN_PLACE:
                raise DeliveryError("Slack asked us to slow down in this channel", retry_after=held)
            if held > 0:
                await self.clock.sleep(held)
                now = self._now()
            if self._updated is not None:
                self.tokens = min(self.burst, self.tokens + max(0.0, now - self._updated) * self.rate)
            self._updated = max(now, self._updated or now)
            if self.tokens < 1.0:
                wait = (1.0 - self.tokens) / self.rate
                await self.clock.sleep(wait)
                self.tokens = 1.0
                self._updated = now + wait
            self.tokens -= 1.0
