"""Crawling a docs site for the knowledge base: what is in scope, robots.txt, sitemaps, links.

The fetching itself (through the SSRF guard, redirects included) and the indexing live in
``pocketping.actions.kb``; this module only decides and parses.
"""

from __future__ import annotations

import fnmatch
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from pocketping.errors import InvalidInput

USER_AGENT = "PocketPing"
MAX_PAGES = 5000
MAX_DEPTH = 20
MAX_SITEMAPS = 20
REFRESH_DAYS = {"daily": 1, "weekly": 7, "off": 0}
# Links to these are not documents the knowledge base reads: not even requested.
_NOT_DOCUMENTS = re.compile(r"\.(png|jpe?g|gif|webp|svg|ico|css|js|mjs|json|xml|zip|gz|tgz|tar|mp[34]|webm|woff2?|"
                            r"ttf|eot|exe|dmg|apk)$", re.IGNORECASE)


@dataclass(frozen=True)
class CrawlOptions:
    max_pages: int = 200
    depth: int = 3
    include: tuple[str, ...] = ()  # path (or URL) prefixes; empty: the start URL's prefix only
    exclude: tuple[str, ...] = field(default=())  # glob patterns (or substrings) of the path
    refresh: str = "off"  # daily | weekly | off: crawled again by the workers

    def __post_init__(self) -> None:
        if not 1 <= self.max_pages <= MAX_PAGES:
            raise InvalidInput(f"--max-pages is between 1 and {MAX_PAGES}", code="invalid_crawl")
        if not 0 <= self.depth <= MAX_DEPTH:
            raise InvalidInput(f"--depth is between 0 and {MAX_DEPTH}", code="invalid_crawl")
        if self.refresh not in REFRESH_DAYS:
            raise InvalidInput("--refresh is daily, weekly or off", code="invalid_crawl")
        for item in (*self.include, *self.exclude):
            if not item or len(item) > 500 or any(c.isspace() for c in item):
                raise InvalidInput("--include and --exclude take a non-empty path prefix or pattern without spaces",
                                   code="invalid_crawl")

    def to_json(self) -> str:
        return json.dumps({"maxPages": self.max_pages, "depth": self.depth, "include": list(self.include),
                           "exclude": list(self.exclude), "refresh": self.refresh})

    @classmethod
    def from_json(cls, text: str | None) -> CrawlOptions:
        data = json.loads(text) if text else {}
        return cls(max_pages=int(data.get("maxPages", 200)), depth=int(data.get("depth", 3)),
                   include=tuple(data.get("include", ())), exclude=tuple(data.get("exclude", ())),
                   refresh=str(data.get("refresh", "off")))


def normalize(url: str) -> str:
    """The URL without its fragment, with a lower-case scheme and host and a path."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


@dataclass(frozen=True)
class Scope:
    """Which URLs a crawl may fetch: the start URL's scheme and host, under its path prefix
    (or under an ``--include`` prefix), and matching no ``--exclude`` pattern."""

    origin: str
    prefixes: tuple[str, ...]
    exclude: tuple[str, ...]

    @classmethod
    def of(cls, start: str, options: CrawlOptions) -> Scope:
        parts = urlsplit(normalize(start))
        origin = f"{parts.scheme}://{parts.netloc}"
        path = parts.path
        if not path.endswith("/"):
            last = path.rsplit("/", 1)[-1]
            path = path[: len(path) - len(last)] if "." in last else path  # /docs/index.html -> /docs/
        prefixes = tuple(urlsplit(p).path if "://" in p else p for p in options.include) or (path,)
        return cls(origin, prefixes, options.exclude)

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            return False
        path = parts.path or "/"
        if not any(path.startswith(p) or path + "/" == p for p in self.prefixes):
            return False
        target = path + (f"?{parts.query}" if parts.query else "")
        for pattern in self.exclude:
            if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(target, pattern):
                return False
            if not any(c in pattern for c in "*?[") and pattern in target:
                return False
        return not _NOT_DOCUMENTS.search(path)


def robots(status: int | None, text: str) -> RobotFileParser:
    """The site's rules (RFC 9309): none when robots.txt is missing (4xx); everything
    disallowed when it could not be read (5xx, network error: ``status`` None)."""
    parser = RobotFileParser()
    if status is None or status >= 500:
        parser.parse(["User-agent: *", "Disallow: /"])
    else:
        parser.parse(text.splitlines() if status == 200 else [])
    return parser


def sitemap(data: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, nested sitemap URLs) of a sitemap or sitemap index; nothing when unreadable."""
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        return [], []  # no sitemap needs a DTD; refusing it keeps entity expansion (billion laughs) out
    try:
        root = ET.fromstring(data)  # noqa: S314 (no DTD, hence no entities, see above)
    except ET.ParseError:
        return [], []
    pages: list[str] = []
    nested: list[str] = []
    for element in root:
        loc = next((child.text for child in element if child.tag.rsplit("}", 1)[-1] == "loc" and child.text), None)
        if loc is None:
            continue
        kind = element.tag.rsplit("}", 1)[-1]
        (nested if kind == "sitemap" else pages).append(loc.strip())
    return pages, nested


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        elif tag == "a" and values.get("href") and "nofollow" not in (values.get("rel") or "").lower():
            self.hrefs.append(str(values["href"]))


def links(html: str, url: str) -> list[str]:
    """The http(s) links of a page, absolute and without fragments, in order, once each."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    base = urljoin(url, parser.base) if parser.base else url
    out: list[str] = []
    for href in parser.hrefs:
        try:
            absolute = normalize(urljoin(base, href.strip()))
        except ValueError:
            continue
        if absolute.startswith(("http://", "https://")) and absolute not in out:
            out.append(absolute)
    return out
