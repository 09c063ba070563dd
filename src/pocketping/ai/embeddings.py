"""Embeddings from an OpenAI-compatible API (``POST {base}/embeddings``), for hybrid retrieval.

OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio and most gateways speak it. Vectors are
stored as little-endian float32 at unit length (base64 text: 5.3 bytes a dimension), so cosine
similarity is a dot product.
A failure here never stops an answer: ``question_vector`` returns None and the ranking is BM25.
"""

from __future__ import annotations

import base64
import logging
import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from pocketping.ai.providers import Call, ModelError, post_json
from pocketping.ai.text import estimate_tokens
from pocketping.ai.usage import embedding_tokens, record_tokens
from pocketping.config import Settings
from pocketping.core.ai import DEFAULT_KEY_ENV, AISettings

log = logging.getLogger(__name__)

BATCH = 64  # inputs per request
MAX_INPUT_CHARS = 8000  # about 2,000 tokens: under every common model's input limit
MAX_DIMENSIONS = 16_384


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str | None
    timeout: float
    allow_private: bool


def endpoint(app: Settings | None, settings: AISettings, api_key: str | None) -> Endpoint | None:
    """Where the project's embeddings come from; None when it has no ``--embeddings-model``
    (or no server settings: ``app`` None). With the openai provider: its base URL and API key
    (``api_key``: the stored one); with anthropic (no embeddings API): POCKETPING_OPENAI_API_URL
    and $OPENAI_API_KEY, never the Anthropic key."""
    if not settings.embeddings_model or app is None:
        return None
    if settings.provider == "openai":
        base = settings.base_url or app.openai_api_url
        key = api_key or os.environ.get(settings.key_env(), "").strip() or None
    else:
        base = app.openai_api_url
        key = os.environ.get(DEFAULT_KEY_ENV["openai"], "").strip() or None
    return Endpoint(base, settings.embeddings_model, key, settings.timeout_seconds, app.allow_private_urls)


def _call(ep: Endpoint, texts: Sequence[str]) -> Call:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if ep.api_key:
        headers["Authorization"] = f"Bearer {ep.api_key}"
    body = {"model": ep.model, "input": [t[:MAX_INPUT_CHARS] or " " for t in texts]}
    return Call(f"{ep.base_url.rstrip('/')}/embeddings", headers, body)


def _parse(data: object, count: int) -> list[list[float]]:
    try:
        items = sorted(data["data"], key=lambda item: item["index"])  # type: ignore[index]
        vectors = [[float(x) for x in item["embedding"]] for item in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError("the answer has no data[].embedding lists", code="model_bad_answer") from exc
    if len(vectors) != count or any(not v or len(v) != len(vectors[0]) for v in vectors):
        raise ModelError(f"expected {count} embeddings of one size", code="model_bad_answer")
    if len(vectors[0]) > MAX_DIMENSIONS:
        raise ModelError(f"embeddings of {len(vectors[0])} dimensions (at most {MAX_DIMENSIONS})",
                         code="model_bad_answer")
    return vectors


async def embed(ep: Endpoint, texts: Sequence[str]) -> list[list[float]]:
    """One vector per text, in order (``BATCH`` texts a request). Raises ``ModelError``."""
    out: list[list[float]] = []
    for first in range(0, len(texts), BATCH):
        batch = texts[first:first + BATCH]
        data = await post_json(_call(ep, batch), timeout=ep.timeout, allow_private=ep.allow_private)
        if isinstance(data, dict):
            sent = sum(estimate_tokens(t[:MAX_INPUT_CHARS]) for t in batch)
            record_tokens(embedding_tokens(data.get("usage"), estimate=sent))
        out += _parse(data, len(batch))
    return out


async def question_vector(ep: Endpoint | None, text: str) -> list[float] | None:
    """The question's vector, or None (no model, or the endpoint failed: logged)."""
    if ep is None or not text.strip():
        return None
    try:
        [vector] = await embed(ep, [text])
    except ModelError as exc:
        log.warning("embedding the question failed, ranking with BM25 alone: %s", exc.message)
        return None
    return vector


def pack(vector: Sequence[float]) -> str:
    """Unit length, float32, little-endian, in base64."""
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *(x / norm for x in vector))).decode("ascii")


def unpack(data: str) -> tuple[float, ...]:
    raw = base64.b64decode(data)
    return struct.unpack(f"<{len(raw) // 4}f", raw)


def cosine(unit: Sequence[float], other: Sequence[float]) -> float:
    """Cosine of two unit vectors (0 when their sizes differ: another model's)."""
    if len(unit) != len(other):
        return 0.0
    return math.fsum(a * b for a, b in zip(unit, other, strict=True))
