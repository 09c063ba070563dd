"""The planner: every public event goes into the project's event log (the stream) and,
in the same transaction, into the outbox once per subscribed webhook endpoint."""

from __future__ import annotations

from pocketping.core.models import iso
from pocketping.hub import Event
from pocketping.store import event_log
from pocketping.store import outbox as q
from pocketping.store.db import Tx
from pocketping.store.planning import plan_for
from pocketping.webhooks.events import public_body

TARGET = "webhook"


async def plan_public_event(tx: Tx, event: Event) -> None:
    body = public_body(event, iso(tx.now) or "")
    if body is None:
        return
    await event_log.append(tx, event_id=body["id"], project_id=event.project_id, session_id=event.session_id,
                           type_=event.type, body=body)
    for webhook_id, types in (await plan_for(tx, event.project_id)).webhooks:
        if types and event.type not in types:
            continue
        # The chain (webhook, session) keeps one session's events in order for that endpoint.
        await q.enqueue(tx, project_id=event.project_id, target=TARGET, target_id=webhook_id, action=event.type,
                        payload=body, session_id=event.session_id)
