"""``rotate-key`` re-seals stored files with the current key (on the local store and on S3),
streaming; afterwards only the new key is needed to read them."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from pocketping.actions.files import access_file_by_key, read_file, rotate_files, store_file
from pocketping.actions.projects import create_project
from pocketping.crypto import generate_key, key_id, parse_key
from pocketping.files import sealing
from pocketping.store.rotation import reencrypt_all
from pocketping.wiring import build_services, encrypted_columns
from pocketping_testkit.server import make_settings


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "local":
        return {}
    fake = request.getfixturevalue("fake_s3")
    bucket = f"rot-{uuid.uuid4().hex[:12]}"
    fake.create_bucket(bucket)
    return fake.settings(bucket)


async def test_rotate_key_reseals_every_stored_file(tmp_path: Path, storage: dict[str, str]) -> None:
    url = f"sqlite:///{tmp_path / 'rot.db'}"
    old_key, new_key = generate_key(), generate_key()
    svc = build_services(make_settings(url, str(tmp_path), encryption_key=old_key, **storage))
    await svc.db.migrate()
    project, _ = await create_project(svc, "Rotating files")
    payload = b"name,amount\n" + b"".join(b"row%d,%d\n" % (i, i) for i in range(30_000))  # several chunks
    src = tmp_path / "report.csv"
    src.write_bytes(payload)
    record = await store_file(svc, project, src, name="report.csv", uploader="api", session_id=None)
    blob = b"".join([p async for p in svc.files.read(record.blob)])
    assert sealing.key_id_of(blob[:sealing.HEADER]) == key_id(parse_key(old_key)) and b"row1," not in blob
    await svc.db.dispose()

    rotated = build_services(make_settings(url, str(tmp_path), encryption_key=new_key,
                                           previous_encryption_keys=old_key, **storage))
    counts = await reencrypt_all(rotated.db, encrypted_columns())  # what `rotate-key` does first
    assert counts["files.name"] == 1
    assert await rotate_files(rotated) == 1
    assert await rotate_files(rotated) == 0  # idempotent
    await rotated.db.dispose()

    only_new = build_services(make_settings(url, str(tmp_path), encryption_key=new_key, **storage))
    found = await access_file_by_key(only_new, project.id, record.id)
    assert found.name == "report.csv"
    assert await read_file(only_new, found) == payload
    blob = b"".join([p async for p in only_new.files.read(record.blob)])
    assert sealing.key_id_of(blob[:sealing.HEADER]) == key_id(parse_key(new_key))
    await only_new.db.dispose()
    assert os.path.exists(src)
