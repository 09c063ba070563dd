"""Retrieval you can measure: the evaluation docs site (tests/ai/evalsite, 30 pages with
navigation, footers and a cookie banner; most pages two links from the start) crawled with
`kb add --crawl`, its questions asked through `GET /api/v1/kb/search`; BM25 with the title
and heading boosts; embeddings per chunk and hybrid ranking with `ai set --embeddings-model`;
a failing embeddings endpoint falls back to BM25. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from pocketping.actions.kb import refresh
from pocketping.ai import embeddings
from pocketping.ai.answering import ask
from pocketping.ai.retrieval import fuse
from pocketping.core.ai import AISettings, apply_changes
from pocketping.errors import InvalidInput
from pocketping.store.schema import kb_chunks
from pocketping.wiring import cli_app
from pocketping_testkit.retrieval_eval import questions, recall, serve

from .ai_helpers import configure

cli_app = cli_app()
MODEL = "fake-embed-trigram"


def cli_for(server: Any) -> Any:
    runner = CliRunner()
    env = {"POCKETPING_DATABASE_URL": server.settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": server.settings.encryption_key.get_secret_value(),
           "POCKETPING_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "POCKETPING_KB_CRAWL_DELAY_SECONDS": "0"}

    def cli(*args: str) -> tuple[int, Any]:
        result = runner.invoke(cli_app, [*args, "--json"], env=env)
        return result.exit_code, orjson.loads(result.stdout) if result.stdout.strip() else result.output

    return cli


def searcher(server: Any, project: Any) -> Any:
    async def search(text: str) -> list[str]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as client:
            res = await client.get("/api/v1/kb/search", params={"q": text, "limit": 20}, headers=project.auth)
            res.raise_for_status()
            return [hit["location"] for hit in res.json()["hits"]]

    return search


def chunk_vectors(server: Any, project_id: str) -> tuple[int, int]:
    """(chunks, chunks with a vector from MODEL) of the project."""
    async def count() -> tuple[int, int]:
        async with server.services.db.read() as tx:
            total = (await tx.conn.execute(select(func.count()).where(kb_chunks.c.project_id == project_id))).scalar()
            embedded = (await tx.conn.execute(select(func.count()).where(
                kb_chunks.c.project_id == project_id, kb_chunks.c.embedding_model == MODEL,
                kb_chunks.c.embedding.is_not(None)))).scalar()
        return int(total or 0), int(embedded or 0)

    return server.call(count())


@pytest.mark.slow  # the whole evaluation site crawled and ranked (20-30 s per backend): make test-slow
async def test_bm25_finds_the_right_page_for_nine_questions_in_ten(server, project, site):
    cli = cli_for(server)
    code, added = await asyncio.to_thread(cli, "kb", "add", project.id, serve(site), "--crawl")
    assert code == 0, added
    assert added[0]["pages"] == 30 and added[0]["status"] == "ready", added
    asked = questions()
    assert len(asked) >= 40
    result = await recall(searcher(server, project), asked)
    assert result.at(5) >= 0.9, result.misses[5]
    assert result.at(3) >= 0.8, result.misses[3]
    # The navigation, the footer and the cookie banner are on every page and in no chunk.
    for boilerplate in ("cookies", "copyright reserved"):
        assert await searcher(server, project)(boilerplate) == []


async def test_a_question_answered_by_a_heading_ranks_its_page_first(server, project, api):
    # The notes repeat the question's words in their text; the guide has them once, as the
    # heading of the section that answers. Without the heading boost the notes rank first.
    notes = ("# Warehouse notes\n\nMorning routine. Customs forms for the Swiss orders: print the customs forms "
             "before lunch and file the spare customs forms in the blue box. "
             "Sam checks the stock of tape, labels and boxes every Friday and orders more when needed.\n")
    guide = ("# Sending parcels abroad\n\n## Customs forms\n\nFill them in from the order page: the description "
             "of each item, its tariff code, the quantity and the value. Print two copies, sign both and slip "
             "them into the pouch on the box before the driver arrives in the afternoon.\n")
    for name, text in (("notes.md", notes), ("guide.md", guide)):
        res = await api.post("/api/v1/kb", headers=project.auth,
                             json={"name": name, "content": text, "contentType": "text/markdown"})
        assert res.status_code == 201, res.text
    hits = await searcher(server, project)("customs forms")
    assert hits and hits[0].endswith("guide.md"), hits


@pytest.mark.slow  # the whole evaluation site crawled and ranked (20-30 s per backend): make test-slow
async def test_embeddings_are_stored_per_chunk_and_ranking_is_hybrid(server, project, site, llm):
    cli = cli_for(server)
    configure(server, project.id, api_key=llm.openai_key, provider="openai", base_url=llm.openai_url)
    code, shown = await asyncio.to_thread(cli, "ai", "set", project.id, "--embeddings-model", MODEL)
    assert code == 0 and shown["embeddingsModel"] == MODEL, shown
    code, added = await asyncio.to_thread(cli, "kb", "add", project.id, serve(site), "--crawl")
    assert code == 0, added
    total, embedded = chunk_vectors(server, project.id)
    assert total > 30 and embedded == total
    indexed = llm.embedding_requests
    assert {r.body["model"] for r in indexed} == {MODEL}
    assert sum(len(r.body["input"]) for r in indexed) == total  # each chunk once
    assert not llm.invalid

    asked = questions()
    result = await recall(searcher(server, project), asked)
    # Every question was embedded (hybrid), and the fusion keeps the recall.
    assert len(llm.embedding_requests) == len(indexed) + len(asked)
    assert [r.body["input"] for r in llm.embedding_requests[len(indexed):]] == [[q.text] for q in asked]
    assert result.at(5) >= 0.9, result.misses[5]

    # Another model: `kb refresh` embeds everything again with it.
    code, _ = await asyncio.to_thread(cli, "ai", "set", project.id, "--embeddings-model", "other-model")
    code, _ = await asyncio.to_thread(cli, "kb", "refresh", project.id)
    assert code == 0
    assert {r.body["model"] for r in llm.embedding_requests[-3:]} == {"other-model"}
    code, shown = await asyncio.to_thread(cli, "ai", "set", project.id, "--embeddings-model", "")
    assert code == 0 and shown["embeddingsModel"] is None


async def test_the_rest_settings_show_and_change_the_embeddings_model_and_the_outside_hours_delay(
        server, project, api):
    cli = cli_for(server)
    code, shown = await asyncio.to_thread(cli, "ai", "set", project.id, "--embeddings-model", MODEL,
                                          "--outside-hours-delay", "30")
    assert code == 0 and shown["embeddingsModel"] == MODEL and shown["outsideHoursDelay"] == 30, shown
    res = await api.get("/api/v1/ai", headers=project.auth)
    assert res.status_code == 200
    assert res.json()["embeddingsModel"] == MODEL and res.json()["outsideHoursDelay"] == 30, res.json()
    res = await api.patch("/api/v1/ai", headers=project.auth,
                          json={"embeddingsModel": "other-model", "outsideHoursDelay": None})
    assert res.status_code == 200, res.text
    assert res.json()["embeddingsModel"] == "other-model" and res.json()["outsideHoursDelay"] is None
    res = await api.patch("/api/v1/ai", headers=project.auth, json={"embeddingsModel": ""})
    assert res.status_code == 200 and res.json()["embeddingsModel"] is None
    code, shown = await asyncio.to_thread(cli, "ai", "show", project.id)
    assert code == 0 and shown["embeddingsModel"] is None and shown["outsideHoursDelay"] is None, shown


async def test_a_failing_embeddings_endpoint_falls_back_to_bm25(server, project, api, llm):
    configure(server, project.id, api_key=llm.openai_key, provider="openai", base_url=llm.openai_url,
              model="gpt-test", embeddings_model=MODEL)
    llm.embeddings_error = 500
    res = await api.post("/api/v1/kb", headers=project.auth, json={
        "name": "warranty.md", "content": "# Warranty\n\nEvery sprocket has a three-year warranty.\n",
        "contentType": "text/markdown"})
    assert res.status_code == 201, res.text  # indexed for BM25 all the same
    assert chunk_vectors(server, project.id) == (1, 0)
    hits = await searcher(server, project)("how long is the sprocket warranty?")
    assert [h.rsplit("/", 1)[-1] for h in hits] == ["warranty.md"]

    # The AI answers with the knowledge, BM25 alone: the question's embedding failed first.
    before = len(llm.requests)
    answer, prompt = server.call(ask(server.services.db, server.services.settings, project.id,
                                     "how long is the sprocket warranty?"))
    assert answer and [h.title for h in prompt.hits] == ["Warranty"]
    paths = [r.path for r in llm.requests[before:]]
    assert paths == ["/v1/embeddings", "/v1/chat/completions"], paths
    assert "three-year warranty" in llm.requests[-1].system

    # The endpoint is back: the next refresh embeds what was left without a vector.
    llm.embeddings_error = None
    server.call(_refresh(server, project.id))
    assert chunk_vectors(server, project.id) == (1, 1)


async def _refresh(server: Any, project_id: str) -> None:
    await refresh(server.services, project_id)


def test_vectors_are_stored_compactly_at_unit_length_and_names_are_checked():
    data = embeddings.pack([3.0, 4.0])
    assert len(data) == 12  # two float32, base64
    assert embeddings.unpack(data) == pytest.approx((0.6, 0.8))
    assert embeddings.cosine(embeddings.unpack(data), embeddings.unpack(embeddings.pack([6.0, 8.0]))) \
        == pytest.approx(1.0)
    assert embeddings.cosine((1.0, 0.0), (1.0, 0.0, 0.0)) == 0.0  # another model's size
    # Reciprocal-rank fusion: agreeing near the top beats being first in one ranking only.
    assert fuse([1, 2, 3], [2, 3, 1])[0] == 2
    with pytest.raises(InvalidInput) as err:
        apply_changes(AISettings(project_id="p"), {"embeddings_model": "x" * 201})
    assert err.value.code == "invalid_model"
    assert apply_changes(AISettings(project_id="p"), {"embeddings_model": "  "}).embeddings_model is None
