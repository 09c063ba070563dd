"""Static assets served with strong ETags, long-lived caching and pre-compressed variants."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import brotli
from fastapi import Request, Response

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gz: bytes
    br: bytes
    etag: str
    media_type: str


@cache
def load_asset(name: str, media_type: str, root: Path = STATIC) -> Asset | None:
    path = root / name
    if not path.is_file():
        return None
    body = path.read_bytes()
    return Asset(body=body, gz=gzip.compress(body, 9, mtime=0), br=brotli.compress(body, quality=11),
                 etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"', media_type=media_type)


def accepted_encodings(header: str) -> set[str]:
    """Content codings the client accepts; ``gzip;q=0`` means refused, not accepted."""
    accepted = set()
    for part in header.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        q = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
        try:
            if float(q) > 0:
                accepted.add(name.lower())
        except ValueError:
            continue
    return accepted


def serve_asset(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff", "Cross-Origin-Resource-Policy": "cross-origin"}
    match = request.headers.get("if-none-match", "")
    if asset.etag in [tag.strip() for tag in match.split(",")] or match.strip() == "*":
        return Response(status_code=304, headers=headers)
    encodings = accepted_encodings(request.headers.get("accept-encoding", ""))
    if "br" in encodings:
        return Response(asset.br, media_type=asset.media_type, headers={**headers, "Content-Encoding": "br"})
    if "gzip" in encodings:
        return Response(asset.gz, media_type=asset.media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(asset.body, media_type=asset.media_type, headers=headers)
