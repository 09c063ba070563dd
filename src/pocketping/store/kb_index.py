"""Rebuilding the knowledge base's hashed term index (after ``rotate-key``)."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, select, update

from pocketping.store.db import Tx
from pocketping.store.kb import PURPOSE
from pocketping.store.schema import kb_chunks, kb_sources, kb_terms
from pocketping.store.sealed import unseal


async def chunk_batch(tx: Tx, after: int, limit: int) -> list[tuple[int, str, str, str, str]]:
    """(chunk id, project id, source title, heading, text) in clear, after the ``after`` id."""
    rows = (await tx.conn.execute(
        select(kb_chunks.c.id, kb_chunks.c.project_id, kb_sources.c.title, kb_chunks.c.heading, kb_chunks.c.text)
        .join(kb_sources, kb_sources.c.id == kb_chunks.c.source_id)
        .where(kb_chunks.c.id > after).order_by(kb_chunks.c.id).limit(limit))).all()
    return [(int(r[0]), str(r[1]), unseal(tx, r[2]) or "", unseal(tx, r[3]) or "", unseal(tx, r[4]) or "")
            for r in rows]


async def replace_terms(tx: Tx, chunk_id: int, project_id: str, counts: Counter[str]) -> None:
    """The chunk's postings hashed again under the current key."""
    await tx.conn.execute(delete(kb_terms).where(kb_terms.c.chunk_id == chunk_id))
    if counts:
        await tx.conn.execute(kb_terms.insert(), [
            {"chunk_id": chunk_id, "term": tx.keyring.blind(PURPOSE, term), "project_id": project_id, "tf": tf}
            for term, tf in counts.items()])
    await tx.conn.execute(update(kb_chunks).where(kb_chunks.c.id == chunk_id)
                          .values(length=sum(n for term, n in counts.items() if ":" not in term)))
