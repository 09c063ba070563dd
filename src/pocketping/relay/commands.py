"""Commands operators type in a thread: /close, /reopen, /info, /help, /away, /back, /ai on|off.

Answers go back into the same thread through the outbox (durable, paced, in order).
Changes that concern every platform (closing, AI on/off) are announced by the bridge
planner in every thread of the conversation, the one the command came from included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pocketping.bridges.base import InboundReply
from pocketping.relay import team_copy as copy
from pocketping.relay.ports import Notices, TeamActions
from pocketping.relay.runtime import Resolved

NAMES = ("close", "reopen", "info", "help", "away", "back", "ai")
HELP = copy.HELP


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


@dataclass(frozen=True)
class CommandContext:
    team: TeamActions
    notices: Notices
    # Records a platform message id; False if it was already seen (answers are given once).
    first_time: Callable[[str, str], Awaitable[bool]]
    public_base: str | None


async def run(ctx: CommandContext, resolved: Resolved, reply: InboundReply, command: tuple[str, list[str]]) -> None:
    bridge, session = resolved.bridge, resolved.session
    name, args = command

    async def answer(text: str) -> None:
        await ctx.notices.post(bridge.project_id, bridge.id, session.id, text)

    if name in ("info", "help"):
        # Pure answers: at most once per platform message, even if it is delivered again.
        if not await ctx.first_time(f"cmd:{bridge.id}", reply.external_id):
            return
        if name == "help":
            await answer(copy.HELP)
        else:
            project = await ctx.team.project(bridge.project_id)
            await answer(copy.info_text(session, project, ctx.public_base))
    elif name == "close":
        if session.status == "closed":
            await answer(copy.ALREADY_CLOSED)
        else:
            await ctx.team.close(bridge.project_id, session.id, origin=bridge.id)
    elif name == "reopen":
        if session.status == "active":
            await answer(copy.ALREADY_OPEN)
        else:
            await ctx.team.reopen(bridge.project_id, session.id, origin=bridge.id)
    elif name == "away":
        await ctx.team.set_team_status(bridge.project_id, "away")
        await answer(copy.AWAY)
    elif name == "back":
        await ctx.team.set_team_status(bridge.project_id, "auto", active=True)
        await answer(copy.BACK)
    elif name == "ai":
        if args[:1] not in (["on"], ["off"]):
            await answer(copy.AI_USAGE)
            return
        await ctx.team.set_ai(bridge.project_id, session.id, args[0] == "on", origin=bridge.id)
