"""Mail to visitors: one ``mail_recipients`` row per session that was (or may be) mailed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping

from pocketping.store.db import Tx
from pocketping.store.schema import mail_recipients


@dataclass(frozen=True)
class Recipient:
    session_id: str
    project_id: str
    mailed_seq: int
    unsubscribed_at: datetime | None
    transcript_wanted: bool
    has_reply_token: bool
    consent_at: datetime | None = None
    consent_text: str | None = None


def _recipient(row: RowMapping) -> Recipient:
    return Recipient(session_id=row["session_id"], project_id=row["project_id"], mailed_seq=row["mailed_seq"],
                     unsubscribed_at=row["unsubscribed_at"], transcript_wanted=bool(row["transcript_wanted"]),
                     has_reply_token=row["reply_token_hash"] is not None, consent_at=row["consent_at"],
                     consent_text=row["consent_text"])


async def find_recipient(tx: Tx, session_id: str, *, for_update: bool = False) -> Recipient | None:
    query = select(mail_recipients).where(mail_recipients.c.session_id == session_id)
    if for_update and tx.dialect != "sqlite":
        query = query.with_for_update()
    row = (await tx.conn.execute(query)).mappings().first()
    return _recipient(row) if row else None


async def ensure_recipient(tx: Tx, session_id: str, project_id: str) -> Recipient:
    """The session's row, created if it has none (locked until commit where the database can)."""
    found = await find_recipient(tx, session_id, for_update=True)
    if found is not None:
        return found
    await tx.conn.execute(mail_recipients.insert().values(
        session_id=session_id, project_id=project_id, mailed_seq=0, unsubscribed_at=None, transcript_wanted=False,
        reply_token_hash=None, consent_at=None, consent_text=None, created_at=tx.now, updated_at=tx.now))
    created = await find_recipient(tx, session_id, for_update=True)
    assert created is not None
    return created


async def update_recipient(tx: Tx, session_id: str, **values: Any) -> None:
    await tx.conn.execute(update(mail_recipients).where(mail_recipients.c.session_id == session_id)
                          .values(updated_at=tx.now, **values))


async def raise_mailed_seq(tx: Tx, session_id: str, seq: int) -> None:
    await tx.conn.execute(update(mail_recipients).where(mail_recipients.c.session_id == session_id,
                                                        mail_recipients.c.mailed_seq < seq)
                          .values(mailed_seq=seq, updated_at=tx.now))


async def find_by_reply_token_hash(tx: Tx, token_hash: str) -> Recipient | None:
    row = (await tx.conn.execute(select(mail_recipients).where(
        mail_recipients.c.reply_token_hash == token_hash))).mappings().first()
    return _recipient(row) if row else None


async def record_consent(tx: Tx, session_id: str, project_id: str, text: str | None) -> None:
    """The visitor left their address under the project's consent line (if it has one): when, and
    to which text."""
    if not text:
        return
    await ensure_recipient(tx, session_id, project_id)
    await update_recipient(tx, session_id, consent_at=tx.now, consent_text=text)


async def find_recipients(tx: Tx, session_ids: list[str]) -> dict[str, Recipient]:
    if not session_ids:
        return {}
    rows = (await tx.conn.execute(select(mail_recipients).where(
        mail_recipients.c.session_id.in_(session_ids)))).mappings()
    return {row["session_id"]: _recipient(row) for row in rows}
