"""Group commit: many small writes that arrive together share one transaction.

A commit costs a disk flush (SQLite) or a WAL flush and a round trip (PostgreSQL, MySQL),
and every statement costs a round trip; chat traffic is many tiny writes. Requests queued
while a batch is in flight go into the next batch together, and the batch processor
handles them set-wise (one SELECT for all, one multi-row INSERT ...). Nothing is
acknowledged before its batch has committed.

The processor answers each request with a result or an exception (a bad request does not
spoil the batch). If the batch as a whole fails, it is rolled back and each request is
processed alone, so every caller still gets its own answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")
T = TypeVar("T")
Processor = Callable[[list[R]], Awaitable[list[T | BaseException]]]


class GroupCommit(Generic[R, T]):
    def __init__(self, process: Processor[R, T], *, max_batch: int = 256, writers: int = 1) -> None:
        self._process = process
        self.max_batch = max_batch
        self.writers = writers
        self._queue: list[tuple[R, asyncio.Future[T]]] = []
        self._active = 0
        # Counters for the benchmarks.
        self.batches = 0
        self.items = 0

    async def run(self, request: R) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._active < self.writers:
            self._active += 1
            # In a context of its own: whoever happened to start it (a background delivery, a
            # visitor) must not lend its context variables to everyone's commits.
            asyncio.get_running_loop().create_task(self._drain(), context=contextvars.Context())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._commit([entry for entry in batch if not entry[1].cancelled()])
        finally:
            self._active -= 1

    async def _commit(self, batch: list[tuple[R, asyncio.Future[T]]]) -> None:
        if not batch:
            return
        try:
            results = await self._process([request for request, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            log.debug("batch of %d failed (%s); processing each request alone", len(batch), exc)
            for entry in batch:
                await self._commit([entry])
            return
        self.batches += 1
        self.items += len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[T], result: T | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
