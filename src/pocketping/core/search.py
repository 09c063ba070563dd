"""Words for the blind search index (pure).

Text is case-folded, accents are stripped (NFKD, combining marks dropped) and split into
words of letters and digits. Each word is indexed by its prefixes of 3 to ``PREFIX_MAX``
characters (a word shorter than 3 by itself), so "invo" finds "invoice". The index only ever
holds keyed hashes of these terms (``store.search``); the plaintext check of a candidate
(``matches``) runs on decrypted text, so hash truncation or a long word's shared prefix never
shows a wrong hit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pocketping.core.models import iso

PREFIX_MIN = 3
PREFIX_MAX = 10
MAX_QUERY_WORDS = 8
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The normalized words of ``text``, in order (duplicates kept)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _WORD.findall(plain)


def word_terms(word: str) -> set[str]:
    if len(word) < PREFIX_MIN:
        return {word}
    return {word[:n] for n in range(PREFIX_MIN, min(len(word), PREFIX_MAX) + 1)}


def index_terms(text: str) -> set[str]:
    """Every term that should find ``text``."""
    found: set[str] = set()
    for word in words(text):
        found |= word_terms(word)
    return found


def query_term(word: str) -> str:
    """The one term a query word is looked up by."""
    return word[:PREFIX_MAX]


def matches(query: list[str], text_words: set[str]) -> bool:
    """Every query word is a prefix of some word of the text (short query words: the whole word)."""
    return all(any(w == q if len(q) < PREFIX_MIN else w.startswith(q) for w in text_words) for q in query)


def snippet(text: str, query: list[str], width: int = 160) -> str:
    """A short piece of ``text`` around the first query word found (the whole text when short)."""
    if len(text) <= width:
        return text
    lowered = "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch))
    at = min((i for i in (lowered.find(q) for q in query) if i >= 0), default=0)
    # Normalizing may change lengths slightly; the window is wide enough for that.
    start = max(0, min(at - width // 3, len(text) - width))
    piece = text[start:start + width]
    return ("…" if start > 0 else "") + piece + ("…" if start + width < len(text) else "")


@dataclass(frozen=True)
class Hit:
    """A message (or, with ``message_id`` None, a visitor's name or email) that matches."""

    session_id: str
    project_id: str
    message_id: str | None
    seq: int | None
    sender: str | None
    text: str
    created_at: datetime
    name: str | None
    email: str | None

    def to_api(self) -> dict[str, Any]:
        return {"sessionId": self.session_id, "projectId": self.project_id, "messageId": self.message_id,
                "seq": self.seq, "sender": self.sender, "snippet": self.text,
                "createdAt": iso(self.created_at),
                "visitorName": self.name, "visitorEmail": self.email}
