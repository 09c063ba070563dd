"""Text helpers shared by the platform bridges: splitting over a length limit."""

from __future__ import annotations

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
