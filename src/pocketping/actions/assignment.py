"""Assign a conversation to an operator (or to nobody): from the inbox, REST and the chat apps."""

from __future__ import annotations

from pocketping import ids
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Session
from pocketping.core.operators import Operator
from pocketping.errors import InvalidInput
from pocketping.hub import Event
from pocketping.store import operators as operator_repo
from pocketping.store import sessions as repo
from pocketping.store.db import Tx


def assignee_json(operator: Operator | None) -> dict[str, str | None] | None:
    if operator is None:
        return None
    return {"id": operator.id, "email": operator.email, "name": operator.display_name}


async def find_assignee(tx: Tx, project_id: str, who: str) -> Operator:
    """The operator named by id or email who reaches ``project_id``, else InvalidInput
    (``invalid_assignee``)."""
    who = who.strip()
    if who.startswith(ids.OPERATOR + "_"):
        operator = await operator_repo.find_operator(tx, who)
    else:
        found = await operator_repo.find_operator_by_email(tx, who.lower())
        operator = found[0] if found else None
    if operator is None or not (operator.is_admin or project_id in operator.project_ids):
        raise InvalidInput(f"no operator {who!r} works on this project; give an operator's id or email "
                           "(pocketping operator list)", code="invalid_assignee")
    return operator


async def assign(tx: Tx, session: Session, operator: Operator | None, *, origin: str | None = None) -> Session:
    """Inside an open transaction; a no-op when it is already so assigned."""
    new_id = operator.id if operator else None
    if session.assignee_id == new_id:
        return session
    await repo.update_session(tx, session.id, assignee_id=new_id)
    session = await repo.get_session(tx, session.project_id, session.id)
    tx.emit(Event("session.assigned", session.project_id, session.id,
                  data={"session": session.to_api(), "assignee": assignee_json(operator)}, origin=origin))
    return session


async def assign_session(svc: Services, project_id: str, session_id: str, who: str | None, *,
                         origin: str | None = None) -> Session:
    """Assign to the operator ``who`` (id or email), or to nobody with None."""
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        operator = await find_assignee(tx, project_id, who) if who is not None else None
        return await assign(tx, session, operator, origin=origin)


async def assign_to_operator(svc: Services, session: Session, operator: Operator | None, *,
                             origin: str | None = None) -> Session:
    """The inbox's "assign to me" and "unassign" (the operator is the signed-in one, checked already)."""
    async with unit_of_work(svc) as tx:
        current = await repo.get_session(tx, session.project_id, session.id, for_update=True)
        return await assign(tx, current, operator, origin=origin)


NOBODY = ("nobody", "none", "-")


async def assign_by_name(svc: Services, project_id: str, session_id: str, who: str, *, author: str,
                         origin: str | None = None) -> Session:
    """From a chat app: ``who`` is a teammate's name (or display name) or email, ``me`` (the
    teammate whose name is the platform author's) or ``nobody``."""
    wanted = who.strip().casefold()
    if wanted in NOBODY:
        return await assign_session(svc, project_id, session_id, None, origin=origin)
    name = author.strip().casefold() if wanted == "me" else wanted
    team = await team_of(svc, (project_id,))
    found = [op for op in team if name in (op.email.casefold(), (op.name or "").casefold(),
                                            op.display_name.casefold())]
    if len(found) != 1:
        names = ", ".join(sorted(op.display_name for op in team)) or "nobody yet (pocketping operator add)"
        problem = "several operators are" if found else "no operator is"
        subject = f"{author!r} (your name here)" if wanted == "me" else repr(who.strip())
        raise InvalidInput(f"{problem} called {subject}; the team: {names}", code="invalid_assignee")
    async with unit_of_work(svc) as tx:
        session = await repo.get_session(tx, project_id, session_id, for_update=True)
        return await assign(tx, session, found[0], origin=origin)


async def team_of(svc: Services, project_ids: tuple[str, ...]) -> list[Operator]:
    """Operators who reach any of these projects (whom a conversation can be assigned to)."""
    async with svc.db.read() as tx:
        every = await operator_repo.list_operators(tx)
    return [op for op in every if op.is_admin or set(op.project_ids) & set(project_ids)]
