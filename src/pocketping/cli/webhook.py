"""``pocketping webhook ...``: outgoing webhook endpoints and their deliveries."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pocketping.cli.common import JsonOpt, emit, group, run

app = group("Outgoing webhooks: endpoints that receive the project's events, signed.")


def _split_events(events: str | None) -> list[str]:
    return [e.strip() for e in (events or "").split(",") if e.strip()]


@app.command("add")
def add(project_id: str, url: str,
        events: Annotated[str | None, typer.Option(help="Comma-separated event types (all when left out): "
                                                        "session.created, session.closed, session.reopened, "
                                                        "message.created, event.triggered, visitor.identified, "
                                                        "session.assigned, session.rated")] = None,
        as_json: JsonOpt = False) -> None:
    """Add an endpoint; prints its signing secret (shown once)."""
    from pocketping.actions.webhooks import add_webhook

    webhook = run(lambda svc: add_webhook(svc, project_id, url, _split_events(events)), as_json)
    data = {"id": webhook.id, "url": webhook.url, "events": list(webhook.events), "secret": webhook.secret}
    emit(data, as_json, lambda: f"{webhook.id}  {webhook.url}\n  events: {', '.join(webhook.events) or 'all'}\n"
                                f"  secret: {webhook.secret}   (shown once: store it now)")


@app.command("list")
def list_(project_id: str, as_json: JsonOpt = False) -> None:
    """List a project's endpoints."""
    from pocketping.actions.webhooks import list_webhooks, webhook_api

    found = run(lambda svc: list_webhooks(svc, project_id), as_json)
    emit([webhook_api(w) for w in found], as_json,
         lambda: "\n".join(f"{w.id}  {w.url}  [{', '.join(w.events) or 'all events'}]" for w in found)
         or "no webhooks yet")


@app.command("remove")
def remove(webhook_id: str, as_json: JsonOpt = False) -> None:
    """Remove an endpoint (its queued deliveries are dropped)."""
    from pocketping.actions.webhooks import find_webhook_project, remove_webhook

    async def go(svc: Any) -> None:
        await remove_webhook(svc, await find_webhook_project(svc, webhook_id), webhook_id)

    run(go, as_json)
    emit({"id": webhook_id, "deleted": True}, as_json, f"removed {webhook_id}")


@app.command("rotate-secret")
def rotate_secret(webhook_id: str, as_json: JsonOpt = False) -> None:
    """Replace an endpoint's signing secret; prints the new one (shown once)."""
    from pocketping.actions.webhooks import find_webhook_project, rotate_webhook_secret

    async def go(svc: Any) -> Any:
        return await rotate_webhook_secret(svc, await find_webhook_project(svc, webhook_id), webhook_id)

    webhook = run(go, as_json)
    emit({"id": webhook.id, "secret": webhook.secret}, as_json,
         f"new secret for {webhook.id}: {webhook.secret}   (shown once: store it now)")


@app.command("deliveries")
def deliveries(webhook_id: str,
               failed: Annotated[bool, typer.Option("--failed", help="Only deliveries that gave up")] = False,
               pending: Annotated[bool, typer.Option("--pending", help="Only deliveries still being retried")] = False,
               limit: Annotated[int, typer.Option(help="How many, newest first")] = 20,
               as_json: JsonOpt = False) -> None:
    """Recent deliveries to an endpoint: status, attempts, last error."""
    from pocketping.actions.webhooks import delivery_api, find_webhook_project, list_deliveries

    status = "failed" if failed else "pending" if pending else None

    async def go(svc: Any) -> list[dict[str, Any]]:
        project_id = await find_webhook_project(svc, webhook_id)
        return [delivery_api(d) for d in await list_deliveries(svc, project_id, webhook_id, status=status,
                                                                limit=limit)]

    rows = run(go, as_json)

    def human() -> str:
        lines = []
        for d in rows:
            answer = f"HTTP {d['responseStatus']}" if d["responseStatus"] else (d["lastError"] or "")
            when = f", next try {d['nextAttemptAt']}" if d["nextAttemptAt"] else ""
            lines.append(f"{d['id']:>8}  {d['createdAt']}  {d['type']:<19} {d['status']:<8} "
                         f"{d['attempts']} attempt(s)  {answer}{when}")
        return "\n".join(lines) or "no deliveries yet"

    emit(rows, as_json, human)


@app.command("replay")
def replay(delivery_id: int, as_json: JsonOpt = False) -> None:
    """Send a delivery again (see `webhook deliveries` for ids)."""
    from pocketping.actions.webhooks import delivery_api, replay_delivery
    from pocketping.errors import NotFound
    from pocketping.store import outbox as q

    async def go(svc: Any) -> dict[str, Any]:
        async with svc.db.read() as tx:
            item = await q.find_item(tx, delivery_id)
        if item is None:
            raise NotFound(f"delivery {delivery_id} not found", code="delivery_not_found")
        return delivery_api(await replay_delivery(svc, item.project_id, delivery_id))

    row = run(go, as_json)
    emit(row, as_json, f"delivery {row['id']} queued (event {row['eventId']})")
