"""Identifiers: a readable prefix and a random, URL-safe body."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits

PROJECT = "proj"
SESSION = "sess"
MESSAGE = "msg"
VISITOR = "vis"
BRIDGE = "brg"
WEBHOOK = "wh"
OPERATOR = "op"
EVENT = "evt"
PUBLIC_EVENT = "ev"  # webhook and stream events (same id on every retry)
SAVED_REPLY = "rep"
ERASURE = "era"


def random_token(length: int) -> str:
    """``length`` characters of [A-Za-z0-9], about 5.95 bits of entropy each."""
    # One call to the OS RNG, then base 62 (far cheaper than a choice() per character).
    number = int.from_bytes(secrets.token_bytes(length), "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def new_id(prefix: str, length: int = 20) -> str:
    return f"{prefix}_{random_token(length)}"


def new_public_key() -> str:
    return f"pk_live_{random_token(32)}"


def new_secret_key() -> str:
    return f"sk_live_{random_token(40)}"


def has_prefix(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and len(value) <= 64
