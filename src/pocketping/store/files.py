"""Stored files' rows (the bytes are in the blob store) and the attachments messages carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.engine import RowMapping

from pocketping import filelinks
from pocketping.core.models import Attachment
from pocketping.store.db import Tx
from pocketping.store.schema import files, messages, sessions


@dataclass(frozen=True)
class StoredFile:
    id: str
    project_id: str
    session_id: str | None
    message_id: str | None
    uploader: str
    name: str
    size: int
    content_type: str
    width: int | None
    height: int | None
    blob: str
    created_at: datetime

    def attachment(self, tx: Tx) -> Attachment:
        return Attachment(id=self.id, name=self.name, size=self.size, content_type=self.content_type,
                          width=self.width, height=self.height,
                          url=filelinks.signed_link(tx.keyring, self.id, tx.now))

    def to_api(self, tx: Tx) -> dict[str, Any]:
        body = self.attachment(tx).to_api()
        return body


def _file(tx: Tx, row: RowMapping) -> StoredFile:
    return StoredFile(id=row["id"], project_id=row["project_id"], session_id=row["session_id"],
                      message_id=row["message_id"], uploader=row["uploader"], name=tx.decrypt(row["name"]),
                      size=row["size"], content_type=row["content_type"], width=row["width"],
                      height=row["height"], blob=row["blob"], created_at=row["created_at"])


async def insert_file(tx: Tx, f: StoredFile) -> None:
    await tx.conn.execute(files.insert().values(
        id=f.id, project_id=f.project_id, session_id=f.session_id, message_id=f.message_id, uploader=f.uploader,
        name=tx.encrypt(f.name), size=f.size, content_type=f.content_type, width=f.width, height=f.height,
        blob=f.blob, created_at=f.created_at))


async def find_file(tx: Tx, project_id: str, file_id: str) -> StoredFile | None:
    row = (await tx.conn.execute(select(files).where(files.c.id == file_id, files.c.project_id == project_id))
           ).mappings().first()
    return _file(tx, row) if row else None


async def find_file_any_project(tx: Tx, file_id: str) -> StoredFile | None:
    row = (await tx.conn.execute(select(files).where(files.c.id == file_id))).mappings().first()
    return _file(tx, row) if row else None


async def find_files(tx: Tx, file_ids: list[str]) -> dict[str, StoredFile]:
    if not file_ids:
        return {}
    rows = (await tx.conn.execute(select(files).where(files.c.id.in_(set(file_ids))))).mappings()
    return {row["id"]: _file(tx, row) for row in rows}


async def attach_files(tx: Tx, links: list[tuple[str, str, str]]) -> None:
    """Mark files as named by a message: ``(file_id, session_id, message_id)``."""
    for file_id, session_id, message_id in links:
        await tx.conn.execute(update(files).where(files.c.id == file_id)
                              .values(session_id=session_id, message_id=message_id))


async def unattached_before(tx: Tx, before: datetime, limit: int = 500) -> list[StoredFile]:
    rows = (await tx.conn.execute(select(files).where(files.c.message_id.is_(None), files.c.created_at < before)
                                  .limit(limit))).mappings()
    return [_file(tx, row) for row in rows]


async def closed_before(tx: Tx, before: datetime, limit: int = 500) -> list[StoredFile]:
    """Files of conversations closed before ``before`` (POCKETPING_FILE_RETENTION_DAYS)."""
    query = (select(files).join(sessions, sessions.c.id == files.c.session_id)
             .where(sessions.c.status == "closed", sessions.c.closed_at < before).limit(limit))
    return [_file(tx, row) for row in (await tx.conn.execute(query)).mappings()]


async def session_files(tx: Tx, session_ids: list[str]) -> list[StoredFile]:
    if not session_ids:
        return []
    rows = (await tx.conn.execute(select(files).where(files.c.session_id.in_(set(session_ids))))).mappings()
    return [_file(tx, row) for row in rows]


async def delete_files(tx: Tx, file_ids: list[str]) -> None:
    if file_ids:
        await tx.conn.execute(delete(files).where(files.c.id.in_(set(file_ids))))


async def all_blobs(tx: Tx) -> list[tuple[str, str, str]]:
    """``(file id, blob name, content type)`` of every stored file (for rotate-key)."""
    rows = (await tx.conn.execute(select(files.c.id, files.c.blob, files.c.content_type).order_by(files.c.id))).all()
    return [(r[0], r[1], r[2]) for r in rows]


# --- what a message carries -------------------------------------------------------------

def dump_attachments(tx: Tx, items: tuple[Attachment, ...]) -> str | None:
    if not items:
        return None
    return tx.encrypt(orjson.dumps([a.to_stored() for a in items]).decode())


def load_attachments(tx: Tx, stored: str | None) -> tuple[Attachment, ...]:
    if not stored:
        return ()
    out = []
    for raw in orjson.loads(tx.decrypt(stored)):
        out.append(Attachment(id=raw["id"], name=raw["name"], size=raw["size"], content_type=raw["contentType"],
                              width=raw.get("width"), height=raw.get("height"),
                              url=filelinks.signed_link(tx.keyring, raw["id"], tx.now)))
    return tuple(out)


async def clear_message_attachments(tx: Tx, message_id: str) -> None:
    await tx.conn.execute(update(messages).where(messages.c.id == message_id).values(attachments=None))
