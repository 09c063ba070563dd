"""The ceilings: a bare Starlette WebSocket echo app on the same uvicorn settings as PocketPing,
and the durable ceiling, the same echo answering only once the message is committed to the
database (one row per message, group-committed, on PocketPing's engine settings: what
durability alone costs).

    python -m bench.ceiling PORT [DATABASE_URL]
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


async def echo(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            await ws.send_text(await ws.receive_text())
    except WebSocketDisconnect:
        pass


def durable_app(database_url: str) -> Starlette:
    import contextlib

    import sqlalchemy as sa

    from pocketping.groupcommit import GroupCommit
    from pocketping.store.engine import create_engine

    engine = create_engine(database_url)
    meta = sa.MetaData()
    table = sa.Table("bench_echo", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                     sa.Column("body", sa.Text, nullable=False))

    async def store(bodies: list[str]) -> list[Any]:
        async with engine.begin() as conn:
            await conn.execute(table.insert(), [{"body": b} for b in bodies])
        return [None] * len(bodies)

    commits: GroupCommit[str, Any] = GroupCommit(store)

    async def durable_echo(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                text = await ws.receive_text()
                await commits.run(text)
                await ws.send_text(text)
        except WebSocketDisconnect:
            pass

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> Any:
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
        yield
        await engine.dispose()

    return Starlette(routes=[WebSocketRoute("/ws", durable_echo)], lifespan=lifespan)


if __name__ == "__main__":
    app = durable_app(sys.argv[2]) if len(sys.argv) > 2 else Starlette(routes=[WebSocketRoute("/ws", echo)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", ws_per_message_deflate=False,
                ws_max_size=1 << 20, server_header=False)
