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


async def test_the_demo_snippet_comes_from_the_public_url_not_the_host_header(make_server):
    """F10: the Host header is the requester's to choose; the widget's address is not."""
    import httpx

    from pocketping.actions.projects import ensure_demo_project

    srv = make_server(public_url="https://chat.example.com")
    srv.call(ensure_demo_project(srv.services))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        page = await client.get("/demo", headers={"Host": "evil.example"})
    assert '<script src="https://chat.example.com/widget.js" defer></script>' in page.text
    assert "evil.example" not in page.text

    plain = make_server()
    plain.call(ensure_demo_project(plain.services))
    async with httpx.AsyncClient(base_url=plain.base_url) as client:
        page = await client.get("/demo", headers={"Host": 'x"onload="alert(1)'})
    assert 'onload="alert(1)' not in page.text and "/widget.js\" defer></script>" in page.text
