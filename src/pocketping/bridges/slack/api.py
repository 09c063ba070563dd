"""A small Slack Web API client: one method call per request, errors translated at the edge.

Slack answers most failures with HTTP 200 and ``{"ok": false, "error": "..."}``; rate limits
come as HTTP 429 with ``Retry-After``; 5xx and timeouts are transient. Each becomes a
``SlackError`` carrying what the caller needs to decide (retry, when, or give up).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

# Errors that will not go away by retrying: configuration the operator must fix.
PERMANENT_ERRORS = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission",
    "missing_scope", "channel_not_found", "not_in_channel", "is_archived", "restricted_action",
    "restricted_action_read_only_channel", "restricted_action_non_threadable_channel", "ekm_access_denied",
    "invalid_arguments", "invalid_blocks", "msg_too_long", "no_text", "not_allowed_token_type",
})


class SlackError(Exception):
    def __init__(self, method: str, error: str, *, status: int = 200, retry_after: float | None = None,
                 ambiguous: bool = False, response: dict[str, Any] | None = None) -> None:
        super().__init__(f"Slack {method}: {error}")
        self.method = method
        self.error = error
        self.status = status
        self.retry_after = retry_after
        # The request may have taken effect (a timeout after sending, a 5xx): check before repeating it.
        self.ambiguous = ambiguous
        self.response = response or {}

    @property
    def permanent(self) -> bool:
        return self.error in PERMANENT_ERRORS


class SlackApi:
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.token = token
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._owns_client = client is None
        self.last_scopes: frozenset[str] | None = None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """POST ``method``; returns the answer when ``ok``, raises ``SlackError`` otherwise.

        The body is form-encoded, which every method accepts (several read methods refuse JSON
        bodies); structured arguments (``blocks``, ``metadata``) go as JSON strings, as documented.
        """
        body = {k: _form_value(v) for k, v in params.items() if v is not None}
        headers = {"Authorization": f"Bearer {self.token}"}
        if self._client.is_closed:
            # The bridge was stopped (removed, reconfigured, shutting down) under a delivery: not sent.
            raise SlackError(method, "the bridge is stopping", status=0)
        try:
            response = await self._client.post(self.base_url + method, data=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Never reached Slack: safe to repeat.
            raise SlackError(method, f"connection failed ({type(exc).__name__})", status=0) from exc
        except httpx.HTTPError as exc:
            raise SlackError(method, f"no answer ({type(exc).__name__})", status=0, ambiguous=True) from exc
        scopes = response.headers.get("x-oauth-scopes")
        if scopes is not None:
            self.last_scopes = frozenset(s.strip() for s in scopes.split(",") if s.strip())
        if response.status_code == 429:
            raise SlackError(method, "ratelimited", status=429, retry_after=_retry_after(response))
        if response.status_code >= 500:
            raise SlackError(method, f"HTTP {response.status_code}", status=response.status_code,
                             retry_after=_retry_after(response), ambiguous=True)
        try:
            data = response.json()
        except ValueError as exc:
            raise SlackError(method, f"HTTP {response.status_code} with a body that is not JSON",
                             status=response.status_code, ambiguous=True) from exc
        if not isinstance(data, dict):
            raise SlackError(method, "unexpected answer", status=response.status_code, ambiguous=True)
        if not data.get("ok"):
            error = str(data.get("error") or f"HTTP {response.status_code}")
            ambiguous = error in ("fatal_error", "internal_error", "request_timeout")
            retry_after = _retry_after(response) if error in ("ratelimited", "rate_limited") else None
            raise SlackError(method, error, status=response.status_code, retry_after=retry_after,
                             ambiguous=ambiguous, response=data)
        return data


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value).decode()
    return str(value)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
