"""Key rotation: re-encrypt every encrypted column with the current key, in batches."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Table, select, update

from pocketping.crypto import PREFIX
from pocketping.store.db import Database
from pocketping.store.sealed import unseal


def _pk(table: Table) -> Column[object]:
    return next(iter(table.primary_key.columns))


async def reencrypt_all(db: Database, columns: Sequence[tuple[Table, str]], batch_size: int = 500) -> dict[str, int]:
    """Every given column (the wiring lists them all) re-encrypted with the current key."""
    counts: dict[str, int] = {}
    current = f"{PREFIX}:{db.keyring.current_id}:"
    for table, column_name in columns:
        column = table.c[column_name]
        pk = _pk(table)
        done = 0
        last: object = None
        while True:
            async with db.transaction() as tx:
                query = select(pk, column).where(column.is_not(None)).order_by(pk).limit(batch_size)
                if last is not None:
                    query = query.where(pk > last)
                rows = (await tx.conn.execute(query)).all()
                for key, value in rows:
                    if not str(value).startswith(current):
                        await tx.conn.execute(update(table).where(pk == key).values(
                            {column_name: tx.encrypt(unseal(tx, value) or "")}))
                        done += 1
            if len(rows) < batch_size:
                break
            last = rows[-1][0]
        counts[f"{table.name}.{column_name}"] = done
    return counts
