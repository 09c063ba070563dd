"""The knowledge base's term index hashed again under the current key (``rotate-key``)."""

from __future__ import annotations

from pocketping.actions.services import Services
from pocketping.ai.text import index_terms
from pocketping.store import kb_index


async def reindex_kb(svc: Services, batch_size: int = 500) -> int:
    """Every chunk's terms, counted from its (decrypted) text as when it was added; returns how many chunks."""
    done, last = 0, 0
    while True:
        async with svc.db.transaction() as tx:
            batch = await kb_index.chunk_batch(tx, last, batch_size)
            for chunk_id, project_id, title, heading, text in batch:
                await kb_index.replace_terms(tx, chunk_id, project_id, index_terms(title, heading, text))
        done += len(batch)
        if len(batch) < batch_size:
            return done
        last = batch[-1][0]
