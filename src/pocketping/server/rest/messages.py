"""One message by its id: an operator's edit or deletion in place."""

from __future__ import annotations

from fastapi import APIRouter

from pocketping.actions import edits
from pocketping.server.rest.deps import ProjectDep, ServicesDep
from pocketping.server.rest.schemas import MessageOut, MessagePatchIn

router = APIRouter(prefix="/messages", tags=["sessions"])


@router.patch("/{message_id}", response_model=MessageOut,
              summary="Edit an operator's message in place: the widget and every chat app copy change")
async def edit_message(message_id: str, body: MessagePatchIn, project: ProjectDep, svc: ServicesDep
                       ) -> dict[str, object]:
    message = await edits.edit_message_by_id(svc, project.id, message_id, body.text, origin="api")
    return message.to_api()


@router.delete("/{message_id}", response_model=MessageOut,
               summary="Delete an operator's message: its text goes everywhere (widget, every chat app copy); "
                       "the stored row keeps only that it existed")
async def delete_message(message_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, object]:
    message = await edits.delete_message_by_id(svc, project.id, message_id, origin="api")
    return message.to_api()
