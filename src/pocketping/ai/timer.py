"""The AI fallback's timer, kept in ``sessions.ai_due_at`` and set in the same transaction as
the message that moves it (a planner: see ``pocketping.actions.fanout``).

* A visitor message (re)starts it: due ``delay`` seconds later, when the project's AI is on
  and the session's is too; due at once when it asks for a person ("talk to a human"), so
  that the hand-off (``pocketping.workers.ai``) does not wait.
* An operator message, from any edge, cancels it and turns the AI off for the session.
* Turning the AI back on for a session (``/ai on``) resets its reply count and, when the
  visitor's message is the last word, starts the timer from that message (due at once if
  the delay has already passed).
* Closing the session cancels it.

The scheduler (``pocketping.workers.ai``) answers sessions whose time has come; it is
nudged after a commit that set a due time, so it need not wake for every visitor message.
"""

from __future__ import annotations

from datetime import timedelta

from pocketping.core.ai_copy import asks_for_person
from pocketping.core.hours import is_open
from pocketping.hub import Event
from pocketping.nudge import Nudge
from pocketping.store import ai as repo
from pocketping.store import projects as project_repo
from pocketping.store import sessions as session_repo
from pocketping.store.db import Tx
from pocketping.store.planning import plan_for


class AITimerPlanner:
    """The planner; ``nudge`` wakes this node's AI scheduler after a commit that set a due time."""

    def __init__(self, nudge: Nudge) -> None:
        self.nudge = nudge

    async def __call__(self, tx: Tx, event: Event) -> None:
        if event.session_id is None:
            return
        if event.type == "message.created":
            message = event.data.get("message") or {}
            if message.get("kind") != "message":
                return
            if message.get("sender") == "visitor":
                if await _visitor_wrote(tx, event) and self.nudge not in tx.after_commit:
                    tx.after_commit.append(self.nudge)
            elif message.get("sender") == "operator":
                await _operator_replied(tx, event)
        elif event.type == "session.ai_changed" and event.data.get("aiEnabled") is True:
            await _turned_on(tx, event)
        elif event.type == "session.closed":
            await repo.set_due(tx, event.session_id, None)


async def _timer(tx: Tx, project_id: str) -> tuple[bool, int, int | None] | None:
    # Asked once per transaction and project (a batch carries many messages of one project).
    return (await plan_for(tx, project_id)).ai_timer


async def _visitor_wrote(tx: Tx, event: Event) -> bool:
    """Starts the timer; True if it set a due time."""
    assert event.session_id is not None
    if not (event.data.get("session") or {}).get("aiEnabled"):
        return False
    timer = await _timer(tx, event.project_id)
    if timer is not None and timer[0]:
        delay = timer[1]
        if asks_for_person(str((event.data.get("message") or {}).get("text") or "")):
            delay = 0
        elif timer[2] is not None:  # `ai set --outside-hours-delay`: answer sooner while the team is closed
            project = await tx.memo(("project", event.project_id),
                                    lambda: project_repo.find_project(tx, event.project_id))
            if project is not None and not is_open(project.extra, tx.now):
                delay = timer[2]
        await repo.set_due(tx, event.session_id, tx.now + timedelta(seconds=delay))
        return True
    return False


async def _operator_replied(tx: Tx, event: Event) -> None:
    assert event.session_id is not None
    # Always off for the session (so enabling the AI later never barges into a conversation a
    # human took over), but only announced when the project uses the AI at all.
    if not await repo.silence(tx, event.session_id):
        return
    timer = await _timer(tx, event.project_id)
    if timer is None or not timer[0]:
        return
    session = await session_repo.get_session(tx, event.project_id, event.session_id)
    tx.emit(Event("session.ai_changed", event.project_id, event.session_id,
                  data={"session": session.to_api(), "aiEnabled": False, "reason": "operator_replied"},
                  origin=event.origin))


async def _turned_on(tx: Tx, event: Event) -> None:
    assert event.session_id is not None
    await repo.reset_reply_count(tx, event.session_id)
    timer = await _timer(tx, event.project_id)
    if timer is None or not timer[0]:
        return
    last = await repo.last_chat_message(tx, event.session_id)
    if last is not None and last[0] == "visitor":
        await repo.set_due(tx, event.session_id, max(tx.now, last[1] + timedelta(seconds=timer[1])))
