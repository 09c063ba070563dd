"""The fake Slack's workspace: apps (bots), people, channels and their messages."""

from __future__ import annotations

import itertools
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

# What the PocketPing manifest asks for (docs/bridges/slack.md).
DEFAULT_SCOPES = frozenset({"chat:write", "channels:history", "groups:history", "channels:read", "groups:read",
                            "users:read", "files:write", "files:read"})

_ids = itertools.count(1)


def new_id(prefix: str, length: int = 10) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length - len(prefix)))


@dataclass
class Attempt:
    """One try at delivering an event to an app."""

    event_id: str
    transport: str  # "http" | "socket"
    retry_num: int
    retry_reason: str
    status: int | None = None  # HTTP status (http), None when no answer
    acked: bool = False  # socket: the app acknowledged the envelope
    envelope_id: str | None = None


@dataclass
class Delivery:
    """An event as Slack tried to get it to one app, with every attempt."""

    app_id: str
    event_id: str
    payload: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    ok: bool = False


@dataclass
class FakeApp:
    """A Slack app installed in the workspace: its bot user, tokens and event settings."""

    app_id: str
    name: str
    bot_user_id: str
    bot_id: str
    bot_token: str
    app_token: str
    signing_secret: str
    verification_token: str
    scopes: set[str]
    app_scopes: set[str] = field(default_factory=lambda: {"connections:write"})
    # Where events go: the Request URL (Events API), or Socket Mode connections when on.
    request_url: str | None = None
    socket_mode: bool = False
    deliveries: list[Delivery] = field(default_factory=list)
    hellos: int = 0


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    members: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))

    def find(self, ts: str) -> dict[str, Any] | None:
        for message in self.messages:
            if message["ts"] == ts:
                return message
        return None

    def live(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if not m.get("_deleted")]

    def thread(self, thread_ts: str) -> list[dict[str, Any]]:
        """The parent (unless deleted without replies) and its replies, oldest first."""
        return [m for m in self.live() if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]

    def info(self, member: str | None) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "name_normalized": self.name, "is_channel": not self.is_private,
            "is_group": self.is_private, "is_im": False, "is_mpim": False, "is_private": self.is_private,
            "is_archived": self.is_archived, "is_general": False, "is_shared": False, "is_ext_shared": False,
            "is_org_shared": False, "created": self.created, "creator": "U0CREATOR",
            "is_member": member in self.members, "num_members": len(self.members),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass
class Fault:
    """An injected failure for the next call(s) of a method."""

    status: int | None = None  # 429 (with retry_after), 500, 503 ...
    error: str | None = None  # {"ok": false, "error": error} with HTTP 200
    retry_after: float | None = None
    hang: bool = False  # never answer (until released): the caller times out
    after: bool = False  # do the work first, then fail or hang: an answer lost on the way back
    times: int = 1
    skip: int = 0  # let this many matching calls through first
    token: str | None = None  # only calls made with this token (one app's), else any


class TsClock:
    """Message timestamps (``ts``): seconds.microseconds, unique and increasing per workspace."""

    def __init__(self) -> None:
        self._last = 0.0

    def next(self) -> str:
        now = max(time.time(), self._last + 0.000001)
        self._last = now
        return f"{now:.6f}"


@dataclass
class Said:
    """A message a person posted (or changed) and how its event reached each app."""

    ts: str
    deliveries: list[Delivery]

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.deliveries)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str
    at: float


def rich_text(text: str) -> list[dict[str, Any]]:
    """The blocks Slack's clients attach to a typed message."""
    return [{"type": "rich_text", "block_id": secrets.token_hex(2),
             "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def user_record(user_id: str, team_id: str, name: str, display_name: str, real_name: str, *,
          is_bot: bool = False) -> dict[str, Any]:
    return {"id": user_id, "team_id": team_id, "name": name, "deleted": False, "real_name": real_name,
            "is_bot": is_bot, "is_admin": False, "tz": "Europe/Paris",
            "profile": {"display_name": display_name, "real_name": real_name,
                        "display_name_normalized": display_name, "real_name_normalized": real_name}}
