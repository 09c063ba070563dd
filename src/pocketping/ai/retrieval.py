"""Ranking knowledge-base chunks for a question: BM25F over the stored term index (the page
title and the headings weigh more than the text), fused with embedding similarity when the
project has an embeddings model.

BM25 runs in Python over a handful of indexed lookups, so it needs no search extension and
ranks identically on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from pocketping.ai import embeddings
from pocketping.ai.text import FIELDS, HEADING, TITLE, estimate_tokens, terms
from pocketping.config import Settings
from pocketping.core.ai import AISettings, KbHit
from pocketping.store import ai as ai_repo
from pocketping.store import kb as repo
from pocketping.store.db import Database, Tx

K1 = 1.2
B = 0.75
# BM25F field weights: a query term in the page's title, or in the headings above a chunk,
# counts as this many more occurrences in its text (before saturation). Measured on the
# evaluation set (tests/ai/evalsite): without them a heading's answer loses to a page that
# merely repeats the words.
BOOSTS = {TITLE: 1.0, HEADING: 2.0}
MAX_QUERY_TERMS = 24
MAX_POSTINGS = 50_000
# Hybrid: reciprocal-rank fusion of the BM25 and the cosine rankings, over this many of each.
RRF_K = 60
CANDIDATES = 100
MAX_VECTORS = 20_000


def bm25(postings: Iterable[tuple[int, str, int, int]], df: dict[str, int], query: Counter[str],
         n_chunks: int, avg_length: float, boosts: dict[str, float] = BOOSTS) -> dict[int, float]:
    """Score each chunk (BM25F): for each query term, idf times the saturated sum of its
    length-normalised frequency in the chunk and its boosted frequency in the title and headings."""
    avg = avg_length or 1.0
    weighted: dict[tuple[int, str], float] = {}
    for chunk_id, term, tf, length in postings:
        prefix = term[:2] if term[:2] in FIELDS else ""
        if prefix:
            weighted[chunk_id, term[2:]] = weighted.get((chunk_id, term[2:]), 0.0) + boosts.get(prefix, 0.0) * tf
        else:
            weighted[chunk_id, term] = weighted.get((chunk_id, term), 0.0) + tf / (1 - B + B * length / avg)
    scores: dict[int, float] = {}
    for (chunk_id, term), freq in weighted.items():
        n = df.get(term, 0)
        idf = _idf(n, n_chunks)
        scores[chunk_id] = scores.get(chunk_id, 0.0) + idf * freq * (K1 + 1) / (freq + K1) * query[term]
    return scores


def _idf(n: int, n_chunks: int) -> float:
    return math.log(1 + (n_chunks - n + 0.5) / (n + 0.5))


def coverage(postings: Iterable[tuple[int, str, int, int]], df: dict[str, int], query: Counter[str],
             n_chunks: int) -> dict[int, float]:
    """How much of the question each chunk speaks of: the share of the question's terms,
    weighted by their idf, that the chunk holds (in its text, title or headings). A term no
    chunk has weighs as much as the rarest one (not more: in a small knowledge base that would
    drown the words it does know), so a question about something else entirely stays near 0."""
    def weight(term: str) -> float:
        return _idf(max(1, df.get(term, 0)), n_chunks)

    total = sum(weight(term) * count for term, count in query.items())
    if total <= 0:
        return {}
    held: dict[int, set[str]] = {}
    for chunk_id, term, _tf, _length in postings:
        held.setdefault(chunk_id, set()).add(term[2:] if term[:2] in FIELDS else term)
    return {chunk_id: sum(weight(t) * query[t] for t in found if t in query) / total
            for chunk_id, found in held.items()}


def fuse(*rankings: Sequence[int]) -> list[int]:
    """Reciprocal-rank fusion: each ranking gives 1 / (RRF_K + rank); best total first."""
    total: dict[int, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking, 1):
            total[chunk_id] = total.get(chunk_id, 0.0) + 1 / (RRF_K + rank)
    return sorted(total, key=lambda c: (-total[c], c))


async def _similarities(tx: Tx, project_id: str, model: str, vector: Sequence[float]) -> dict[int, float]:
    unit = embeddings.unpack(embeddings.pack(vector))
    return {chunk_id: embeddings.cosine(unit, embeddings.unpack(data))
            for chunk_id, data in await repo.embeddings(tx, project_id, model, MAX_VECTORS)}


async def retrieve(tx: Tx, project_id: str, question: str, *, token_budget: int, limit: int = 6,
                   query_vector: Sequence[float] | None = None, embeddings_model: str | None = None,
                   focus: str | None = None) -> list[KbHit]:
    """The best chunks for ``question`` that fit in ``token_budget``, best first. Empty when
    no chunk shares a meaningful word with the question. With ``query_vector`` (the question
    embedded by ``embeddings_model``), the BM25 ranking is fused with the chunks' cosine
    similarity to it. ``focus`` (the visitor's latest words, when ``question`` adds earlier
    ones): a chunk's relevance is its coverage of either, whichever is higher."""
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
    wanted = chosen + [prefix + t for t in chosen for prefix in FIELDS]
    postings = list(await repo.postings(tx, project_id, wanted, MAX_POSTINGS))
    scores = bm25(postings, df, query, n_chunks, avg_length)
    covered = coverage(postings, df, query, n_chunks)
    focused = Counter(terms(focus)) if focus else None
    if focused and focused != query:
        for chunk_id, value in coverage(postings, df, focused, n_chunks).items():
            covered[chunk_id] = max(covered.get(chunk_id, 0.0), value)
    if not scores:
        return []
    order = sorted(scores, key=lambda c: (-scores[c], c))
    similarity: dict[int, float] = {}
    if query_vector is not None and embeddings_model:
        similarity = await _similarities(tx, project_id, embeddings_model, query_vector)
        if similarity:
            nearest = sorted(similarity, key=lambda c: (-similarity[c], c))[:CANDIDATES]
            order = fuse(order[:CANDIDATES], nearest)
    ranked = order[: limit * 2]
    rows = await repo.chunks_with_sources(tx, ranked)
    hits: list[KbHit] = []
    used = 0
    for chunk_id in ranked:
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
                          location=row["location"], heading=row["heading"], text=row["text"],
                          score=scores.get(chunk_id, 0.0), similarity=similarity.get(chunk_id),
                          relevance=covered.get(chunk_id, 0.0)))
        if len(hits) >= limit:
            break
    return hits


async def search(db: Database, app: Settings | None, project_id: str, question: str, *, token_budget: int,
                 limit: int = 6, settings: AISettings | None = None, api_key: str | None = None,
                 focus: str | None = None) -> list[KbHit]:
    """``retrieve`` in a read transaction of its own, the question embedded first (outside
    any transaction) when the project has an embeddings model; an embeddings failure ranks
    with BM25 alone. ``settings`` and ``api_key``: the project's, when the caller has them."""
    if settings is None:
        async with db.read() as tx:
            settings = await ai_repo.get_settings(tx, project_id)
            if settings.embeddings_model and settings.has_api_key:
                api_key = await ai_repo.api_key(tx, project_id)
    ep = embeddings.endpoint(app, settings, api_key)
    vector = await embeddings.question_vector(ep, question) if terms(question) else None
    async with db.read() as tx:
        return await retrieve(tx, project_id, question, token_budget=token_budget, limit=limit,
                              query_vector=vector, embeddings_model=ep.model if ep else None, focus=focus)
