"""Encryption at rest (AES-256-GCM) and signing keys derived from the same secret.

A ciphertext looks like ``enc1:<key id>:<base64url(nonce + ciphertext + tag)>``. The key id
(8 hex characters of the key's SHA-256) lets several keys coexist while ``pocketping
rotate-key`` re-encrypts old rows with the current key.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import functools
import hashlib
import hmac
import os
import secrets
import sys
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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
    """HKDF-SHA256 (RFC 5869), no salt, 32 bytes: one round of the expansion."""
    prk = hmac.new(b"\0" * 32, key, hashlib.sha256).digest()
    return hmac.new(prk, purpose.encode() + b"\1", hashlib.sha256).digest()


# --- AES-256-GCM -------------------------------------------------------------------------
# Through the OpenSSL library the process has already loaded for TLS (Python's ``ssl`` module,
# imported by the web server), not the ``cryptography`` package, whose own copy of OpenSSL
# costs a server about 8 MB of memory. Where that library cannot be found (not Linux, Python
# built without ``ssl``), ``cryptography`` does the same. Same algorithm, same bytes.

class Aead(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class InvalidTag(Exception):
    """A ciphertext that fails authentication: tampered with, cut, or another key's."""


_GCM_SET_IVLEN, _GCM_GET_TAG, _GCM_SET_TAG = 0x9, 0x10, 0x11
_TAG = 16


def _loaded_libcrypto() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import _ssl  # noqa: F401  (loads the libcrypto this process uses)

        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/libcrypto" in line}
        if len(paths) != 1:
            return None
        lib = ctypes.CDLL(paths.pop())
        # No argtypes (ctypes' conversions would cost more than the cipher): pointers are passed
        # as c_void_p objects, buffers as bytes, sizes as small ints.
        lib.EVP_aes_256_gcm.restype = ctypes.c_void_p
        lib.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
        if not lib.EVP_aes_256_gcm():
            return None
        return lib
    except (ImportError, OSError, AttributeError, IndexError):
        return None


_libcrypto = _loaded_libcrypto()


class _OpenSSLGCM:
    """AES-256-GCM with a 12-byte nonce and a 16-byte tag appended, as ``cryptography``'s
    ``AESGCM`` (``encrypt(nonce, data, aad)`` / ``decrypt(nonce, data, aad)``). One context per
    direction, keyed once and reused under a lock (each call then sets only the nonce)."""

    __slots__ = ("__weakref__", "_dec", "_enc", "_lock")

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("AES-256-GCM takes a 32-byte key")
        lib = _lib()
        self._lock = threading.Lock()
        contexts = []
        for init in (lib.EVP_EncryptInit_ex, lib.EVP_DecryptInit_ex):
            ctx = ctypes.c_void_p(lib.EVP_CIPHER_CTX_new())
            if not ctx.value:
                raise MemoryError("EVP_CIPHER_CTX_new")
            contexts.append(ctx)
            if (init(ctx, ctypes.c_void_p(lib.EVP_aes_256_gcm()), None, None, None) != 1
                    or lib.EVP_CIPHER_CTX_ctrl(ctx, _GCM_SET_IVLEN, 12, None) != 1
                    or init(ctx, None, None, bytes(key), None) != 1):
                _free_contexts(contexts)
                raise ValueError("AES-GCM could not start")
        self._enc, self._dec = contexts
        weakref.finalize(self, _free_contexts, contexts)

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        lib = _lib()
        if len(nonce) != 12:
            raise ValueError("the nonce must be 12 bytes")
        n = ctypes.c_int(0)
        out = ctypes.create_string_buffer(len(data) + _TAG)
        with self._lock:
            ctx = self._enc
            if (lib.EVP_EncryptInit_ex(ctx, None, None, None, nonce) != 1
                    or (associated_data and lib.EVP_EncryptUpdate(ctx, None, ctypes.byref(n), associated_data,
                                                                  len(associated_data)) != 1)
                    or lib.EVP_EncryptUpdate(ctx, out, ctypes.byref(n), data, len(data)) != 1):
                raise ValueError("AES-GCM could not encrypt")
            size = n.value
            if (lib.EVP_EncryptFinal_ex(ctx, ctypes.byref(out, size), ctypes.byref(n)) != 1
                    or lib.EVP_CIPHER_CTX_ctrl(ctx, _GCM_GET_TAG, _TAG, ctypes.byref(out, size + n.value)) != 1):
                raise ValueError("AES-GCM could not finish")
            return out.raw[:size + n.value + _TAG]

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        lib = _lib()
        if len(nonce) != 12:
            raise ValueError("the nonce must be 12 bytes")
        if len(data) < _TAG:
            raise InvalidTag()
        body, tag = data[:-_TAG], data[-_TAG:]
        n = ctypes.c_int(0)
        out = ctypes.create_string_buffer(len(body) + _TAG)
        with self._lock:
            ctx = self._dec
            if (lib.EVP_DecryptInit_ex(ctx, None, None, None, nonce) != 1
                    or (associated_data and lib.EVP_DecryptUpdate(ctx, None, ctypes.byref(n), associated_data,
                                                                  len(associated_data)) != 1)
                    or lib.EVP_DecryptUpdate(ctx, out, ctypes.byref(n), body, len(body)) != 1):
                raise ValueError("AES-GCM could not decrypt")
            size = n.value
            if (lib.EVP_CIPHER_CTX_ctrl(ctx, _GCM_SET_TAG, _TAG, tag) != 1
                    or lib.EVP_DecryptFinal_ex(ctx, ctypes.byref(out, size), ctypes.byref(n)) != 1):
                raise InvalidTag()
            return out.raw[:size + n.value]


def _lib() -> ctypes.CDLL:
    assert _libcrypto is not None
    return _libcrypto


def _free_contexts(contexts: list[ctypes.c_void_p]) -> None:
    for ctx in contexts:
        _lib().EVP_CIPHER_CTX_free(ctx)


class _PackageGCM:
    """``cryptography``'s ``AESGCM``, its failed authentication raised as ``InvalidTag``."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM as PackageAESGCM

        self._aead = PackageAESGCM(key)

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        return self._aead.encrypt(nonce, data, associated_data)

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        from cryptography.exceptions import InvalidTag as PackageInvalidTag

        try:
            return self._aead.decrypt(nonce, data, associated_data)
        except PackageInvalidTag as exc:
            raise InvalidTag() from exc


AESGCM: type[_OpenSSLGCM] | type[_PackageGCM] = _OpenSSLGCM if _libcrypto is not None else _PackageGCM


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
    def _aead(self) -> Aead:
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
        aead = self._aead if kid == self.current_id else self._older(kid)
        return aead.decrypt(raw[:12], raw[12:], None).decode()

    def _older(self, kid: str) -> Aead:
        """The cipher of an older key (made once: a context is keyed once)."""
        aead = self._older_aeads.get(kid)
        if aead is None:
            aead = self._older_aeads[kid] = AESGCM(self._ids[kid])
        return aead

    @functools.cached_property
    def _older_aeads(self) -> dict[str, Aead]:
        return {}

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


@functools.lru_cache(maxsize=64)
def _blinder(key: bytes, purpose: str) -> hmac.HMAC:
    """An HMAC keyed for ``purpose``, its key schedule done once: each term copies it (cheaper
    than keying a new HMAC per term, and a message has one term per word prefix)."""
    return hmac.new(_derive(key, purpose), digestmod=hashlib.sha256)


def _blind(key: bytes, purpose: str, value: str) -> str:
    mac = _blinder(key, purpose).copy()
    mac.update(value.encode())
    # 16 bytes are 22 base64 characters and "==": the same text as _b64e's, unpadded.
    return base64.urlsafe_b64encode(mac.digest()[:16])[:22].decode()


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
