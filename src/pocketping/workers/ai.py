"""The background loop that answers sessions whose AI timer is due.

The timer lives in the database (``sessions.ai_due_at``), so nothing is lost on a restart and
any number of processes can run this loop: claims are atomic (see
``pocketping.actions.ai_answer``). Time comes from ``svc.clock``, so tests drive it with a
``FakeClock``. Local changes (a visitor message, the AI turned on) wake the loop at once;
changes made by other processes are seen within ``POCKETPING_AI_POLL_SECONDS``.

Answering is: claim (an action), read the conversation and ask the model (the ``ai``
library), then post the answer or tell the team (actions again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pocketping import logs
from pocketping.actions import ai_answer
from pocketping.actions.services import Services
from pocketping.clock import sleep_or_wake
from pocketping.core.ai import AISettings, limit_reached
from pocketping.core.models import Session
from pocketping.ephemeral import typing_event
from pocketping.hub import Event
from pocketping.nudge import Nudge
from pocketping.store import ai as repo
from pocketping.store.ai import Claim

if TYPE_CHECKING:
    from pocketping.ai import providers, usage

log = logging.getLogger(__name__)

_WAKING = {"ai.settings_changed", "session.ai_changed"}


class AIScheduler:
    def __init__(self, svc: Services, nudge: Nudge, *, poll_seconds: float, concurrency: int = 4) -> None:
        self.svc = svc
        self.nudge = nudge
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.outcomes: Counter[str] = Counter()  # what the answers came to, for logs and tests
        self._checks_started = 0
        self._checks_done = 0  # the number of the latest finished check
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        self._unsubscribe = self.svc.hub.subscribe_all(self._on_event)
        self.nudge.attach(self._wake)
        self._runner = asyncio.create_task(self._run(), name="ai-scheduler")

    async def stop(self) -> None:
        self.nudge.detach()
        if self._unsubscribe is not None:
            self._unsubscribe()
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runner = None

    def _on_event(self, event: Event) -> None:
        # Visitor messages wake it through its nudge when they set a due time (AI on).
        if event.type in _WAKING:
            self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                wait = await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the AI scheduler could not check for due sessions; trying again shortly")
                wait = self.poll_seconds
            if wait is not None:
                await sleep_or_wake(self.svc.clock, wait, self._wake)

    async def check(self) -> float | None:
        """Claim and start answering what is due. Returns how long to wait before the next
        check (None: check again at once)."""
        self._checks_started += 1
        number = self._checks_started
        started_at = self.svc.clock.now()
        free = self.concurrency - len(self._tasks)
        claims = await ai_answer.claim_due(self.svc, limit=free) if free > 0 else []
        for claim in claims:
            task = asyncio.create_task(self._answer(claim), name=f"ai-answer-{claim.session_id}")
            self._tasks.add(task)
        async with self.svc.db.read() as tx:
            next_due = await repo.next_due(tx)
        await self._notify(number)
        if free > 0 and len(claims) == free:
            return None  # a full batch: there may be more
        if next_due is None or next_due <= started_at:
            # Nothing, or something due that another process took meanwhile: poll, don't spin.
            return self.poll_seconds
        # Measured from now, not from the check: the clock may have moved past it already.
        until = (next_due - self.svc.clock.now()).total_seconds()
        return min(self.poll_seconds, until) if until > 0 else None

    async def _answer(self, claim: Claim) -> None:
        started = time.perf_counter()
        logs.bind(project_id=claim.project_id, session_id=claim.session_id)
        try:
            outcome = await answer(self.svc, claim)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("answering session %s crashed", claim.session_id)
            outcome = "crashed"
            try:
                await ai_answer.give_up(self.svc, claim)
            except Exception:  # the database is away too: the claim expires and is retried
                log.exception("could not release session %s after the crash", claim.session_id)
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)
        self.outcomes[outcome] += 1
        self.svc.metrics.ai_answer(outcome, time.perf_counter() - started)
        log.info("AI fallback for session %s: %s", claim.session_id, outcome)
        self._wake.set()  # a slot is free again
        await self._notify(None)

    async def _notify(self, check: int | None) -> None:
        async with self._changed:
            if check is not None:
                self._checks_done = max(self._checks_done, check)
            self._changed.notify_all()

    async def settled(self) -> None:
        """Wait until a check that started after this call has finished and no answer is being
        worked on (tests advance a FakeClock, then await this)."""
        target = self._checks_started + 1
        self._wake.set()
        async with self._changed:
            await self._changed.wait_for(lambda: self._checks_done >= target and not self._tasks)


async def answer(svc: Services, claim: Claim) -> str:
    """Answer one claimed session. Returns what happened: ``answered``, ``handed_off``,
    ``fallback``, ``failed``, ``superseded``, ``capped``, ``over_budget``, ``off``,
    ``nothing_to_answer`` or ``gone``. The tokens the providers report are counted with the
    answer; tokens spent on none (superseded) are counted on their own."""
    # The model's side (providers, prompts, retrieval, an HTTP client) is imported by the first
    # answer, not by every server at start.
    from pocketping.ai import usage

    day = repo.day_of(svc.clock.now())
    with usage.metering() as meter:
        outcome = await _answer(svc, claim, day, meter)
    if meter.tokens:
        await ai_answer.record_tokens(svc, claim.project_id, day, meter.take())
    return outcome


def _limit_note(reason: str, settings: AISettings, today: dict[str, Any]) -> str:
    if reason == "session_limit":
        return (f"The AI reached its limit of {settings.max_replies_per_session} answers in this conversation and "
                "is now off for it; '/ai on' turns it back on.")
    if reason == "daily_limit":
        return (f"The AI reached the project's limit of {settings.max_replies_per_day} replies today and stays "
                "silent until tomorrow (UTC); the team answers meanwhile.")
    return (f"The AI used the project's budget of {settings.daily_tokens} tokens today ({today['tokens']} "
            "tokens) and stays silent until tomorrow (UTC); the team answers meanwhile. "
            "'pocketping ai usage' shows the days.")


async def _answer(svc: Services, claim: Claim, day: str, meter: usage.Meter) -> str:
    from pocketping.ai import answering, providers

    ctx = await answering.load_context(svc.db, claim, svc.settings)
    if ctx is None:
        return "gone"
    settings, session = ctx.settings, ctx.session
    if not settings.enabled or not repo.still_wanted(session, claim):
        await ai_answer.release(svc, claim)
        return "off"
    reason = limit_reached(settings, session.ai_reply_count, ctx.usage)
    if reason == "session_limit":
        # Off for the conversation: told once, since it does not come back by itself.
        await ai_answer.release(svc, claim, turn_off=True, note=(reason, _limit_note(reason, settings, ctx.usage)))
        return "capped"
    if reason is not None:
        # Silent for the rest of the day; the team is told once a day, whichever conversation hits it.
        await ai_answer.ensure_usage_row(svc, claim.project_id, ctx.usage["day"])
        await ai_answer.release(svc, claim, note=(reason, _limit_note(reason, settings, ctx.usage)),
                                once_on=ctx.usage["day"])
        return "capped" if reason == "daily_limit" else "over_budget"
    if ctx.handoff is not None and settings.model:
        # The visitor asked for a person, or the knowledge base has nothing: no model call (past a limit the AI stays
        # silent, this line too).
        return await _hand_off(svc, claim, ctx.handoff_text, ctx.handoff, day, meter)
    if ctx.prompt is None or not settings.model:
        await ai_answer.release(svc, claim)
        return "nothing_to_answer"
    await ai_answer.ensure_usage_row(svc, claim.project_id, day)
    _typing(svc, session, True)
    try:
        reply = await answering.respond(svc.settings, settings, ctx.prompt, ctx.api_key, ctx.locale)
    except providers.ModelError as exc:
        return await _failed(svc, claim, settings, exc, day, meter)
    finally:
        _typing(svc, session, False)
    if reply.handoff is not None:
        return await _hand_off(svc, claim, ctx.handoff_text, "model", day, meter, reply.handoff)
    text = reply.text
    if not text:
        return await _failed(svc, claim, settings, providers.ModelError(
            "the model's answer had no printable text", code="model_empty_answer"), day, meter)
    try:
        await ai_answer.post_answer(svc, claim, text, day, tokens=meter.tokens)
    except ai_answer.Superseded:
        log.info("AI answer for %s dropped: the conversation moved on while the model was thinking",
                 claim.session_id)
        return "superseded"
    meter.take()
    return "answered"


async def _hand_off(svc: Services, claim: Claim, text: str, reason: str, day: str, meter: usage.Meter,
                    detail: str = "") -> str:
    await ai_answer.ensure_usage_row(svc, claim.project_id, day)
    try:
        await ai_answer.hand_off(svc, claim, text, day, reason, detail=detail, tokens=meter.tokens)
    except ai_answer.Superseded:
        return "superseded"
    meter.take()
    return "handed_off"


async def _failed(svc: Services, claim: Claim, settings: AISettings, exc: providers.ModelError, day: str,
                  meter: usage.Meter) -> str:
    from pocketping.ai import answering

    error = f"{exc.code}: {exc.message}"
    log.warning("AI fallback for project %s failed: %s", claim.project_id, error)
    fallback = settings.fallback_message
    told = f"The AI could not answer ({error[:300]})."
    if fallback and not await answering.fallback_already_sent(svc.db, claim, fallback):
        note = ("model_error", f"{told} The visitor was told someone will get back to them.")
        try:
            await ai_answer.post_answer(svc, claim, fallback, day, errors=1, error=error, note=note,
                                        tokens=meter.tokens)
            meter.take()
            return "fallback"
        except ai_answer.Superseded:
            return "superseded"
    if not await ai_answer.record_failure(svc, claim, day, error, ("model_error", told), tokens=meter.tokens):
        return "superseded"
    meter.take()
    return "failed"


def _typing(svc: Services, session: Session, active: bool) -> None:
    svc.hub.publish(typing_event(session.project_id, session.id, sender="ai", active=active, operator_name="AI",
                                 origin="ai", type_="ai.typing"))
