"""A widget-protocol round trip against a running PocketPing server, from the outside.

    python scripts/widget_roundtrip.py http://127.0.0.1:8000 --public-key pk_live_... --secret-key sk_live_...

Waits for ``/readyz``, then as a visitor: ``hello`` -> ``welcome``, ``message`` -> ``ack``; as the
site's backend (the Python SDK, secret key): ``POST /api/v1/sessions/{id}/messages``; and checks the
visitor's socket receives that reply as a ``message`` frame. Prints one JSON line and exits 0, or
says what failed and exits 1.

It needs only ``websockets`` and ``pocketping_sdk`` (both installed with the server's wheel and
the SDK's), so the clean-install test runs it with the fresh environment's Python and
``make image-test`` runs it against the server in the image.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import websockets
from pocketping_sdk import PocketPing

TIMEOUT = 15.0


def wait_ready(base_url: str, timeout: float) -> None:
    """Poll /readyz until it answers 200: a server starting in another process has no event to await."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{base_url}/readyz did not answer 200 within {timeout:.0f} s ({last})")


async def expect(ws: Any, type_: str, **match: Any) -> dict[str, Any]:
    """The next frame of this type whose fields match; other frames are skipped."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame.get("type") == "error":
                raise RuntimeError(f"server answered an error frame: {frame}")
            if frame.get("type") == type_ and all(_field(frame, k) == v for k, v in match.items()):
                return frame


def _field(frame: dict[str, Any], dotted: str) -> Any:
    value: Any = frame
    for part in dotted.split("__"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


async def round_trip(base_url: str, public_key: str, secret_key: str, origin: str | None) -> dict[str, Any]:
    ws_url = base_url.replace("http", "ws", 1) + "/ws"
    async with websockets.connect(ws_url, origin=origin, compression=None, open_timeout=TIMEOUT) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello", "publicKey": public_key, "metadata": {"url": "roundtrip"}}))
        welcome = await expect(ws, "welcome")
        await expect(ws, "synced")
        session_id = welcome["sessionId"]
        client_id = f"rt-{secrets.token_hex(4)}"
        await ws.send(json.dumps({"type": "message", "text": "Hello from the round trip", "clientId": client_id}))
        ack = await expect(ws, "ack", clientId=client_id)
        text = f"Reply {secrets.token_hex(4)}"
        async with PocketPing(secret_key=secret_key, base_url=base_url) as pp:
            reply = await pp.send_message(session_id, text, operator_name="Round Trip")
        frame = await expect(ws, "message", message__id=reply.id)
        if frame["message"]["text"] != text or frame["message"]["sender"] != "operator":
            raise RuntimeError(f"the reply arrived changed: {frame}")
    return {"ok": True, "sessionId": session_id, "ackedId": ack["id"], "ackedSeq": ack["seq"],
            "replyId": reply.id, "replySeq": frame["message"]["seq"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--origin", default=None, help="Origin header of the widget's page")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for /readyz")
    args = parser.parse_args(argv)
    base_url = args.base_url.rstrip("/")
    try:
        wait_ready(base_url, args.wait)
        result = asyncio.run(round_trip(base_url, args.public_key, args.secret_key, args.origin))
    except Exception as exc:
        print(f"round trip failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
