"""Encrypt what older versions stored in clear (idempotent; run after the migrations).

Migration ``privacy`` widened the columns but has no keyring, so the rows it found are sealed
here, by every process that migrates, before it serves: session metadata, addresses and
countries, knowledge-base titles, headings and chunk text, and the knowledge-base terms (hashed
under the keyring, in the same transaction as their chunk's text, so a crash halfway leaves
nothing hashed twice). A marker in ``server_state`` makes later starts skip the scan.
"""

from __future__ import annotations

from sqlalchemy import Column, Table, select, update

from pocketping.crypto import PREFIX
from pocketping.store.db import Database
from pocketping.store.schema import kb_chunks, kb_sources, kb_terms, server_state, sessions

MARKER = "sealed:privacy"
# Columns that older versions stored in clear (the rest were always encrypted).
COLUMNS: tuple[tuple[Table, str], ...] = (
    (sessions, "meta"), (sessions, "ip"), (sessions, "country"), (kb_sources, "title"), (kb_sources, "location"),
)
_SEALED = PREFIX + ":%"


def _pk(table: Table) -> Column[object]:
    return next(iter(table.primary_key.columns))


async def _seal_column(db: Database, table: Table, name: str, batch_size: int) -> int:
    column, pk, done = table.c[name], _pk(table), 0
    while True:
        async with db.transaction() as tx:
            rows = (await tx.conn.execute(select(pk, column).where(column.is_not(None), column.not_like(_SEALED))
                                          .order_by(pk).limit(batch_size))).all()
            for key, value in rows:
                await tx.conn.execute(update(table).where(pk == key).values({name: tx.encrypt(str(value))}))
        done += len(rows)
        if len(rows) < batch_size:
            return done


async def _seal_chunks(db: Database, batch_size: int) -> int:
    from pocketping.store.kb import PURPOSE

    done = 0
    while True:
        async with db.transaction() as tx:
            rows = (await tx.conn.execute(select(kb_chunks.c.id, kb_chunks.c.heading, kb_chunks.c.text)
                                          .where(kb_chunks.c.text.not_like(_SEALED))
                                          .order_by(kb_chunks.c.id).limit(batch_size))).all()
            for chunk_id, heading, text in rows:
                await tx.conn.execute(update(kb_chunks).where(kb_chunks.c.id == chunk_id).values(
                    heading=tx.encrypt(heading), text=tx.encrypt(text)))
                terms = (await tx.conn.execute(select(kb_terms.c.term).where(kb_terms.c.chunk_id == chunk_id))).all()
                for (term,) in terms:
                    await tx.conn.execute(update(kb_terms).where(kb_terms.c.chunk_id == chunk_id,
                                                                 kb_terms.c.term == term)
                                          .values(term=tx.keyring.blind(PURPOSE, str(term))))
        done += len(rows)
        if len(rows) < batch_size:
            return done


async def seal_plaintext(db: Database, batch_size: int = 500) -> dict[str, int]:
    """Encrypt every value still in clear; returns how many per column (nothing the second time)."""
    async with db.read() as tx:
        if (await tx.conn.execute(select(server_state.c.value).where(server_state.c.key == MARKER))).scalar():
            return {}
    counts = {f"{t.name}.{c}": await _seal_column(db, t, c, batch_size) for t, c in COLUMNS}
    counts["kb_chunks"] = await _seal_chunks(db, batch_size)
    async with db.transaction() as tx:
        if not (await tx.conn.execute(select(server_state.c.key).where(server_state.c.key == MARKER))).scalar():
            await tx.conn.execute(server_state.insert().values(key=MARKER, value=tx.now.isoformat()))
    return counts
