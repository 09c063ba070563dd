"""Embedding the knowledge base's chunks, when the project has an embeddings model."""

from __future__ import annotations

import logging

from pocketping.actions.services import Services
from pocketping.actions.unit import unit_of_work
from pocketping.ai import embeddings
from pocketping.ai.providers import ModelError
from pocketping.store import ai as ai_repo
from pocketping.store import kb as repo

log = logging.getLogger(__name__)

ROUND = 256  # chunks read, embedded and written at a time


async def embed_missing(svc: Services, project_id: str, source_id: str | None = None) -> str | None:
    """Embed the chunks (of one source, or the whole project) that have no vector from the
    project's embeddings model yet. Returns None, or why it stopped (logged: the chunks stay
    searchable by BM25 and the next index or ``kb refresh`` tries again)."""
    async with svc.db.read() as tx:
        settings = await ai_repo.get_settings(tx, project_id)
        key = await ai_repo.api_key(tx, project_id) if settings.embeddings_model and settings.has_api_key else None
    ep = embeddings.endpoint(svc.settings, settings, key)
    if ep is None:
        return None
    done: set[int] = set()
    while True:
        async with svc.db.read() as tx:
            todo = [c for c in await repo.chunks_to_embed(tx, project_id, ep.model, source_id, ROUND + len(done))
                    if c[0] not in done][:ROUND]
        if not todo:
            return None
        try:
            vectors = await embeddings.embed(ep, [text for _, text in todo])
        except ModelError as exc:
            log.warning("embedding knowledge-base chunks of %s failed: %s", project_id, exc.message)
            return exc.message
        async with unit_of_work(svc) as tx:
            await repo.set_embeddings(tx, ep.model, [(chunk_id, embeddings.pack(v))
                                                     for (chunk_id, _), v in zip(todo, vectors, strict=True)])
        done.update(chunk_id for chunk_id, _ in todo)
