"""Signed download links for stored files: ``/files/<id>?exp=<unix time>&sig=<hmac>``.

Whoever holds a link may fetch the file until it expires; the link names one file and one
expiry, signed with a key derived from the encryption keyring (rotating keys keeps old links
valid while the old key stays configured).
"""

from __future__ import annotations

from datetime import datetime

from pocketping.crypto import Keyring

_PURPOSE = "pocketping/file-link/v1"
TTL_SECONDS = 24 * 3600  # long enough for a webhook retried over a day, short enough to leak little


def expiry(now: datetime, ttl_seconds: int = TTL_SECONDS) -> int:
    # Rounded up to the hour so a page of messages read at once shares links (caches, stable HTML).
    return (int(now.timestamp()) // 3600 + 1) * 3600 + ttl_seconds


def link(keyring: Keyring, file_id: str, exp: int) -> str:
    return f"/files/{file_id}?exp={exp}&sig={keyring.sign(_PURPOSE, f'{file_id}.{exp}')}"


def signed_link(keyring: Keyring, file_id: str, now: datetime) -> str:
    return link(keyring, file_id, expiry(now))


def check(keyring: Keyring, file_id: str, exp: int, sig: str) -> bool:
    """Whether ``sig`` is ours for this file and expiry (the caller checks the expiry)."""
    return keyring.verify(_PURPOSE, f"{file_id}.{exp}", sig)
