"""Commands operators type in a thread: /close, /reopen, /info, /help, /away, /back, /ai on|off.

Answers go back into the same thread through the outbox (durable, paced, in order).
Changes that concern every platform (closing, AI on/off) are announced by the bridge
planner in every thread of the conversation, the one the command came from included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketping.actions import bridge_runtime as rt
from pocketping.actions.presence import set_operator_status
from pocketping.actions.projects import get_project
from pocketping.actions.sessions import close_session, reopen_session, set_ai_enabled
from pocketping.bridges.base import InboundReply
from pocketping.relay.cards import info_text

if TYPE_CHECKING:
    from pocketping.relay.sink import Sink

NAMES = ("close", "reopen", "info", "help", "away", "back", "ai")

HELP = """Commands (type them in this thread):
/close — close the conversation (the visitor can still write; that reopens it)
/reopen — reopen it
/info — who the visitor is and where they are
/ai on, /ai off — let the AI answer when nobody has, or not, in this conversation
/away — show the team as away to every visitor; /back — show it online again
/help — this list
Anything else you write here is sent to the visitor."""


def parse(text: str) -> tuple[str, list[str]] | None:
    """A known command at the start of the text (``/close``, ``/close@MyBot``); None otherwise,
    so ``/path/to/file is broken`` still reaches the visitor."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    head, *args = stripped.split()
    name = head[1:].split("@", 1)[0].lower()
    if name not in NAMES or (name != "ai" and args):
        return None
    return name, [a.lower() for a in args]


async def run(sink: Sink, resolved: rt.Resolved, reply: InboundReply, command: tuple[str, list[str]]) -> None:
    svc = sink.svc
    bridge, session = resolved.bridge, resolved.session
    name, args = command

    async def answer(text: str) -> None:
        await rt.post_notice(svc, bridge.project_id, bridge.id, session.id, text)

    if name in ("info", "help"):
        # Pure answers: at most once per platform message, even if it is delivered again.
        if not await sink.seen(f"cmd:{bridge.id}", reply.external_id):
            return
        if name == "help":
            await answer(HELP)
        else:
            project = await get_project(svc, bridge.project_id)
            await answer(info_text(session, project, svc.settings.public_base()))
    elif name == "close":
        if session.status == "closed":
            await answer("This conversation is already closed.")
        else:
            await close_session(svc, bridge.project_id, session.id, origin=bridge.id)
    elif name == "reopen":
        if session.status == "active":
            await answer("This conversation is open.")
        else:
            await reopen_session(svc, bridge.project_id, session.id, origin=bridge.id)
    elif name == "away":
        await set_operator_status(svc, bridge.project_id, "away")
        await answer("Visitors now see the team as away. Send /back when you are here again.")
    elif name == "back":
        await set_operator_status(svc, bridge.project_id, "auto", active=True)
        await answer("Visitors now see the team online (until nobody has been active for a while).")
    elif name == "ai":
        if args[:1] not in (["on"], ["off"]):
            await answer("Use /ai on or /ai off.")
            return
        await set_ai_enabled(svc, bridge.project_id, session.id, args[0] == "on", origin=bridge.id)
