"""The demo page embeds the widget the way a site would."""

from __future__ import annotations


async def test_demo_page_embeds_the_two_lines(server, api):
    from pocketping.actions.projects import ensure_demo_project

    project, _ = server.call(ensure_demo_project(server.services))
    page = await api.get("/demo")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    snippet = (f'<script src="{server.base_url}/widget.js" defer></script>\n'
               '<script>addEventListener("DOMContentLoaded",()=>PocketPing.init('
               f'{{ publicKey: "{project.public_key}" }}))</script>')
    assert snippet in page.text
    assert (await api.get("/")).status_code == 200
