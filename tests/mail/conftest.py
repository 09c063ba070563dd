"""Mail tests: a real SMTP server (aiosmtpd on 127.0.0.1) and servers on fresh databases of
every backend with a FakeClock (so the reply delay passes when the test says)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pocketping.clock import FakeClock
from pocketping_testkit.mail import MailCatcher
from pocketping_testkit.server import ServerThread, make_settings
from pocketping_testkit.uvicorn_thread import free_port


@pytest.fixture
def smtp() -> Iterator[MailCatcher]:
    with MailCatcher() as catcher:
        yield catcher


@pytest.fixture
def mail_server(fresh_db: Any, tmp_path: Path, smtp: MailCatcher) -> Iterator[Callable[..., ServerThread]]:
    """``mail_server(**settings)``: a server sending mail to ``smtp``, on a FakeClock unless given a
    clock (``srv.clock``)."""
    started: list[ServerThread] = []

    def start(clock: Any = None, **overrides: Any) -> ServerThread:
        port = free_port()
        clock = clock or FakeClock()
        values: dict[str, Any] = {"smtp_url": smtp.url, "mail_from": "Support <support@example.com>",
                                  "public_url": f"http://127.0.0.1:{port}", "outbox_poll_seconds": 1.0}
        values.update(overrides)
        srv = ServerThread(make_settings(fresh_db.url, str(tmp_path / "data"), **values), clock=clock,
                           port=port).start()
        srv.clock = clock  # type: ignore[attr-defined]
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()

