"""The documentation keeps up with the code: every setting is in docs/configuration.md, and
every document the README links to exists."""

from __future__ import annotations

import re
from pathlib import Path

from pocketping.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented():
    text = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`POCKETPING_{name.upper()}`" not in text]
    assert missing == [], f"undocumented settings: {missing}"


def test_the_readme_links_only_to_documents_that_exist():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert "docs/performance.md" in links and "docs/deployment.md" in links
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_the_readme_and_the_widget_page_state_the_widgets_size_as_served():
    from pocketping.server.static import load_asset

    asset = load_asset("widget.js", "application/javascript", ROOT / "src" / "pocketping" / "server" / "static")
    assert asset is not None
    readme = (ROOT / "README.md").read_text()
    stated = re.search(r"`widget.js` is \*\*([\d,]+) bytes gzipped\*\* \(([\d,]+) with brotli", readme)
    assert stated is not None
    assert [int(n.replace(",", "")) for n in stated.groups()] == [len(asset.gz), len(asset.br)]
    page = (ROOT / "docs" / "widget.md").read_text()
    table = [re.search(rf"^\| {row} \| ([\d,]+) \|$", page, re.M)
             for row in ("minified", r"gzipped \(as served\)", r"brotli \(as served\)")]
    assert None not in table
    assert [int(m.group(1).replace(",", "")) for m in table if m] == [len(asset.body), len(asset.gz), len(asset.br)]
