"""Commands operators type in a thread: /close, /reopen, /info, /help, /away, /back, /ai on|off,
/assign NAME|me|nobody, /r SHORTCUT, /note TEXT.

Answers go back into the same thread through the outbox (durable, paced, in order).
Changes that concern every platform (closing, AI on/off) are announced by the bridge
planner in every thread of the conversation, the one the command came from included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pocketping.bridges.base import InboundReply
from pocketping.errors import PocketPingError
from pocketping.relay import team_copy as copy
from pocketping.relay.ports import Notices, TeamActions
from pocketping.relay.runtime import Resolved

NAMES = ("close", "reopen", "info", "help", "away", "back", "ai", "assign", "r", "note")
# Commands whose argument is free text (kept as written, in one piece).
TEXT_ARGS = ("assign", "r", "note")
HELP = copy.HELP


def parse(text: str) -> tuple[str, list[str]] | None:
    """A known command at the start of the text (``/close``, ``/close@MyBot``); None otherwise,
    so ``/path/to/file is broken`` still reaches the visitor."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    parts = stripped.split(maxsplit=1)
    head = parts[0]
    rest = parts[1].strip() if len(parts) > 1 else ""
    name = head[1:].split("@", 1)[0].lower()
    if name in TEXT_ARGS:
        return (name, [rest]) if rest else (name, [])
    args = rest.split()
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
    elif name in TEXT_ARGS:
        await _text_command(ctx, resolved, reply, name, args[0] if args else "", answer)


async def _text_command(ctx: CommandContext, resolved: Resolved, reply: InboundReply, name: str, arg: str,
                        answer: Callable[[str], Awaitable[None]]) -> None:
    bridge, session = resolved.bridge, resolved.session
    author = (reply.operator_name or "").strip()[:100] or "Operator"
    if not arg:
        await answer(copy.USAGE[name])
        return
    if not await ctx.first_time(f"cmd:{bridge.id}", reply.external_id):
        return  # the same platform message delivered again
    try:
        if name == "assign":
            await ctx.team.assign(bridge.project_id, session.id, arg, author=author, origin=bridge.id)
        elif name == "note":
            await ctx.team.note(bridge.project_id, session.id, arg, operator_name=author, source=bridge.type,
                                origin=bridge.id)
        else:
            await ctx.team.saved_reply(bridge.project_id, session.id, arg, operator_name=author, source=bridge.type,
                                       origin=bridge.id, client_id=f"{bridge.id}:r:{reply.external_id}")
    except PocketPingError as exc:
        await answer(exc.message)
