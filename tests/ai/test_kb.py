"""The knowledge base through the REST API and the CLI, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
import base64

import orjson
from typer.testing import CliRunner

from pocketping.wiring import cli_app

cli_app = cli_app()



def minimal_pdf(text: str) -> bytes:
    """A one-page PDF whose page shows ``text`` (Helvetica), built by hand."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


async def test_sources_can_be_added_searched_refreshed_and_removed(server, project, api, site):
    faq = "# Help\n\n## Shipping\n\nWe ship to Spain in 3 to 5 business days with Correos.\n"
    res = await api.post("/api/v1/kb", headers=project.auth, json={"name": "faq.md", "content": faq})
    assert res.status_code == 201, res.text
    doc = res.json()
    assert doc["kind"] == "text" and doc["title"] == "Help" and doc["status"] == "ready" and doc["chunks"] == 1

    url = site.page("/returns", "<html><head><title>Returns policy</title></head><body><nav>Home</nav>"
                                "<h1>Returns</h1><p>Returns are free within 30 days.</p></body></html>")
    res = await api.post("/api/v1/kb", headers=project.auth, json={"url": url})
    assert res.status_code == 201, res.text
    page = res.json()
    assert page["kind"] == "url" and page["title"] == "Returns policy" and page["contentType"] == "text/html"

    res = await api.get("/api/v1/kb/search", headers=project.auth, params={"q": "how long is shipping to spain?"})
    hits = res.json()["hits"]
    assert hits[0]["sourceId"] == doc["id"] and "Correos" in hits[0]["text"] and hits[0]["heading"] == "Help > Shipping"
    res = await api.get("/api/v1/kb/search", headers=project.auth, params={"q": "can I return my order?"})
    assert [h["sourceId"] for h in res.json()["hits"]] == [page["id"]]
    res = await api.get("/api/v1/kb/search", headers=project.auth, params={"q": "do you sell gift cards"})
    assert res.json()["hits"] == []

    # The page changes; a refresh picks it up.
    site.page("/returns", "<h1>Returns</h1><p>Returns are free within 60 days, with a prepaid label.</p>")
    res = await api.post(f"/api/v1/kb/{page['id']}/refresh", headers=project.auth)
    assert res.status_code == 200 and res.json()["status"] == "ready"
    res = await api.get("/api/v1/kb/search", headers=project.auth, params={"q": "prepaid label"})
    assert "60 days" in res.json()["hits"][0]["text"]

    # A refresh that fails keeps the previous content and says why.
    site.pages.pop("/returns")
    res = await api.post(f"/api/v1/kb/{page['id']}/refresh", headers=project.auth)
    assert res.json()["status"] == "error" and "404" in res.json()["error"]
    res = await api.get("/api/v1/kb/search", headers=project.auth, params={"q": "prepaid label"})
    assert len(res.json()["hits"]) == 1

    # Adding the same name again replaces the document.
    res = await api.post("/api/v1/kb", headers=project.auth,
                         json={"name": "faq.md", "content": "# Help\n\nWe do not ship to Mars."})
    assert res.json()["id"] == doc["id"]
    res = await api.get("/api/v1/kb/search", headers=project.auth, params={"q": "Correos"})
    assert res.json()["hits"] == []

    res = await api.get("/api/v1/kb", headers=project.auth)
    assert [s["id"] for s in res.json()["sources"]] == [doc["id"], page["id"]]
    res = await api.delete(f"/api/v1/kb/{page['id']}", headers=project.auth)
    assert res.status_code == 200 and res.json()["id"] == page["id"]
    assert (await api.delete(f"/api/v1/kb/{page['id']}", headers=project.auth)).status_code == 404
    res = await api.get("/api/v1/kb", headers=project.auth)
    assert [s["id"] for s in res.json()["sources"]] == [doc["id"]]


async def test_a_pdf_is_read(server, project, api):
    pdf = minimal_pdf("Our warehouse is in Rotterdam.")
    res = await api.post("/api/v1/kb", headers=project.auth, json={
        "name": "about.pdf", "contentBase64": base64.b64encode(pdf).decode(), "contentType": "application/pdf"})
    assert res.status_code == 201, res.text
    assert res.json()["contentType"] == "application/pdf"
    res = await api.get("/api/v1/kb/search", headers=project.auth, params={"q": "where is the warehouse"})
    assert "Rotterdam" in res.json()["hits"][0]["text"]


async def test_knowledge_stays_in_its_project(server, project, api):
    from pocketping.actions.projects import create_project

    _other, other_secret = server.call(create_project(server.services, "Other", []))
    res = await api.post("/api/v1/kb", headers=project.auth, json={"name": "secret.md", "content": "Code: zebra42"})
    source = res.json()
    other_auth = {"Authorization": f"Bearer {other_secret}"}
    assert (await api.get("/api/v1/kb/search", headers=other_auth, params={"q": "zebra42"})).json()["hits"] == []
    assert (await api.delete(f"/api/v1/kb/{source['id']}", headers=other_auth)).status_code == 404
    assert (await api.get("/api/v1/kb", headers=other_auth)).json()["sources"] == []


async def test_bad_documents_get_clear_errors(server, project, api):
    res = await api.post("/api/v1/kb", headers=project.auth, json={"name": "a.md"})
    assert res.status_code == 422
    res = await api.post("/api/v1/kb", headers=project.auth, json={"name": "x.bin", "contentBase64": "AAEC",
                                                                   "contentType": "application/octet-stream"})
    assert res.status_code == 422 and res.json()["error"]["code"] == "kb_unsupported_type"
    junk = base64.b64encode(b"%PDF-1.4 junk").decode()
    res = await api.post("/api/v1/kb", headers=project.auth, json={"name": "broken.pdf", "contentBase64": junk})
    assert res.status_code == 422 and res.json()["error"]["code"] in ("kb_unreadable", "kb_empty")
    res = await api.post("/api/v1/kb", headers=project.auth, json={"url": "ftp://example.com/faq"})
    assert res.status_code == 422 and res.json()["error"]["code"] == "unsafe_url"
    assert (await api.get("/api/v1/kb", headers=project.auth)).json()["sources"] == []


async def test_cli_adds_files_and_directories(server, project, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "shipping.md").write_text("# Shipping\n\nParcels leave our warehouse every weekday at 4 pm.\n")
    (docs / "hours.txt").write_text("Opening hours: Monday to Friday, 9 to 17.\n")
    (docs / "logo.png").write_bytes(b"\x89PNG")  # not a document: skipped
    runner = CliRunner()
    env = {"POCKETPING_DATABASE_URL": server.settings.database_url,
           "POCKETPING_ENCRYPTION_KEY": server.settings.encryption_key.get_secret_value()}

    def cli(*args: str) -> tuple[int, object]:
        result = runner.invoke(cli_app, [*args, "--json"], env=env)
        return result.exit_code, orjson.loads(result.stdout) if result.stdout.strip() else None

    code, added = await asyncio.to_thread(cli, "kb", "add", project.id, str(docs))
    assert code == 0, added
    assert sorted(s["title"] for s in added) == ["Shipping", "hours.txt"]
    code, listed = await asyncio.to_thread(cli, "kb", "list", project.id)
    assert sorted(s["location"] for s in listed) == sorted([str(docs / "hours.txt"), str(docs / "shipping.md")])
    code, hits = await asyncio.to_thread(cli, "kb", "search", project.id, "when do parcels leave?")
    assert "4 pm" in hits[0]["text"]

    (docs / "shipping.md").write_text("# Shipping\n\nParcels leave our warehouse every weekday at 2 pm.\n")
    code, refreshed = await asyncio.to_thread(cli, "kb", "refresh", project.id, str(docs / "shipping.md"))
    assert code == 0 and refreshed[0]["status"] == "ready"
    code, hits = await asyncio.to_thread(cli, "kb", "search", project.id, "when do parcels leave?")
    assert "2 pm" in hits[0]["text"]

    code, removed = await asyncio.to_thread(cli, "kb", "remove", project.id, str(docs / "hours.txt"))
    assert code == 0 and removed["removed"][0]["title"] == "hours.txt"
    code, error = await asyncio.to_thread(cli, "kb", "add", project.id, str(tmp_path / "missing.md"))
    assert code == 1 and error["error"]["code"] == "kb_unreadable"
