"""Helpers for the inbox tests: operators made the way the CLI makes them, visitors that write."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from pocketping.actions.operators import add_operator
from pocketping_testkit.server import ServerThread
from pocketping_testkit.widget_client import WidgetClient

PASSWORD = "correct-horse-battery-staple"


@dataclass
class Op:
    email: str
    password: str


def new_email(prefix: str = "op") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.com"


async def make_operator(srv: ServerThread, *projects: str, admin: bool = False, name: str | None = None,
                        password: str = PASSWORD) -> Op:
    email = new_email()
    await srv.acall(add_operator(srv.services, email, project_ids=list(projects), admin=admin, password=password,
                                 name=name))
    return Op(email, password)


async def visitor(srv: ServerThread, public_key: str, *texts: str, url: str = "https://shop.example.com/pricing",
                  ) -> WidgetClient:
    """A widget that connected, synced, and said each text (waiting for each ack)."""
    client = await WidgetClient.connect(srv.ws_url, public_key, metadata={"url": url, "language": "fr-FR"},
                                        user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
                                                   "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
    await client.synced()
    for text in texts:
        await client.say(text)
    return client
