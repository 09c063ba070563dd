"""Ranking knowledge-base chunks for a question: Okapi BM25 over the stored term index.

It runs in Python over a handful of indexed lookups, so it needs no search extension and
ranks identically on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from pocketping.ai.text import estimate_tokens, terms
from pocketping.core.ai import KbHit
from pocketping.store import kb as repo
from pocketping.store.db import Tx

K1 = 1.2
B = 0.75
MAX_QUERY_TERMS = 24
MAX_POSTINGS = 50_000


def bm25(postings: Iterable[tuple[int, str, int, int]], df: dict[str, int], query: Counter[str],
         n_chunks: int, avg_length: float) -> dict[int, float]:
    """Score each chunk: sum over query terms of idf * saturated, length-normalised tf."""
    scores: dict[int, float] = {}
    avg = avg_length or 1.0
    for chunk_id, term, tf, length in postings:
        n = df.get(term, 0)
        idf = math.log(1 + (n_chunks - n + 0.5) / (n + 0.5))
        norm = tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avg))
        scores[chunk_id] = scores.get(chunk_id, 0.0) + idf * norm * query[term]
    return scores


async def retrieve(tx: Tx, project_id: str, question: str, *, token_budget: int, limit: int = 6) -> list[KbHit]:
    """The best chunks for ``question`` that fit in ``token_budget``, best first. Empty when
    no chunk shares a meaningful word with the question."""
    if token_budget <= 0:
        return []
    query = Counter(terms(question))
    if not query:
        return []
    n_chunks, avg_length = await repo.corpus_stats(tx, project_id)
    if n_chunks == 0:
        return []
    df = await repo.document_frequencies(tx, project_id, list(query))
    # The rarest terms carry the meaning; very common ones would only add postings to read.
    chosen = sorted(df, key=lambda t: (df[t], t))[:MAX_QUERY_TERMS]
    scores = bm25(await repo.postings(tx, project_id, chosen, MAX_POSTINGS), df, query, n_chunks, avg_length)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[: limit * 2]
    rows = await repo.chunks_with_sources(tx, [chunk_id for chunk_id, _ in ranked])
    hits: list[KbHit] = []
    used = 0
    for chunk_id, score in ranked:
        row = rows.get(chunk_id)
        if row is None:
            continue
        cost = estimate_tokens(row["text"]) + estimate_tokens(row["heading"]) + 20
        if used + cost > token_budget:
            if hits:
                continue
            # A single chunk bigger than the whole budget: use its beginning.
            row = {**row, "text": row["text"][: max(200, token_budget * 4 - 200)]}
            cost = token_budget
        used += cost
        hits.append(KbHit(chunk_id=chunk_id, source_id=row["source_id"], title=row["title"],
                          location=row["location"], heading=row["heading"], text=row["text"], score=score))
        if len(hits) >= limit:
            break
    return hits
