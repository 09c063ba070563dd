"""Search conversations: words in messages and visitors' names and emails (blind index)."""

from __future__ import annotations

from collections.abc import Sequence

from pocketping.actions.services import Services
from pocketping.core import search as words_
from pocketping.core.search import Hit
from pocketping.errors import InvalidInput
from pocketping.store import search as repo

MAX_QUERY_CHARS = 200


def check_query(q: str) -> list[str]:
    """The query's normalized words, or InvalidInput (``invalid_query``) saying what to send."""
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the search query is limited to {MAX_QUERY_CHARS} characters", code="invalid_query")
    found = list(dict.fromkeys(words_.words(q)))
    if not found:
        raise InvalidInput("give at least one word to search for (q=...)", code="invalid_query")
    if len(found) > words_.MAX_QUERY_WORDS:
        raise InvalidInput(f"search for at most {words_.MAX_QUERY_WORDS} words at once", code="invalid_query")
    return found


async def search(svc: Services, project_ids: Sequence[str], q: str, *, limit: int = 50) -> list[Hit]:
    """Messages and visitors of these projects holding every word of ``q``, newest first."""
    query = check_query(q)
    async with svc.db.read() as tx:
        return await repo.search(tx, tuple(project_ids), query, limit=limit)
