"""AI fallback: per-project settings and knowledge-base records, and the rules that check them.

Pure: no I/O. The store reads and writes these; actions validate with ``check_ai_changes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pocketping.core.ai_copy import DEFAULT_NO_ANSWER
from pocketping.core.models import iso
from pocketping.errors import InvalidInput

Provider = Literal["openai", "anthropic"]
PROVIDERS: tuple[str, ...] = ("openai", "anthropic")
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

DEFAULT_FALLBACK = ("Sorry, I can't answer that right now. Someone from the team will get back to you "
                    "here as soon as possible.")
MAX_SYSTEM_PROMPT = 20_000
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")

# Tunables kept in ai_settings.options: name -> (default, minimum, maximum). 0 means "no cap"
# for the two reply caps and the daily token budget.
OPTION_LIMITS: dict[str, tuple[float, float, float]] = {
    "max_replies_per_session": (20, 0, 10_000),
    "max_replies_per_day": (500, 0, 1_000_000),
    "daily_tokens": (0, 0, 10_000_000_000),
    "timeout_seconds": (30, 1, 300),
    "max_answer_tokens": (400, 16, 8192),
    "history_tokens": (2000, 100, 100_000),
    "knowledge_tokens": (1500, 0, 100_000),
    # A chunk is relevant when it holds this idf-weighted share of the question's terms
    # (pocketping.ai.retrieval.coverage); with none, the AI says it doesn't know and calls a person.
    "min_relevance": (0.15, 0, 1),
}
_INT_OPTIONS = {"max_replies_per_session", "max_replies_per_day", "daily_tokens", "max_answer_tokens",
                "history_tokens", "knowledge_tokens"}
# Other names of settings (the name the issue of the budget gave the per-conversation cap).
ALIASES = {"max_answers": "max_replies_per_session"}


@dataclass(frozen=True)
class Tokens:
    """Tokens one answer (or one day) used."""

    input: int = 0
    output: int = 0
    embedding: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.embedding

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.input + other.input, self.output + other.output, self.embedding + other.embedding)

    def __bool__(self) -> bool:
        return self.total > 0


@dataclass(frozen=True)
class AISettings:
    project_id: str
    enabled: bool = False
    delay_seconds: int = 120
    provider: str = "openai"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    has_api_key: bool = False
    system_prompt: str | None = None
    max_replies_per_session: int = 20  # AI answers per conversation (`--max-answers`)
    max_replies_per_day: int = 500
    daily_tokens: int = 0  # tokens a day the project's answers may use (the providers' usage fields)
    timeout_seconds: float = 30
    max_answer_tokens: int = 400
    history_tokens: int = 2000
    knowledge_tokens: int = 1500
    min_relevance: float = 0.15
    fallback_message: str = DEFAULT_FALLBACK  # "" sends nothing to the visitor on a failure
    temperature: float | None = None
    outside_hours_delay: int | None = None  # seconds outside the project's office hours (None: delay_seconds)
    embeddings_model: str | None = None  # an OpenAI-compatible /embeddings model: hybrid retrieval
    no_answer_text: str = DEFAULT_NO_ANSWER  # said (and a person called) when the knowledge base has nothing
    last_error: str | None = None
    last_error_at: datetime | None = None
    updated_at: datetime | None = None

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in OPTION_LIMITS}
        out["fallback_message"] = self.fallback_message
        out["temperature"] = self.temperature
        out["outside_hours_delay"] = self.outside_hours_delay
        out["embeddings_model"] = self.embeddings_model
        out["no_answer_text"] = self.no_answer_text
        return out

    def key_env(self) -> str:
        """The environment variable the server reads the API key from."""
        return self.api_key_env or DEFAULT_KEY_ENV[self.provider]

    def to_api(self, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "projectId": self.project_id,
            "enabled": self.enabled,
            "delaySeconds": self.delay_seconds,
            "outsideHoursDelay": self.outside_hours_delay,
            "provider": self.provider,
            "model": self.model,
            "baseUrl": self.base_url,
            "embeddingsModel": self.embeddings_model,
            "apiKeyEnv": self.api_key_env,
            "hasApiKey": self.has_api_key,
            "systemPrompt": self.system_prompt,
            "maxAnswers": self.max_replies_per_session,
            "maxRepliesPerSession": self.max_replies_per_session,
            "maxRepliesPerDay": self.max_replies_per_day,
            "dailyTokens": self.daily_tokens,
            "timeoutSeconds": self.timeout_seconds,
            "maxAnswerTokens": self.max_answer_tokens,
            "historyTokens": self.history_tokens,
            "knowledgeTokens": self.knowledge_tokens,
            "fallbackMessage": self.fallback_message,
            "noAnswerText": self.no_answer_text,
            "minRelevance": self.min_relevance,
            "temperature": self.temperature,
            "lastError": self.last_error,
            "lastErrorAt": iso(self.last_error_at),
            "updatedAt": iso(self.updated_at),
        }
        if usage is not None:
            body["usageToday"] = usage
        return body


def limit_reached(settings: AISettings, answers: int, today: dict[str, Any]) -> str | None:
    """Why the AI must stay silent now (None: it may answer): ``session_limit`` (``answers``
    given in this conversation reached ``--max-answers``), ``daily_limit`` (the project's replies
    today, ``today["replies"]``) or ``token_budget`` (its tokens today, ``today["tokens"]``,
    reached ``--daily-tokens``). The answer that crosses the budget is the day's last."""
    if settings.max_replies_per_session and answers >= settings.max_replies_per_session:
        return "session_limit"
    if settings.max_replies_per_day and int(today.get("replies", 0)) >= settings.max_replies_per_day:
        return "daily_limit"
    if settings.daily_tokens and int(today.get("tokens", 0)) >= settings.daily_tokens:
        return "token_budget"
    return None


def settings_from_row(row: dict[str, Any]) -> AISettings:
    options = dict(row.get("options") or {})
    known = {f.name for f in fields(AISettings)}
    values: dict[str, Any] = {k: v for k, v in options.items() if k in known}
    return AISettings(
        project_id=row["project_id"], enabled=bool(row["enabled"]), delay_seconds=int(row["delay_seconds"]),
        provider=row["provider"], model=row["model"], base_url=row["base_url"], api_key_env=row["api_key_env"],
        has_api_key=row["api_key"] is not None, system_prompt=row["system_prompt"],
        last_error=row.get("last_error"), last_error_at=row.get("last_error_at"), updated_at=row["updated_at"],
        **values,
    )


def check_base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidInput("the base URL must look like https://api.example.com/v1 (http or https, no query)",
                           code="invalid_base_url")
    if parts.username or parts.password:
        raise InvalidInput("put the API key in --api-key-env or --api-key-stdin, not in the base URL",
                           code="invalid_base_url")
    return value


def _check_option(name: str, value: Any) -> Any:
    _default, low, high = OPTION_LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a number", code="invalid_setting")
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low:g} and {high:g}", code="invalid_setting")
    if name in _INT_OPTIONS:
        if int(value) != value:
            raise InvalidInput(f"{name} must be a whole number", code="invalid_setting")
        return int(value)
    return float(value)


def apply_changes(current: AISettings, changes: dict[str, Any]) -> AISettings:
    """Validate ``changes`` (field name -> new value; ``None`` clears optional text fields)
    and return the settings they produce. Raises ``InvalidInput`` with a stable code."""
    values: dict[str, Any] = {}
    for given, value in changes.items():
        name = ALIASES.get(given, given)
        if name in values and values[name] != value:  # only an alias and its setting can meet here
            raise InvalidInput(f"{name} is given twice with different values", code="invalid_setting")
        if name == "enabled":
            values[name] = bool(value)
        elif name == "delay_seconds":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 7 * 86400:
                raise InvalidInput("the delay is a whole number of seconds from 0 to 604800", code="invalid_delay")
            values[name] = value
        elif name == "outside_hours_delay":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 0 <= value <= 7 * 86400):
                raise InvalidInput("the delay outside office hours is a whole number of seconds from 0 to 604800",
                                   code="invalid_delay")
            values[name] = value
        elif name == "provider":
            if value not in PROVIDERS:
                raise InvalidInput("provider must be 'openai' (any OpenAI-compatible API) or 'anthropic'",
                                   code="invalid_provider")
            values[name] = value
        elif name in ("model", "embeddings_model"):
            text = (value or "").strip()
            if len(text) > 200:
                raise InvalidInput(f"the {name.replace('_', ' ')} name is at most 200 characters",
                                   code="invalid_model")
            values[name] = text or None
        elif name == "base_url":
            values[name] = check_base_url(value) if value else None
        elif name == "api_key_env":
            if value and not _ENV_NAME.match(value):
                raise InvalidInput("--api-key-env takes a variable name such as OPENAI_API_KEY",
                                   code="invalid_setting")
            values[name] = value or None
        elif name == "system_prompt":
            text = (value or "").strip()
            if len(text) > MAX_SYSTEM_PROMPT:
                raise InvalidInput(f"the system prompt is at most {MAX_SYSTEM_PROMPT} characters",
                                   code="invalid_system_prompt")
            values[name] = text or None
        elif name == "fallback_message":
            text = (value or "").strip()
            if len(text) > 1000:
                raise InvalidInput("the fallback message is at most 1000 characters", code="invalid_setting")
            values[name] = text
        elif name == "no_answer_text":
            text = (value or "").strip()
            if not text or len(text) > 1000:
                raise InvalidInput("the no-answer text is 1 to 1000 characters", code="invalid_setting")
            values[name] = text
        elif name == "temperature":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not 0 <= value <= 2):
                raise InvalidInput("temperature must be between 0 and 2", code="invalid_setting")
            values[name] = None if value is None else float(value)
        elif name in OPTION_LIMITS:
            values[name] = _check_option(name, value)
        else:
            raise InvalidInput(f"unknown AI setting {name!r}", code="invalid_setting")
    result = replace(current, **values)
    if result.enabled and not result.model:
        raise InvalidInput("set the model first (--model), e.g. gpt-4o-mini, claude-sonnet-4-5 or llama3.2",
                           code="model_required")
    return result


# --- knowledge base -------------------------------------------------------------------------

KbKind = Literal["url", "file", "text"]


@dataclass(frozen=True)
class KbSource:
    id: str
    project_id: str
    kind: str
    location: str
    title: str
    content_type: str
    status: str
    error: str | None
    chunk_count: int
    size_bytes: int
    fetched_at: datetime | None
    created_at: datetime
    updated_at: datetime
    parent_id: str | None = None  # a crawled page: the site it belongs to
    page_count: int = 0  # a crawled site: how many pages it holds

    def to_api(self) -> dict[str, Any]:
        data = {
            "id": self.id, "projectId": self.project_id, "kind": self.kind, "location": self.location,
            "title": self.title, "contentType": self.content_type, "status": self.status, "error": self.error,
            "chunks": self.chunk_count, "sizeBytes": self.size_bytes, "fetchedAt": iso(self.fetched_at),
            "createdAt": iso(self.created_at), "updatedAt": iso(self.updated_at),
        }
        if self.kind == "site":
            data["pages"] = self.page_count
        if self.parent_id:
            data["siteId"] = self.parent_id
        return data


@dataclass(frozen=True)
class KbHit:
    """One retrieved chunk, with where it came from."""

    chunk_id: int
    source_id: str
    title: str
    location: str
    heading: str
    text: str
    score: float  # BM25 (with the title and heading boosts)
    similarity: float | None = None  # cosine with the question, when embeddings are on
    relevance: float = 0.0  # the idf-weighted share of the question's terms the chunk holds (0-1)

    def to_api(self) -> dict[str, Any]:
        return {"chunkId": self.chunk_id, "sourceId": self.source_id, "title": self.title,
                "location": self.location, "heading": self.heading, "text": self.text,
                "score": round(self.score, 4)}
