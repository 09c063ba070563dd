"""Saved replies: add, list, remove; and send one, filled for the visitor, as an operator reply."""

from __future__ import annotations

from pocketping import ids
from pocketping.actions.messages import send_operator_message
from pocketping.actions.requests import Sent
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.replies import SavedReply, check_reply_text, check_shortcut, fill
from pocketping.errors import NotFound
from pocketping.store import projects as project_repo
from pocketping.store import replies as repo
from pocketping.store import sessions as session_repo


async def add_reply(svc: Services, project_id: str, shortcut: str, text: str) -> tuple[SavedReply, bool]:
    """Save (or replace) a reply; the flag says whether the shortcut is new."""
    clean_shortcut, clean_text = check_shortcut(shortcut), check_reply_text(text)
    async with unit_of_work(svc) as tx:
        await project_repo.get_project(tx, project_id)
        created = await repo.save_reply(tx, id=ids.new_id(ids.SAVED_REPLY), project_id=project_id,
                                        shortcut=clean_shortcut, text=clean_text)
        saved = await repo.find_reply(tx, project_id, clean_shortcut)
    assert saved is not None
    return saved, created


async def list_replies(svc: Services, project_ids: tuple[str, ...]) -> list[SavedReply]:
    async with svc.db.read() as tx:
        for project_id in project_ids:
            await project_repo.get_project(tx, project_id)
        return await repo.list_replies(tx, project_ids)


async def remove_reply(svc: Services, project_id: str, shortcut: str) -> None:
    async with unit_of_work(svc) as tx:
        if not await repo.remove_reply(tx, project_id, check_shortcut(shortcut)):
            raise NotFound(f"no saved reply /{shortcut} in this project (pocketping reply list {project_id})",
                           code="reply_not_found")


async def send_saved_reply(svc: Services, project_id: str, session_id: str, shortcut: str, *, operator_name: str,
                           source: str, origin: str | None, client_id: str | None = None) -> Sent:
    """``/r SHORTCUT``: the saved text, {name} and {email} filled in, sent to the visitor."""
    async with svc.db.read() as tx:
        session = await session_repo.get_session(tx, project_id, session_id)
        saved = await repo.find_reply(tx, project_id, check_shortcut(shortcut))
    if saved is None:
        raise NotFound(f"no saved reply /{shortcut} in this project", code="reply_not_found")
    return await send_operator_message(svc, project_id, session_id, fill(saved.text, session.identity),
                                       operator_name=operator_name, source=source, origin=origin,
                                       client_id=client_id)
