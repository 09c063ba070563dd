"""A fake OpenAI-compatible Chat Completions and Embeddings API and a fake Anthropic Messages API.

They live on one local port: ``openai_url`` (``.../v1``, so the client posts to
``.../v1/chat/completions`` and ``.../v1/embeddings``) and ``anthropic_url`` (the client posts
to ``.../v1/messages``). Embeddings are deterministic: hashed words and character trigrams, so
texts that share words or word parts are close.
They check each request the way the real APIs document it (headers, required and known
fields, field types), record it, and answer in the real shapes. A request that breaks the
documented shape gets the API's 400 error and lands in ``invalid``; a test can also script
errors, hangs and custom answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pocketping_testkit.fakes.harness import FakeHarness

OPENAI_FIELDS = {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stop",
                 "stream", "user", "presence_penalty", "frequency_penalty", "seed", "response_format", "tools",
                 "tool_choice", "parallel_tool_calls"}
OPENAI_ROLES = {"system", "developer", "user", "assistant"}
EMBEDDINGS_FIELDS = {"model", "input", "encoding_format", "dimensions", "user"}
EMBEDDING_SIZE = 256
ANTHROPIC_FIELDS = {"model", "max_tokens", "messages", "system", "temperature", "top_p", "top_k",
                    "stop_sequences", "stream", "metadata", "tools", "tool_choice"}


@dataclass
class Recorded:
    provider: str  # "openai" | "anthropic"
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any

    @property
    def system(self) -> str:
        """The system prompt, wherever the provider puts it."""
        if self.provider == "anthropic":
            return str(self.body.get("system", ""))
        return "\n".join(m["content"] for m in self.body.get("messages", []) if m.get("role") == "system")


@dataclass
class Behavior:
    kind: str  # "reply" | "error" | "hang" | "hold" | "tool"
    text: str = ""  # the reply; a tool call's JSON arguments
    status: int = 500
    tool: str = ""  # a tool call: the function's name


class FakeLLM(FakeHarness):
    def __init__(self, *, openai_key: str | None = "sk-test-openai", anthropic_key: str = "sk-ant-test",
                 answer: Callable[[Recorded], str] | None = None) -> None:
        super().__init__()
        self.openai_key = openai_key  # None: no key needed (like a local Ollama)
        self.anthropic_key = anthropic_key
        self.answer = answer or (lambda r: "Hello! This is the AI answering.")
        self.requests: list[Recorded] = []
        self.invalid: list[tuple[Recorded, str]] = []
        self.port = 0
        self._script: deque[Behavior] = deque()
        self._ids = itertools.count(1)
        self._release: asyncio.Event | None = None
        self._gate: asyncio.Event | None = None
        self.embeddings_error: int | None = None  # answer /embeddings with this HTTP status
        # The usage fields of the answers: by default counted from the request and the answer
        # (about four characters a token); ``set_usage`` fixes them, ``report_usage = False``
        # leaves them out (as some local servers do).
        self.report_usage = True
        self._chat_usage: tuple[int, int] | None = None
        self._embedding_usage: int | None = None

    async def startup(self) -> None:
        self._release = asyncio.Event()
        self._gate = asyncio.Event()
        app = Starlette(routes=[Route("/v1/chat/completions", self._openai, methods=["POST"]),
                                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                                Route("/v1/messages", self._anthropic, methods=["POST"])])
        self.port = await self.serve_http(app)

    async def shutdown(self) -> None:
        assert self._release is not None
        self._release.set()

    # --- control ------------------------------------------------------------------------------
    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply(self, text: str) -> None:
        """The next request gets this answer."""
        with self.lock:
            self._script.append(Behavior("reply", text=text))

    def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> None:
        """The next request is answered with a call of the function ``name`` (when the request
        offers that tool; otherwise with a plain answer, as a model would)."""
        with self.lock:
            self._script.append(Behavior("tool", text=orjson.dumps(arguments or {}).decode(), tool=name))

    def fail(self, status: int = 500, message: str = "The server had an error") -> None:
        """The next request gets this error, in the provider's error shape."""
        with self.lock:
            self._script.append(Behavior("error", text=message, status=status))

    def set_usage(self, input_tokens: int, output_tokens: int, *, embedding_tokens: int | None = None) -> None:
        """Every later chat answer reports these tokens (OpenAI ``prompt_tokens`` /
        ``completion_tokens`` / ``total_tokens``, Anthropic ``input_tokens`` / ``output_tokens``);
        ``embedding_tokens``: every later /embeddings answer reports that many."""
        with self.lock:
            self._chat_usage = (input_tokens, output_tokens)
            if embedding_tokens is not None:
                self._embedding_usage = embedding_tokens

    def _usage(self, counted: tuple[int, int]) -> tuple[int, int] | None:
        with self.lock:
            if not self.report_usage:
                return None
            return self._chat_usage or counted

    def hang(self) -> None:
        """The next request never gets an answer (until the fake stops)."""
        with self.lock:
            self._script.append(Behavior("hang"))

    def hold(self) -> None:
        """The next request is recorded, then waits for ``let_go()`` before its usual answer."""
        with self.lock:
            self._script.append(Behavior("hold"))

    def let_go(self) -> None:
        """Answer the request that ``hold`` keeps waiting."""
        assert self.loop is not None and self._gate is not None
        self.loop.call_soon_threadsafe(self._gate.set)

    async def await_for(self, count: int, timeout: float = 15.0) -> list[Recorded]:
        """Wait until ``count`` valid requests arrived; returns them."""
        return await self.wait_until(lambda: list(self.requests) if len(self.requests) >= count else None,
                                     timeout, f"{count} model requests")

    # --- the APIs -----------------------------------------------------------------------------
    async def _read(self, request: Request, provider: str) -> tuple[Recorded, str | None]:
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        recorded = Recorded(provider, request.url.path, {k.lower(): v for k, v in request.headers.items()}, body)
        problem = None
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            problem = "Content-Type must be application/json"
        elif not isinstance(body, dict):
            problem = "the body must be a JSON object"
        return recorded, problem

    def _record(self, recorded: Recorded, problem: str | None) -> Behavior | None:
        with self.lock:
            if problem is not None:
                self.invalid.append((recorded, problem))
                behavior = None
            else:
                self.requests.append(recorded)
                behavior = self._script.popleft() if self._script else None
        self.changed()
        return behavior

    async def _behave(self, behavior: Behavior | None) -> None:
        if behavior is not None and behavior.kind == "hang":
            assert self._release is not None
            await self._release.wait()
        elif behavior is not None and behavior.kind == "hold":
            assert self._gate is not None
            await self._gate.wait()
            self._gate.clear()

    async def _openai(self, request: Request) -> Response:
        recorded, problem = await self._read(request, "openai")
        auth = request.headers.get("authorization")
        if problem is None and self.openai_key is not None and auth != f"Bearer {self.openai_key}":
            self._record(recorded, "wrong or missing Authorization: Bearer key")
            return _openai_error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        problem = problem or _check_openai(recorded.body)
        behavior = self._record(recorded, problem)
        if problem is not None:
            return _openai_error(400, problem, "invalid_request_error")
        await self._behave(behavior)
        if behavior is not None and behavior.kind == "error":
            return _openai_error(behavior.status, behavior.text, "server_error")
        offered = {t["function"]["name"] for t in recorded.body.get("tools") or ()}
        if behavior is not None and behavior.kind == "tool" and behavior.tool in offered:
            text = ""
            message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
                {"id": f"call_{next(self._ids)}", "type": "function",
                 "function": {"name": behavior.tool, "arguments": behavior.text}}]}
            finish = "tool_calls"
        else:
            text = behavior.text if behavior is not None and behavior.kind == "reply" else self.answer(recorded)
            message, finish = {"role": "assistant", "content": text, "refusal": None}, "stop"
        counted = self._usage((sum(len(m["content"]) // 4 for m in recorded.body["messages"]), len(text) // 4))
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": recorded.body["model"], "system_fingerprint": None,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        }
        if counted is not None:
            answer["usage"] = {"prompt_tokens": counted[0], "completion_tokens": counted[1],
                               "total_tokens": counted[0] + counted[1]}
        return JSONResponse(answer)

    @property
    def embedding_requests(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith("/embeddings")]

    async def _embeddings(self, request: Request) -> Response:
        recorded, problem = await self._read(request, "openai")
        auth = request.headers.get("authorization")
        if problem is None and self.openai_key is not None and auth != f"Bearer {self.openai_key}":
            self._record(recorded, "wrong or missing Authorization: Bearer key")
            return _openai_error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        problem = problem or _check_embeddings(recorded.body)
        with self.lock:  # recorded, but the scripted behaviours are for the chat APIs
            if problem is None:
                self.requests.append(recorded)
            else:
                self.invalid.append((recorded, problem))
        self.changed()
        if problem is not None:
            return _openai_error(400, problem, "invalid_request_error")
        if self.embeddings_error is not None:
            return _openai_error(self.embeddings_error, "The embeddings server had an error", "server_error")
        inputs = recorded.body["input"]
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        with self.lock:
            tokens = self._embedding_usage if self._embedding_usage is not None else sum(len(t) // 4 + 1
                                                                                         for t in texts)
            report = self.report_usage
        answer: dict[str, Any] = {
            "object": "list", "model": recorded.body["model"],
            "data": [{"object": "embedding", "index": i, "embedding": embedding(t)} for i, t in enumerate(texts)],
        }
        if report:
            answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse(answer)

    async def _anthropic(self, request: Request) -> Response:
        recorded, problem = await self._read(request, "anthropic")
        if problem is None and request.headers.get("x-api-key") != self.anthropic_key:
            self._record(recorded, "wrong or missing x-api-key")
            return _anthropic_error(401, "authentication_error", "invalid x-api-key")
        if problem is None and not request.headers.get("anthropic-version"):
            problem = "anthropic-version: header is required"
        problem = problem or _check_anthropic(recorded.body)
        behavior = self._record(recorded, problem)
        if problem is not None:
            return _anthropic_error(400, "invalid_request_error", problem)
        await self._behave(behavior)
        if behavior is not None and behavior.kind == "error":
            kind = "overloaded_error" if behavior.status == 529 else "api_error"
            return _anthropic_error(behavior.status, kind, behavior.text)
        offered = {t["name"] for t in recorded.body.get("tools") or ()}
        if behavior is not None and behavior.kind == "tool" and behavior.tool in offered:
            text = ""
            content: list[dict[str, Any]] = [{"type": "tool_use", "id": f"toolu_fake{next(self._ids)}",
                                              "name": behavior.tool, "input": orjson.loads(behavior.text)}]
            stop = "tool_use"
        else:
            text = behavior.text if behavior is not None and behavior.kind == "reply" else self.answer(recorded)
            content, stop = [{"type": "text", "text": text}], "end_turn"
        counted = self._usage((len(orjson.dumps(recorded.body)) // 4, len(text) // 4))
        answer: dict[str, Any] = {
            "id": f"msg_fake{next(self._ids)}", "type": "message", "role": "assistant",
            "model": recorded.body["model"], "content": content,
            "stop_reason": stop, "stop_sequence": None,
        }
        if counted is not None:
            answer["usage"] = {"input_tokens": counted[0], "output_tokens": counted[1]}
        return JSONResponse(answer)


def _openai_error(status: int, message: str, kind: str, code: str | None = None) -> Response:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}},
                        status_code=status)


def _anthropic_error(status: int, kind: str, message: str) -> Response:
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status_code=status)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_openai(body: dict[str, Any]) -> str | None:
    unknown = set(body) - OPENAI_FIELDS
    if unknown:
        return f"Unrecognized request argument supplied: {sorted(unknown)[0]}"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) - {"role", "content", "name"}:
            return f"messages[{i}] must be an object with role and content"
        if message.get("role") not in OPENAI_ROLES or not isinstance(message.get("content"), str):
            return f"messages[{i}]: invalid role or content"
    if "max_tokens" in body and "max_completion_tokens" in body:
        return "max_tokens and max_completion_tokens cannot both be set"
    for name in ("max_tokens", "max_completion_tokens"):
        if name in body and not _positive_int(body[name]):
            return f"{name} must be a positive integer"
    temperature = body.get("temperature", 1)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        return "temperature must be between 0 and 2"
    return _check_tools(body.get("tools"))


def _check_tools(tools: Any) -> str | None:
    """``tools``: function definitions, as the API documents them."""
    if tools is None:
        return None
    if not isinstance(tools, list) or not tools or len(tools) > 128:
        return "'tools' must be an array of 1 to 128 tools"
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            return f"tools[{i}] must be {{'type': 'function', 'function': {{...}}}}"
        name = function.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            return f"tools[{i}].function.name must be 1-64 letters, digits, underscores or dashes"
        parameters = function.get("parameters", {"type": "object"})
        if not isinstance(parameters, dict) or parameters.get("type") != "object":
            return f"tools[{i}].function.parameters must be a JSON Schema object"
    return None


def _check_embeddings(body: dict[str, Any]) -> str | None:
    unknown = set(body) - EMBEDDINGS_FIELDS
    if unknown:
        return f"Unrecognized request argument supplied: {sorted(unknown)[0]}"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    inputs = body.get("input")
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or len(inputs) > 2048:
        return "'input' must be a string or an array of 1 to 2048 strings"
    if any(not isinstance(t, str) or not t for t in inputs):
        return "'input' items must be non-empty strings"
    if body.get("encoding_format", "float") != "float":
        return "this fake answers encoding_format 'float' only"
    return None


_WORDS = re.compile(r"\w+")


def _bucket(feature: str) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") % EMBEDDING_SIZE, 1.0 if digest[4] & 1 else -1.0


def embedding(text: str) -> list[float]:
    """A deterministic unit vector: each word and each character trigram of a word, hashed
    into ``EMBEDDING_SIZE`` signed buckets (words count double), log-scaled counts."""
    counts: dict[int, float] = {}
    for word in _WORDS.findall(text.lower()):
        padded = f"<{word}>"
        features = [(word, 2.0)] + [(padded[i:i + 3], 1.0) for i in range(len(padded) - 2)]
        for feature, weight in features:
            index, sign = _bucket(feature)
            counts[index] = counts.get(index, 0.0) + sign * weight
    vector = [0.0] * EMBEDDING_SIZE
    for index, value in counts.items():
        vector[index] = math.copysign(math.log1p(abs(value)), value)
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [round(x / norm, 6) for x in vector]


def _check_anthropic(body: dict[str, Any]) -> str | None:
    unknown = set(body) - ANTHROPIC_FIELDS
    if unknown:
        return f"{sorted(unknown)[0]}: Extra inputs are not permitted"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not _positive_int(body.get("max_tokens")):
        return "max_tokens: Field required (a positive integer)"
    system = body.get("system", "")
    if not isinstance(system, str | list):
        return "system: Input should be a string or a list of text blocks"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            return f"messages.{i}: must have exactly role and content"
        if message["role"] not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if not isinstance(message["content"], str | list) or not message["content"]:
            return f"messages.{i}.content: must be a non-empty string or list of blocks"
    if messages[0]["role"] != "user":
        return "messages: first message must use the \"user\" role"
    temperature = body.get("temperature", 1)
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 1:
        return "temperature: Input should be between 0 and 1"
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            return "tools: Input should be a non-empty list"
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or \
                    not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", tool["name"]):
                return f"tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                return f"tools.{i}.input_schema: Input should be a JSON Schema object"
    return None
