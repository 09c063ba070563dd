"""How things read in a Telegram topic (HTML parse mode: only &, < and > need escaping)."""

from __future__ import annotations

import dataclasses
import html

from pocketping.bridges.base import Outgoing, SessionCard
from pocketping.bridges.text import markdown_links, split_text, utf16_len

MAX_TEXT = 4096  # UTF-16 code units, after entity parsing
MAX_CAPTION = 1024  # a photo's or document's caption
MAX_TOPIC_NAME = 128
ICON = {"visitor": "", "operator": "", "ai": "🤖 ", "notice": "ℹ️ ", "event": "⚡ "}


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def topic_name(card: SessionCard) -> str:
    name = " ".join(card.title.split()) or "Visitor"
    return name if len(name) <= MAX_TOPIC_NAME else name[:MAX_TOPIC_NAME - 1] + "…"


def _link(value: str) -> str:
    if value.startswith(("https://", "http://")):
        return f'<a href="{html.escape(value, quote=True)}">{esc(value)}</a>'
    return esc(value)


def card_html(card: SessionCard) -> str:
    lines = [f"<b>{esc(card.title)}</b>"]
    for key, value in card.lines:
        lines.append(f"<b>{esc(key)}:</b> {_link(value) if key in ('Page', 'Referrer') else esc(value)}")
    if card.link:
        lines.append(f'<a href="{html.escape(card.link, quote=True)}">Open in the inbox</a>')
    lines.append("<i>Reply in this topic to answer the visitor. /help lists the commands.</i>")
    return "\n".join(lines)


def prefix(item: Outgoing) -> str:
    """The visible head of a message (what counts against the length limit)."""
    if item.kind in ("notice", "event"):
        return ICON[item.kind]
    return f"{ICON[item.kind]}{item.author}: "


def message_html(item: Outgoing) -> str:
    if item.kind == "notice":
        return f"{ICON['notice']}<i>{esc(item.text)}</i>"
    if item.kind == "event":
        return f"{ICON['event']}<code>{esc(item.text)}</code>"
    body = _with_links(item.text) if item.kind == "ai" else esc(item.text)
    return f"{ICON[item.kind]}<b>{esc(item.author)}:</b> {body}"


def _with_links(text: str) -> str:
    """The AI's Markdown links ([title](url): its citations) as Telegram HTML links."""
    return "".join(esc(piece) if url is None else f'<a href="{html.escape(url, quote=True)}">{esc(piece)}</a>'
                   for piece, url in markdown_links(text))


def caption_html(item: Outgoing) -> str:
    """A file's caption: who sent it, and the message's text when it rides along."""
    if not item.text:
        return f"{ICON.get(item.kind, '')}<b>{esc(item.author)}</b>"
    text = item.text
    while utf16_len(prefix(item) + text) > MAX_CAPTION - 10:
        text = text[: len(text) - 50] + "…"
    return message_html(Outgoing(author=item.author, text=text, kind=item.kind))


def split(item: Outgoing) -> list[Outgoing]:
    room = MAX_TEXT - utf16_len(prefix(item)) - 8
    pieces = split_text(item.text, max(room, 100), utf16_len)
    if len(pieces) == 1:
        return [item]
    return [dataclasses.replace(item, text=piece) for piece in pieces]
