"""``pocketping reply ...``: a project's saved replies (``/r SHORTCUT`` in a thread, ``/`` in the inbox)."""

from __future__ import annotations

from typing import Any

from pocketping.cli.common import JsonOpt, emit, group, run

app = group("Saved replies: a shortcut and a text ({name} and {email} filled from the visitor's identity).")


@app.command("add")
def add(project_id: str, shortcut: str, text: str, as_json: JsonOpt = False) -> None:
    """Save a reply under SHORTCUT (replaces the text of an existing one)."""
    from pocketping.actions.replies import add_reply

    saved, created = run(lambda svc: add_reply(svc, project_id, shortcut, text), as_json)
    emit({**saved.to_api(), "created": created}, as_json,
         f"{'added' if created else 'updated'} /{saved.shortcut}")


@app.command("list")
def list_(project_id: str, as_json: JsonOpt = False) -> None:
    """List a project's saved replies."""
    from pocketping.actions.replies import list_replies

    found = run(lambda svc: list_replies(svc, (project_id,)), as_json)
    emit([r.to_api() for r in found], as_json,
         lambda: "\n".join(f"/{r.shortcut}  {r.text}" for r in found) or "no saved replies yet")


@app.command("remove")
def remove(project_id: str, shortcut: str, as_json: JsonOpt = False) -> None:
    """Remove a saved reply."""
    from pocketping.actions.replies import remove_reply

    async def go(svc: Any) -> None:
        await remove_reply(svc, project_id, shortcut)

    run(go, as_json)
    emit({"shortcut": shortcut.lstrip("/").lower(), "deleted": True}, as_json, f"removed /{shortcut.lstrip('/')}")
