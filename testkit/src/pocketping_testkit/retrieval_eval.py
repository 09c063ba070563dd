"""The retrieval evaluation set (tests/ai/evalsite): a static docs site served by ``FakeSite``,
questions with the page each should find, and recall@k. Shared by the tests and ``make bench``.

A page counts as found at k when any of its chunks is among the first k distinct pages of
the ranking (chunks of one page count once).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from pocketping_testkit.fakes.site import FakeSite

EVALSITE = Path(__file__).resolve().parents[3] / "tests" / "ai" / "evalsite"
START = "/docs/"


@dataclass(frozen=True)
class Question:
    text: str
    page: str  # the URL path of the page that answers it


@dataclass
class Recall:
    k: tuple[int, ...]
    found: dict[int, int] = field(default_factory=dict)
    total: int = 0
    misses: dict[int, list[tuple[str, str, list[str]]]] = field(default_factory=dict)  # question, page, top k

    def at(self, k: int) -> float:
        return self.found.get(k, 0) / self.total if self.total else 0.0


def pages(root: Path = EVALSITE) -> dict[str, bytes]:
    """URL path -> HTML: ``docs/a/b.html`` is ``/docs/a/b``, ``docs/a/index.html`` is ``/docs/a/``."""
    out = {}
    for file in sorted(root.rglob("*.html")):
        path = "/" + file.relative_to(root).with_suffix("").as_posix()
        out[path[: -len("index")] if path.endswith("/index") else path] = file.read_bytes()
    return out


def questions(root: Path = EVALSITE) -> list[Question]:
    return [Question(q["question"], q["page"]) for q in orjson.loads((root / "questions.json").read_bytes())]


def serve(site: FakeSite, root: Path = EVALSITE) -> str:
    """Put the site on ``site`` (no sitemap: the crawl follows links); returns the start URL."""
    site.page("/robots.txt", "User-agent: *\nAllow: /\n", "text/plain")
    for path, body in pages(root).items():
        site.page(path, body)
    return site.url(START)


def ranked_pages(locations: Iterable[str]) -> list[str]:
    """The distinct URL paths of ranked hits' locations, in order."""
    seen: list[str] = []
    for location in locations:
        path = urlsplit(location).path
        if path not in seen:
            seen.append(path)
    return seen


async def recall(search: Callable[[str], Awaitable[Sequence[str]]], asked: Sequence[Question],
                 ks: tuple[int, ...] = (3, 5)) -> Recall:
    """Recall at each k of ``search`` (a question -> the ranked hits' locations)."""
    result = Recall(ks, {k: 0 for k in ks}, len(asked), {k: [] for k in ks})
    for question in asked:
        ranking = ranked_pages(await search(question.text))
        for k in ks:
            if question.page in ranking[:k]:
                result.found[k] += 1
            else:
                result.misses[k].append((question.text, question.page, ranking[:k]))
    return result
