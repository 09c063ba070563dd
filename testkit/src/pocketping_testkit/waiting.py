"""Waiting in tests for a state that announces itself by no event.

Prefer an event: a WebSocket frame, an HTTP answer, a fake's ``wait_until``, a ``FakeClock``
moved on. What is left (an outbox row's retry time, a delivery's attempt count seen over
REST) is re-checked here, with one timeout and one error for every such wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any


async def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Re-check server state the server publishes no event for (an outbox row's retry time)
    until ``check()`` returns something truthy; returns it. ``check`` may be async."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise TimeoutError("the expected state never came")
        await asyncio.sleep(interval)


@contextlib.contextmanager
def logged(logger_name: str, fragment: str) -> Iterator[threading.Event]:
    """An event set when a server running in this process (``ServerThread``) logs, on
    ``logger_name``, a line containing ``fragment`` (what it does that no frame shows)."""
    seen = threading.Event()

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if fragment in record.getMessage():
                seen.set()

    logger = logging.getLogger(logger_name)
    handler, level = Catch(logging.INFO), logger.level
    logger.addHandler(handler)
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
