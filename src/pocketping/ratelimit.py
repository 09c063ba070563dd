"""In-memory token buckets (per node) for visitors, IPs and logins."""

from __future__ import annotations

from pocketping.clock import Clock


class RateLimiter:
    """``per_minute`` events per key, refilled continuously; 0 turns the limit off."""

    def __init__(self, per_minute: int, clock: Clock, burst: int | None = None, max_keys: int = 100_000) -> None:
        self.per_minute = per_minute
        self.capacity = float(burst if burst is not None else per_minute)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def hit(self, key: str) -> float | None:
        """Take one token; None if allowed, else the seconds until one is available."""
        if self.per_minute <= 0:
            return None
        now = self.clock.now().timestamp()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._prune(now, rate)
        self._buckets[key] = (tokens - 1.0, now)
        return None

    async def take(self, key: str) -> float | None:
        """``hit``, for limiters that may ask another process (``redishub.SharedRateLimiter``)."""
        return self.hit(key)

    def _prune(self, now: float, rate: float) -> None:
        full = [k for k, (t, last) in self._buckets.items() if t + (now - last) * rate >= self.capacity]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()
