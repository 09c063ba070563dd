"""The outbox handler of target "erase": what an erasure deletes outside our database.

An erasure (``pocketping.actions.erasure``) writes, with the deletion of our rows, one outbox
row per bridge of the project (the threads and posted message ids to delete there) and one for
the stored files. This handler deletes them: Telegram ``deleteForumTopic``, Discord
``DELETE /channels/{thread_id}``, Slack ``chat.delete`` for each message then the card; the
files from the local directory or the object store. A platform that is down raises
``DeliveryError`` (the outbox retries with its usual backoff); a refusal is recorded with its
reason. Once done, the row's payload (the platform ids) is emptied.
"""

from __future__ import annotations

from typing import Any

from pocketping.bridges.base import Erased, ErasesThreads
from pocketping.core.delivery import Checkpoint
from pocketping.core.erasure import FILES, TARGET
from pocketping.core.models import OutboxItem
from pocketping.errors import DeliveryError
from pocketping.files.storage import BlobStore
from pocketping.relay.live import LiveBridges
from pocketping.store import erasures as repo
from pocketping.store import outbox as outbox_repo
from pocketping.store.db import Database

__all__ = ["FILES", "TARGET", "EraseDelivery"]


class EraseDelivery:
    def __init__(self, db: Database, blobs: BlobStore, live: LiveBridges | None) -> None:
        self.db = db
        self.blobs = blobs
        self.live = live

    async def deliver(self, item: OutboxItem, checkpoint: Checkpoint) -> dict[str, Any] | None:
        erasure_id = item.session_id or ""
        if item.target_id == FILES:
            erased = await self._files(item.payload.get("blobs") or [])
        else:
            erased = await self._bridge(item, checkpoint)
        status = "done" if not erased.kept else ("partial" if erased.deleted else "failed")
        outcome = {"deleted": erased.deleted, "kept": erased.kept}
        async with self.db.transaction() as tx:
            await repo.set_step(tx, erasure_id, item.target_id, status, outcome)
            await outbox_repo.forget_payload(tx, item.id)
        return {"status": status}

    async def _files(self, blobs: list[str]) -> Erased:
        deleted = 0
        for blob in blobs:
            try:
                await self.blobs.delete(str(blob))
            except Exception as exc:  # the object store is down: the whole row is tried again
                raise DeliveryError(f"could not delete a stored file: {type(exc).__name__}: {exc}") from exc
            deleted += 1
        return Erased(deleted={"files": deleted})

    async def _bridge(self, item: OutboxItem, checkpoint: Checkpoint) -> Erased:
        threads = [str(t) for t in item.payload.get("threads") or []]
        message_ids = [str(m) for m in item.payload.get("messages") or []]
        if not threads:
            return Erased()
        bridge = await self.live.instance(item.target_id) if self.live is not None else None
        if bridge is None:
            return Erased(kept=[f"{len(threads)} thread(s): the bridge was removed before they could be deleted"])
        if not isinstance(bridge, ErasesThreads):
            return Erased(kept=[f"{len(threads)} thread(s): {bridge.label} cannot delete threads"])
        # Thread by thread, each outcome checkpointed: a retry after an outage goes on from there.
        done: dict[str, Any] = dict((item.result or {}).get("threads") or {})
        for index, thread_id in enumerate(threads):
            if str(index) in done:
                continue
            erased = await bridge.erase_thread(thread_id, message_ids)
            done[str(index)] = {"deleted": erased.deleted, "kept": erased.kept}
            if index + 1 < len(threads):
                await checkpoint({"threads": done})
        deleted: dict[str, int] = {}
        kept: list[str] = []
        for outcome in done.values():
            for kind, n in outcome["deleted"].items():
                deleted[kind] = deleted.get(kind, 0) + int(n)
            kept.extend(outcome["kept"])
        return Erased(deleted=deleted, kept=kept)
