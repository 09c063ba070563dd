"""REST for the AI fallback and the knowledge base, under /api/v1 (the project's secret key)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from pocketping.actions import ai as ai_actions
from pocketping.actions import kb as kb_actions
from pocketping.ai.crawl import CrawlOptions
from pocketping.errors import InvalidInput
from pocketping.server.rest.deps import ProjectDep, ServicesDep
from pocketping.server.rest.schemas import ErrorResponse, SessionOut

_errors: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or invalid secret key"},
    404: {"model": ErrorResponse, "description": "no such object in this project"},
    422: {"model": ErrorResponse, "description": "invalid input"},
}
router = APIRouter(prefix="/api/v1", responses=_errors)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _DayTokens(BaseModel):
    """What a day's usage says in both answers (the settings' ``usageToday`` and ``/ai/usage``)."""
    errors: int
    tokens: int = Field(description="inputTokens + outputTokens + embeddingTokens, as the providers reported them")
    inputTokens: int
    outputTokens: int
    embeddingTokens: int
    limitToldAt: str | None = Field(description="when the team was told the AI stopped for the day")


class Usage(_DayTokens):
    day: str
    replies: int


class UsageDay(_DayTokens):
    day: str = Field(description="YYYY-MM-DD, UTC")
    answers: int = Field(description="AI messages posted (answers and fallback lines)")


class UsageTotals(BaseModel):
    answers: int
    tokens: int


class AIUsageOut(BaseModel):
    projectId: str
    maxAnswers: int = Field(description="AI answers per conversation (0: no limit)")
    maxRepliesPerDay: int = Field(description="AI replies per day for the project (0: no limit)")
    dailyTokens: int = Field(description="tokens per day for the project (0: no budget)")
    days: list[UsageDay] = Field(description="oldest first, today last")
    totals: UsageTotals


class AISettingsOut(BaseModel):
    projectId: str
    enabled: bool
    delaySeconds: int
    outsideHoursDelay: int | None = Field(description="seconds before the AI answers outside office hours "
                                                      "(null: delaySeconds)")
    provider: Literal["openai", "anthropic"]
    model: str | None
    baseUrl: str | None
    embeddingsModel: str | None = Field(description="the /embeddings model of hybrid retrieval (null: BM25 alone)")
    apiKeyEnv: str | None
    hasApiKey: bool
    systemPrompt: str | None
    maxAnswers: int
    maxRepliesPerSession: int
    maxRepliesPerDay: int
    dailyTokens: int
    timeoutSeconds: float
    maxAnswerTokens: int
    historyTokens: int
    knowledgeTokens: int
    fallbackMessage: str
    noAnswerText: str
    minRelevance: float
    temperature: float | None
    lastError: str | None
    lastErrorAt: str | None
    updatedAt: str | None
    usageToday: Usage


class AISettingsIn(_Strict):
    enabled: bool | None = None
    delaySeconds: int | None = Field(default=None, ge=0, le=604800)
    outsideHoursDelay: int | None = Field(default=None, ge=0, le=604800,
                                          description="null goes back to delaySeconds")
    provider: Literal["openai", "anthropic"] | None = None
    model: str | None = Field(default=None, max_length=200)
    embeddingsModel: str | None = Field(default=None, max_length=200, description="\"\" or null: off (BM25 alone)")
    baseUrl: str | None = Field(default=None, max_length=2000, description="\"\" goes back to the default")
    apiKeyEnv: str | None = Field(default=None, max_length=200, description="\"\" clears it")
    apiKey: str | None = Field(default=None, max_length=500,
                               description="stored encrypted, never shown again; \"\" deletes it")
    systemPrompt: str | None = Field(default=None, max_length=20000, description="\"\" goes back to the default")
    maxAnswers: int | None = Field(default=None, description="AI answers per conversation (0: no limit); the "
                                                            "same setting as maxRepliesPerSession")
    maxRepliesPerSession: int | None = None
    maxRepliesPerDay: int | None = None
    dailyTokens: int | None = Field(default=None, description="tokens per day for the project (0: no budget)")
    timeoutSeconds: float | None = None
    maxAnswerTokens: int | None = None
    historyTokens: int | None = None
    knowledgeTokens: int | None = None
    fallbackMessage: str | None = Field(default=None, max_length=1000, description="\"\" sends nothing")
    noAnswerText: str | None = Field(default=None, min_length=1, max_length=1000,
                                     description="said, and a person called, when the knowledge base has nothing")
    minRelevance: float | None = None
    temperature: float | None = None


_FIELDS = {"enabled": "enabled", "delaySeconds": "delay_seconds", "outsideHoursDelay": "outside_hours_delay",
           "provider": "provider", "model": "model", "embeddingsModel": "embeddings_model",
           "baseUrl": "base_url", "apiKeyEnv": "api_key_env", "systemPrompt": "system_prompt",
           "maxAnswers": "max_answers", "maxRepliesPerSession": "max_replies_per_session",
           "maxRepliesPerDay": "max_replies_per_day", "dailyTokens": "daily_tokens",
           "timeoutSeconds": "timeout_seconds", "maxAnswerTokens": "max_answer_tokens",
           "historyTokens": "history_tokens", "knowledgeTokens": "knowledge_tokens",
           "fallbackMessage": "fallback_message", "noAnswerText": "no_answer_text",
           "minRelevance": "min_relevance",
           "temperature": "temperature"}


@router.get("/ai", response_model=AISettingsOut, tags=["ai"], summary="The project's AI fallback settings")
async def get_ai(project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    settings, usage = await ai_actions.get_ai_settings(svc, project.id)
    return settings.to_api(usage)


@router.patch("/ai", response_model=AISettingsOut, tags=["ai"],
              summary="Change the AI fallback settings (only the fields given)")
async def patch_ai(body: AISettingsIn, project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    changes = {_FIELDS[k]: v for k, v in given.items() if k in _FIELDS}
    api_key = given.get("apiKey")
    await ai_actions.update_ai_settings(svc, project.id, changes, api_key=api_key or None,
                                        clear_api_key="apiKey" in given and not api_key)
    settings, usage = await ai_actions.get_ai_settings(svc, project.id)
    return settings.to_api(usage)


@router.get("/ai/usage", response_model=AIUsageOut, tags=["ai"],
            summary="Tokens and answers of the AI fallback by day (UTC), the last `days` days")
async def get_ai_usage(project: ProjectDep, svc: ServicesDep, days: Annotated[int, Query()] = 7) -> dict[str, Any]:
    return await ai_actions.ai_usage(svc, project.id, days)


class SessionAIIn(_Strict):
    enabled: bool


@router.post("/sessions/{session_id}/ai", response_model=SessionOut, tags=["ai"],
             summary="Turn the AI fallback on or off for one conversation (like /ai on and /ai off)")
async def set_session_ai(session_id: str, body: SessionAIIn, project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    session = await ai_actions.set_ai_enabled(svc, project.id, session_id, body.enabled, origin="api")
    return session.to_api()


# --- knowledge base ----------------------------------------------------------------------------

class KbSourceOut(BaseModel):
    id: str
    projectId: str
    kind: Literal["url", "file", "text", "site"]
    location: str
    title: str
    contentType: str
    status: Literal["ready", "error", "partial", "crawling"]
    error: str | None
    chunks: int
    sizeBytes: int
    fetchedAt: str | None
    createdAt: str
    updatedAt: str
    pages: int | None = Field(default=None, description="a crawled site: how many pages it holds")
    siteId: str | None = Field(default=None, description="a crawled page: its site")


class KbSourceList(BaseModel):
    sources: list[KbSourceOut]


class KbCrawlIn(_Strict):
    maxPages: int = Field(default=200, description="at most this many pages")
    depth: int = Field(default=3, description="links followed this many deep from the url")
    include: list[str] = Field(default_factory=list, description="path prefixes to crawl instead of the url's")
    exclude: list[str] = Field(default_factory=list, description="skip paths matching these globs (or texts)")
    refresh: Literal["daily", "weekly", "off"] = Field(default="off", description="crawl again on this schedule")


class KbSourceIn(_Strict):
    url: str | None = Field(default=None, max_length=2000, description="a page to fetch (http or https)")
    crawl: KbCrawlIn | None = Field(default=None, description="with url: crawl the site from there "
                                                              "(docs/ai-fallback.md)")
    name: str | None = Field(default=None, max_length=300, description="an uploaded document's name, e.g. faq.md")
    content: str | None = Field(default=None, description="the document's text (Markdown, text or HTML)")
    contentBase64: str | None = Field(default=None, description="the document's bytes in base64 (PDF)")
    contentType: str | None = Field(default=None, max_length=100, description="e.g. text/markdown, application/pdf")


class KbHitOut(BaseModel):
    chunkId: int
    sourceId: str
    title: str
    location: str
    heading: str
    text: str
    score: float


class KbSearchOut(BaseModel):
    hits: list[KbHitOut]


@router.get("/kb", response_model=KbSourceList, tags=["knowledge base"], summary="Knowledge-base sources")
async def list_kb(project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    return {"sources": [s.to_api() for s in await kb_actions.list_sources(svc, project.id)]}


@router.post("/kb", response_model=KbSourceOut, status_code=201, tags=["knowledge base"],
             summary="Add a page (url) or a document (name + content or contentBase64); the same url or name "
                     "replaces it")
async def add_kb(body: KbSourceIn, project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    if body.url is not None:
        if body.name or body.content is not None or body.contentBase64 is not None:
            raise InvalidInput("give either a url, or a name with content", code="invalid_input")
        if body.crawl is not None:
            options = CrawlOptions(max_pages=body.crawl.maxPages, depth=body.crawl.depth,
                                   include=tuple(body.crawl.include), exclude=tuple(body.crawl.exclude),
                                   refresh=body.crawl.refresh)
            return (await kb_actions.add_site(svc, project.id, body.url, options)).to_api()
        return (await kb_actions.add_url(svc, project.id, body.url)).to_api()
    if body.crawl is not None:
        raise InvalidInput("crawl goes with a url", code="invalid_input")
    if not body.name or (body.content is None) == (body.contentBase64 is None):
        raise InvalidInput("give a url, or a name with either content or contentBase64", code="invalid_input")
    if body.content is not None:
        data = body.content.encode()
    else:
        try:
            data = base64.b64decode(body.contentBase64 or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput("contentBase64 is not valid base64", code="invalid_input") from exc
    return (await kb_actions.add_content(svc, project.id, body.name, data, body.contentType)).to_api()


@router.delete("/kb/{source_id}", response_model=KbSourceOut, tags=["knowledge base"],
               summary="Remove a source; answers the source as it was")
async def remove_kb(source_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    return (await kb_actions.remove_source(svc, project.id, source_id)).to_api()


@router.post("/kb/{source_id}/refresh", response_model=KbSourceOut, tags=["knowledge base"],
             summary="Fetch a page again (or read a file again); on failure the previous content stays in use")
async def refresh_kb(source_id: str, project: ProjectDep, svc: ServicesDep) -> dict[str, Any]:
    source = await kb_actions.find_source(svc, project.id, source_id)
    return (await kb_actions.refresh_source(svc, source)).to_api()


@router.get("/kb/search", response_model=KbSearchOut, tags=["knowledge base"],
            summary="The excerpts the AI would be given for a question")
async def search_kb(project: ProjectDep, svc: ServicesDep,
                    q: Annotated[str, Query(min_length=1, max_length=2000)],
                    limit: Annotated[int, Query(ge=1, le=20)] = 6) -> dict[str, Any]:
    hits = await kb_actions.search(svc, project.id, q, limit=limit)
    return {"hits": [h.to_api() for h in hits]}
