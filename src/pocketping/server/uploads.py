"""Receiving a file: ``multipart/form-data`` parsed while it streams in, its ``file`` field
written to a temporary file, the size limit enforced as the bytes arrive (an oversized upload
is cut off at the limit, not read to the end first)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from pocketping.actions.files import too_large
from pocketping.errors import InvalidInput

OTHER_FIELDS_LIMIT = 64 * 1024


@dataclass
class Received:
    path: Path
    name: str | None
    size: int


def _no_file() -> InvalidInput:
    return InvalidInput("send the file as multipart/form-data in a field named 'file'", code="missing_file",
                        field="file")


class _Parts:
    """The parser's callbacks: collects headers, writes the first ``file`` part to ``out``."""

    def __init__(self, out: IO[bytes], limit: int) -> None:
        self.out = out
        self.limit = limit
        self.size = 0
        self.other = 0
        self.name: str | None = None
        self.found = False
        self._writing = False
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
                "on_part_end": self.part_end}

    def part_begin(self) -> None:
        self._headers = {}
        self._writing = False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") == b"file" and not self.found and b"filename" in options:
            self.found = self._writing = True
            self.name = options[b"filename"].decode("utf-8", "replace")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._writing:
            self.size += end - start
            if self.size > self.limit:
                raise too_large(self.limit)
            self.out.write(data[start:end])
        else:
            self.other += end - start
            if self.other > OTHER_FIELDS_LIMIT:
                raise InvalidInput("only the 'file' field is expected", code="invalid_upload")

    def part_end(self) -> None:
        self._writing = False


@contextlib.asynccontextmanager
async def receive_file(request: Request, limit: int) -> AsyncIterator[Received]:
    """The upload in a temporary file (removed afterwards)."""
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise InvalidInput("send the file as multipart/form-data in a field named 'file'", code="invalid_upload",
                           status=415)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + OTHER_FIELDS_LIMIT:
        raise too_large(limit)  # refused before a byte of it is read
    with tempfile.TemporaryDirectory(prefix="pocketping-in-") as tmp:
        path = Path(tmp) / "upload"
        with path.open("wb") as out:
            parts = _Parts(out, limit)
            parser = MultipartParser(boundary, parts.callbacks())  # type: ignore[arg-type]
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        if not parts.found:
            raise _no_file()
        yield Received(path, parts.name, parts.size)
