"""Developer tool: write a new migration from the difference between schema.py and the migrations.

    .venv/bin/python -m pocketping.store.autogen "what changed"
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command

from pocketping.store.engine import create_engine
from pocketping.store.migrate import alembic_config, head_revisions, upgrade


async def main(message: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'autogen.db'}")
        await upgrade(engine)
        heads = head_revisions()
        number = max(int(h.split("_")[0]) if h[:4].isdigit() else 0 for h in heads) + 1
        rev_id = f"{number:04d}"

        def generate(sync_conn: object) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = sync_conn
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)

        async with engine.connect() as conn:
            await conn.run_sync(generate)
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "change"))
