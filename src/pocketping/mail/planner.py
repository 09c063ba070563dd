"""The mail planner: a reply the visitor may not see becomes a delayed outbox row, and a closed
conversation whose transcript was asked for becomes one, in the event's own transaction."""

from __future__ import annotations

from pocketping.core.mail import MailOptions, mail_options
from pocketping.hub import Event
from pocketping.store import mail as repo
from pocketping.store import operators as operator_repo
from pocketping.store import outbox as q
from pocketping.store import projects as project_repo
from pocketping.store.db import Tx

TARGET = "mail"
DEFAULT_NOTIFY_AFTER = 120
REPLIES = "replies"  # target_id of the chain of reply mails of a session (the outbox's chain key)
TRANSCRIPT = "transcript"
TEAM_NEW = "team_new"  # to an operator: a new conversation while nobody is online
TEAM_UNANSWERED = "team_unanswered"  # to an operator: a visitor's message still unanswered
TEAM_HANDOFF = "team_handoff"  # to an operator: the AI handed a conversation over to a person


class MailPlanner:
    def __init__(self, *, mail_ready: bool) -> None:
        self.mail_ready = mail_ready

    async def __call__(self, tx: Tx, event: Event) -> None:
        if not self.mail_ready or event.session_id is None:
            return
        if event.type == "message.created":
            await self._reply(tx, event)
        elif event.type == "session.ai_changed" and event.data.get("reason") == "handoff":
            await self._handoff(tx, event)
        elif event.type == "session.closed":
            found = await repo.find_recipient(tx, event.session_id)
            if found is not None and found.transcript_wanted and found.unsubscribed_at is None:
                await queue_transcript(tx, event.project_id, event.session_id)

    async def _reply(self, tx: Tx, event: Event) -> None:
        message = event.data.get("message") or {}
        if message.get("kind") == "message" and message.get("sender") == "visitor":
            await self._team(tx, event, message)
            return
        if message.get("kind") != "message" or message.get("sender") not in ("operator", "ai"):
            return
        identity = (event.data.get("session") or {}).get("identity") or {}
        if not identity.get("email"):
            return
        options = await self._options(tx, event.project_id)
        if not options.replies:
            return
        # One row per reply, each due after the delay; the first one due mails every reply still
        # unseen, the others then find nothing left to mail (a burst is one mail).
        await q.enqueue(tx, project_id=event.project_id, target=TARGET, target_id=REPLIES, action=REPLIES,
                        payload={"seq": message.get("seq")}, session_id=event.session_id,
                        message_id=message.get("id"), delay_seconds=options.delay_seconds)

    async def _team(self, tx: Tx, event: Event, message: dict[str, object]) -> None:
        """Operators with ``--notify email``: whether anyone is online is decided when the row is due."""
        targets = await tx.memo(("mail_team", event.project_id),
                                lambda: operator_repo.notify_targets(tx, event.project_id))
        first = bool(event.data.get("firstMessage"))
        for operator_id, after in targets:
            await q.enqueue(tx, project_id=event.project_id, target=TARGET, target_id=operator_id,
                            action=TEAM_NEW if first else TEAM_UNANSWERED, payload={"seq": message.get("seq")},
                            session_id=event.session_id, message_id=str(message.get("id")),
                            delay_seconds=0 if first else (DEFAULT_NOTIFY_AFTER if after is None else after))

    async def _handoff(self, tx: Tx, event: Event) -> None:
        """Operators with ``--notify email`` hear at once that a person is needed (if nobody is online
        when the row is due, and nobody from the team has answered meanwhile)."""
        assert event.session_id is not None
        seq = int((event.data.get("session") or {}).get("lastSeq") or 0)
        for operator_id, _after in await tx.memo(("mail_team", event.project_id),
                                                 lambda: operator_repo.notify_targets(tx, event.project_id)):
            # A chain of its own: not behind this operator's delayed "unanswered" mail of the session.
            await q.enqueue(tx, project_id=event.project_id, target=TARGET, target_id=f"{TEAM_HANDOFF}:{operator_id}",
                            action=TEAM_HANDOFF, payload={"seq": seq, "operator": operator_id,
                                                          "reason": event.data.get("handoff")},
                            session_id=event.session_id)

    async def _options(self, tx: Tx, project_id: str) -> MailOptions:
        async def load() -> MailOptions:
            project = await project_repo.find_project(tx, project_id)
            return mail_options(project.extra if project else {}, mail_ready=self.mail_ready)

        return await tx.memo(("mail_options", project_id), load)


async def queue_transcript(tx: Tx, project_id: str, session_id: str) -> None:
    await q.enqueue(tx, project_id=project_id, target=TARGET, target_id=TRANSCRIPT, action=TRANSCRIPT,
                    payload={}, session_id=session_id)
