"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, keeping every message it accepts; and
moving a mail-sending server's FakeClock on until its outbox has acted (``advance``).

``MailCatcher().start()`` listens on a free port (``url`` is the ``POCKETPING_SMTP_URL`` for
it, plain SMTP); ``wait_for(n)`` blocks until ``n`` messages arrived; ``stop()`` and
``start()`` again on the same port make "the SMTP server is down for a while".
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from pocketping_testkit.uvicorn_thread import free_port


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.catcher.cond:
            self.catcher.messages.append(message)
            self.catcher.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
            self.catcher.cond.notify_all()
        return "250 OK"


class MailCatcher:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.cond = threading.Condition()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=off"

    def start(self) -> MailCatcher:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        with self.cond:
            return [m for m in self.messages if address in str(m["To"])]

    def wait_for(self, count: int, *, address: str | None = None, timeout: float = 20.0) -> list[EmailMessage]:
        """The messages (to ``address`` if given) once there are at least ``count`` of them."""

        def enough() -> bool:
            return len(self.to(address) if address else self.messages) >= count

        with self.cond:
            if not self.cond.wait_for(enough, timeout):
                raise AssertionError(f"expected {count} mail(s), got {len(self.messages)}")
            return self.to(address) if address else list(self.messages)

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and the HTML of a multipart/alternative mail."""
    text = message.get_body(("plain",))
    page = message.get_body(("html",))
    assert text is not None and page is not None
    return str(text.get_content()), str(page.get_content())


# --- a server's mail on a FakeClock ----------------------------------------------------------

async def advance(srv: Any, seconds: float, done: Callable[[], bool] | None = None) -> None:
    """Move the FakeClock of a server (a ``ServerThread``) on by ``seconds``, then a second at a time until ``done()``
    (if given): the outbox worker may go to sleep on the clock just after a jump, and the
    next tick wakes it."""
    from pocketping_testkit.bridges import advance_until

    clock = srv.services.clock  # a FakeClock
    await srv.acall(srv.node.outbox.wait_idle())
    clock.advance(seconds)
    if done is not None:
        await advance_until(clock, done, step=1, settle=0.05, limit_seconds=120)


def mail_rows_done(srv: Any, project_id: str) -> Callable[[], bool]:
    """A ``done`` for ``advance``: every mail row of the project has been dealt with (sent or skipped)."""
    from pocketping.store import outbox as q

    async def pending() -> int:
        async with srv.services.db.read() as tx:
            return len(await q.list_items(tx, project_id=project_id, target="mail", status="pending"))

    return lambda: srv.call(pending()) == 0
