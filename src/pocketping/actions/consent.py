"""Consent before collection (``project update --consent``, docs/privacy.md): the visitor's
answer, and the page metadata the widget held back until they gave it."""

from __future__ import annotations

from typing import Any

from pocketping.actions.services import Services
from pocketping.actions.sessions import awaits_consent, clean_metadata
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Project, Session
from pocketping.errors import Forbidden, InvalidInput
from pocketping.store import sessions as repo


async def answer_consent(svc: Services, project: Project, session_id: str, accepted: Any) -> Session:
    """Record the visitor's answer to the consent text ("accepted" or "declined") and its time."""
    if not isinstance(accepted, bool):
        raise InvalidInput("consent needs 'accepted': true or false", code="invalid_consent", field="accepted")
    choice = "accepted" if accepted else "declined"
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project.id, session_id, for_update=True)
        if session.consent == choice:  # the widget repeats it on every page view: the first time stays
            return session
        await repo.update_session(tx, session_id, consent=choice, consent_at=tx.now)
        return await repo.get_session(tx, project.id, session_id)


async def store_metadata(svc: Services, project: Project, session_id: str, metadata: Any, *,
                         user_agent: str | None, ip: str | None, country: str | None) -> Session:
    """The page metadata (URL, title, referrer, language, screen, time zone) sent after the
    ``welcome``; refused (``consent_required``) while the session awaits consent."""
    meta = clean_metadata(metadata, user_agent)
    async with unit_of_work(svc) as tx:
        # No row lock: usually nothing changes (the hello carried it), and a merge lost to a
        # concurrent page view of the same session would be the same metadata anyway.
        session = await repo.get_session(tx, project.id, session_id)
        if awaits_consent(project, session):
            raise Forbidden("no metadata is stored before the visitor accepts the consent text",
                            code="consent_required")
        values: dict[str, Any] = {"meta": {**session.metadata, **meta}}
        if project.store_ip and ip:
            values["ip"] = ip
        if project.collect_country and country:
            values["country"] = country[:8].upper()
        current = {"meta": session.metadata, "ip": session.ip, "country": session.country}
        if all(current[key] == value for key, value in values.items()):
            return session  # the hello carried it already (a widget sends it after each welcome)
        await repo.update_session(tx, session_id, **values)
        return await repo.get_session(tx, project.id, session_id)
