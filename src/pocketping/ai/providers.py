"""The two model APIs, over plain httpx.

* ``openai``: any OpenAI-compatible Chat Completions API (OpenAI, Ollama, vLLM, llama.cpp's
  server, OpenRouter ...): ``POST {base}/chat/completions``.
* ``anthropic``: the Messages API: ``POST {base}/v1/messages``.

Every failure becomes a ``ModelError`` with a short, loggable message; nothing the model
or the network sends back reaches a visitor unless it parsed as an answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from pocketping import netguard
from pocketping.ai.prompt import Prompt
from pocketping.ai.text import estimate_tokens
from pocketping.ai.usage import chat_tokens, record_tokens

ANTHROPIC_VERSION = "2023-06-01"
MAX_RESPONSE_BYTES = 1 << 20

HANDOFF_TOOL = "handoff_to_human"
# OpenAI-compatible function calling: the model may hand the conversation to a person.
OPENAI_TOOLS: list[dict[str, Any]] = [{
    "type": "function",
    "function": {
        "name": HANDOFF_TOOL,
        "description": "Hand the conversation over to a person from the team when you cannot help, when the "
                       "visitor needs something only a person can do, or when they are upset. The AI then stops "
                       "answering this conversation and the team is told.",
        "parameters": {"type": "object", "properties": {
            "reason": {"type": "string", "description": "Why a person is needed, in a few words, for the team"}},
            "required": []},
    },
}]
# The same tool in Anthropic's Messages API shape.
ANTHROPIC_TOOLS: list[dict[str, Any]] = [{"name": HANDOFF_TOOL,
                                          "description": OPENAI_TOOLS[0]["function"]["description"],
                                          "input_schema": OPENAI_TOOLS[0]["function"]["parameters"]}]


class ModelError(Exception):
    def __init__(self, message: str, *, code: str = "model_error", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Reply:
    text: str
    model: str | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    handoff: str | None = None  # the model called handoff_to_human: its reason ("" if none given)


@dataclass(frozen=True)
class Call:
    """Where and what to send (built apart from sending, so the shapes can be checked alone)."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]


def openai_call(base_url: str, model: str, prompt: Prompt, *, api_key: str | None, max_tokens: int,
                temperature: float | None, tools: bool = False) -> Call:
    messages: list[dict[str, str]] = [{"role": "system", "content": prompt.system}]
    messages += [{"role": t.role, "content": t.content} for t in prompt.turns]
    body: dict[str, Any] = {"model": model, "messages": messages}
    # OpenAI itself deprecated max_tokens (its reasoning models refuse it); the compatible
    # servers (Ollama, vLLM, llama.cpp, LM Studio) only know max_tokens.
    official = (urlsplit(base_url).hostname or "").endswith("api.openai.com")
    body["max_completion_tokens" if official else "max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if tools:
        body["tools"] = OPENAI_TOOLS
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return Call(f"{base_url.rstrip('/')}/chat/completions", headers, body)


def anthropic_call(base_url: str, model: str, prompt: Prompt, *, api_key: str | None, max_tokens: int,
                   temperature: float | None, tools: bool = False) -> Call:
    if not api_key:
        raise ModelError("no Anthropic API key: set --api-key-env (or ANTHROPIC_API_KEY) or store one with "
                         "--api-key-stdin", code="model_no_key")
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        "system": prompt.system,
        "messages": [{"role": t.role, "content": t.content} for t in prompt.turns],
    }
    if temperature is not None:
        body["temperature"] = min(temperature, 1.0)
    if tools:
        body["tools"] = ANTHROPIC_TOOLS
    headers = {"Content-Type": "application/json", "Accept": "application/json", "x-api-key": api_key,
               "anthropic-version": ANTHROPIC_VERSION}
    return Call(f"{base_url.rstrip('/')}/v1/messages", headers, body)


def _error_detail(data: Any) -> str:
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            kind = error.get("type")
            return f"{kind}: {error['message']}" if isinstance(kind, str) else error["message"]
        if isinstance(error, str):
            return error
    return ""


def _handoff_call(message: dict[str, Any]) -> str | None:
    """The reason of a ``handoff_to_human`` call among the message's tool calls (None: no call)."""
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and function.get("name") == HANDOFF_TOOL:
            try:
                arguments = orjson.loads(function.get("arguments") or "{}")
            except (orjson.JSONDecodeError, TypeError):
                arguments = {}
            reason = arguments.get("reason") if isinstance(arguments, dict) else None
            return reason.strip()[:300] if isinstance(reason, str) else ""
    return None


def parse_openai(data: Any) -> Reply:
    try:
        choice = data["choices"][0]
        message = choice["message"]
        text = message.get("content")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ModelError("the answer has no choices[0].message.content", code="model_bad_answer") from exc
    handoff = _handoff_call(message)
    if text is None and handoff is not None:
        text = ""
    if not isinstance(text, str):
        raise ModelError("the answer's content is not text", code="model_bad_answer")
    return Reply(text=text, model=data.get("model"), finish_reason=choice.get("finish_reason"),
                 usage=data.get("usage") or {}, handoff=handoff)


def parse_anthropic(data: Any) -> Reply:
    try:
        blocks = data["content"]
        text = "".join(b["text"] for b in blocks if isinstance(b, dict) and b.get("type") == "text")
    except (KeyError, TypeError) as exc:
        raise ModelError("the answer has no content blocks", code="model_bad_answer") from exc
    handoff = None
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == HANDOFF_TOOL:
            arguments = block.get("input")
            reason = arguments.get("reason") if isinstance(arguments, dict) else None
            handoff = reason.strip()[:300] if isinstance(reason, str) else ""
            break
    return Reply(text=text, model=data.get("model"), finish_reason=data.get("stop_reason"),
                 usage=data.get("usage") or {}, handoff=handoff)


async def post_json(call: Call, *, timeout: float, allow_private: bool) -> Any:
    """POST ``call`` and return its JSON answer; every failure (network, status, not JSON)
    becomes a ``ModelError``."""
    try:
        async with asyncio.timeout(timeout), netguard.new_client() as client:
            response = await netguard.safe_request(
                client, "POST", call.url, allow_private=allow_private, content=orjson.dumps(call.body),
                headers=call.headers, timeout=timeout, max_body_bytes=MAX_RESPONSE_BYTES)
    except TimeoutError as exc:
        raise ModelError(f"no answer from {call.url} within {timeout:g} s", code="model_timeout") from exc
    except httpx.TimeoutException as exc:
        raise ModelError(f"no answer from {call.url} within {timeout:g} s", code="model_timeout") from exc
    except netguard.UnsafeURL as exc:
        raise ModelError(exc.message, code="model_url_refused") from exc
    except netguard.ResponseTooLarge as exc:
        raise ModelError(exc.message, code="model_bad_answer") from exc
    except httpx.HTTPError as exc:
        raise ModelError(f"cannot reach {call.url}: {type(exc).__name__} {exc}".strip(),
                         code="model_unreachable") from exc
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        data = None
    if response.status_code != 200:
        # The model's own error message only, never the raw body: a base URL can point anywhere
        # on the server's network and this message goes back to whoever set it.
        detail = _error_detail(data) or "(no error message)"
        raise ModelError(f"{call.url} answered HTTP {response.status_code}: {detail}"[:500], code="model_error",
                         status=response.status_code)
    if data is None:
        raise ModelError(f"{call.url} did not answer JSON", code="model_bad_answer")
    return data


async def complete(provider: str, base_url: str, model: str, prompt: Prompt, *, api_key: str | None,
                   max_tokens: int, temperature: float | None, timeout: float, allow_private: bool,
                   tools: bool = False) -> Reply:
    """One answer. With ``tools``, the model may call ``handoff_to_human`` (function calling,
    or Anthropic's tool use); a server or model that refuses tools (HTTP 400) is asked again
    without them."""
    build = anthropic_call if provider == "anthropic" else openai_call
    call = build(base_url, model, prompt, api_key=api_key, max_tokens=max_tokens, temperature=temperature,
                 tools=tools)
    try:
        data = await post_json(call, timeout=timeout, allow_private=allow_private)
    except ModelError as exc:
        if not tools or exc.status != 400:
            raise
        call = build(base_url, model, prompt, api_key=api_key, max_tokens=max_tokens, temperature=temperature)
        data = await post_json(call, timeout=timeout, allow_private=allow_private)
    reply = parse_anthropic(data) if provider == "anthropic" else parse_openai(data)
    # Counted before the answer is judged: an empty answer was paid for too.
    sent = estimate_tokens(prompt.system) + sum(estimate_tokens(t.content) for t in prompt.turns)
    record_tokens(chat_tokens(provider, reply.usage, estimate=(sent, estimate_tokens(reply.text))))
    if reply.handoff is not None:
        return reply
    if not reply.text.strip():
        raise ModelError(f"the model gave an empty answer (finish reason: {reply.finish_reason})",
                         code="model_empty_answer")
    return reply
