"""Reading knowledge-base documents: Markdown, plain text, HTML and PDF, from a file or a URL."""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import httpx

from pocketping import netguard
from pocketping.ai.text import html_to_text
from pocketping.errors import InvalidInput

log = logging.getLogger(__name__)

EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".txt": "text", ".text": "text",
              ".rst": "text", ".html": "html", ".htm": "html", ".pdf": "pdf"}
MEDIA_TYPES = {"text/html": "html", "application/xhtml+xml": "html", "text/markdown": "markdown",
               "text/x-markdown": "markdown", "text/plain": "text", "application/pdf": "pdf"}
CONTENT_TYPES = {"html": "text/html", "markdown": "text/markdown", "text": "text/plain", "pdf": "application/pdf"}
MAX_PDF_PAGES = 500


class DocumentError(InvalidInput):
    code = "kb_unreadable"


@dataclass(frozen=True)
class Document:
    title: str
    content_type: str  # text/markdown, text/plain, text/html, application/pdf
    text: str  # Markdown-ish text, ready for chunking
    size_bytes: int


def _kind(name: str, media_type: str | None, data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if media_type:
        base = media_type.split(";")[0].strip().lower()
        if base in MEDIA_TYPES and not (base == "text/plain" and PurePosixPath(name).suffix.lower() in EXTENSIONS):
            return MEDIA_TYPES[base]
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if media_type is None or media_type.startswith("text/"):
        return "text"
    raise DocumentError(f"{name}: unsupported content type {media_type!r}; the knowledge base reads Markdown, "
                        "text, HTML and PDF", code="kb_unsupported_type")


def _decode(data: bytes, charset: str | None) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _pdf_text(data: bytes, name: str) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentError(f"{name}: the PDF is encrypted", code="kb_unreadable")
        pages = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES]]
        title = str((reader.metadata.title if reader.metadata else None) or "")
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"{name}: not a readable PDF ({exc})", code="kb_unreadable") from exc
    return title.strip(), "\n\n".join(p.strip() for p in pages if p.strip())


def parse(data: bytes, *, name: str, media_type: str | None = None) -> Document:
    """A document from raw bytes (``name`` is a file name or URL, for the type and the title)."""
    kind = _kind(name, media_type, data)
    charset = None
    for param in (media_type or "").split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip("\"'")
    fallback_title = PurePosixPath(urlsplit(name).path or name).name or name
    if kind == "pdf":
        title, text = _pdf_text(data, name)
    elif kind == "html":
        title, text = html_to_text(_decode(data, charset))
    else:
        text = _decode(data, charset).replace("\x00", "")
        title = next((line.lstrip("#").strip() for line in text.splitlines()
                      if line.startswith("# ")), "") if kind == "markdown" else ""
    if not text.strip():
        raise DocumentError(f"{name}: no text found (a scanned PDF or an empty page?)", code="kb_empty")
    return Document(title=(title or fallback_title)[:300], content_type=CONTENT_TYPES[kind], text=text,
                    size_bytes=len(data))


async def parse_async(data: bytes, *, name: str, media_type: str | None = None) -> Document:
    # PDF and large HTML parsing is CPU work: keep it off the event loop.
    return await asyncio.to_thread(parse, data, name=name, media_type=media_type)


def read_file(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(f"{path}: {size} bytes is over the {max_bytes}-byte limit (POCKETPING_KB_MAX_BYTES)",
                                code="kb_too_large")
        return path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}", code="kb_unreadable") from exc


HEADERS = {"User-Agent": "PocketPing knowledge-base fetcher",
           "Accept": "text/html, text/markdown, text/plain, application/pdf;q=0.9, */*;q=0.1"}


async def fetch_raw(client: httpx.AsyncClient, url: str, *, allow_private: bool, timeout: float, max_bytes: int,
                    allowed: netguard.PrivateHosts = netguard.NO_PRIVATE_HOSTS,
                    headers: dict[str, str] | None = None) -> netguard.SafeResponse:
    """GET ``url`` through the SSRF guard (every redirect hop checked), at most ``max_bytes``
    and ``timeout`` seconds in all; any status comes back (``url`` is where it ended)."""
    try:
        async with asyncio.timeout(timeout):
            return await netguard.follow(client, url, allow_private=allow_private,
                                         headers={**HEADERS, **(headers or {})}, timeout=timeout,
                                         max_body_bytes=max_bytes, allowed=allowed)
    except TimeoutError as exc:
        raise DocumentError(f"{url}: no complete answer within {timeout:g} seconds", code="kb_fetch_failed") from exc
    except netguard.ResponseTooLarge as exc:
        raise DocumentError(f"{url}: larger than {max_bytes} bytes (POCKETPING_KB_MAX_BYTES)",
                            code="kb_too_large") from exc
    except httpx.HTTPError as exc:
        raise DocumentError(f"{url}: {type(exc).__name__}: {exc}", code="kb_fetch_failed") from exc


async def fetch_url(url: str, *, allow_private: bool, timeout: float, max_bytes: int,
                    allowed: netguard.PrivateHosts = netguard.NO_PRIVATE_HOSTS) -> Document:
    """Fetch a page: http(s) only, every redirect hop checked against the address rules,
    at most ``max_bytes`` and ``timeout`` seconds in all."""
    async with netguard.new_client() as client:
        response = await fetch_raw(client, url, allow_private=allow_private, timeout=timeout, max_bytes=max_bytes,
                                   allowed=allowed)
    if response.status_code != 200:
        raise DocumentError(f"{url} answered HTTP {response.status_code}", code="kb_fetch_failed")
    return await parse_async(response.content, name=url, media_type=response.headers.get("content-type"))
