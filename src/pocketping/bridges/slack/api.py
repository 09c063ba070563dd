"""A small Slack Web API client: one method call per request, errors translated at the edge.

Slack answers most failures with HTTP 200 and ``{"ok": false, "error": "..."}``; rate limits
come as HTTP 429 with ``Retry-After``; 5xx and timeouts are transient. Each becomes a
``SlackError`` carrying what the caller needs to decide (retry, when, or give up).

The calls a delivery makes (``post_message``, ``history``, ``thread_parent``,
``update_message``) are the one place Slack's errors become the relay's (``delivery_error``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from pocketping.bridges.base import DeleteRefused, ThreadGone, Throttled
from pocketping.bridges.deps import DEFAULT_HTTP, HttpClientFactory
from pocketping.bridges.download import check_host, read_limited
from pocketping.errors import DeliveryError

# Errors that will not go away by retrying: configuration the operator must fix.
PERMANENT_ERRORS = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission",
    "missing_scope", "channel_not_found", "not_in_channel", "is_archived", "restricted_action",
    "restricted_action_read_only_channel", "restricted_action_non_threadable_channel", "ekm_access_denied",
    "invalid_arguments", "invalid_blocks", "msg_too_long", "no_text", "not_allowed_token_type",
})
# Errors about what we sent: retrying the same content cannot help.
CONTENT_ERRORS = frozenset({"msg_too_long", "no_text", "invalid_blocks", "invalid_arguments",
                            "too_many_attachments", "invalid_metadata_format", "invalid_metadata_schema"})
# What to do about the others, said with the error (``pocketping bridge status`` shows it).
FIXES = {
    "not_in_channel": "invite the bot to the channel: type /invite @YourBot in it",
    "channel_not_found": "check --channel-id; for a private channel, invite the bot first",
    "is_archived": "the channel is archived: unarchive it or point the bridge at another channel",
    "invalid_auth": "the bot token is wrong or was revoked: copy it again from OAuth & Permissions",
    "token_revoked": "the app was uninstalled or the token revoked: reinstall the app",
    "account_inactive": "the app was uninstalled or the token revoked: reinstall the app",
    "missing_scope": "add the missing bot scopes in OAuth & Permissions and reinstall the app",
}
HISTORY_PAGES = 20  # at most this many pages of 200 messages are read back


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


class MaybePosted(DeliveryError):
    """Slack gave no clear answer (a timeout after sending, a 5xx): the call may have taken
    effect, so look before doing it again."""


def delivery_error(exc: SlackError, thread_ts: str | None = None) -> DeliveryError | ThreadGone:
    """What a failed call means to the relay (``thread_ts``: the thread the call is about)."""
    if exc.error in ("thread_not_found", "message_not_found") and thread_ts is not None:
        return ThreadGone(f"Slack thread {thread_ts} no longer exists")
    if exc.status == 429 or exc.error in ("ratelimited", "rate_limited"):
        return Throttled("Slack rate limit", retry_after=exc.retry_after if exc.retry_after is not None else 1.0)
    if exc.error in CONTENT_ERRORS:
        return DeliveryError(f"Slack refused the message: {exc.error}", permanent=True)
    hint = FIXES.get(exc.error)
    message = f"Slack {exc.method} failed: {exc.error}" + (f" ({hint})" if hint else "")
    if exc.ambiguous:
        return MaybePosted(message, retry_after=exc.retry_after)
    return DeliveryError(message, retry_after=exc.retry_after)


class SlackApi:
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0,
                 http: HttpClientFactory = DEFAULT_HTTP) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.token = token
        self._client = http(timeout=timeout)
        self.last_scopes: frozenset[str] | None = None

    async def aclose(self) -> None:
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

    # --- what a delivery calls: Slack's errors as the relay's --------------------------------

    async def post_message(self, channel: str, *, text: str, thread_ts: str | None = None,
                           blocks: list[dict[str, Any]] | None = None,
                           metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            answer = await self.call("chat.postMessage", channel=channel, text=text, thread_ts=thread_ts,
                                     blocks=blocks, metadata=metadata, unfurl_links=False, unfurl_media=False)
        except SlackError as exc:
            raise delivery_error(exc, thread_ts) from exc
        message = answer.get("message")
        if thread_ts is not None and isinstance(message, Mapping) and message.get("thread_ts") != thread_ts:
            # The parent is gone and Slack posted a stray top-level message instead.
            with contextlib.suppress(SlackError):
                await self.call("chat.delete", channel=channel, ts=answer.get("ts"))
            raise ThreadGone(f"Slack thread {thread_ts} no longer exists")
        return answer

    async def history(self, method: str, channel: str, oldest: float, *,
                      thread_ts: str | None = None) -> list[dict[str, Any]]:
        """The messages (with their metadata) of the channel (``conversations.history``) or of
        the thread ``thread_ts`` (``conversations.replies``) since ``oldest``."""
        messages: list[dict[str, Any]] = []
        cursor = None
        params = {} if thread_ts is None else {"ts": thread_ts}
        try:
            for _ in range(HISTORY_PAGES):
                page = await self.call(method, channel=channel, oldest=f"{oldest:.6f}", include_all_metadata=True,
                                       limit=200, cursor=cursor, **params)
                messages.extend(m for m in page.get("messages") or () if isinstance(m, dict))
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackError as exc:
            raise delivery_error(exc, thread_ts) from exc
        return messages

    async def thread_parent(self, channel: str, thread_ts: str) -> dict[str, Any] | None:
        """A thread's parent message (the card), None if Slack did not return it."""
        try:
            page = await self.call("conversations.replies", channel=channel, ts=thread_ts, limit=1,
                                   include_all_metadata=True)
        except SlackError as exc:
            if exc.error == "thread_not_found":
                raise ThreadGone(f"Slack thread {thread_ts} no longer exists") from exc
            raise delivery_error(exc) from exc
        return next((m for m in page.get("messages") or () if m.get("ts") == thread_ts), None)

    async def upload_file(self, channel: str, thread_ts: str, *, name: str, data: bytes, content_type: str,
                          comment: str) -> str:
        """Slack's external upload flow: ``files.getUploadURLExternal``, the bytes POSTed to the
        ``upload_url`` it gives, then ``files.completeUploadExternal`` into the thread. The file id."""
        try:
            started = await self.call("files.getUploadURLExternal", filename=name, length=len(data))
            file_id, upload_url = str(started["file_id"]), str(started["upload_url"])
            try:
                sent = await self._client.post(upload_url, content=data, headers={"Content-Type": content_type})
            except httpx.HTTPError as exc:
                raise SlackError("upload", f"no answer ({type(exc).__name__})", status=0) from exc
            if sent.status_code != 200:
                raise SlackError("upload", f"HTTP {sent.status_code}", status=sent.status_code)
            await self.call("files.completeUploadExternal", files=[{"id": file_id, "title": name}],
                            channel_id=channel, thread_ts=thread_ts, initial_comment=comment or None)
        except SlackError as exc:
            raise delivery_error(exc, thread_ts) from exc
        return file_id

    async def download(self, url: str, limit: int) -> bytes:
        """A file shared in a thread (``url_private``), with the bot token. The token goes only
        to Slack's own hosts (the API's host or *.slack.com), never to a URL a message names elsewhere."""
        check_host(url, "Slack", ((urlsplit(self.base_url).hostname or "").lower(),), (".slack.com",))
        return await read_limited(self._client, url, limit, platform="Slack",
                                  headers={"Authorization": f"Bearer {self.token}"})

    async def update_message(self, channel: str, ts: str, **params: Any) -> None:
        try:
            await self.call("chat.update", channel=channel, ts=ts, **params)
        except SlackError as exc:
            raise delivery_error(exc) from exc

    async def delete_message(self, channel: str, ts: str) -> bool:
        """``chat.delete``: True once deleted, False if the message was already gone (no error).
        Slack lets a bot delete its own messages only: a refusal (``cant_delete_message`` ...)
        is ``DeleteRefused`` (permanent)."""
        try:
            await self.call("chat.delete", channel=channel, ts=ts)
        except SlackError as exc:
            if exc.error == "message_not_found":
                return False
            if exc.error in DELETE_REFUSALS:
                raise DeleteRefused(f"Slack refused to delete the message: {exc.error}") from exc
            raise delivery_error(exc) from exc
        return True

    async def delete_file(self, file_id: str) -> bool:
        """``files.delete`` (a file we uploaded): True once deleted, False if it was already gone.
        A refusal (``cant_delete_file``, ``missing_scope`` ...) is ``DeleteRefused``."""
        try:
            await self.call("files.delete", file=file_id)
        except SlackError as exc:
            if exc.error in ("file_not_found", "file_deleted"):
                return False
            if exc.error in FILE_DELETE_REFUSALS:
                raise DeleteRefused(f"Slack refused to delete the file: {exc.error}") from exc
            raise delivery_error(exc) from exc
        return True


# chat.delete's refusals that will not change by trying again.
DELETE_REFUSALS = ("cant_delete_message", "compliance_exports_prevent_deletion", "channel_not_found",
                   "not_in_channel", "is_archived", "missing_scope", "invalid_auth", "token_revoked")
# files.delete's.
FILE_DELETE_REFUSALS = ("cant_delete_file", "missing_scope", "not_allowed_token_type", "invalid_auth",
                        "token_revoked", "account_inactive")


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
