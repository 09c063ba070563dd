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


def test_the_readme_states_the_widgets_size_as_shipped():
    import gzip

    body = (ROOT / "src" / "pocketping" / "server" / "static" / "widget.js").read_bytes()
    stated = re.search(r"`widget.js` is \*\*([\d,]+) bytes gzipped\*\*", (ROOT / "README.md").read_text())
    assert stated is not None
    assert int(stated.group(1).replace(",", "")) == len(gzip.compress(body, 9, mtime=0))
