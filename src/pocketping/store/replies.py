"""Saved replies of a project (shortcut -> text)."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from pocketping.core.replies import SavedReply
from pocketping.store.db import Tx
from pocketping.store.schema import saved_replies


async def list_replies(tx: Tx, project_ids: tuple[str, ...]) -> list[SavedReply]:
    if not project_ids:
        return []
    rows = (await tx.conn.execute(select(saved_replies).where(saved_replies.c.project_id.in_(project_ids))
                                  .order_by(saved_replies.c.shortcut, saved_replies.c.project_id))).mappings()
    return [SavedReply(r["id"], r["project_id"], r["shortcut"], r["text"]) for r in rows]


async def find_reply(tx: Tx, project_id: str, shortcut: str) -> SavedReply | None:
    row = (await tx.conn.execute(select(saved_replies).where(
        saved_replies.c.project_id == project_id, saved_replies.c.shortcut == shortcut))).mappings().first()
    return SavedReply(row["id"], row["project_id"], row["shortcut"], row["text"]) if row else None


async def save_reply(tx: Tx, *, id: str, project_id: str, shortcut: str, text: str) -> bool:
    """Insert, or replace the text of the same shortcut; True when it is new."""
    found = await find_reply(tx, project_id, shortcut)
    if found is not None:
        await tx.conn.execute(update(saved_replies).where(saved_replies.c.id == found.id)
                              .values(text=text, updated_at=tx.now))
        return False
    await tx.conn.execute(saved_replies.insert().values(id=id, project_id=project_id, shortcut=shortcut, text=text,
                                                        created_at=tx.now, updated_at=tx.now))
    return True


async def remove_reply(tx: Tx, project_id: str, shortcut: str) -> bool:
    result = await tx.conn.execute(delete(saved_replies).where(
        saved_replies.c.project_id == project_id, saved_replies.c.shortcut == shortcut))
    return bool(result.rowcount)
