"""How PocketPing items read in Discord: escaped Markdown, 2,000-character parts, thread
names, session cards, and idempotency nonces. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import replace

from pocketping.bridges.base import Outgoing, SessionCard
from pocketping.bridges.text import markdown_links

MAX_CONTENT = 2000  # characters per message (counted in UTF-16 units to be safe with emoji)
MAX_THREAD_NAME = 100
MAX_CARD_VALUE = 300

# Nobody is ever pinged by what the bridge posts: visitor text may contain @everyone.
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
# Link previews of visitor-supplied URLs are noise (and an easy way to show anything in the thread).
SUPPRESS_EMBEDS = 1 << 2

_URL = re.compile(r"https?://[^\s<>]+")
# Characters that start Markdown, mentions (<@id>, <#id>, <t:...>) or masked links anywhere in a line.
_INLINE = re.compile(r"([\\*_~`|\[\]<>@])")
# Block syntax only counts at the start of a line: headings, "-#" subtext, bullet lists.
_LINE_START = re.compile(r"^(\s*)(#|-|\+)", re.MULTILINE)
# Numbered lists ("1. "): escaping the dot is what stops them.
_NUMBERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """Make visitor text show literally in Discord: no formatting, no mention syntax.
    URLs are left whole so Discord still links them."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        out.append(_escape_plain(text[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape_plain(text[last:]))
    return "".join(out)


def _escape_plain(text: str) -> str:
    text = _INLINE.sub(r"\\\1", text)
    text = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return _NUMBERED.sub(lambda m: m.group(1) + "\\.", text)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_content(text: str, limit: int = MAX_CONTENT, measure: Callable[[str], int] = utf16_len) -> list[str]:
    """Split into parts of at most ``limit`` (as ``measure`` counts; UTF-16 units by default), at a
    line break or a space when possible, never between a backslash and the character it escapes."""
    parts: list[str] = []
    rest = text
    while measure(rest) > limit:
        cut = _fit(rest, limit, measure)
        at = rest.rfind("\n", 0, cut)
        if at < cut // 2:
            at = rest.rfind(" ", 0, cut)
        if at < cut // 2:
            at = cut
        while at > 1 and _escapes_next(rest, at):
            at -= 1
        parts.append(rest[:at].rstrip())
        rest = rest[at:].lstrip(" \n")
    if rest or not parts:
        parts.append(rest)
    return [p for p in parts if p] or [""]


def _fit(text: str, limit: int, measure: Callable[[str], int]) -> int:
    """The longest prefix (in code points) that ``measure`` keeps within ``limit``: at least 1."""
    low, high = 1, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid]) <= limit:
            low = mid
        else:
            high = mid - 1
    return low


def _escapes_next(text: str, at: int) -> bool:
    """True when the character before ``at`` is a backslash escaping the one at ``at``."""
    slashes = 0
    i = at - 1
    while i >= 0 and text[i] == "\\":
        slashes += 1
        i -= 1
    return slashes % 2 == 1


def with_masked_links(text: str) -> str:
    """Escaped text, its Markdown links ([title](url): the AI's citations) as Discord masked links."""
    return "".join(escape_markdown(piece) if url is None else f"[{_escape_plain(piece)}]({url})"
                   for piece, url in markdown_links(text))


def render_item(item: Outgoing) -> str:
    author = escape_markdown(item.author)
    text = with_masked_links(item.text) if item.kind == "ai" else escape_markdown(item.text)
    if item.kind == "notice":
        return f"*{text}*" if text else ""
    if item.kind == "event":
        return f"**{author}** · {text}"
    return f"**{author}:** {text}"


def split_item(item: Outgoing) -> list[Outgoing]:
    """Cut an item whose message would pass 2,000 characters into items that each fit (the
    label is repeated on every part, so each reads on its own)."""
    if utf16_len(render_item(item)) <= MAX_CONTENT:
        return [item]
    room = MAX_CONTENT - utf16_len(render_item(replace(item, text="x"))) + 1
    pieces = split_content(item.text, room, lambda t: utf16_len(escape_markdown(t)))
    return [replace(item, text=piece) for piece in pieces]


def thread_name(title: str) -> str:
    name = " ".join(title.split())  # no line breaks in a thread name
    if len(name) > MAX_THREAD_NAME:
        name = name[: MAX_THREAD_NAME - 1].rstrip() + "…"
    return name or "Visitor"


def render_card(card: SessionCard) -> str:
    lines = [f"**New conversation: {escape_markdown(card.title)}**"]
    for label, value in card.lines:
        value = " ".join(str(value).split())
        if len(value) > MAX_CARD_VALUE:
            value = value[: MAX_CARD_VALUE - 1] + "…"
        lines.append(f"**{escape_markdown(label)}:** {escape_markdown(value)}")
    if card.link:
        lines.append(f"**Open in PocketPing:** {card.link}")
    lines.append("-# Reply in this thread to answer. Commands: /close, /reopen, /info, /help")
    content = "\n".join(lines)
    return split_content(content)[0]


def nonce(*parts: str | int) -> str:
    """A stable 24-character nonce: Discord returns the earlier message for a repeated one
    (with ``enforce_nonce``), so a retried post never shows twice."""
    raw = "|".join(str(p) for p in parts).encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def display_name(member: dict[str, object] | None, user: dict[str, object] | None) -> str:
    """What Discord shows for a person: server nickname, else global display name, else username."""
    for value in ((member or {}).get("nick"), (user or {}).get("global_name"), (user or {}).get("username")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "Operator"
