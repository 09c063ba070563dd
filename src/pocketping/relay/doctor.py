"""``pocketping doctor``: each bridge's ``check()`` against its platform, plus our own view
of it (deliveries failing, the server not running it)."""

from __future__ import annotations

import contextlib
from typing import Any

from pocketping.actions.bridges import all_bridges, bridge_status, get_bridge
from pocketping.bridges.base import Finding
from pocketping.bridges.platforms import PLATFORMS
from pocketping.core.bridge_config import label
from pocketping.core.models import BridgeRecord
from pocketping.relay.deps import shared_bridge_deps
from pocketping.services import Services


def _finding(f: Finding) -> dict[str, Any]:
    return {"ok": f.ok, "check": f.check, "detail": f.detail, "fix": f.fix}


async def _check(svc: Services, record: BridgeRecord) -> list[Finding]:
    factory = PLATFORMS.get(record.type)
    if factory is None:
        return [Finding(False, "support", f"this PocketPing cannot run {record.type} bridges", "Upgrade PocketPing.")]
    bridge = factory(record, shared_bridge_deps(svc))
    try:
        return await bridge.check()
    except Exception as exc:
        return [Finding(False, "check", f"the check itself failed: {type(exc).__name__}: {exc}")]
    finally:
        with contextlib.suppress(Exception):
            await bridge.stop()


async def examine(svc: Services, project_id: str | None) -> dict[str, Any]:
    records = await all_bridges(svc, project_id)
    statuses = {s.bridge.id: s for s in await bridge_status(svc, project_id, limit=5)}
    out = []
    for record in records:
        findings = await _check(svc, record)
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


async def examine_one(svc: Services, project_id: str, bridge_id: str) -> dict[str, Any]:
    """The doctor's report for one bridge (REST: ``POST /api/v1/bridges/{id}/check``)."""
    await get_bridge(svc, project_id, bridge_id)  # 404 for another project's bridge
    report = await examine(svc, project_id)
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
