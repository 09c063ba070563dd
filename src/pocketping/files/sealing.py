"""Files encrypted at rest, streamed: AES-256-GCM over 64 KiB chunks.

Layout: ``PPF1`` + the key id (8 ASCII hex characters), then chunks of ``nonce (12) +
ciphertext + tag (16)``. Each chunk's associated data binds the header, the blob's name, the
chunk's index and whether it is the last one, so chunks cannot be reordered, swapped between
files or cut off without the decryption failing. Neither direction holds more than a chunk or
two in memory, whatever the file's size.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

from pocketping.crypto import AESGCM, Aead, InvalidTag, Keyring
from pocketping.errors import ConfigurationError

MAGIC = b"PPF1"
HEADER = len(MAGIC) + 8
CHUNK = 64 * 1024
SEALED = CHUNK + 12 + 16


class CorruptFile(ConfigurationError):
    code = "file_corrupt"


def _aad(header: bytes, name: str, index: int, last: bool) -> bytes:
    return header + name.encode() + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def key_id_of(header: bytes) -> str:
    if len(header) < HEADER or header[:4] != MAGIC:
        raise CorruptFile("stored file is not a PocketPing sealed file")
    return header[4:HEADER].decode("ascii", "replace")


class Sealer:
    """Encrypts a stream fed piece by piece (any sizes) with the current key: ``feed``, then ``finish``."""

    def __init__(self, keyring: Keyring, name: str) -> None:
        self._header = MAGIC + keyring.current_id.encode("ascii")
        self._aead = AESGCM(keyring.current_key)
        self._name = name
        self._pending = b""
        self._index = 0
        self._started = False

    def _chunk(self, plain: bytes, last: bool) -> bytes:
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, plain, _aad(self._header, self._name, self._index, last))
        self._index += 1
        return sealed

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        if not self._started:
            self._started = True
            out.append(self._header)
        self._pending += data
        while len(self._pending) > CHUNK:  # more follows: this chunk is not the last
            out.append(self._chunk(self._pending[:CHUNK], False))
            self._pending = self._pending[CHUNK:]
        return out

    def finish(self) -> list[bytes]:
        out = self.feed(b"")
        out.append(self._chunk(self._pending, True))
        self._pending = b""
        return out


def seal(keyring: Keyring, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Encrypt a stream of plaintext pieces (any sizes) with the current key."""
    sealer = Sealer(keyring, name)
    for piece in chunks:
        yield from sealer.feed(piece)
    yield from sealer.finish()


class Unsealer:
    """Decrypts a sealed stream fed piece by piece (``feed``), then ``finish``."""

    def __init__(self, keyring: Keyring, name: str) -> None:
        self._keyring = keyring
        self._name = name
        self._buf = b""
        self._header: bytes | None = None
        self._aead: Aead | None = None
        self._index = 0

    def _open(self, sealed: bytes, last: bool) -> bytes:
        assert self._aead is not None and self._header is not None
        try:
            plain = self._aead.decrypt(sealed[:12], sealed[12:], _aad(self._header, self._name, self._index, last))
        except InvalidTag as exc:
            raise CorruptFile(f"stored file {self._name} failed its integrity check") from exc
        self._index += 1
        return plain

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        if self._header is None:
            if len(self._buf) < HEADER:
                return []
            self._header, self._buf = self._buf[:HEADER], self._buf[HEADER:]
            kid = key_id_of(self._header)
            key = self._keyring.key_by_id(kid)
            if key is None:
                raise ConfigurationError(f"file {self._name} was encrypted with key {kid}, which is not "
                                         "configured; add it to POCKETPING_PREVIOUS_ENCRYPTION_KEYS")
            self._aead = AESGCM(key)
        out: list[bytes] = []
        while len(self._buf) > SEALED:  # more follows: this chunk is not the last
            sealed, self._buf = self._buf[:SEALED], self._buf[SEALED:]
            out.append(self._open(sealed, False))
        return out

    def finish(self) -> bytes:
        if self._header is None or len(self._buf) < 28:
            raise CorruptFile(f"stored file {self._name} is truncated")
        return self._open(self._buf, True)

    def key_id(self) -> str | None:
        return key_id_of(self._header) if self._header else None


async def unseal(keyring: Keyring, name: str, sealed: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    opener = Unsealer(keyring, name)
    async for piece in sealed:
        for plain in opener.feed(piece):
            yield plain
    last = opener.finish()
    if last:
        yield last
