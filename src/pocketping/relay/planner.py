"""The bridge planner: in the same transaction as each change, one outbox row per
(item, bridge) of the project, so the team's threads are told durably and in order.

A table maps each event type to its rule; a rule says what to post (or close, reopen ...)
into every thread of the conversation. A thread is opened only once the visitor has
written: page views, and anything that happens before the visitor's first message, never
create one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pocketping.core.bridge_config import label
from pocketping.hub import Event
from pocketping.relay import team_copy as copy
from pocketping.store import bridges as repo
from pocketping.store import outbox as outbox_repo
from pocketping.store import projects as project_repo
from pocketping.store.db import Tx
from pocketping.store.planning import plan_for

TARGET = "bridge"


@dataclass(frozen=True)
class Step:
    """One outbox row for every bridge of the project (but the origin's, with ``skip_origin``)."""

    action: str  # "post", "edit", "delete", "close", "reopen", "identified"
    payload: dict[str, Any]
    message_id: str | None = None
    skip_origin: bool = False  # never echo a change back to the platform it came from


Rule = Callable[[Tx, Event], Awaitable[list[Step]]]


def _notice(text: str, *, skip_origin: bool = False) -> list[Step]:
    return [Step("post", {"kind": "notice", "text": text}, None, skip_origin)]


async def _origin_note(tx: Tx, event: Event) -> str:
    if event.origin and event.origin.startswith("brg_"):
        origin = await repo.find_bridge(tx, event.origin)
        return copy.from_note(label(origin.type) if origin else None)
    return copy.from_note(label(event.origin) if event.origin else None)


async def _has_conversation(tx: Tx, session_id: str) -> bool:
    # Planners run after the transaction's writes, and a first message is never undone: a
    # "yes" holds for the rest of the transaction.
    key = ("has_conversation", session_id)
    if tx.cache.get(key):
        return True
    tx.cache[key] = await repo.has_conversation(tx, session_id)
    return bool(tx.cache[key])


# --- the rules --------------------------------------------------------------------------

async def _message_created(tx: Tx, event: Event) -> list[Step]:
    message = event.data["message"]
    sender = message["sender"]
    if sender == "visitor":
        return [Step("post", {"kind": "visitor", "text": message["text"], "seq": message["seq"]}, message["id"])]
    if sender not in ("operator", "ai") or not await _has_conversation(tx, event.session_id or ""):
        return []
    if sender == "operator":
        author = copy.operator_author(message.get("operatorName"), message.get("source") or "api")
        return [Step("post", {"kind": "operator", "author": author, "text": message["text"], "seq": message["seq"]},
                     message["id"], skip_origin=True)]
    return [Step("post", {"kind": "ai", "author": "AI", "text": message["text"], "seq": message["seq"]},
                 message["id"])]


async def _message_changed(tx: Tx, event: Event) -> list[Step]:
    # An operator changed or withdrew a reply in one place: the copies in the other threads
    # follow in place (the platform it was changed in already shows it).
    message = event.data["message"]
    if message.get("sender") == "visitor" and event.type == "message.updated":
        # The visitor corrected their message (within 5 minutes): the copies change in place.
        return [Step("edit", {"kind": "visitor", "fallback": copy.visitor_edited_line(message["text"])},
                     message["id"])]
    if message.get("sender") != "operator":
        return []
    author = copy.operator_author(message.get("operatorName"), message.get("source") or "api")
    if event.type == "message.updated":
        # Changed in place where the bridge posted it (the line is the fallback where it cannot).
        payload = {"kind": "operator", "author": author, "fallback": copy.edited_line(author, message["text"])}
        return [Step("edit", payload, message["id"], skip_origin=True)]
    # Withdrawn: every copy is deleted (or, where the platform refuses, edited to "(deleted)").
    payload = {"kind": "operator", "author": author, "fallback": copy.withdrawn_line(author)}
    return [Step("delete", payload, message["id"], skip_origin=True)]


async def _closed(tx: Tx, event: Event) -> list[Step]:
    return [Step("close", {"notice": copy.closed_line(await _origin_note(tx, event))})]


async def _reopened(tx: Tx, event: Event) -> list[Step]:
    line = copy.reopened_line(await _origin_note(tx, event), by_visitor=event.origin in ("widget", "email"))
    return [Step("reopen", {"notice": line})]


async def _ai_changed(tx: Tx, event: Event) -> list[Step]:
    if event.data.get("reason") == "handoff":
        return _notice(copy.handoff_line(str(event.data.get("handoff") or ""), str(event.data.get("detail") or "")))
    return _notice(copy.ai_changed_line(bool(event.data.get("aiEnabled")), await _origin_note(tx, event)))


async def _ai_note(tx: Tx, event: Event) -> list[Step]:
    # The AI fallback failed or hit a limit: for the team only.
    return _notice(str(event.data.get("text", "")))


async def _identified(tx: Tx, event: Event) -> list[Step]:
    identity = (event.data.get("session") or {}).get("identity") or {}
    return [Step("identified", {"notice": copy.identified_line(identity)})]


async def _assigned(tx: Tx, event: Event) -> list[Step]:
    assignee = event.data.get("assignee") or {}
    return _notice(copy.assigned_line(assignee.get("name"), await _origin_note(tx, event)))


async def _rated(tx: Tx, event: Event) -> list[Step]:
    return _notice(copy.rated_line(event.data.get("rating") or {}))


async def _note(tx: Tx, event: Event) -> list[Step]:
    # For the team only: posted as a notice (never as a message to or from the visitor), and
    # not back into the thread it was written in.
    message = event.data["message"]
    author = copy.operator_author(message.get("operatorName"), message.get("source") or "api")
    return [Step("post", {"kind": "notice", "text": copy.note_line(author, message["text"])}, message["id"],
                 skip_origin=True)]


async def _event_triggered(tx: Tx, event: Event) -> list[Step]:
    item = event.data.get("event") or {}
    settings = await tx.memo(("project_settings", event.project_id),
                             lambda: project_repo.raw_settings(tx, event.project_id))
    if item.get("name") not in (settings.get("notify_events") or ()):
        return []
    return [Step("post", {"kind": "event", "text": copy.event_line(item["name"], item.get("data"))}, item.get("id"))]


# Rules that concern an existing conversation only: nothing is posted before the visitor wrote.
_IN_CONVERSATION: dict[str, Rule] = {
    "message.updated": _message_changed,
    "message.deleted": _message_changed,
    "session.closed": _closed,
    "session.reopened": _reopened,
    "session.ai_changed": _ai_changed,
    "ai.note": _ai_note,
    "visitor.identified": _identified,
    "event.triggered": _event_triggered,
    "session.assigned": _assigned,
    "session.rated": _rated,
    "note.created": _note,
}
RULES: dict[str, Rule] = {"message.created": _message_created, **_IN_CONVERSATION}


async def plan_bridges(tx: Tx, event: Event) -> None:
    rule = RULES.get(event.type)
    if event.session_id is None or rule is None:
        return
    refs = (await plan_for(tx, event.project_id)).bridges
    if not refs:
        return
    if event.type in _IN_CONVERSATION and not await _has_conversation(tx, event.session_id):
        return
    for step in await rule(tx, event):
        for ref in refs:
            if step.skip_origin and event.origin == ref.id:
                continue
            await outbox_repo.enqueue(tx, project_id=event.project_id, target=TARGET, target_id=ref.id,
                                      action=step.action, payload=step.payload, session_id=event.session_id,
                                      message_id=step.message_id)


async def enqueue_notice(tx: Tx, project_id: str, bridge_id: str, session_id: str, text: str) -> None:
    """A line for one thread only (the answer to a command typed there), in order with the rest."""
    await outbox_repo.enqueue(tx, project_id=project_id, target=TARGET, target_id=bridge_id, action="post",
                              payload={"kind": "notice", "text": text}, session_id=session_id)
