"""Knowledge-base sources, chunks and the term index BM25 ranks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import RowMapping

from pocketping.core.ai import KbSource
from pocketping.errors import NotFound
from pocketping.store.db import Tx
from pocketping.store.schema import kb_chunks, kb_sources, kb_terms
from pocketping.store.sealed import unseal

_BATCH = 20_000
# Titles, headings and chunk text are encrypted; the index holds keyed hashes of the terms
# (purpose "kb"), looked up under every configured key so a rotation in progress still finds them.
PURPOSE = "kb"


def _hashes(tx: Tx, terms: Sequence[str]) -> dict[str, str]:
    """Each term's stored hashes (one per configured key) -> the term."""
    return {hashed: term for term in terms for hashed in tx.keyring.blind_all(PURPOSE, term)}


def _sealed_title(tx: Tx, values: dict[str, Any]) -> dict[str, Any]:
    """The title and the location (a URL, a file's path, a document's name) are stored encrypted."""
    return {**values, **{k: tx.encrypt(values[k]) for k in ("title", "location") if values.get(k) is not None}}


def _source(tx: Tx, row: RowMapping) -> KbSource:
    return KbSource(
        id=row["id"], project_id=row["project_id"], kind=row["kind"], location=unseal(tx, row["location"]) or "",
        title=unseal(tx, row["title"]) or "",
        content_type=row["content_type"], status=row["status"], error=row["error"], chunk_count=row["chunk_count"],
        size_bytes=row["size_bytes"], fetched_at=row["fetched_at"], created_at=row["created_at"],
        updated_at=row["updated_at"], parent_id=row["parent_id"],
    )


async def find_by_location(tx: Tx, project_id: str, location_hash: str) -> KbSource | None:
    row = (await tx.conn.execute(select(kb_sources).where(
        kb_sources.c.project_id == project_id, kb_sources.c.location_hash == location_hash))).mappings().first()
    return _source(tx, row) if row else None


async def get_source(tx: Tx, project_id: str, source_id: str) -> KbSource:
    row = (await tx.conn.execute(select(kb_sources).where(
        kb_sources.c.project_id == project_id, kb_sources.c.id == source_id))).mappings().first()
    if row is None:
        raise NotFound(f"knowledge-base source {source_id} not found", code="kb_source_not_found")
    source = _source(tx, row)
    if source.kind == "site":
        count = (await tx.conn.execute(select(func.count()).where(kb_sources.c.parent_id == source_id))).scalar()
        source = replace(source, page_count=int(count or 0))
    return source


async def list_sources(tx: Tx, project_id: str) -> list[KbSource]:
    rows = (await tx.conn.execute(select(kb_sources).where(kb_sources.c.project_id == project_id)
                                  .order_by(kb_sources.c.created_at, kb_sources.c.id))).mappings()
    sources = [_source(tx, r) for r in rows]
    counts = await page_counts(tx, project_id) if any(s.kind == "site" for s in sources) else {}
    return [replace(s, page_count=counts.get(s.id, 0)) if s.kind == "site" else s for s in sources]


async def pages(tx: Tx, site_id: str) -> list[dict[str, Any]]:
    """A crawled site's pages: id, location and the validators of their last answer."""
    rows = (await tx.conn.execute(select(kb_sources.c.id, kb_sources.c.location, kb_sources.c.etag,
                                         kb_sources.c.last_modified).where(kb_sources.c.parent_id == site_id)
                                  .order_by(kb_sources.c.created_at, kb_sources.c.id))).mappings()
    return [{**r, "location": unseal(tx, r["location"])} for r in rows]


async def sites(tx: Tx) -> list[tuple[KbSource, str | None]]:
    """Every crawled site of every project, with its crawl options (for scheduled refreshes)."""
    rows = (await tx.conn.execute(select(kb_sources).where(kb_sources.c.kind == "site")
                                  .order_by(kb_sources.c.fetched_at))).mappings()
    return [(_source(tx, r), r["crawl"]) for r in rows]


async def has_sites(tx: Tx) -> bool:
    """Whether any project has a crawled site (what ``sites`` would list)."""
    found = await tx.conn.execute(select(kb_sources.c.id).where(kb_sources.c.kind == "site").limit(1))
    return found.first() is not None


async def page_counts(tx: Tx, project_id: str) -> dict[str, int]:
    rows = (await tx.conn.execute(select(kb_sources.c.parent_id, func.count()).where(
        kb_sources.c.project_id == project_id, kb_sources.c.parent_id.is_not(None))
        .group_by(kb_sources.c.parent_id))).all()
    return {str(parent): int(n) for parent, n in rows}


async def crawl_options(tx: Tx, source_id: str) -> str | None:
    value = (await tx.conn.execute(select(kb_sources.c.crawl).where(kb_sources.c.id == source_id))).scalar()
    return str(value) if value else None


async def content_hash(tx: Tx, source_id: str) -> str | None:
    value = (await tx.conn.execute(select(kb_sources.c.content_hash).where(kb_sources.c.id == source_id))).scalar()
    return str(value) if value else None


async def insert_source(tx: Tx, **values: Any) -> None:
    await tx.conn.execute(kb_sources.insert().values(created_at=tx.now, updated_at=tx.now, **_sealed_title(tx, values)))


async def update_source(tx: Tx, source_id: str, **values: Any) -> None:
    await tx.conn.execute(update(kb_sources).where(kb_sources.c.id == source_id).values(updated_at=tx.now,
                                                                                      **_sealed_title(tx, values)))


async def clear_chunks(tx: Tx, source_id: str) -> None:
    chunk_ids = select(kb_chunks.c.id).where(kb_chunks.c.source_id == source_id).scalar_subquery()
    await tx.conn.execute(delete(kb_terms).where(kb_terms.c.chunk_id.in_(chunk_ids)))
    await tx.conn.execute(delete(kb_chunks).where(kb_chunks.c.source_id == source_id))


async def delete_source(tx: Tx, source_id: str) -> None:
    for page in (await tx.conn.execute(select(kb_sources.c.id).where(kb_sources.c.parent_id == source_id))).all():
        await delete_source(tx, str(page[0]))
    await clear_chunks(tx, source_id)
    await tx.conn.execute(delete(kb_sources).where(kb_sources.c.id == source_id))


async def insert_chunks(tx: Tx, project_id: str, source_id: str,
                        chunks: Sequence[tuple[str, str, Counter[str]]]) -> None:
    """Store (heading, text, term counts) chunks in order, with their postings. Terms with a
    ':' are field terms (ai.text.index_terms): indexed, not counted in the chunk's length."""
    if not chunks:
        return
    await tx.conn.execute(kb_chunks.insert(), [
        {"source_id": source_id, "project_id": project_id, "ord": i, "heading": tx.encrypt(heading[:500]),
         "text": tx.encrypt(text),
         "length": sum(n for term, n in counts.items() if ":" not in term)}  # field terms (t:, h:) aside
        for i, (heading, text, counts) in enumerate(chunks)])
    result = await tx.conn.execute(select(kb_chunks.c.ord, kb_chunks.c.id).where(kb_chunks.c.source_id == source_id))
    ids = {int(ord_): chunk_id for ord_, chunk_id in result}
    rows = [{"chunk_id": ids[i], "term": tx.keyring.blind(PURPOSE, term), "project_id": project_id, "tf": tf}
            for i, (_, _, counts) in enumerate(chunks) for term, tf in counts.items()]
    for first in range(0, len(rows), _BATCH):
        await tx.conn.execute(kb_terms.insert(), rows[first:first + _BATCH])


# --- retrieval ---------------------------------------------------------------------------------

async def corpus_stats(tx: Tx, project_id: str) -> tuple[int, float]:
    """(number of chunks, their average length in terms)."""
    row = (await tx.conn.execute(select(func.count(), func.avg(kb_chunks.c.length))
                                 .where(kb_chunks.c.project_id == project_id))).first()
    count = int(row[0]) if row else 0
    return count, float(row[1] or 0.0) if row else 0.0


async def document_frequencies(tx: Tx, project_id: str, terms: Sequence[str]) -> dict[str, int]:
    if not terms:
        return {}
    by_hash = _hashes(tx, terms)
    rows = (await tx.conn.execute(select(kb_terms.c.term, func.count()).where(
        kb_terms.c.project_id == project_id, kb_terms.c.term.in_(list(by_hash)))
        .group_by(kb_terms.c.term))).all()
    counts: dict[str, int] = {}
    for hashed, n in rows:
        term = by_hash[str(hashed)]
        counts[term] = counts.get(term, 0) + int(n)
    return counts


async def postings(tx: Tx, project_id: str, terms: Sequence[str], limit: int) -> list[tuple[int, str, int, int]]:
    """(chunk id, term, term frequency, chunk length) for the given terms."""
    if not terms:
        return []
    by_hash = _hashes(tx, terms)
    rows = (await tx.conn.execute(
        select(kb_terms.c.chunk_id, kb_terms.c.term, kb_terms.c.tf, kb_chunks.c.length)
        .join(kb_chunks, kb_chunks.c.id == kb_terms.c.chunk_id)
        .where(kb_terms.c.project_id == project_id, kb_terms.c.term.in_(list(by_hash))).limit(limit))).all()
    return [(int(r[0]), by_hash[str(r[1])], int(r[2]), int(r[3])) for r in rows]


async def chunks_with_sources(tx: Tx, chunk_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not chunk_ids:
        return {}
    rows = (await tx.conn.execute(
        select(kb_chunks.c.id, kb_chunks.c.source_id, kb_chunks.c.heading, kb_chunks.c.text, kb_sources.c.title,
               kb_sources.c.location)
        .join(kb_sources, kb_sources.c.id == kb_chunks.c.source_id)
        .where(kb_chunks.c.id.in_(list(chunk_ids))))).mappings()
    return {int(r["id"]): {**r, "heading": unseal(tx, r["heading"]), "text": unseal(tx, r["text"]),
                           "title": unseal(tx, r["title"]), "location": unseal(tx, r["location"])} for r in rows}


# --- embeddings --------------------------------------------------------------------------------

async def chunks_to_embed(tx: Tx, project_id: str, model: str, source_id: str | None = None,
                          limit: int = 1000) -> list[tuple[int, str]]:
    """(chunk id, the text to embed: title, headings and text) of chunks without a vector
    from ``model``: the source's, or the whole project's."""
    query = (select(kb_chunks.c.id, kb_sources.c.title, kb_chunks.c.heading, kb_chunks.c.text)
             .join(kb_sources, kb_sources.c.id == kb_chunks.c.source_id)
             .where(kb_chunks.c.project_id == project_id,
                    or_(kb_chunks.c.embedding_model.is_(None), kb_chunks.c.embedding_model != model))
             .order_by(kb_chunks.c.id).limit(limit))
    if source_id is not None:
        query = query.where(kb_chunks.c.source_id == source_id)
    rows = (await tx.conn.execute(query)).all()
    return [(int(r[0]), f"{unseal(tx, r[1])}\n{unseal(tx, r[2])}\n{unseal(tx, r[3])}") for r in rows]


async def set_embeddings(tx: Tx, model: str, vectors: Sequence[tuple[int, str]]) -> None:
    for chunk_id, vector in vectors:
        await tx.conn.execute(update(kb_chunks).where(kb_chunks.c.id == chunk_id)
                              .values(embedding=vector, embedding_model=model))


async def embeddings(tx: Tx, project_id: str, model: str, limit: int) -> list[tuple[int, str]]:
    """(chunk id, packed vector) of the project's chunks embedded by ``model``."""
    rows = (await tx.conn.execute(select(kb_chunks.c.id, kb_chunks.c.embedding).where(
        kb_chunks.c.project_id == project_id, kb_chunks.c.embedding_model == model,
        kb_chunks.c.embedding.is_not(None)).limit(limit))).all()
    return [(int(r[0]), str(r[1])) for r in rows]
