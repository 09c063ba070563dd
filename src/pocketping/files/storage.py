"""Where sealed files live: a small interface and its two implementations.

``POCKETPING_STORAGE_URL`` chooses: ``file:///path`` (default: ``files/`` in the data
directory) or ``s3://bucket/prefix`` for any S3-compatible store. Blobs are written whole or
not at all (a temporary file renamed into place; S3 objects appear only when their upload
completes), so nothing half-written is ever served.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from pocketping.errors import ConfigurationError, NotFound

READ_SIZE = 64 * 1024
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,200}$")


def _check_name(name: str) -> str:
    if not _NAME.match(name) or ".." in name:
        raise ValueError(f"bad blob name {name!r}")
    return name


class BlobStore(Protocol):
    """Stores opaque (already encrypted) blobs by name."""

    async def put(self, name: str, source: Path) -> None:
        """Store the file at ``source`` under ``name``, atomically (replacing any old blob)."""

    def read(self, name: str) -> AsyncIterator[bytes]:
        """The blob's bytes in pieces; raises ``NotFound`` if there is none."""

    async def delete(self, name: str) -> None:
        """Remove the blob (no error if it is already gone)."""

    async def names(self) -> list[str]:
        """Every stored blob's name."""


class LocalStore:
    """A folder on the local filesystem (0700), one file per blob."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        return self.root / _check_name(name)

    def _put(self, name: str, source: Path) -> None:
        target = self._path(name)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.root / ".tmp" / uuid.uuid4().hex
        tmp.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            with source.open("rb") as src, tmp.open("wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    async def put(self, name: str, source: Path) -> None:
        await asyncio.to_thread(self._put, name, source)

    async def read(self, name: str) -> AsyncIterator[bytes]:
        try:
            fh = await asyncio.to_thread(self._path(name).open, "rb")
        except FileNotFoundError as exc:
            raise NotFound("file not found", code="file_not_found") from exc
        try:
            while block := await asyncio.to_thread(fh.read, READ_SIZE):
                yield block
        finally:
            fh.close()

    async def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(name).unlink)

    def _names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file() and ".tmp" not in p.relative_to(self.root).parts)

    async def names(self) -> list[str]:
        return await asyncio.to_thread(self._names)


class S3Store:
    """An S3-compatible bucket (AWS, MinIO, Garage, Ceph ...) through boto3, off the event loop."""

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None, access_key_id: str | None,
                 secret_access_key: str | None, region: str | None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client: Any = boto3.client(
            "s3", endpoint_url=endpoint_url, aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key, region_name=region or "us-east-1",
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, signature_version="s3v4"))

    def _key(self, name: str) -> str:
        return self.prefix + _check_name(name)

    async def put(self, name: str, source: Path) -> None:
        # upload_file switches to a multipart upload for big files; the object appears only when complete.
        await asyncio.to_thread(self._client.upload_file, str(source), self.bucket, self._key(name))

    def _open(self, name: str) -> Any:
        from botocore.exceptions import ClientError

        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound("file not found", code="file_not_found") from exc
            raise

    async def read(self, name: str) -> AsyncIterator[bytes]:
        body = await asyncio.to_thread(self._open, name)
        try:
            while block := await asyncio.to_thread(body.read, READ_SIZE):
                yield block
        finally:
            body.close()

    async def delete(self, name: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=self._key(name))

    def _names(self) -> Iterator[str]:
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", ()):
                yield item["Key"][len(self.prefix):]

    async def names(self) -> list[str]:
        return await asyncio.to_thread(lambda: sorted(self._names()))


def open_store(url: str | None, data_dir: Path, *, endpoint_url: str | None = None,
               access_key_id: str | None = None, secret_access_key: str | None = None,
               region: str | None = None) -> BlobStore:
    """The store ``POCKETPING_STORAGE_URL`` names."""
    if not url:
        return LocalStore(data_dir / "files")
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.path) if not parts.netloc else unquote(parts.netloc + parts.path)
        if not path:
            raise ConfigurationError("POCKETPING_STORAGE_URL file:// needs a path, e.g. file:///var/lib/pocketping/files")
        return LocalStore(Path(path))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigurationError("POCKETPING_STORAGE_URL s3:// needs a bucket, e.g. s3://my-bucket/pocketping")
        return S3Store(parts.netloc, parts.path, endpoint_url=endpoint_url, access_key_id=access_key_id,
                       secret_access_key=secret_access_key, region=region)
    raise ConfigurationError(f"POCKETPING_STORAGE_URL must start with file:// or s3://, not {parts.scheme or url!r}")
