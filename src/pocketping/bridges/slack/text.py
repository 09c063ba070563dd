"""Slack text, both ways: what we post (escaped mrkdwn) and what operators write (to plain text).

Slack's formatting rules: in ``text``, ``&``, ``<`` and ``>`` are control characters and must be
sent as ``&amp;``, ``&lt;`` and ``&gt;``. Escaping them is what keeps a visitor's ``<!channel>``,
``<!here>``, ``<!everyone>`` or ``<@U123>`` from notifying anybody: Slack shows them literally.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pocketping.bridges.text import markdown_links

# Slack recommends at most 4,000 characters per message and truncates past 40,000.
MAX_CHARS = 4000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def split_text(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Cut an already escaped text into parts of at most ``limit`` characters.

    Cuts prefer a paragraph, then a line, then a word boundary, and never split an entity
    such as ``&amp;`` (that would print ``&am`` and ``p;``).
    """
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
            amp = window.rfind("&", limit - 6)
            if amp != -1 and ";" not in window[amp:]:
                cut = amp
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not parts:
        parts.append(rest)
    return parts


def message_text(author: str, body: str, *, links: bool = False) -> str:
    """``*Author*: body`` with both parts escaped (an operator name can contain ``<!here>`` too).
    With ``links``, Markdown links in ``body`` ([title](url): the AI's citations) become Slack's
    ``<url|title>``."""
    name = escape(author).replace("*", "")
    text = with_links(body) if links else escape(body)
    return f"*{name}*: {text}" if name else text


def with_links(body: str) -> str:
    return "".join(escape(piece) if url is None
                   else f"<{escape(url).replace('|', '%7C')}|{escape(piece).replace('|', '/')}>"
                   for piece, url in markdown_links(body))


# --- inbound: what an operator typed, as plain text for the visitor ---------------------------

_ANGLE = re.compile(r"<([^<>]*)>")


def plain_from_text(text: str, names: Mapping[str, str]) -> str:
    """Slack's wire text (``<@U1>``, ``<https://x|label>``, ``&amp;``) as the operator saw it."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or names.get(target[1:], target[1:]))
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!subteam^"):
            return label or "@group"
        if target.startswith("!date^"):
            return label or ""
        if target.startswith("!"):
            return label or "@" + target[1:]
        if target.startswith("mailto:"):
            return label or target[len("mailto:"):]
        if label and label != target:
            return f"{label} ({target})"
        return target

    return unescape(_ANGLE.sub(replace, text))


def mention_ids(text: str, blocks: Iterable[Mapping[str, Any]] = ()) -> set[str]:
    """User ids mentioned in a message, to look their names up before rendering it."""
    ids = set(re.findall(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", text))
    for element in _walk_elements(blocks):
        if element.get("type") == "user" and element.get("user_id"):
            ids.add(str(element["user_id"]))
    return ids


def _walk_elements(blocks: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        for element in block.get("elements") or ():
            if isinstance(element, Mapping):
                yield element
                yield from _walk_elements([element])


def plain_from_blocks(blocks: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> str:
    """The text of rich-text blocks (what a message holds when its ``text`` is empty)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Mapping) and block.get("type") == "rich_text":
            out.append(_rich_container(block.get("elements") or (), names))
    return "\n".join(part for part in out if part).strip()


def _rich_container(elements: Iterable[Any], names: Mapping[str, str]) -> str:
    lines: list[str] = []
    for element in elements:
        if not isinstance(element, Mapping):
            continue
        kind = element.get("type")
        inner = element.get("elements") or ()
        if kind == "rich_text_section":
            lines.append(_rich_inline(inner, names))
        elif kind == "rich_text_preformatted":
            lines.append(_rich_inline(inner, names))
        elif kind == "rich_text_quote":
            lines.append("\n".join("> " + line for line in _rich_inline(inner, names).split("\n")))
        elif kind == "rich_text_list":
            ordered = element.get("style") == "ordered"
            indent = "  " * int(element.get("indent") or 0)
            for i, item in enumerate(inner, start=int(element.get("offset") or 0) + 1):
                bullet = f"{i}." if ordered else "•"
                text = _rich_inline(item.get("elements") or (), names) if isinstance(item, Mapping) else ""
                lines.append(f"{indent}{bullet} {text}")
    return "\n".join(lines)


def _rich_inline(elements: Iterable[Any], names: Mapping[str, str]) -> str:
    out: list[str] = []
    for element in elements:
        if not isinstance(element, Mapping):
            continue
        kind = element.get("type")
        if kind == "text":
            out.append(str(element.get("text", "")))
        elif kind == "link":
            url = str(element.get("url", ""))
            label = str(element.get("text") or "")
            out.append(f"{label} ({url})" if label and label != url else url)
        elif kind == "user":
            user = str(element.get("user_id", ""))
            out.append("@" + names.get(user, user))
        elif kind == "channel":
            out.append("#" + str(element.get("channel_id", "")))
        elif kind == "usergroup":
            out.append("@group")
        elif kind == "broadcast":
            out.append("@" + str(element.get("range", "here")))
        elif kind == "emoji":
            unicode = element.get("unicode")
            if unicode:
                try:
                    out.append("".join(chr(int(code, 16)) for code in str(unicode).split("-")))
                    continue
                except ValueError:
                    pass
            out.append(f":{element.get('name', '')}:")
        elif kind == "date":
            out.append(str(element.get("fallback", "")))
        elif kind == "color":
            out.append(str(element.get("value", "")))
        elif "elements" in element:
            out.append(_rich_inline(element.get("elements") or (), names))
    return "".join(out)


def plain_message(message: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """An operator's message as plain text: its ``text``, else its rich-text blocks, plus the names of
    files that cannot be fetched (those that can are carried over as attachments)."""
    text = str(message.get("text") or "")
    body = plain_from_text(text, names).strip() if text.strip() else ""
    if not body:
        body = plain_from_blocks(message.get("blocks") or (), names)
    files = [f for f in message.get("files") or ()
             if isinstance(f, Mapping) and not (f.get("url_private_download") or f.get("url_private"))]
    names_line = " ".join(f"[file: {f.get('name') or f.get('title') or 'attachment'}]" for f in files)
    return "\n".join(part for part in (body, names_line) if part)
