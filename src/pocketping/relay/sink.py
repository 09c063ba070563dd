"""What operators do in their threads, turned into the same actions every other edge uses."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from pocketping.actions import bridge_runtime as rt
from pocketping.actions.edits import delete_operator_message, edit_operator_message, find_message_by_client_id
from pocketping.actions.messages import send_operator_message
from pocketping.bridges.base import InboundReply
from pocketping.bridges.text import split_text
from pocketping.core.rules import CLIENT_ID
from pocketping.errors import InvalidInput
from pocketping.hub import Event
from pocketping.relay import commands

if TYPE_CHECKING:
    from pocketping.relay.manager import BridgeManager

log = logging.getLogger(__name__)


def reply_client_id(bridge_id: str, external_id: str, part: int = 0) -> str:
    """The idempotency key of a platform message: the same reply delivered twice is stored once."""
    suffix = f":{part}" if part else ""
    candidate = f"{bridge_id}:{external_id}{suffix}"
    if CLIENT_ID.match(candidate):
        return candidate
    digest = hashlib.sha256(external_id.encode()).hexdigest()[:24]
    return f"{bridge_id}:h{digest}{suffix}"


class Sink:
    def __init__(self, manager: BridgeManager) -> None:
        self.manager = manager
        self.svc = manager.svc

    async def reply(self, reply: InboundReply) -> None:
        resolved = await rt.resolve_thread(self.svc, reply.bridge_id, reply.thread_id)
        if resolved is None:
            return  # a thread that is not one of our conversations
        command = commands.parse(reply.text)
        if command is not None:
            await commands.run(self, resolved, reply, command)
            return
        bridge, session = resolved.bridge, resolved.session
        name = (reply.operator_name or "").strip()[:100] or "Operator"
        pieces = split_text(reply.text, self.svc.settings.max_text_chars)
        for i, piece in enumerate(pieces):
            try:
                await send_operator_message(self.svc, bridge.project_id, session.id, piece, operator_name=name,
                                            source=bridge.type, origin=bridge.id,
                                            client_id=reply_client_id(bridge.id, reply.external_id, i))
            except InvalidInput as exc:
                log.info("ignored a %s reply in %s: %s", reply.platform_label, session.id, exc.message)

    async def edited(self, bridge_id: str, thread_id: str, external_id: str, text: str) -> None:
        resolved = await rt.resolve_thread(self.svc, bridge_id, thread_id)
        if resolved is None or commands.parse(text) is not None:
            return
        message = await find_message_by_client_id(self.svc, resolved.bridge.project_id, resolved.session.id,
                                                  reply_client_id(bridge_id, external_id))
        if message is None:
            return
        try:
            await edit_operator_message(self.svc, resolved.bridge.project_id, resolved.session.id, message.id,
                                        text, origin=bridge_id)
        except InvalidInput as exc:
            log.info("ignored an edit in %s: %s", resolved.session.id, exc.message)

    async def deleted(self, bridge_id: str, thread_id: str, external_id: str) -> None:
        resolved = await rt.resolve_thread(self.svc, bridge_id, thread_id)
        if resolved is None:
            return
        for part in range(0, 10):
            message = await find_message_by_client_id(self.svc, resolved.bridge.project_id, resolved.session.id,
                                                      reply_client_id(bridge_id, external_id, part))
            if message is None:
                break
            try:
                await delete_operator_message(self.svc, resolved.bridge.project_id, resolved.session.id, message.id,
                                              origin=bridge_id)
            except InvalidInput as exc:
                log.info("ignored a deletion in %s: %s", resolved.session.id, exc.message)

    async def typing(self, bridge_id: str, thread_id: str, operator_name: str) -> None:
        resolved = await rt.resolve_thread(self.svc, bridge_id, thread_id)
        if resolved is None:
            return
        name = (operator_name or "").strip()[:100] or None
        frame: dict[str, Any] = {"type": "typing", "sender": "operator", "active": True, "operatorName": name}
        self.svc.hub.publish(Event("typing", resolved.bridge.project_id, resolved.session.id,
                                   data={"sender": "operator", "active": True, "operatorName": name},
                                   widget_frame=frame, origin=bridge_id))

    async def seen(self, source: str, key: str) -> bool:
        return await rt.mark_seen(self.svc, source, key)

    async def save_state(self, bridge_id: str, changes: dict[str, Any]) -> None:
        await rt.save_state(self.svc, bridge_id, changes)

    async def report(self, bridge_id: str, status: str, detail: str | None = None) -> None:
        await self.manager.report(bridge_id, status, detail)
