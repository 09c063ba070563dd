"""``pocketping ai``: the AI fallback's settings, and a test question."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pocketping.cli.common import JsonOpt, emit, fail, group, run

app = group("The AI that answers when nobody from the team has, after a delay.")


def _human(s: dict[str, Any]) -> str:
    key = "stored (encrypted)" if s["hasApiKey"] else f"read from ${s['apiKeyEnv'] or _default_env(s['provider'])}"
    prompt = s["systemPrompt"]
    usage = s.get("usageToday") or {}
    caps = [f"{s['maxAnswers'] or 'no limit'} answers per conversation",
            f"{s['maxRepliesPerDay'] or 'no limit'} per day",
            f"{s['dailyTokens']} tokens a day" if s["dailyTokens"] else "no token budget"]
    lines = [
        f"AI fallback for {s['projectId']}: {'ENABLED' if s['enabled'] else 'disabled'}",
        f"  answers after:   {s['delaySeconds']} s without a reply from the team"
        + (f" ({s['outsideHoursDelay']} s outside office hours)" if s.get("outsideHoursDelay") is not None else ""),
        f"  provider:        {s['provider']}, model {s['model'] or '(not set)'}",
        f"  base URL:        {s['baseUrl'] or '(default)'}",
        f"  embeddings:      {s.get('embeddingsModel') or 'off (BM25 alone)'}",
        f"  API key:         {key}",
        f"  system prompt:   {(prompt[:70] + '...') if prompt and len(prompt) > 70 else prompt or '(default)'}",
        f"  limits:          {', '.join(caps)}; {s['timeoutSeconds']:g} s per answer, "
        f"{s['maxAnswerTokens']} answer tokens, {s['historyTokens']} history tokens, "
        f"{s['knowledgeTokens']} knowledge tokens",
        f"  on failure:      {repr(s['fallbackMessage']) if s['fallbackMessage'] else 'nothing sent to the visitor'}",
        f"  nothing found:   {s['noAnswerText']!r} (and a person is called in; relevance under "
        f"{s['minRelevance']:g})",
        f"  today ({usage.get('day')}): {usage.get('replies', 0)} replies, {usage.get('errors', 0)} errors, "
        f"{usage.get('tokens', 0)} tokens",
    ]
    if s["lastError"]:
        lines.append(f"  last error:      {s['lastError']} ({s['lastErrorAt']})")
    return "\n".join(lines)


def _default_env(provider: str) -> str:
    from pocketping.core.ai import DEFAULT_KEY_ENV

    return DEFAULT_KEY_ENV.get(provider, "OPENAI_API_KEY")


async def _show(svc: Any, project_id: str) -> dict[str, Any]:
    from pocketping.actions.ai import get_ai_settings

    settings, usage = await get_ai_settings(svc, project_id)
    return settings.to_api(usage)


@app.command("show")
def show(project_id: str, as_json: JsonOpt = False) -> None:
    """Show a project's AI settings and today's usage."""
    data = run(lambda svc: _show(svc, project_id), as_json)
    emit(data, as_json, lambda: _human(data))


@app.command("set")
def set_(
    project_id: str,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled", help="Turn the AI fallback on or off")] = None,
    delay: Annotated[int | None, typer.Option("--delay", help="Seconds without a reply from the team before the AI "
                                                              "answers (default 120; 0: at once)")] = None,
    provider: Annotated[str | None, typer.Option(help="openai (any OpenAI-compatible API: OpenAI, Ollama, vLLM, "
                                                      "llama.cpp, OpenRouter) or anthropic")] = None,
    model: Annotated[str | None, typer.Option(help="Model name, e.g. gpt-4o-mini, claude-sonnet-4-5, llama3.2")] = None,
    base_url: Annotated[str | None, typer.Option(help="API base URL, e.g. http://localhost:11434/v1 for Ollama "
                                                      "(\"\": the provider's default)")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable the server reads the API key from "
                                                         "(default OPENAI_API_KEY / ANTHROPIC_API_KEY)")] = None,
    api_key_stdin: Annotated[bool, typer.Option("--api-key-stdin", help="Read an API key from standard input and "
                                                "store it encrypted (it wins over --api-key-env)")] = False,
    clear_api_key: Annotated[bool, typer.Option("--clear-api-key", help="Delete the stored API key")] = False,
    system_prompt_file: Annotated[Path | None, typer.Option(help="File with the team's instructions for the AI "
                                                                 "(- for standard input)")] = None,
    clear_system_prompt: Annotated[bool, typer.Option("--clear-system-prompt",
                                                      help="Go back to the default system prompt")] = False,
    max_answers: Annotated[int | None, typer.Option("--max-answers", help="AI answers per conversation; past it the "
                                                    "AI is off for the conversation and the team is told (0: no "
                                                    "limit; default 20)")] = None,
    max_replies_per_session: Annotated[int | None, typer.Option(help="The same as --max-answers")] = None,
    max_replies_per_day: Annotated[int | None, typer.Option(help="AI replies per day for the project (0: no limit; "
                                                                 "default 500)")] = None,
    daily_tokens: Annotated[int | None, typer.Option("--daily-tokens", help="Tokens a day for the project's answers, "
                                                     "counted from the providers' usage fields; past it the AI stays "
                                                     "silent until tomorrow (UTC) and the team is told once (0: no "
                                                     "budget; the default)")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds the model has to answer (default 30)")] = None,
    max_answer_tokens: Annotated[int | None, typer.Option(help="Longest answer, in tokens (default 400)")] = None,
    history_tokens: Annotated[int | None, typer.Option(help="Conversation sent to the model, in tokens "
                                                            "(default 2000)")] = None,
    knowledge_tokens: Annotated[int | None, typer.Option(help="Knowledge-base excerpts sent to the model, in tokens "
                                                              "(default 1500; 0: none)")] = None,
    fallback_message: Annotated[str | None, typer.Option(help="What the visitor reads when the model fails "
                                                              "(\"\": nothing)")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (default: the model's)")] = None,
    no_answer_text: Annotated[str | None, typer.Option("--no-answer-text", help="What the visitor reads, instead "
                                                       "of a guess, when the knowledge base has nothing relevant "
                                                       "(a person is then called in)")] = None,
    min_relevance: Annotated[float | None, typer.Option("--min-relevance", help="Share (0-1) of the question's "
                                                        "terms, weighted by rarity, a knowledge-base passage must "
                                                        "hold to count as relevant (default 0.15)")] = None,
    outside_hours_delay: Annotated[int | None, typer.Option("--outside-hours-delay", help="Seconds before the AI "
                                                            "answers outside the project's office hours (0: at "
                                                            "once; -1: the usual --delay)")] = None,
    embeddings_model: Annotated[str | None, typer.Option("--embeddings-model", help="Embeddings model of the "
                                                         "OpenAI-compatible API (POST {base}/embeddings), e.g. "
                                                         "text-embedding-3-small or nomic-embed-text: retrieval "
                                                         "combines it with BM25 (\"\": off); `kb refresh` "
                                                         "embeds what is already indexed")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a project's AI fallback settings (running servers pick them up within seconds)."""
    from pocketping.actions.ai import update_ai_settings

    changes: dict[str, Any] = {}
    for name, value in (("enabled", enabled), ("delay_seconds", delay), ("provider", provider), ("model", model),
                        ("base_url", base_url), ("api_key_env", api_key_env),
                        ("max_answers", max_answers), ("max_replies_per_session", max_replies_per_session),
                        ("max_replies_per_day", max_replies_per_day), ("daily_tokens", daily_tokens),
                        ("timeout_seconds", timeout),
                        ("max_answer_tokens", max_answer_tokens), ("history_tokens", history_tokens),
                        ("knowledge_tokens", knowledge_tokens), ("fallback_message", fallback_message),
                        ("temperature", temperature), ("embeddings_model", embeddings_model),
                        ("no_answer_text", no_answer_text), ("min_relevance", min_relevance)):
        if value is not None:
            changes[name] = value
    if outside_hours_delay is not None:
        changes["outside_hours_delay"] = None if outside_hours_delay == -1 else outside_hours_delay
    if system_prompt_file is not None:
        try:
            text = sys.stdin.read() if str(system_prompt_file) == "-" else system_prompt_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {system_prompt_file}: {exc}", as_json, "invalid_input")
        changes["system_prompt"] = text
    elif clear_system_prompt:
        changes["system_prompt"] = None
    key: str | None = None
    if api_key_stdin:
        if system_prompt_file is not None and str(system_prompt_file) == "-":
            fail("standard input can carry the API key or the system prompt, not both", as_json, "invalid_input")
        key = sys.stdin.readline().strip()
        if not key:
            fail("no API key on standard input", as_json, "invalid_api_key")

    async def go(svc: Any) -> dict[str, Any]:
        await update_ai_settings(svc, project_id, changes, api_key=key, clear_api_key=clear_api_key)
        return await _show(svc, project_id)

    data = run(go, as_json)
    emit(data, as_json, lambda: _human(data))


def _usage_table(u: dict[str, Any]) -> str:
    budget = f"{u['dailyTokens']} tokens a day" if u["dailyTokens"] else "no token budget"
    cap = f"{u['maxAnswers']} answers per conversation" if u["maxAnswers"] else "no answer cap"
    lines = [f"AI usage of {u['projectId']} ({budget}, {cap}):",
             "day         answers  errors      tokens       input      output  embeddings"]
    for d in u["days"]:
        lines.append(f"{d['day']}  {d['answers']:>7}  {d['errors']:>6}  {d['tokens']:>10}  {d['inputTokens']:>10}  "
                     f"{d['outputTokens']:>10}  {d['embeddingTokens']:>10}"
                     + ("  (limit reached; team told)" if d["limitToldAt"] else ""))
    lines.append(f"total       {u['totals']['answers']:>7}  {'':>6}  {u['totals']['tokens']:>10}")
    return "\n".join(lines)


@app.command("usage")
def usage(project_id: str,
          days: Annotated[int, typer.Option("--days", help="How many days up to today (UTC), 1-366")] = 7,
          as_json: JsonOpt = False) -> None:
    """Tokens (as the providers reported them) and answers of the AI, by day."""
    from pocketping.actions.ai import ai_usage

    data = run(lambda svc: ai_usage(svc, project_id, days), as_json)
    emit(data, as_json, lambda: _usage_table(data))


@app.command("test")
def test(project_id: str, question: str, as_json: JsonOpt = False) -> None:
    """Ask the model one question with the project's settings and knowledge base, right now."""
    from pocketping.ai.answering import ask
    from pocketping.ai.providers import ModelError

    async def go(svc: Any) -> dict[str, Any]:
        try:
            answer, prompt = await ask(svc.db, svc.settings, project_id, question)
        except ModelError as exc:
            fail(exc.message, as_json, exc.code)
            raise
        return {"answer": answer, "sources": [h.to_api() for h in prompt.hits]}

    data = run(go, as_json)

    def human() -> str:
        used = "\n".join(f"  [{i}] {h['title']} ({h['location']})" for i, h in enumerate(data["sources"], 1))
        tail = f"Knowledge used:\n{used}" if used else "No knowledge-base excerpt matched."
        return f"{data['answer']}\n\n{tail}"

    emit(data, as_json, human)
