"""The JSON shapes the inbox page reads (over its API and its WebSocket)."""

from __future__ import annotations

from typing import Any

from pocketping.actions.inbox import Conversation
from pocketping.core.models import Message
from pocketping.core.operators import InboxLogin, Operator


def visitor_label(session: dict[str, Any]) -> str:
    """What the conversation is called: the identified name or email, else a short visitor label
    (the same rule as ``Session.label``, on the API shape that live events carry)."""
    identity = session.get("identity") or {}
    return str(identity.get("name") or identity.get("email") or f"Visitor {str(session['visitorId'])[-6:]}")


def session_json(session: dict[str, Any], project_name: str) -> dict[str, Any]:
    return {**session, "label": visitor_label(session), "projectName": project_name}


def message_json(item: Message) -> dict[str, Any]:
    return item.to_api()


def conversation_json(conv: Conversation) -> dict[str, Any]:
    return {**session_json(conv.session.to_api(), conv.project_name), "unread": conv.unread,
            "lastMessage": message_json(conv.last_message) if conv.last_message else None}


def teammate_json(operator: Operator, project_ids: tuple[str, ...]) -> dict[str, Any]:
    """Someone a conversation can be assigned to, and which of these projects they work on."""
    return {"id": operator.id, "email": operator.email, "name": operator.display_name,
            "projects": list(project_ids) if operator.is_admin else
            [p for p in operator.project_ids if p in project_ids]}


def me_json(login: InboxLogin, project_names: dict[str, str]) -> dict[str, Any]:
    return {"operator": login.operator.to_api(),
            "projects": [{"id": pid, "name": project_names.get(pid, "")} for pid in login.project_ids]}
