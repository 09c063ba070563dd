"""Text helpers shared by the platform bridges: splitting over a length limit."""

from __future__ import annotations

import re
from collections.abc import Callable


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: most emoji count twice)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` (as ``measure`` counts), preferring to cut
    after a paragraph, then a line, then a sentence, then a word; never inside a character."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text
    while measure(rest) > limit:
        # The longest prefix that fits (binary search: measure may not be len).
        lo, hi = 1, len(rest)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if measure(rest[:mid]) <= limit:
                lo = mid
            else:
                hi = mid - 1
        cut = lo
        window = rest[:cut]
        # A paragraph break is worth a shorter piece; a mere space is not.
        for sep, least in (("\n\n", 0.25), ("\n", 0.4), (". ", 0.5), (" ", 0.5)):
            at = window.rfind(sep)
            if at > cut * least:
                cut = at + len(sep)
                break
        piece = rest[:cut].rstrip()
        pieces.append(piece if piece else rest[:cut])
        rest = rest[cut:].lstrip("\n ") if piece else rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


# The Markdown link the widget renders ([text](url), http and https only): the AI's citations.
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^()\s]+)\)")


def markdown_links(text: str) -> list[tuple[str, str | None]]:
    """``text`` as pieces ``(text, None)`` and links ``(label, url)``, in order, for a
    platform to render its own way (HTML, masked links, ``<url|label>``)."""
    pieces: list[tuple[str, str | None]] = []
    last = 0
    for match in _MD_LINK.finditer(text):
        if match.start() > last:
            pieces.append((text[last:match.start()], None))
        pieces.append((match.group(1), match.group(2)))
        last = match.end()
    if last < len(text) or not pieces:
        pieces.append((text[last:], None))
    return pieces
