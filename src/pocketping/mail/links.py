"""The addresses and links a mail carries: the visitor's reply address, the page to continue on."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit, urlunsplit

from pocketping.crypto import Keyring


def reply_token(keyring: Keyring, session_id: str) -> str:
    """The token of a session's reply address: derived (the same in every mail), lowercase (mail
    servers may fold the case of a local part), and only its SHA-256 is stored."""
    digest = hashlib.sha256(keyring.sign("pocketping/reply-address/v1", session_id).encode()).digest()
    return base64.b32encode(digest[:15]).decode().lower()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.lower().encode()).hexdigest()


def continue_url(page: object, token: str) -> str | None:
    """The page where the visitor chatted, with the resume token in its fragment (never sent to
    the site's server, read by the widget)."""
    if not isinstance(page, str):
        return None
    parts = urlsplit(page)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, f"pocketping={token}"))
