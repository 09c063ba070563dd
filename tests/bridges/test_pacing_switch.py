"""POCKETPING_BRIDGE_PACING=off drops our own pacing, never a platform's 429."""

from pocketping.bridges.pacing import Limit, Pacer
from pocketping.clock import FakeClock

GROUP = Limit(rate=1.0, burst=3, per_window=20, window=60.0)


async def test_off_sends_at_once_but_still_honours_retry_after():
    clock = FakeClock()
    paced, free = Pacer(clock), Pacer(clock, enabled=False)
    for _ in range(3):
        await paced.wait("chat", GROUP)
    for _ in range(50):
        await free.wait("chat", GROUP)
    assert paced.delay("chat", GROUP) > 0 and free.delay("chat", GROUP) == 0
    free.penalize("chat", 30)
    assert 29 < free.delay("chat", GROUP) <= 30
