"""The webhook signature: ``PocketPing-Signature: t=<unix>,v1=<hex HMAC-SHA256>``.

The key is the endpoint's secret string (UTF-8 bytes); the message is ``"<t>.<raw body>"``.
Receivers compare in constant time and refuse timestamps more than 5 minutes away.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "PocketPing-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"
