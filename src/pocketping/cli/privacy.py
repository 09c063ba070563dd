"""``pocketping erase`` and ``pocketping retention``: a visitor's data deleted here and in every
chat app (docs/erasure.md), and the conversations past a project's retention."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pocketping.cli.common import JsonOpt, emit, fail, run


def status_human(s: dict[str, Any]) -> str:
    deleted = s["deleted"]
    lines = [f"{s['eraseId']}  {s['status']}  ({s['reason']}, {s['createdAt']}): "
             f"{deleted['sessions']} session(s), {deleted['messages']} message(s) deleted here"]
    for p in s["platforms"]:
        what = ", ".join(f"{n} {kind}" for kind, n in p["deleted"].items()) or p.get("note") or "nothing"
        line = f"  {p['target']:<9} {p['targetId']:<28} {p['status']:<8} deleted: {what}"
        if p.get("error") and p["status"] == "pending":
            line += f" (retrying after {p.get('attempts', 0)} attempt(s): {p['error']})"
        lines.append(line)
        lines.extend(f"      kept: {why}" for why in p["kept"])
    return "\n".join(lines)


def erase(
    project_id: Annotated[str | None, typer.Argument(help="The project")] = None,
    visitor_id: Annotated[str | None, typer.Argument(help="The visitor to erase (every session of theirs)")] = None,
    session: Annotated[str | None, typer.Option("--session", help="Erase this one session instead")] = None,
    status: Annotated[str | None, typer.Option("--status", metavar="ERASE_ID",
                                               help="Show where an erasure stands, per platform")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase a visitor (or one --session) here and in every chat app and the file store; prints
    the ERASE_ID. `erase --status ERASE_ID` shows per platform what was deleted and what was kept."""
    from pocketping.actions import erasure

    if status is not None:
        found = run(lambda svc: erasure.get_erasure(svc, status, project_id), as_json)
        emit(found, as_json, lambda: status_human(found))
        return
    if project_id is None or (visitor_id is None) == (session is None):
        fail("give PROJECT_ID and either VISITOR_ID or --session SESSION_ID (or --status ERASE_ID)", as_json,
             "invalid_input")
    assert project_id is not None
    if session is not None:
        done = run(lambda svc: erasure.erase_session(svc, project_id, session), as_json)
        data: dict[str, Any] = {"sessionId": session}
    else:
        assert visitor_id is not None
        done = run(lambda svc: erasure.erase_visitor(svc, project_id, visitor_id), as_json)
        data = {"visitorId": visitor_id}
    data |= {"deleted": done.counts(), "eraseId": done.erase_id}
    emit(data, as_json, lambda: f"erased {done.sessions} session(s) and {done.messages} message(s); the copies in "
                                f"the chat apps and the files follow.\nERASE_ID {done.erase_id}  "
                                f"(pocketping erase --status {done.erase_id})")


def retention(
    project_id: str,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be erased, erase nothing")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Erase now the project's closed conversations older than its --retention-days (with
    --dry-run: list them). The workers do the same every hour."""
    from pocketping.actions import erasure

    found = run(lambda svc: erasure.retention(svc, project_id, dry_run=dry_run), as_json)[0]

    def human() -> str:
        if not found["retentionDays"]:
            return "no retention set: conversations are kept (pocketping project update ID --retention-days N)"
        verb = "would erase" if dry_run else "erased"
        lines = [f"{verb} {len(found['sessions'])} closed conversation(s) closed before {found['before']} "
                 f"(retention {found['retentionDays']} days)"]
        lines.extend(f"  {s['sessionId']}  closed {s['closedAt']}" for s in found["sessions"])
        lines.extend(f"ERASE_ID {e}" for e in found["eraseIds"])
        return "\n".join(lines)

    emit(found, as_json, human)
