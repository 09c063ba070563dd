"""Counting the tokens an answer costs, from the providers' own usage fields.

* OpenAI-compatible Chat Completions: ``usage.prompt_tokens`` and ``usage.completion_tokens``
  (``total_tokens`` when only that is given);
* Anthropic Messages: ``usage.input_tokens`` (plus ``cache_creation_input_tokens`` and
  ``cache_read_input_tokens``, billed as input too) and ``usage.output_tokens``;
* Embeddings: ``usage.total_tokens`` (or ``prompt_tokens``).

A server that reports no usage at all (some local ones) is counted by estimate (about four
characters a token), so a budget still holds.

The meter is a context variable, set around one answer by the AI scheduler
(``with metering() as meter``): the calls made while answering (the question's embedding in
retrieval, the chat completion) add to it without every function between them passing it on.
Outside ``metering()`` (``pocketping ai test``, indexing) nothing is counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pocketping.core.ai import Tokens

__all__ = ["Meter", "Tokens", "chat_tokens", "embedding_tokens", "metering", "record_tokens"]


def _count(usage: Mapping[str, Any], name: str) -> int:
    value = usage.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return 0
    return int(value)


def chat_tokens(provider: str, usage: Mapping[str, Any] | None, *, estimate: tuple[int, int]) -> Tokens:
    """What a chat call cost by its ``usage`` field; ``estimate`` (input, output) when it has none."""
    usage = usage if isinstance(usage, Mapping) else {}
    given: tuple[str, ...]
    if provider == "anthropic":
        given = ("input_tokens", "output_tokens")
        input_tokens = sum(_count(usage, n) for n in ("input_tokens", "cache_creation_input_tokens",
                                                      "cache_read_input_tokens"))
        output_tokens = _count(usage, "output_tokens")
    else:
        given = ("prompt_tokens", "completion_tokens", "total_tokens")
        input_tokens = _count(usage, "prompt_tokens")
        output_tokens = _count(usage, "completion_tokens")
        if not input_tokens and not output_tokens:
            input_tokens = _count(usage, "total_tokens")
    if not any(name in usage for name in given):
        return Tokens(input=estimate[0], output=estimate[1])
    return Tokens(input=input_tokens, output=output_tokens)


def embedding_tokens(usage: Mapping[str, Any] | None, *, estimate: int) -> Tokens:
    usage = usage if isinstance(usage, Mapping) else {}
    if "total_tokens" not in usage and "prompt_tokens" not in usage:
        return Tokens(embedding=estimate)
    return Tokens(embedding=_count(usage, "total_tokens") or _count(usage, "prompt_tokens"))


class Meter:
    """The tokens counted since the meter was started or last ``take``n."""

    def __init__(self) -> None:
        self._tokens = Tokens()

    @property
    def tokens(self) -> Tokens:
        return self._tokens

    def add(self, tokens: Tokens) -> None:
        self._tokens = self._tokens + tokens

    def take(self) -> Tokens:
        """What was counted, and start again from zero (the caller records it)."""
        taken, self._tokens = self._tokens, Tokens()
        return taken


_current: ContextVar[Meter | None] = ContextVar("pocketping_ai_meter", default=None)


@contextmanager
def metering() -> Iterator[Meter]:
    meter = Meter()
    reset = _current.set(meter)
    try:
        yield meter
    finally:
        _current.reset(reset)


def record_tokens(tokens: Tokens) -> None:
    """Add to the current meter (nothing outside ``metering()``)."""
    meter = _current.get()
    if meter is not None:
        meter.add(tokens)
