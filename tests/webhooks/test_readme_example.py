"""The README's SDK example works as written, against a real server."""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path

from pocketping_testkit.widget_client import WidgetClient

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> str:
    text = README.read_text()
    section = text[text.index("## Your backend"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


async def test_the_readme_example_works_as_written(server, project):
    code = _example()
    assert 'pp = PocketPing(secret_key="sk_live_...", base_url="https://chat.example.com")' in code
    code = code.replace("sk_live_...", project.secret_key).replace("https://chat.example.com", server.base_url)
    w = await WidgetClient.connect(server.ws_url, project.public_key)
    await w.synced()
    namespace: dict = {}
    exec("async def example(session_id):\n" + textwrap.indent(code, "    ") + "\n    return locals()", namespace)
    result = await namespace["example"](w.session_id)
    pp, sessions = result["pp"], result["sessions"]

    discount = await w.expect("event", name="show_discount")
    assert discount["data"] == {"percent": 20}
    reply = await w.expect("message", operatorName="Sarah")
    assert reply["message"]["text"] == "Hi!"
    assert w.session_id in [s.id for s in sessions]
    assert all(s.status == "active" for s in sessions)

    # The registered handler gets the page's trigger().
    stream = pp.stream(after=0, types=["event.triggered"])
    first = asyncio.ensure_future(anext(stream))
    await w.send({"type": "event", "name": "clicked_pricing", "data": {}, "clientId": "readme"})
    event = await asyncio.wait_for(first, 10)
    assert await pp.dispatch(event) == 1
    await stream.aclose()
    await w.close()
    await pp.aclose()
