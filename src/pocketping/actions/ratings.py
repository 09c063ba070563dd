"""The visitor rates a closed conversation (stars or thumbs, as the project chooses)."""

from __future__ import annotations

from typing import Any

from pocketping.actions.services import Services
from pocketping.actions.sessions import session_event
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Project, Session
from pocketping.errors import InvalidInput
from pocketping.hub import Event
from pocketping.store import sessions as repo

MAX_COMMENT = 1000
SCORES = {"stars": range(1, 6), "thumbs": range(0, 2)}


def check_rating(project: Project, score: Any, comment: Any) -> tuple[int, str, str | None]:
    scale = project.widget.ratings
    if scale not in SCORES:
        raise InvalidInput("this project does not ask for ratings", code="ratings_off")
    if not isinstance(score, int) or isinstance(score, bool) or score not in SCORES[scale]:
        wanted = "1 to 5 stars" if scale == "stars" else "0 (thumbs down) or 1 (thumbs up)"
        raise InvalidInput(f"a rating here is {wanted}", code="invalid_rating")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise InvalidInput(f"a rating's comment is text of at most {MAX_COMMENT} characters", code="invalid_rating")
    return score, scale, (comment or "").strip() or None


async def rate_session(svc: Services, project: Project, session_id: str, score: Any, comment: Any = None) -> Session:
    """Store the rating (a new one replaces the last); ``session.rated`` goes to the team and webhooks."""
    value, scale, text = check_rating(project, score, comment)
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project.id, session_id, for_update=True)
        if session.status != "closed":
            raise InvalidInput("a conversation is rated once it is closed", code="not_closed")
        await repo.set_rating(tx, session.id, value, scale, text)
        session = await repo.get_session(tx, project.id, session.id)
        assert session.rating is not None
        event = session_event("session.rated", session, rating=session.rating.to_api())
        tx.emit(Event(event.type, event.project_id, event.session_id, data=event.data,
                      widget_frame={"type": "rated", "rating": session.rating.to_api()}, origin="widget"))
        return session
