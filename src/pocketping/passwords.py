"""Operator passwords: scrypt hashes (hashlib, no extra dependency), constant-time checks.

A stored hash reads ``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>`` (base64url), so the cost can be
raised later while old hashes keep working (``needs_rehash`` says when to upgrade one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from pocketping.errors import InvalidInput

# n = 2**15, r = 8: 32 MiB and roughly 50-100 ms per hash on a small server (OWASP's minimum
# for scrypt is n = 2**17 with r = 8 and p = 1 *or* equivalent cost; 2**15 keeps a 2-core
# box responsive while the login rate limits bound an online attack).
LOG_N = 15
R = 8
P = 1
DKLEN = 32
MIN_LENGTH = 12
MAX_LENGTH = 1024

_DUMMY: list[str] = []


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    n = 1 << log_n
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=DKLEN,
                          maxmem=256 * n * r * p + (1 << 20))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${LOG_N}${R}${P}${_b64e(salt)}${_b64e(_scrypt(password, salt, LOG_N, R, P))}"


def verify_password(password: str, stored: str | None) -> bool:
    """True if ``password`` matches; with no stored hash (unknown account) the same work is done
    against a dummy hash, so timing does not tell which emails exist."""
    if stored is None:
        if not _DUMMY:
            _DUMMY.append(hash_password(secrets.token_urlsafe(16)))
        stored = _DUMMY[0]
        password = password + "\x00"  # never matches the dummy
    if len(password) > MAX_LENGTH:
        return False
    try:
        scheme, log_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, _b64d(salt), int(log_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, _b64d(digest))


def needs_rehash(stored: str) -> bool:
    return not stored.startswith(f"scrypt${LOG_N}${R}${P}$")


def generate_password() -> str:
    """A strong random password (about 143 bits), easy to copy: letters, digits, - and _."""
    return secrets.token_urlsafe(18)


def check_new_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters", code="weak_password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"a password is at most {MAX_LENGTH} characters", code="invalid_password")
    return password
