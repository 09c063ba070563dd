"""Operators editing or deleting what they wrote (in Discord, Slack, Telegram or the inbox):
the stored message changes and every open tab of the visitor is told."""

from __future__ import annotations

import orjson

from pocketping.actions.files import delete_blobs
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Message
from pocketping.core.rules import clean_text
from pocketping.errors import InvalidInput, NotFound
from pocketping.hub import Event
from pocketping.store import files as files_repo
from pocketping.store import sessions as repo


async def find_message_by_client_id(svc: Services, project_id: str, session_id: str,
                                    client_id: str) -> Message | None:
    async with svc.db.read() as tx:
        if await repo.find_session(tx, project_id, session_id) is None:
            return None
        return await repo.find_by_client_id(tx, session_id, client_id)


def _event(type_: str, frame_type: str, project_id: str, message: Message, origin: str | None) -> Event:
    api = message.to_api()
    return Event(type_, project_id, message.session_id, data={"message": api},
                 widget_frame={"type": frame_type, "message": api}, origin=origin)


VISITOR_EDIT_SECONDS = 300  # a visitor may edit their own message for 5 minutes


async def edit_operator_message(svc: Services, project_id: str, session_id: str, message_id: str, text: object, *,
                                origin: str | None = None) -> Message | None:
    """New text for an operator's message; None when there is nothing to change."""
    return await _edit(svc, project_id, session_id, message_id, text, origin=origin, sender="operator")


async def edit_visitor_message(svc: Services, project_id: str, session_id: str, message_id: object, text: object, *,
                               origin: str = "widget") -> Message | None:
    """A visitor corrects their own message, within 5 minutes of sending it."""
    if not isinstance(message_id, str) or not message_id:
        raise InvalidInput("an edit names the message's id", code="invalid_edit")
    return await _edit(svc, project_id, session_id, message_id, text, origin=origin, sender="visitor")


async def _edit(svc: Services, project_id: str, session_id: str, message_id: str, text: object, *,
                origin: str | None, sender: str) -> Message | None:
    clean = clean_text(text, svc.settings.max_text_chars)
    async with unit_of_work(svc) as tx:
        await repo.get_session(tx, project_id, session_id)
        message = await repo.find_message(tx, session_id, message_id)
        if message is None and sender == "visitor":
            raise NotFound("no such message in this conversation", code="message_not_found")
        if message is None or message.deleted_at is not None or message.text == clean:
            return None
        if message.sender != sender or message.kind != "message":
            raise InvalidInput(f"only {'your' if sender == 'visitor' else 'an operator'}'s own messages can be edited",
                               code="not_editable")
        if sender == "visitor" and (tx.now - message.created_at).total_seconds() > VISITOR_EDIT_SECONDS:
            raise InvalidInput("a message can be edited for 5 minutes after it was sent", code="edit_window_passed")
        # The earlier text is kept (encrypted) with the time it was replaced.
        history = await repo.message_history(tx, message_id)
        history.append({"text": message.text, "replacedAt": tx.now.isoformat()})
        await repo.update_message(tx, message_id, text=clean, edited_at=tx.now,
                                  history=tx.encrypt(orjson.dumps(history).decode()))
        updated = await repo.find_message(tx, session_id, message_id)
        assert updated is not None
        tx.emit(_event("message.updated", "message_updated", project_id, updated, origin))
        return updated


async def delete_operator_message(svc: Services, project_id: str, session_id: str, message_id: str, *,
                                  origin: str | None = None) -> Message | None:
    """Withdraw an operator's message: its text, earlier versions and files go, the row keeps only
    that it existed (``deletedAt``); the widget and every chat app copy follow (None if already gone)."""
    async with unit_of_work(svc) as tx:
        await repo.get_session(tx, project_id, session_id)
        message = await repo.find_message(tx, session_id, message_id)
        if message is None or message.deleted_at is not None:
            return None
        if message.sender != "operator" or message.kind != "message":
            raise InvalidInput("only an operator's own messages can be deleted", code="not_editable")
        doomed = list((await files_repo.find_files(tx, [a.id for a in message.attachments])).values())
        await files_repo.delete_files(tx, [f.id for f in doomed])
        await repo.update_message(tx, message_id, deleted_at=tx.now, text="", history=None, attachments=None)
        deleted = await repo.find_message(tx, session_id, message_id)
        assert deleted is not None
        tx.emit(_event("message.deleted", "message_deleted", project_id, deleted, origin))
    await delete_blobs(svc, doomed)
    return deleted


async def _project_message(svc: Services, project_id: str, message_id: str, session_id: str | None) -> Message:
    """The message by its id, if it is in this project (and in ``session_id`` when given)."""
    async with svc.db.read() as tx:
        message = await repo.find_message_by_id(tx, message_id)
        if (message is None or session_id not in (None, message.session_id)
                or await repo.find_session(tx, project_id, message.session_id) is None):
            raise NotFound("no such message in this project", code="message_not_found")
    return message


async def edit_message_by_id(svc: Services, project_id: str, message_id: str, text: object, *,
                             origin: str = "api", session_id: str | None = None) -> Message:
    """PATCH /api/v1/messages/{id}: the message as it now stands (unchanged when the text is the same)."""
    message = await _project_message(svc, project_id, message_id, session_id)
    if message.deleted_at is not None:
        raise InvalidInput("a deleted message cannot be edited", code="not_editable")
    updated = await edit_operator_message(svc, project_id, message.session_id, message_id, text, origin=origin)
    return updated or message


async def delete_message_by_id(svc: Services, project_id: str, message_id: str, *, origin: str = "api",
                               session_id: str | None = None) -> Message:
    """DELETE /api/v1/messages/{id}: the message in its deleted state (the same answer again when
    it was already deleted)."""
    message = await _project_message(svc, project_id, message_id, session_id)
    if message.deleted_at is not None:
        return message
    deleted = await delete_operator_message(svc, project_id, message.session_id, message_id, origin=origin)
    if deleted is None:  # deleted meanwhile by someone else
        async with svc.db.read() as tx:
            deleted = await repo.find_message_by_id(tx, message_id)
    assert deleted is not None
    return deleted
