"""Errors: every failure the server reports carries its stable ``code``."""

from __future__ import annotations

from typing import Any


class PocketPingError(Exception):
    """Base class. ``code`` is the server's error code (``session_not_found``, ``rate_limited`` ...)."""

    def __init__(self, message: str, *, code: str = "error", status: int | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details or {}

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{self.code}: {self.message}{status}"


class InvalidRequestError(PocketPingError):
    """422 or 400: the input was refused; ``details.get("fields")`` says which fields."""


class AuthenticationError(PocketPingError):
    """401: missing or wrong secret key."""


class PermissionDeniedError(PocketPingError):
    """403."""


class NotFoundError(PocketPingError):
    """404: no such object in this project."""


class ConflictError(PocketPingError):
    """409."""


class RateLimitError(PocketPingError):
    """429 after the retries ran out; ``retry_after`` in seconds."""

    @property
    def retry_after(self) -> float | None:
        value = self.details.get("retryAfter")
        return float(value) if isinstance(value, (int, float)) else None


class ServerError(PocketPingError):
    """5xx after the retries ran out."""


class APIConnectionError(PocketPingError):
    """The server could not be reached (after the retries)."""


class WebhookVerificationError(PocketPingError):
    """A webhook whose signature is missing, wrong or too old (``code`` says which)."""


_BY_STATUS: dict[int, type[PocketPingError]] = {
    400: InvalidRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
    409: ConflictError, 422: InvalidRequestError, 429: RateLimitError,
}


def error_from_response(status: int, body: Any) -> PocketPingError:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    code = str(error.get("code") or ("server_error" if status >= 500 else "http_error"))
    message = str(error.get("message") or f"the server answered HTTP {status}")
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else PocketPingError)
    return cls(message, code=code, status=status, details=details)
