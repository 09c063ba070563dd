"""One exception tree with stable error codes.

Codes are part of the public protocol (docs/protocol.md); the HTTP and WebSocket
edges turn these into responses, nothing else does.
"""

from __future__ import annotations

from typing import Any


class PocketPingError(Exception):
    code = "internal_error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        body.update(self.details)
        return body


class InvalidInput(PocketPingError):
    code = "invalid_input"
    status = 422


class NotFound(PocketPingError):
    code = "not_found"
    status = 404


class Unauthorized(PocketPingError):
    code = "unauthorized"
    status = 401


class Forbidden(PocketPingError):
    code = "forbidden"
    status = 403


class Conflict(PocketPingError):
    code = "conflict"
    status = 409


class RateLimited(PocketPingError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: float, **details: Any) -> None:
        super().__init__(message, retryAfter=round(retry_after, 3), **details)
        self.retry_after = retry_after


class ConfigurationError(PocketPingError):
    code = "configuration_error"
    status = 500


class DeliveryError(PocketPingError):
    """A delivery to a bridge or webhook failed; ``retry_after`` hints the next try."""

    code = "delivery_failed"
    status = 502

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after
        self.permanent = permanent


# Kept for the name the architecture notes use.
BridgeDeliveryError = DeliveryError
