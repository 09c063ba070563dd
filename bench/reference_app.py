"""The reference server for the side-by-side benchmark: PyPI `pocketping` (the reference
implementation's Python server: FastAPI, sessions in memory) mounted as its documentation shows,
plus one route for the bench to send an operator reply (what its bridges call).

Run by the interpreter of its own virtual environment (bench/reference.py makes it), never by
ours: its package is called `pocketping` too.

    <reference venv>/bin/python bench/reference_app.py PORT
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request
from pocketping.fastapi import create_router, lifespan_handler

from pocketping import PocketPing

pp = PocketPing()


async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
    async with lifespan_handler(pp):
        yield


app = FastAPI(lifespan=lifespan)
app.include_router(create_router(pp), prefix="/pocketping")


@app.post("/bench/operator")
async def operator_reply(request: Request) -> dict[str, str]:
    body = await request.json()
    message = await pp.send_operator_message(body["sessionId"], body["content"])
    return {"id": message.id}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", ws_per_message_deflate=False,
                ws_max_size=1 << 20, server_header=False, access_log=False,
                # The bench's visitors keep their HTTP connection for the whole round (as a page
                # does between messages); uvicorn would close it after 5 idle seconds.
                timeout_keep_alive=600)
