"""The shipped widget bundle: within budget, served with ETag, caching and compression."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import brotli
import httpx
import pytest

from pocketping.server.static import accepted_encodings

BUNDLE = Path(__file__).parents[2] / "src" / "pocketping" / "server" / "static" / "widget.js"
BUDGET = 10_240  # bytes, gzipped (docs/widget.md, README)


def test_bundle_is_within_the_size_budget(capsys: pytest.CaptureFixture[str]) -> None:
    body = BUNDLE.read_bytes()
    gz = len(gzip.compress(body, 9, mtime=0))
    br = len(brotli.compress(body, quality=11))
    with capsys.disabled():
        print(f"\nwidget.js: {len(body)} bytes minified, {gz} bytes gzipped, {br} bytes brotli (budget {BUDGET})")
    assert gz <= BUDGET


def test_bundle_is_self_contained() -> None:
    text = BUNDLE.read_text()
    # No eval, no inline handlers, no HTML parsing of text, nothing fetched from elsewhere.
    for forbidden in ("eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                      "@import", "fonts.googleapis", "setAttribute(\"on"):
        assert forbidden not in text, forbidden
    assert re.findall(r"https?://[^\"'`\s)]+", text) == ["http://www.w3.org/2000/svg"]


async def test_served_with_etag_cache_control_and_compression(server) -> None:
    body = BUNDLE.read_bytes()
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        plain = await client.get("/widget.js", headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200
        assert plain.content == body
        assert plain.headers["content-type"] == "application/javascript; charset=utf-8"
        assert plain.headers["etag"] == '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assert "max-age" in plain.headers["cache-control"]
        assert "content-encoding" not in plain.headers

        gz = await client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
        assert gz.headers["content-encoding"] == "gzip" and gz.content == body  # httpx decodes it
        br = await client.get("/widget.js", headers={"Accept-Encoding": "gzip, br"})
        assert br.headers["content-encoding"] == "br"
        refused = await client.get("/widget.js", headers={"Accept-Encoding": "br;q=0, gzip"})
        assert refused.headers["content-encoding"] == "gzip"

        again = await client.get("/widget.js", headers={"If-None-Match": plain.headers["etag"]})
        assert again.status_code == 304 and again.content == b""


def test_accepted_encodings() -> None:
    assert accepted_encodings("gzip, deflate, br") == {"gzip", "deflate", "br"}
    assert accepted_encodings("br;q=0, gzip;q=0.5") == {"gzip"}
    assert "br" not in accepted_encodings("br;q=bogus")


STRINGS = BUNDLE.parent / "i18n"
SOURCE = Path(__file__).parents[2] / "widget" / "src" / "i18n.ts"


def test_every_served_locale_has_one_string_per_key() -> None:
    source = SOURCE.read_text()
    keys = re.search(r"const enum T \{(.*?)\}", source, re.S).group(1)  # type: ignore[union-attr]
    count = len([k for k in keys.replace("\n", " ").split(",") if k.strip()])
    english = re.search(r'const EN = "(.*)"', source).group(1)  # type: ignore[union-attr]
    assert len(english.split("|")) == count
    codes = re.findall(r'"(\w\w)"', re.search(r"CODES = \[(.*?)\]", source).group(1))  # type: ignore[union-attr]
    assert sorted(codes) == sorted(["en"] + [p.stem for p in STRINGS.glob("*.txt")])
    for path in STRINGS.glob("*.txt"):
        fields = path.read_text().strip().split("|")
        assert len(fields) == count, path.name
        assert all(f.strip() for f in fields), path.name
        # Placeholders survive translation.
        for en, other in zip(english.split("|"), fields, strict=True):
            assert ("{n}" in en) == ("{n}" in other), (path.name, en, other)


async def test_locale_strings_are_served_cacheable_and_to_any_page(server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        fr = await client.get("/widget/i18n/fr.txt", headers={"Origin": "https://shop.example"})
        assert fr.status_code == 200 and fr.text.startswith("Ouvrir le chat|")
        assert fr.headers["content-type"] == "text/plain; charset=utf-8"
        assert fr.headers["access-control-allow-origin"] == "*"  # the widget fetches it from the host page
        assert "max-age" in fr.headers["cache-control"] and fr.headers["etag"]
        for missing in ("en", "xx", "..%2Fwidget", "FR"):
            gone = await client.get(f"/widget/i18n/{missing}.txt")
            assert gone.status_code == 404
        assert (await client.get("/widget/i18n/xx.txt")).json()["error"]["code"] == "locale_not_found"
