"""The bridge planner: in the same transaction as each change, one outbox row per
(item, bridge) of the project, so the team's threads are told durably and in order.

A thread is opened only once the visitor has written: page views, and anything that
happens before the visitor's first message, never create one.
"""

from __future__ import annotations

from typing import Any

import orjson

from pocketping.actions.fanout import PLANNERS
from pocketping.core.bridge_config import label
from pocketping.hub import Event
from pocketping.store import bridges as repo
from pocketping.store import outbox as outbox_repo
from pocketping.store import projects as project_repo
from pocketping.store.db import Tx

TARGET = "bridge"
EVENT_LINE_CHARS = 300


def operator_author(name: str | None, source: str) -> str:
    return f"{name or 'Operator'} (via {label(source)})"


def event_line(name: str, data: dict[str, Any] | None) -> str:
    """A compact line for a notable custom event: ``checkout_started · plan=pro, total=49``."""
    parts = []
    for key, value in (data or {}).items():
        shown = value if isinstance(value, str) else orjson.dumps(value).decode()
        parts.append(f"{key}={shown}")
    line = name + (" · " + ", ".join(parts) if parts else "")
    return line if len(line) <= EVENT_LINE_CHARS else line[:EVENT_LINE_CHARS - 1] + "…"


def _from(origin: str | None) -> str:
    if not origin or origin.startswith("brg_"):
        return ""
    return f" (from {label(origin)})"


async def _plan(tx: Tx, event: Event) -> list[tuple[str, dict[str, Any], str | None, bool]]:
    """(action, payload, message id, skip the origin bridge) for an event, or nothing."""
    data = event.data
    if event.type == "message.created":
        message = data["message"]
        sender = message["sender"]
        if sender == "visitor":
            return [("post", {"kind": "visitor", "text": message["text"], "seq": message["seq"]}, message["id"], False)]
        if not await _has_conversation(tx, event.session_id or ""):
            return []
        if sender == "operator":
            author = operator_author(message.get("operatorName"), message.get("source") or "api")
            return [("post", {"kind": "operator", "author": author, "text": message["text"], "seq": message["seq"]},
                     message["id"], True)]
        if sender == "ai":
            return [("post", {"kind": "ai", "author": "AI", "text": message["text"], "seq": message["seq"]},
                     message["id"], False)]
        return []
    if not await _has_conversation(tx, event.session_id or ""):
        return []
    origin_note = ""
    if event.origin and event.origin.startswith("brg_"):
        origin_ref = await repo.find_bridge(tx, event.origin)
        origin_note = f" (from {label(origin_ref.type)})" if origin_ref else ""
    else:
        origin_note = _from(event.origin)
    if event.type in ("message.updated", "message.deleted"):
        # An operator changed a reply in one place: the other threads are told (the platform
        # it was changed in already shows it). A withdrawn reply's text is not repeated.
        message = data["message"]
        if message.get("sender") != "operator":
            return []
        author = operator_author(message.get("operatorName"), message.get("source") or "api")
        text = (f"{author} edited a reply: {message['text']}" if event.type == "message.updated"
                else f"{author} withdrew a reply")
        return [("post", {"kind": "notice", "text": text}, None, True)]
    if event.type == "session.closed":
        return [("close", {"notice": "Conversation closed" + origin_note}, None, False)]
    if event.type == "session.reopened":
        why = " (the visitor wrote again)" if event.origin == "widget" else origin_note
        return [("reopen", {"notice": "Conversation reopened" + why}, None, False)]
    if event.type == "session.ai_changed":
        state = "on" if data.get("aiEnabled") else "off"
        return [("post", {"kind": "notice", "text": f"AI replies turned {state} for this conversation{origin_note}"},
                 None, False)]
    if event.type == "ai.note":  # the AI fallback failed or hit a limit: for the team only
        return [("post", {"kind": "notice", "text": str(data.get("text", ""))}, None, False)]
    if event.type == "visitor.identified":
        identity = (data.get("session") or {}).get("identity") or {}
        who = " ".join(x for x in (identity.get("name"), f"<{identity['email']}>" if identity.get("email") else None)
                       if x) or identity.get("id", "")
        verified = " (verified)" if identity.get("verified") else ""
        return [("identified", {"notice": f"Visitor identified as {who}{verified}"}, None, False)]
    if event.type == "event.triggered":
        item = data.get("event") or {}
        settings = await tx.memo(("project_settings", event.project_id),
                                 lambda: project_repo.raw_settings(tx, event.project_id))
        if item.get("name") not in (settings.get("notify_events") or ()):
            return []
        return [("post", {"kind": "event", "text": event_line(item["name"], item.get("data"))}, item.get("id"), False)]
    return []


async def _has_conversation(tx: Tx, session_id: str) -> bool:
    # Planners run after the transaction's writes, and a first message is never undone: a
    # "yes" holds for the rest of the transaction.
    key = ("has_conversation", session_id)
    if tx.cache.get(key):
        return True
    tx.cache[key] = await repo.has_conversation(tx, session_id)
    return bool(tx.cache[key])


PLANNED = {"message.created", "message.updated", "message.deleted", "session.closed", "session.reopened",
           "session.ai_changed", "ai.note",
           "visitor.identified", "event.triggered"}


async def plan_bridges(tx: Tx, event: Event) -> None:
    if event.session_id is None or event.type not in PLANNED:
        return
    refs = await tx.memo(("bridge_refs", event.project_id), lambda: repo.project_bridge_refs(tx, event.project_id))
    if not refs:
        return
    for action, payload, message_id, skip_origin in await _plan(tx, event):
        for ref in refs:
            if skip_origin and event.origin == ref.id:
                continue  # never echo a reply back to the platform it came from
            await outbox_repo.enqueue(tx, project_id=event.project_id, target=TARGET, target_id=ref.id,
                                      action=action, payload=payload, session_id=event.session_id,
                                      message_id=message_id)


async def enqueue_notice(tx: Tx, project_id: str, bridge_id: str, session_id: str, text: str) -> None:
    """A line for one thread only (the answer to a command typed there), in order with the rest."""
    await outbox_repo.enqueue(tx, project_id=project_id, target=TARGET, target_id=bridge_id, action="post",
                              payload={"kind": "notice", "text": text}, session_id=session_id)


def register() -> None:
    if plan_bridges not in PLANNERS:
        PLANNERS.append(plan_bridges)
