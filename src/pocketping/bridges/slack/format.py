"""How things read in Slack: a session card (a header, the visitor's facts as fields, a link),
and items cut to fit one message (the escaping itself is in ``text``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pocketping.bridges.base import Outgoing, SessionCard
from pocketping.bridges.slack.text import MAX_CHARS, escape, message_text, split_text, unescape

HEADER_MAX = 150  # Block Kit: header text
FIELD_MAX = 2000  # Block Kit: a section field
FIELDS_MAX = 10  # Block Kit: fields per section


def card_message(card: SessionCard) -> tuple[str, list[dict[str, Any]]]:
    """``(text, blocks)``: ``text`` is the escaped fallback shown in notifications."""
    title = card.title.strip() or card.session.label()
    blocks: list[dict[str, Any]] = [
        # plain_text is never parsed for mentions or markup, so the title goes in as typed.
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, HEADER_MAX), "emoji": False}},
    ]
    fields = [{"type": "mrkdwn", "text": _cut(f"*{escape(label)}*\n{escape(value)}", FIELD_MAX)}
              for label, value in card.lines if value]
    for start in range(0, len(fields), FIELDS_MAX):
        blocks.append({"type": "section", "fields": fields[start:start + FIELDS_MAX]})
    context = "Reply in this thread to answer the visitor."
    if card.link:
        url = escape(card.link).replace("|", "%7C")
        context = f"<{url}|Open in PocketPing>  ·  " + context
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return f"New conversation: {escape(title)}", blocks


CLOSED = "Closed · "


def card_status(title: str, blocks: list[dict[str, Any]], *, closed: bool) -> tuple[str, list[dict[str, Any]]] | None:
    """The card's ``(text, blocks)`` marked closed (or open again); None if there is nothing to change."""
    if not blocks or blocks[0].get("type") != "header":
        return None
    shown = _cut(CLOSED + title, HEADER_MAX) if closed else _cut(title, HEADER_MAX)
    if blocks[0].get("text", {}).get("text") == shown:
        return None
    header = {"type": "header", "text": {"type": "plain_text", "text": shown, "emoji": False}}
    text = ("Closed conversation: " if closed else "New conversation: ") + escape(title)
    return text, [header, *blocks[1:]]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def split(item: Outgoing) -> list[Outgoing]:
    """The item cut so that each part, escaped and signed, fits Slack's 4,000 characters."""
    budget = MAX_CHARS - len(message_text(item.author, ""))
    pieces = split_text(escape(item.text), max(budget, MAX_CHARS // 2))
    if len(pieces) <= 1:
        return [item]
    return [dataclasses.replace(item, text=unescape(piece)) for piece in pieces]
