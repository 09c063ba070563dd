"""The blob stores (local folder and S3 through the local S3-compatible server) pass the same
tests, and files are sealed at rest: tampering, truncation and swapping are caught."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

import pytest

from pocketping.crypto import Keyring, generate_key
from pocketping.errors import NotFound
from pocketping.files import sealing
from pocketping.files.storage import BlobStore, LocalStore, S3Store, open_store
from pocketping_testkit.fakes.s3 import ACCESS_KEY, REGION, SECRET_KEY


def ring(*keys: str) -> Keyring:
    return Keyring(tuple(base64.b64decode(k) for k in keys))


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalStore(tmp_path / "files")
    fake = request.getfixturevalue("fake_s3")
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    fake.create_bucket(bucket)
    return S3Store(bucket, "prefix/", endpoint_url=fake.url, access_key_id=ACCESS_KEY,
                   secret_access_key=SECRET_KEY, region=REGION)


async def read_all(store: BlobStore, name: str) -> bytes:
    return b"".join([piece async for piece in store.read(name)])


async def test_put_read_replace_list_delete(store: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    payload = os.urandom(300_000)
    src.write_bytes(payload)
    await store.put("proj_a/file_1", src)
    assert await read_all(store, "proj_a/file_1") == payload
    src.write_bytes(b"second version")
    await store.put("proj_a/file_1", src)
    assert await read_all(store, "proj_a/file_1") == b"second version"
    await store.put("proj_b/file_2", src)
    assert await store.names() == ["proj_a/file_1", "proj_b/file_2"]
    await store.delete("proj_a/file_1")
    await store.delete("proj_a/file_1")  # already gone: no error
    with pytest.raises(NotFound):
        await read_all(store, "proj_a/file_1")
    assert await store.names() == ["proj_b/file_2"]


async def test_a_name_cannot_leave_the_store(store: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.write_bytes(b"x")
    for bad in ("../escape", "/abs", "a/../../b", ""):
        with pytest.raises(ValueError):
            await store.put(bad, src)


async def test_sealed_files_round_trip_through_the_store(store: BlobStore, tmp_path: Path) -> None:
    keys = ring(generate_key())
    for size in (0, 1, sealing.CHUNK - 1, sealing.CHUNK, sealing.CHUNK + 1, 3 * sealing.CHUNK + 5):
        plain = os.urandom(size)
        sealed_path = tmp_path / f"sealed{size}"
        sealed_path.write_bytes(b"".join(sealing.seal(keys, f"p/f{size}", [plain[i:i + 1000]
                                                                          for i in range(0, size, 1000)])))
        assert size < 16 or plain[:16] not in sealed_path.read_bytes()  # (a byte or two may occur by chance)
        await store.put(f"p/f{size}", sealed_path)
        back = b"".join([p async for p in sealing.unseal(keys, f"p/f{size}", store.read(f"p/f{size}"))])
        assert back == plain


def test_open_store_reads_the_url(tmp_path: Path) -> None:
    assert isinstance(open_store(None, tmp_path), LocalStore)
    local = open_store(f"file://{tmp_path}/elsewhere", tmp_path)
    assert isinstance(local, LocalStore) and local.root == tmp_path / "elsewhere"
    s3 = open_store("s3://bucket/some/prefix", tmp_path, endpoint_url="http://127.0.0.1:9", region="eu-west-1")
    assert isinstance(s3, S3Store) and s3.bucket == "bucket" and s3.prefix == "some/prefix/"
    from pocketping.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="file:// or s3://"):
        open_store("ftp://x/y", tmp_path)


async def _unseal(keys: Keyring, name: str, data: bytes) -> bytes:
    async def source():  # type: ignore[no-untyped-def]
        yield data

    return b"".join([p async for p in sealing.unseal(keys, name, source())])


async def test_tampering_truncation_and_swapping_are_caught() -> None:
    keys = ring(generate_key())
    plain = os.urandom(2 * sealing.CHUNK + 10)
    sealed = b"".join(sealing.seal(keys, "p/a", [plain]))
    assert await _unseal(keys, "p/a", sealed) == plain
    flipped = bytearray(sealed)
    flipped[sealing.HEADER + 40] ^= 1
    with pytest.raises(sealing.CorruptFile):
        await _unseal(keys, "p/a", bytes(flipped))
    with pytest.raises(sealing.CorruptFile):  # cut at a chunk boundary: the last chunk is missing
        await _unseal(keys, "p/a", sealed[:sealing.HEADER + sealing.SEALED])
    with pytest.raises(sealing.CorruptFile):  # another file's blob under this name
        await _unseal(keys, "p/b", sealed)
    from pocketping.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="PREVIOUS_ENCRYPTION_KEYS"):
        await _unseal(ring(generate_key()), "p/a", sealed)
