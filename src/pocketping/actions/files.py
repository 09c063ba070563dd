"""Attachments: store an upload (type from its bytes, images re-encoded, sealed), fetch one
for whoever may see it, remove what is no longer wanted.

An upload is stored whole in the blob store before its row is written, and a message can
only name a file that has a row: nothing half-written is ever named or served."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from pocketping import filelinks, ids
from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.core.models import Project
from pocketping.errors import Forbidden, InvalidInput, NotFound, RateLimited
from pocketping.files import sealing
from pocketping.files.images import make_thumbnail, reencode, thumbnail_type
from pocketping.files.sniff import DEFAULT_TYPES, IMAGES, allowed, sniff
from pocketping.store import files as repo
from pocketping.store.files import StoredFile

FILE = "file"
MAX_ATTACHMENTS = 10
UNATTACHED_TTL = timedelta(days=1)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\\"<>|:*?]")


def upload_types(project: Project) -> tuple[str, ...]:
    """The project's allow-list (``project update --upload-types``), or the default one."""
    chosen = project.extra.get("upload_types")
    return tuple(chosen) if chosen else DEFAULT_TYPES


def clean_name(name: str | None, content_type: str) -> str:
    """A file name safe to show and to put in a header: no path, no control characters."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = _UNSAFE.sub("_", base).strip(" .")[:200]
    if not base:
        base = "file." + (content_type.split("/")[-1].split("+")[0] if "/" in content_type else "bin")
    return base


def too_large(limit: int) -> InvalidInput:
    return InvalidInput(f"the file is larger than the limit of {limit} bytes", code="file_too_large",
                        status=413, limit=limit)


def check_upload_rate(svc: Services, key: str) -> None:
    retry = svc.upload_limiter.hit(key)
    if retry is not None:
        raise RateLimited("too many uploads; wait a little", retry_after=retry)


def _seal_to(svc: Services, blob: str, source: Path, target: Path) -> None:
    sealer = sealing.Sealer(svc.db.keyring, blob)
    with source.open("rb") as src, target.open("wb") as dst:
        while block := src.read(sealing.CHUNK):
            dst.writelines(sealer.feed(block))
        dst.writelines(sealer.finish())


async def store_file(svc: Services, project: Project, path: Path, *, name: str | None, uploader: str,
                     session_id: str | None) -> StoredFile:
    """Store the upload at ``path`` (already within the size limit) for ``project``."""
    limit = svc.settings.max_upload_bytes
    if (await asyncio.to_thread(path.stat)).st_size > limit:
        raise too_large(limit)
    kind = await asyncio.to_thread(sniff, path)
    if not allowed(kind, upload_types(project)):
        raise InvalidInput(f"files of type {kind} are not accepted here", code="file_type_not_allowed",
                           status=415, contentType=kind)
    file_id = ids.new_id(FILE)
    blob = f"{project.id}/{file_id}"
    with tempfile.TemporaryDirectory(prefix="pocketping-upload-") as tmp:
        source, width, height = path, None, None
        if kind in IMAGES:
            source = Path(tmp) / "clean"
            shape = await asyncio.to_thread(reencode, path, source, kind)
            width, height = shape.width, shape.height
            thumb, thumb_sealed = Path(tmp) / "thumb", Path(tmp) / "thumb.sealed"
            await asyncio.to_thread(make_thumbnail, source, thumb, kind)
            await asyncio.to_thread(_seal_to, svc, thumb_blob(blob), thumb, thumb_sealed)
            await svc.files.put(thumb_blob(blob), thumb_sealed)
        size = (await asyncio.to_thread(source.stat)).st_size
        sealed = Path(tmp) / "sealed"
        await asyncio.to_thread(_seal_to, svc, blob, source, sealed)
        await svc.files.put(blob, sealed)
    record = StoredFile(id=file_id, project_id=project.id, session_id=session_id, message_id=None, uploader=uploader,
                        name=clean_name(name, kind), size=size, content_type=kind, width=width, height=height,
                        blob=blob, created_at=svc.clock.now())
    try:
        async with unit_of_work(svc) as tx:
            await repo.insert_file(tx, record)
    except BaseException:
        await delete_blobs(svc, [record])
        raise
    return record


def thumb_blob(blob: str) -> str:
    return blob + ".thumb"


def has_thumbnail(record: StoredFile) -> bool:
    return record.content_type in IMAGES


def thumbnail_of(record: StoredFile) -> StoredFile:
    """The record of an image's thumbnail (its own blob; size unknown until read)."""
    return dataclasses.replace(record, blob=thumb_blob(record.blob), content_type=thumbnail_type(record.content_type),
                               size=-1)


async def store_bytes(svc: Services, project: Project, data: bytes, *, name: str | None, uploader: str,
                      session_id: str | None) -> StoredFile:
    """``store_file`` for bytes already in memory (a file downloaded from a platform)."""
    with tempfile.TemporaryDirectory(prefix="pocketping-in-") as tmp:
        path = Path(tmp) / "upload"
        await asyncio.to_thread(path.write_bytes, data)
        return await store_file(svc, project, path, name=name, uploader=uploader, session_id=session_id)


def file_api(svc: Services, record: StoredFile) -> dict[str, object]:
    """The upload's answer: id, name, size, contentType, width, height (and a signed url)."""
    return {"id": record.id, "name": record.name, "size": record.size, "contentType": record.content_type,
            "width": record.width, "height": record.height,
            "url": filelinks.signed_link(svc.db.keyring, record.id, svc.clock.now())}


def _missing(file_id: str) -> NotFound:
    return NotFound(f"file {file_id} not found", code="file_not_found")


async def access_file_by_key(svc: Services, project_id: str, file_id: str) -> StoredFile:
    """A file of the project whose secret key was given; another project's is not found."""
    async with svc.db.read() as tx:
        found = await repo.find_file(tx, project_id, file_id)
    if found is None:
        raise _missing(file_id)
    return found


async def access_file_by_session(svc: Services, project_id: str, session_id: str, file_id: str) -> StoredFile:
    """A file of the visitor's own session (a token of another session finds nothing)."""
    found = await access_file_by_key(svc, project_id, file_id)
    if found.session_id != session_id:
        raise _missing(file_id)
    return found


async def access_file_by_link(svc: Services, file_id: str, exp: int, sig: str) -> StoredFile:
    """A file a signed link names; an expired or forged link is refused (403)."""
    if not filelinks.check(svc.db.keyring, file_id, exp, sig):
        raise Forbidden("this link is not valid", code="invalid_link")
    if exp < svc.clock.now().timestamp():
        raise Forbidden("this link has expired; reload the conversation for a fresh one", code="link_expired")
    async with svc.db.read() as tx:
        found = await repo.find_file_any_project(tx, file_id)
    if found is None:
        raise _missing(file_id)
    return found


async def open_file(svc: Services, record: StoredFile) -> AsyncIterator[bytes]:
    """The file's plaintext, streamed (decrypted piece by piece)."""
    async for piece in sealing.unseal(svc.db.keyring, record.blob, svc.files.read(record.blob)):
        yield piece


async def read_file(svc: Services, record: StoredFile) -> bytes:
    """The whole file (for deliveries to chat apps, which take it in one request)."""
    return b"".join([piece async for piece in open_file(svc, record)])


async def delete_blobs(svc: Services, records: list[StoredFile]) -> None:
    for record in records:
        for blob in (record.blob, thumb_blob(record.blob)) if has_thumbnail(record) else (record.blob,):
            with contextlib.suppress(Exception):
                await svc.files.delete(blob)


async def prune_files(svc: Services, retention_days: float | None) -> int:
    """Remove uploads no message named within a day, and (``POCKETPING_FILE_RETENTION_DAYS``) the
    files of conversations closed longer ago than that."""
    now = svc.clock.now()
    async with svc.db.read() as tx:
        doomed = await repo.unattached_before(tx, now - UNATTACHED_TTL)
        if retention_days is not None:
            doomed += await repo.closed_before(tx, now - timedelta(days=retention_days))
    if not doomed:
        return 0
    async with unit_of_work(svc) as tx:
        await repo.delete_files(tx, [f.id for f in doomed])
        for f in doomed:
            if f.message_id:
                await repo.clear_message_attachments(tx, f.message_id)
    await delete_blobs(svc, doomed)
    return len(doomed)


async def rotate_files(svc: Services) -> int:
    """Re-encrypt every stored file sealed with an older key (``rotate-key``): decrypted and
    re-encrypted piece by piece into a new blob that replaces the old one, never whole in memory."""
    keyring = svc.db.keyring
    async with svc.db.read() as tx:
        blobs = [b for _, blob, kind in await repo.all_blobs(tx)
                 for b in ((blob, thumb_blob(blob)) if kind in IMAGES else (blob,))]
    done = 0
    for blob in blobs:
        with tempfile.TemporaryDirectory(prefix="pocketping-rotate-") as tmp:
            target = Path(tmp) / "sealed"
            opener = sealing.Unsealer(keyring, blob)
            sealer = sealing.Sealer(keyring, blob)
            try:
                with target.open("wb") as out:
                    async for block in svc.files.read(blob):
                        plain = opener.feed(block)
                        if opener.key_id() == keyring.current_id:
                            break  # already sealed with the current key
                        for piece in plain:
                            out.writelines(sealer.feed(piece))
                    else:
                        out.writelines(sealer.feed(opener.finish()))
                        out.writelines(sealer.finish())
                        out.close()
                        await svc.files.put(blob, target)
                        done += 1
            except NotFound:
                continue
    return done
