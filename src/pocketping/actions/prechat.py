"""The pre-chat form (``project update --prechat optional|required``): name, email and the first
message before the chat starts."""

from __future__ import annotations

from typing import Any

from pocketping.actions.messages import send_visitor_message
from pocketping.actions.services import Services
from pocketping.actions.sessions import check_consented, session_event
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Project, Session
from pocketping.core.rules import check_email, clean_text
from pocketping.errors import InvalidInput
from pocketping.store import mail as mail_repo
from pocketping.store import sessions as repo


def prechat_mode(project: Project) -> str:
    return str(project.extra.get("prechat") or "off")


def check_prechat_answers(project: Project, payload: dict[str, Any], max_text_chars: int) -> dict[str, Any]:
    """The pre-chat form's answers (``name``, ``email``, ``text``, ``clientId``), checked: the email is
    required with ``--prechat required`` and checked whenever given; the first message always."""
    name = payload.get("name")
    if name is not None and (not isinstance(name, str) or len(name.strip()) > 200):
        raise InvalidInput("name must be text of at most 200 characters", code="invalid_name")
    email = payload.get("email")
    required = project.extra.get("prechat") == "required"
    email = check_email(email) if required or (isinstance(email, str) and email.strip()) else None
    return {"name": (name or "").strip() or None, "email": email,
            "text": clean_text(payload.get("text"), max_text_chars), "clientId": payload.get("clientId")}


async def fill_prechat(svc: Services, project: Project, session_id: str, answers: dict[str, Any]) -> Session:
    """Store the pre-chat form's name and email in the session's identity (encrypted), then post
    its first message (so the team's thread card, opened by that message, shows them)."""
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project.id, session_id, for_update=True)
        if answers["email"]:
            check_consented(project, session)
        current = session.identity
        if current is not None and current.verified:
            identity = {**current.to_api(), "name": current.name or answers["name"],
                        "email": current.email or answers["email"]}
        else:
            base = current.to_api() if current else {"id": session.visitor_id, "traits": {}, "verified": False}
            identity = {**base, "name": answers["name"] or (current.name if current else None),
                        "email": answers["email"] or (current.email if current else None)}
        await repo.update_session(tx, session_id, identity=identity)
        if answers["email"]:
            await mail_repo.record_consent(tx, session_id, project.id, project.extra.get("consent_text"))
        session = await repo.get_session(tx, project.id, session_id)
        tx.emit(session_event("visitor.identified", session, prechat=True))
    await send_visitor_message(svc, project.id, session_id, answers["text"], answers["clientId"])
    return session
