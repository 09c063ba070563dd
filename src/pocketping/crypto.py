"""Encryption at rest (AES-256-GCM) and signing keys derived from the same secret.

A ciphertext looks like ``enc1:<key id>:<base64url(nonce + ciphertext + tag)>``. The key id
(8 hex characters of the key's SHA-256) lets several keys coexist while ``pocketping
rotate-key`` re-encrypts old rows with the current key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pocketping.errors import ConfigurationError

PREFIX = "enc1"
KEY_FILE = "encryption.key"


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_key(text: str) -> bytes:
    text = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError("POCKETPING_ENCRYPTION_KEY must be base64 of 32 random bytes; "
                                 "create one with: pocketping generate-key") from exc
    if len(raw) != 32:
        raise ConfigurationError(f"POCKETPING_ENCRYPTION_KEY decodes to {len(raw)} bytes; it must be 32 "
                                 "(AES-256). Create one with: pocketping generate-key")
    return raw


def generate_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


@functools.lru_cache(maxsize=64)
def _derive(key: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(key)


@dataclass(frozen=True, eq=False)
class Keyring:
    """The current key first, then older keys that can still decrypt."""

    keys: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigurationError("no encryption key configured")

    @functools.cached_property
    def current_id(self) -> str:
        return key_id(self.keys[0])

    @functools.cached_property
    def _aead(self) -> AESGCM:
        return AESGCM(self.keys[0])

    def _by_id(self) -> dict[str, bytes]:
        return self._ids

    @functools.cached_property
    def _ids(self) -> dict[str, bytes]:
        return {key_id(k): k for k in self.keys}

    def key_by_id(self, kid: str) -> bytes | None:
        """The raw key with this id, if configured (for streamed file encryption)."""
        return self._ids.get(kid)

    @property
    def current_key(self) -> bytes:
        return self.keys[0]

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), None)
        return f"{PREFIX}:{self.current_id}:{_b64e(nonce + sealed)}"

    def decrypt(self, stored: str) -> str:
        try:
            prefix, kid, body = stored.split(":", 2)
        except ValueError as exc:
            raise ConfigurationError("stored value is not a PocketPing ciphertext") from exc
        if prefix != PREFIX:
            raise ConfigurationError("stored value is not a PocketPing ciphertext")
        key = self._by_id().get(kid)
        if key is None:
            raise ConfigurationError(
                f"data was encrypted with key {kid}, which is not configured; add it to "
                "POCKETPING_PREVIOUS_ENCRYPTION_KEYS")
        raw = _b64d(body)
        return AESGCM(key).decrypt(raw[:12], raw[12:], None).decode()

    def needs_rotation(self, stored: str) -> bool:
        return not stored.startswith(f"{PREFIX}:{self.current_id}:")

    # Signing: derived keys, so one secret backs encryption, tokens and cookies.
    def sign(self, purpose: str, message: str) -> str:
        mac = hmac.new(_derive(self.keys[0], purpose), message.encode(), hashlib.sha256).digest()
        return _b64e(mac[:24])

    def verify(self, purpose: str, message: str, signature: str) -> bool:
        if not signature.isascii():  # compare_digest refuses non-ASCII str; no signature of ours is
            return False
        for key in self.keys:
            mac = hmac.new(_derive(key, purpose), message.encode(), hashlib.sha256).digest()
            if hmac.compare_digest(_b64e(mac[:24]), signature):
                return True
        return False

    # Blind index: a keyed hash per search term (truncated: equality is all it is used for).
    def blind(self, purpose: str, value: str) -> str:
        """``value``'s hash under the current key (what gets stored)."""
        return _blind(self.keys[0], purpose, value)

    def blind_all(self, purpose: str, value: str) -> tuple[str, ...]:
        """``value``'s hash under every key (what a query looks for, also mid-rotation)."""
        return tuple(_blind(key, purpose, value) for key in self.keys)


def _blind(key: bytes, purpose: str, value: str) -> str:
    return _b64e(hmac.new(_derive(key, purpose), value.encode(), hashlib.sha256).digest()[:16])


def load_keyring(encryption_key: str | None, previous: str | None, data_dir: Path,
                 create: bool = True) -> Keyring:
    """Keys from the settings, or from ``<data_dir>/encryption.key`` (created 0600 on first run)."""
    keys: list[bytes] = []
    if encryption_key:
        keys.append(parse_key(encryption_key))
    else:
        path = data_dir / KEY_FILE
        if not path.exists():
            if not create:
                raise ConfigurationError(f"no encryption key: set POCKETPING_ENCRYPTION_KEY or create {path}")
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(generate_key() + "\n")
        keys.extend(parse_key(line) for line in path.read_text().split() if line.strip())
    if previous:
        keys.extend(parse_key(part) for part in previous.split(",") if part.strip())
    seen: dict[str, bytes] = {}
    for key in keys:
        seen.setdefault(key_id(key), key)
    return Keyring(tuple(seen.values()))


def prepend_key_file(data_dir: Path, new_key: str) -> None:
    """Make ``new_key`` the current key of the embedded key file, keeping the old ones."""
    path = data_dir / KEY_FILE
    old = path.read_text() if path.exists() else ""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new_key + "\n" + old)
    os.replace(tmp, path)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
