"""What operators do from a platform thread, as the relay asks for it (``relay.ports.TeamActions``):
the same actions every other edge calls."""

from __future__ import annotations

from pocketping.actions.assignment import assign_by_name
from pocketping.actions.edits import delete_operator_message, edit_operator_message, find_message_by_client_id
from pocketping.actions.files import access_file_by_key, read_file, store_bytes
from pocketping.actions.messages import send_operator_message
from pocketping.actions.notes import add_note
from pocketping.actions.presence import set_operator_status
from pocketping.actions.projects import get_project
from pocketping.actions.replies import send_saved_reply
from pocketping.actions.services import Services
from pocketping.actions.sessions import close_session, reopen_session, set_ai_enabled
from pocketping.core.models import Message, Project


class ThreadActions:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def reply(self, project_id: str, session_id: str, text: str, *, operator_name: str, source: str,
                    origin: str, client_id: str, attachments: tuple[str, ...] = ()) -> None:
        await send_operator_message(self.svc, project_id, session_id, text, operator_name=operator_name,
                                    source=source, origin=origin, client_id=client_id,
                                    attachments=list(attachments) or None)

    async def find_reply(self, project_id: str, session_id: str, client_id: str) -> Message | None:
        return await find_message_by_client_id(self.svc, project_id, session_id, client_id)

    async def edit(self, project_id: str, session_id: str, message_id: str, text: str, *, origin: str) -> None:
        await edit_operator_message(self.svc, project_id, session_id, message_id, text, origin=origin)

    async def delete(self, project_id: str, session_id: str, message_id: str, *, origin: str) -> None:
        await delete_operator_message(self.svc, project_id, session_id, message_id, origin=origin)

    async def close(self, project_id: str, session_id: str, *, origin: str) -> None:
        await close_session(self.svc, project_id, session_id, origin=origin)

    async def reopen(self, project_id: str, session_id: str, *, origin: str) -> None:
        await reopen_session(self.svc, project_id, session_id, origin=origin)

    async def set_ai(self, project_id: str, session_id: str, enabled: bool, *, origin: str) -> None:
        await set_ai_enabled(self.svc, project_id, session_id, enabled, origin=origin)

    async def set_team_status(self, project_id: str, status: str, *, active: bool = False) -> None:
        await set_operator_status(self.svc, project_id, status, active=active)

    async def project(self, project_id: str) -> Project:
        return await get_project(self.svc, project_id)

    async def assign(self, project_id: str, session_id: str, who: str, *, author: str, origin: str) -> None:
        await assign_by_name(self.svc, project_id, session_id, who, author=author, origin=origin)

    async def note(self, project_id: str, session_id: str, text: str, *, operator_name: str, source: str,
                   origin: str) -> None:
        await add_note(self.svc, project_id, session_id, text, operator_name=operator_name, source=source,
                       origin=origin)

    async def saved_reply(self, project_id: str, session_id: str, shortcut: str, *, operator_name: str, source: str,
                          origin: str, client_id: str) -> None:
        await send_saved_reply(self.svc, project_id, session_id, shortcut, operator_name=operator_name,
                               source=source, origin=origin, client_id=client_id)


class TeamFiles:
    """``relay.ports.Files``: attachments read for deliveries, files from platforms stored."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.max_bytes = svc.settings.max_upload_bytes

    async def read(self, project_id: str, file_id: str) -> bytes:
        return await read_file(self.svc, await access_file_by_key(self.svc, project_id, file_id))

    async def store(self, project_id: str, session_id: str, name: str, data: bytes, *, uploader: str) -> str:
        return (await store_bytes(self.svc, await get_project(self.svc, project_id), data, name=name,
                                  uploader=uploader, session_id=session_id)).id
