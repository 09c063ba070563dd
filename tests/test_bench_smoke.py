"""`make bench` cannot rot: its smoke variant runs every scenario once, tiny, in seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # about 100 s: make test-slow (CI runs it), not make test
def test_bench_smoke(tmp_path):
    out = tmp_path / "report.md"
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text()
    for section in ("Start-up", "Relay vs. ceiling", "Idle widget connections", "Chat load",
                    "Chat load with Telegram, Discord and Slack", "Idle server with one webhook endpoint down",
                    "Side by side", "Bounded by the page, not the history", "Retrieval recall"):
        assert section in report
    chat = [part for part in report.split("\n## ") if part.startswith("Chat load")]  # its own tables only
    chat_rows = [line for part in chat for line in part.splitlines() if line.startswith("| sqlite |")]
    assert chat_rows, report
    for row in chat_rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[-2:] == ["0", "0"], row  # nothing lost, nothing duplicated
    recall = [line for line in report.splitlines() if line.startswith(("| BM25", "| hybrid"))]
    assert len(recall) == 2, report
    for line in recall:
        assert float(line.split("|")[3]) >= 0.9, line  # recall@5
