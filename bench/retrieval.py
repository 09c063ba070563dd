"""Retrieval quality on the evaluation set (tests/ai/evalsite): the docs site crawled by
`kb add --crawl`'s action from a local server, then every question asked the way the AI
asks (`kb search`): recall@3 and recall@5, BM25 alone, then hybrid with the fake model
API's deterministic embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pocketping.crypto import generate_key
from pocketping_testkit.fakes.llm import FakeLLM
from pocketping_testkit.fakes.site import FakeSite
from pocketping_testkit.retrieval_eval import Recall, questions, recall, serve

EMBEDDINGS_MODEL = "fake-embed-trigram"


def _row(mode: str, result: Recall) -> dict[str, Any]:
    return {"mode": mode, "questions": result.total, "recall_at_3": result.at(3), "recall_at_5": result.at(5),
            "misses_at_5": [q for q, _, _ in result.misses[5]]}


async def retrieval_recall(workdir: Path) -> list[dict[str, Any]]:
    from pocketping.actions import kb
    from pocketping.actions.ai import update_ai_settings
    from pocketping.actions.projects import create_project
    from pocketping.ai.crawl import CrawlOptions
    from pocketping.wiring import build_services
    from pocketping_testkit.server import make_settings

    site, llm = FakeSite().start(), FakeLLM().start()
    try:
        settings = make_settings(f"sqlite:///{workdir / 'retrieval.db'}", str(workdir / "retrieval"),
                                 encryption_key=generate_key(), allowed_private_hosts="127.0.0.1",
                                 kb_crawl_delay_seconds=0)
        svc = build_services(settings)
        await svc.db.migrate()
        project, _ = await create_project(svc, "Evaluation")
        await kb.add_site(svc, project.id, serve(site), CrawlOptions())
        asked = questions()

        async def ask(text: str) -> list[str]:
            return [h.location for h in await kb.search(svc, project.id, text, limit=20)]

        rows = [_row("BM25 (title and heading boosts)", await recall(ask, asked))]
        await update_ai_settings(svc, project.id, {"provider": "openai", "base_url": llm.openai_url,
                                                   "embeddings_model": EMBEDDINGS_MODEL}, api_key=llm.openai_key)
        await kb.refresh(svc, project.id)  # embeds every chunk
        rows.append(_row("hybrid: BM25 + embeddings (RRF)", await recall(ask, asked)))
        rows[-1]["embedding_requests"] = len(llm.embedding_requests)
        await svc.db.dispose()
        return rows
    finally:
        site.stop()
        llm.stop()


def render(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    out = ["", "## Retrieval recall on the evaluation set (tests/ai/evalsite)", "",
           f"{rows[0]['questions']} visitor questions on a 30-page docs site crawled from a local server; a "
           "question counts as found at k when its page is among the first k distinct pages of `kb search` "
           "(limit 20, the AI's 1,500-token budget). Hybrid: the fake model API's deterministic embeddings "
           "(hashed words and character trigrams), fused with BM25 by reciprocal rank.", "",
           "| ranking | recall@3 | recall@5 | missed at 5 |", "|---|---|---|---|"]
    for row in rows:
        missed = "; ".join(row["misses_at_5"]) or "-"
        out.append(f"| {row['mode']} | {row['recall_at_3']:.3f} | {row['recall_at_5']:.3f} | {missed} |")
    return out
