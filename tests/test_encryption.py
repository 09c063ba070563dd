"""Encryption at rest: what lies in the database is ciphertext; keys rotate."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import text

from pocketping import crypto
from pocketping.actions.projects import create_project, update_project
from pocketping.crypto import AESGCM, InvalidTag, Keyring, generate_key, key_id, load_keyring
from pocketping.errors import ConfigurationError
from pocketping.store.engine import create_engine
from pocketping.store.rotation import reencrypt_all
from pocketping.wiring import build_services, encrypted_columns
from pocketping_testkit.server import make_settings
from pocketping_testkit.widget_client import WidgetClient


async def raw(database, sql: str, **params):
    engine = create_engine(database.url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql), params)).all()
    finally:
        await engine.dispose()


async def test_message_text_event_data_and_identity_are_ciphertext_in_the_database(server, project, api, database):
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    ack = await w.say("my card number is 4111 1111 1111 1111")
    await w.send({"type": "event", "name": "checkout", "data": {"coupon": "SUPERSECRET"}, "clientId": "e"})
    event_ack = await w.expect("ack", clientId="e")
    await w.send({"type": "identify", "id": "u1", "email": "private@example.com"})
    await w.expect("identified")
    [(stored,)] = await raw(database, "SELECT text FROM messages WHERE id = :id", id=ack["id"])
    assert stored.startswith("enc1:") and "4111" not in stored
    [(stored_event,)] = await raw(database, "SELECT text FROM messages WHERE id = :id", id=event_ack["id"])
    assert stored_event.startswith("enc1:") and "SUPERSECRET" not in stored_event
    [(identity,)] = await raw(database, "SELECT identity FROM sessions WHERE id = :id", id=w.session_id)
    assert identity.startswith("enc1:") and "private@example.com" not in identity
    # ... and the API reads it back in clear.
    r = await api.get(f"/api/v1/sessions/{w.session_id}/messages", headers=project.auth)
    assert r.json()["messages"][0]["text"] == "my card number is 4111 1111 1111 1111"
    await w.close()


async def test_secret_keys_are_stored_only_as_hashes(server, project, database):
    [(row,)] = await raw(database, "SELECT secret_key_hash FROM projects WHERE id = :id", id=project.id)
    assert project.secret_key not in row and len(row) == 64


def test_keyring_round_trip_rotation_and_tamper():
    old, new = base64.b64decode(generate_key()), base64.b64decode(generate_key())
    sealed_old = Keyring((old,)).encrypt("hello")
    ring = Keyring((new, old))
    assert ring.decrypt(sealed_old) == "hello" and ring.needs_rotation(sealed_old)
    sealed_new = ring.encrypt("hello")
    assert sealed_new.split(":")[1] == key_id(new) and not ring.needs_rotation(sealed_new)
    with pytest.raises(ConfigurationError, match="not configured"):
        Keyring((new,)).decrypt(sealed_old)
    tampered = sealed_new[:-4] + ("AAAA" if not sealed_new.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidTag):
        ring.decrypt(tampered)
    assert ring.encrypt("same") != ring.encrypt("same")  # fresh nonces


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000, 65536 + 3])
def test_aes_gcm_gives_the_bytes_of_the_cryptography_package_and_refuses_what_was_tampered_with(size):
    # The server's AES-256-GCM goes through the OpenSSL its TLS already loaded (crypto.AESGCM);
    # the cryptography package is the reference. Both ways: its ciphertexts open, ours open in it.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM as Reference

    assert AESGCM is crypto._OpenSSLGCM  # on Linux with Python's ssl, as the server runs
    key = os.urandom(32)
    ours, reference = AESGCM(key), Reference(key)
    for aad in (None, b"", os.urandom(41)):
        nonce, data = os.urandom(12), os.urandom(size)
        sealed = ours.encrypt(nonce, data, aad)
        assert sealed == reference.encrypt(nonce, data, aad)
        assert ours.decrypt(nonce, sealed, aad) == data == reference.decrypt(nonce, sealed, aad)
        for bad in (sealed[:-1] + bytes([sealed[-1] ^ 1]), sealed[:-17], os.urandom(12)):
            with pytest.raises(InvalidTag):
                ours.decrypt(nonce, bad, aad)
        with pytest.raises(InvalidTag):
            ours.decrypt(nonce, sealed, b"other associated data")
        with pytest.raises(InvalidTag):
            AESGCM(os.urandom(32)).decrypt(nonce, sealed, aad)
        assert ours.decrypt(nonce, sealed, aad) == data  # still usable after a refusal


def test_the_fallback_where_no_openssl_is_found_reads_and_writes_the_same_ciphertexts():
    # crypto._PackageGCM: the cryptography package, used where the process's libcrypto is not found.
    key, nonce, aad = os.urandom(32), os.urandom(12), os.urandom(9)
    ours, fallback = crypto._OpenSSLGCM(key), crypto._PackageGCM(key)
    sealed = fallback.encrypt(nonce, b"the same bytes", aad)
    assert sealed == ours.encrypt(nonce, b"the same bytes", aad)
    assert fallback.decrypt(nonce, sealed, aad) == b"the same bytes" == ours.decrypt(nonce, sealed, aad)
    with pytest.raises(InvalidTag):  # its own exception, raised as ours
        fallback.decrypt(nonce, sealed[:-1] + bytes([sealed[-1] ^ 1]), aad)


def test_signing_keys_are_hkdf_sha256_as_the_cryptography_package_derives_them():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    for purpose in ("token", "cookie", "blind:email", "é"):
        key = os.urandom(32)
        expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(key)
        assert crypto._derive(key, purpose) == expected


def test_blind_index_terms_are_a_truncated_hmac_sha256_under_the_purposes_key():
    """The stored search terms' format: a term indexed before must be found after (the hash is
    made from a pre-keyed HMAC copied per term), under every key of the ring, every purpose."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.hmac import HMAC

    keys = (os.urandom(32), os.urandom(32))
    ring = Keyring(keys)
    for purpose in ("search", "kb", "é"):
        for value in ("hello", "héllo", "x" * 40, "", "日本語", "hello"):
            expected = []
            for key in keys:
                mac = HMAC(crypto._derive(key, purpose), hashes.SHA256())
                mac.update(value.encode())
                expected.append(base64.urlsafe_b64encode(mac.finalize()[:16]).decode().rstrip("="))
            assert ring.blind(purpose, value) == expected[0]
            assert ring.blind_all(purpose, value) == tuple(expected)


def test_bad_keys_are_refused_with_a_helpful_message(tmp_path):
    with pytest.raises(ConfigurationError, match="32"):
        load_keyring(base64.b64encode(b"short").decode(), None, tmp_path)
    with pytest.raises(ConfigurationError, match="generate-key"):
        load_keyring("not base64 !!!", None, tmp_path)


def test_embedded_key_file_is_created_private(tmp_path):
    ring = load_keyring(None, None, tmp_path / "data")
    path = tmp_path / "data" / "encryption.key"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert load_keyring(None, None, tmp_path / "data").current_id == ring.current_id  # stable


async def test_rotate_key_reencrypts_everything(tmp_path):
    url = f"sqlite:///{tmp_path / 'rot.db'}"
    old_key, new_key = generate_key(), generate_key()
    svc = build_services(make_settings(url, str(tmp_path), encryption_key=old_key))
    await svc.db.migrate()
    project, _ = await create_project(svc, "Rotating")
    await update_project(svc, project.id, identity_secret="identity-secret-0123456789")
    from pocketping.actions.messages import send_visitor_message
    from pocketping.actions.sessions import connect_visitor

    connected = await connect_visitor(svc, project, None, {}, user_agent=None, ip=None, country=None)
    await send_visitor_message(svc, project.id, connected.session.id, "before rotation", "c1")
    await svc.db.dispose()

    rotated = build_services(make_settings(url, str(tmp_path), encryption_key=new_key,
                                           previous_encryption_keys=old_key))
    counts = await reencrypt_all(rotated.db, encrypted_columns(), batch_size=1)
    assert counts["messages.text"] == 1 and counts["projects.identity_secret"] == 1
    assert await reencrypt_all(rotated.db, encrypted_columns()) == {k: 0 for k in counts}  # idempotent
    await rotated.db.dispose()

    only_new = build_services(make_settings(url, str(tmp_path), encryption_key=new_key))
    from pocketping.actions.messages import list_messages

    found = await list_messages(only_new, project.id, connected.session.id)
    assert [m.text for m in found] == ["before rotation"]
    await only_new.db.dispose()
