"""Erasure (docs/erasure.md): a visitor's or a session's data deleted from our database and,
through the outbox, from every platform that holds a copy (the Telegram topic, the Discord
thread, the Slack messages and card) and from the file store; and retention, which erases
closed conversations older than a project's ``retention_days``.

One transaction deletes our rows and writes the erasure record (its ERASE_ID) with one step
per platform plus the outbox rows that carry, encrypted, what to delete there; the rows'
payloads are emptied once done (``pocketping.relay.erasure``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pocketping import ids
from pocketping.actions.files import has_thumbnail, thumb_blob
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.erasure import FILES, TARGET
from pocketping.core.models import iso
from pocketping.errors import NotFound
from pocketping.store import bridges as bridge_repo
from pocketping.store import erasures as repo
from pocketping.store import files as files_repo
from pocketping.store import outbox as outbox_repo
from pocketping.store import projects as project_repo
from pocketping.store import sessions as session_repo
from pocketping.store.db import Tx

RETENTION_BATCH = 100  # sessions per erasure when retention clears a backlog


@dataclass(frozen=True)
class Erasing:
    """What an erase removed from our database, and the ERASE_ID to follow the rest with."""

    erase_id: str
    sessions: int
    messages: int

    def counts(self) -> dict[str, int]:
        return {"sessions": self.sessions, "messages": self.messages}


async def erase_in(tx: Tx, project_id: str, session_ids: list[str], reason: str) -> Erasing:
    """Inside an open transaction: delete the sessions and write the erasure, its steps and
    the outbox rows that delete the copies elsewhere."""
    threads, posted = await repo.copies_of(tx, session_ids)
    stored = await files_repo.session_files(tx, session_ids)
    blobs = [b for f in stored for b in ((f.blob, thumb_blob(f.blob)) if has_thumbnail(f) else (f.blob,))]
    count = await session_repo.erase_sessions(tx, session_ids)
    erase_id = ids.new_id(ids.ERASURE)
    await repo.insert_erasure(tx, id=erase_id, project_id=project_id, reason=reason, sessions=len(session_ids),
                              messages=count)
    for bridge in await bridge_repo.list_bridges(tx, project_id):
        found = threads.get(bridge.id)
        if not found:
            if bridge.type != "inbox":
                await repo.insert_step(tx, erase_id, bridge.type, bridge.id, "done",
                                       {"deleted": {}, "kept": [], "note": "nothing was posted there"})
            continue
        await repo.insert_step(tx, erase_id, bridge.type, bridge.id, "pending")
        await outbox_repo.enqueue(tx, project_id=project_id, target=TARGET, target_id=bridge.id, action="erase",
                                  session_id=erase_id,
                                  payload={"threads": found, "messages": posted.get(bridge.id, [])})
    if blobs:
        await repo.insert_step(tx, erase_id, FILES, FILES, "pending")
        await outbox_repo.enqueue(tx, project_id=project_id, target=TARGET, target_id=FILES, action="erase",
                                  session_id=erase_id, payload={"blobs": blobs})
    else:
        await repo.insert_step(tx, erase_id, FILES, FILES, "done", {"deleted": {"files": 0}, "kept": []})
    return Erasing(erase_id, len(session_ids), count)


async def erase_visitor(svc: Services, project_id: str, visitor_id: str) -> Erasing:
    """Erase every session of a visitor (``visitor_not_found`` if none)."""
    async with unit_of_work(svc) as tx:
        found = await session_repo.visitor_sessions(tx, project_id, visitor_id)
        if not found:
            raise NotFound(f"visitor {visitor_id} not found", code="visitor_not_found")
        return await erase_in(tx, project_id, [s.id for s in found], "request")


async def erase_session(svc: Services, project_id: str, session_id: str) -> Erasing:
    """Erase one session: its messages, events, queued deliveries and every copy elsewhere."""
    async with unit_of_work(svc) as tx:
        session = await session_repo.get_session(tx, project_id, session_id, for_update=True)
        return await erase_in(tx, project_id, [session.id], "request")


async def get_erasure(svc: Services, erase_id: str, project_id: str | None = None) -> dict[str, Any]:
    """Where an erasure stands, per platform: what was deleted, what could not be and why
    (``erasure_not_found`` if unknown, or of another project)."""
    async with svc.db.read() as tx:
        found = await repo.find_erasure(tx, erase_id, project_id)
        if found is None:
            raise NotFound(f"erasure {erase_id} not found", code="erasure_not_found")
        delivery = await repo.delivery_state(tx, erase_id)
    platforms = []
    for step in found.steps:
        entry: dict[str, Any] = {"target": step.target, "targetId": step.target_id, "status": step.status,
                                 "deleted": step.outcome.get("deleted", {}), "kept": step.outcome.get("kept", []),
                                 "updatedAt": iso(step.updated_at)}
        if step.outcome.get("note"):
            entry["note"] = step.outcome["note"]
        state = delivery.get(step.target_id)
        if step.status == "pending" and state is not None:
            status, attempts, error = state
            entry["attempts"] = attempts
            entry["error"] = error
            if status == "failed":  # the outbox gave up (retry with `pocketping outbox retry`)
                entry["status"] = "failed"
                entry["kept"] = [f"not deleted: {error}"]
        platforms.append(entry)
    statuses = {p["status"] for p in platforms}
    overall = "pending" if "pending" in statuses else ("done" if statuses <= {"done"} else "incomplete")
    return {"eraseId": found.id, "projectId": found.project_id, "reason": found.reason,
            "createdAt": iso(found.created_at), "status": overall,
            "deleted": {"sessions": found.sessions, "messages": found.messages}, "platforms": platforms}


async def retention(svc: Services, project_id: str | None = None, *, dry_run: bool = False) -> list[dict[str, Any]]:
    """Erase (or, with ``dry_run``, list) the closed conversations older than each project's
    ``retention_days`` (all projects, or one). Per project: what goes, and the ERASE_IDs."""
    async with svc.db.read() as tx:
        if project_id is not None:
            projects = [await project_repo.get_project(tx, project_id)]
        else:
            projects = await project_repo.list_projects(tx)
    out = []
    for project in projects:
        days = int(project.extra.get("retention_days") or 0)
        if days <= 0:
            if project_id is not None:
                out.append({"projectId": project.id, "retentionDays": 0, "sessions": [], "eraseIds": []})
            continue
        before = svc.clock.now() - timedelta(days=days)
        listed: list[dict[str, Any]] = []
        erase_ids: list[str] = []
        while True:
            async with unit_of_work(svc) as tx:
                due = await repo.closed_before(tx, project.id, before, RETENTION_BATCH if not dry_run else 10_000)
                if due and not dry_run:
                    erase_ids.append((await erase_in(tx, project.id, [sid for sid, _ in due], "retention")).erase_id)
            listed.extend({"sessionId": sid, "closedAt": iso(at)} for sid, at in due)
            if dry_run or len(due) < RETENTION_BATCH:
                break
        out.append({"projectId": project.id, "retentionDays": days, "before": iso(before), "sessions": listed,
                    "eraseIds": erase_ids})
    return out
