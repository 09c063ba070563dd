"""``pocketping doctor``: each bridge's ``check()`` against its platform, plus our own view
of it (deliveries failing, the server not running it)."""

from __future__ import annotations

import contextlib
from typing import Any

from pocketping.bridges.base import Finding
from pocketping.core.bridge_config import label
from pocketping.core.models import BridgeRecord
from pocketping.relay.live import BridgeMaker
from pocketping.relay.status import bridge_statuses
from pocketping.store import bridges as repo
from pocketping.store import projects as project_repo
from pocketping.store.db import Database


def _finding(f: Finding) -> dict[str, Any]:
    return {"ok": f.ok, "check": f.check, "detail": f.detail, "fix": f.fix}


async def _check(make: BridgeMaker, record: BridgeRecord) -> list[Finding]:
    bridge = make(record)
    if bridge is None:
        return [Finding(False, "support", f"this PocketPing cannot run {record.type} bridges", "Upgrade PocketPing.")]
    try:
        return await bridge.check()
    except Exception as exc:
        return [Finding(False, "check", f"the check itself failed: {type(exc).__name__}: {exc}")]
    finally:
        with contextlib.suppress(Exception):
            await bridge.stop()


async def examine(db: Database, make: BridgeMaker, project_id: str | None) -> dict[str, Any]:
    async with db.read() as tx:
        if project_id is not None:
            await project_repo.get_project(tx, project_id)
        records = await repo.list_bridges(tx, project_id)
    statuses = {s.bridge.id: s for s in await bridge_statuses(db, project_id, limit=5)}
    out = []
    for record in records:
        findings = await _check(make, record)
        status = statuses.get(record.id)
        if status is not None:
            failed = status.counts.get("failed", 0)
            if failed:
                last = status.failed[0].last_error if status.failed else ""
                findings.append(Finding(False, "deliveries", f"{failed} deliveries failed (last: {last})",
                                        "Fix the problem above, then run: pocketping bridge retry "
                                        f"{record.project_id} --bridge {record.id}"))
            elif status.oldest_pending_seconds and status.oldest_pending_seconds > 300:
                findings.append(Finding(False, "deliveries", f"{status.counts.get('pending', 0)} deliveries waiting "
                                        f"for {status.oldest_pending_seconds:.0f}s",
                                        "Is pocketping serve running? See pocketping bridge status for the error."))
            if record.status == "error" and record.status_detail:
                findings.append(Finding(False, "server", f"the running server reports: {record.status_detail}"))
        out.append({"id": record.id, "type": record.type, "projectId": record.project_id,
                    "ok": all(f.ok for f in findings), "findings": [_finding(f) for f in findings]})
    return {"ok": all(b["ok"] for b in out), "bridges": out}


async def examine_one(db: Database, make: BridgeMaker, project_id: str, bridge_id: str) -> dict[str, Any]:
    """The doctor's report for one bridge (REST: ``POST /api/v1/bridges/{id}/check``)."""
    async with db.read() as tx:
        await repo.get_bridge(tx, bridge_id, project_id)  # 404 for another project's bridge
    report = await examine(db, make, project_id)
    return next(b for b in report["bridges"] if b["id"] == bridge_id)


def render(report: dict[str, Any]) -> str:
    if not report["bridges"]:
        return ("No bridges configured. Connect one, e.g.:\n"
                "  pocketping bridge add PROJECT_ID telegram --bot-token T --chat-id=-100...")
    lines = []
    for bridge in report["bridges"]:
        lines.append(f"{label(bridge['type'])} bridge {bridge['id']} (project {bridge['projectId']})")
        for f in bridge["findings"]:
            lines.append(f"  {'✓' if f['ok'] else '✗'} {f['check']}: {f['detail']}")
            if f["fix"] and not f["ok"]:
                lines.append(f"      fix: {f['fix']}")
    lines.append("All good." if report["ok"] else "Some checks failed: see the fixes above.")
    return "\n".join(lines)
