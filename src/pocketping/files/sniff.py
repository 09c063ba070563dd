"""A file's type from its bytes (magic numbers), never from its name or the client's word."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

OCTET = "application/octet-stream"

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"MZ", 0, "application/x-msdownload"),
    (b"\x7fELF", 0, "application/x-executable"),
    (b"\xcf\xfa\xed\xfe", 0, "application/x-mach-binary"),
    (b"\xfe\xed\xfa\xcf", 0, "application/x-mach-binary"),
    (b"\xca\xfe\xba\xbe", 0, "application/x-mach-binary"),
    (b"#!", 0, "text/x-shellscript"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "application/x-ole-storage"),  # legacy .doc/.xls/.msi
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", 0, "application/vnd.rar"),
)

_OFFICE = (
    ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)
_ODF = ("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation")
_MARKUP = re.compile(rb"<\s*(!doctype\s+html|html|head|body|script|iframe|svg|\?xml|object|embed|meta|a\s|img\s)",
                     re.IGNORECASE)


def _zip_type(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                if declared in _ODF:
                    return declared
            if "[Content_Types].xml" in names:
                for prefix, kind in _OFFICE:
                    if any(n.startswith(prefix) for n in names):
                        return kind
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return OCTET
    return "application/zip"


def _text_type(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return None
        text = head[:exc.start].decode("utf-8")
    stripped = text.lstrip("\ufeff \t\r\n").encode()
    if re.search(rb"<\s*svg[\s>]", head, re.IGNORECASE):
        return "image/svg+xml"
    if _MARKUP.search(stripped[:1024]):
        return "text/html"
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) >= 2:
        counts = {line.count(",") for line in lines[:-1]}
        if len(counts) == 1 and counts.pop() >= 1:
            return "text/csv"
    return "text/plain"


def sniff(path: Path) -> str:
    """The MIME type the file's content shows."""
    with path.open("rb") as fh:
        head = fh.read(8192)
    for magic, offset, kind in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"PK\x03\x04":
        return _zip_type(path)
    return _text_type(head) or OCTET


DEFAULT_TYPES: tuple[str, ...] = (
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "text/csv",
    *(kind for _, kind in _OFFICE), *_ODF, "application/zip",
)
# Never rendered by a browser, whatever the allow-list says: offered as a download only.
NEVER_INLINE = frozenset({"image/svg+xml", "text/html", "application/xhtml+xml"})
IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def allowed(content_type: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``content_type`` matches the allow-list (``image/*`` style patterns)."""
    for pattern in patterns:
        if pattern == content_type or pattern == "*/*":
            return True
        if pattern.endswith("/*") and content_type.startswith(pattern[:-1]):
            return True
    return False


_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.+-]*/(\*|[a-z0-9][a-z0-9.+-]*)$")


def check_patterns(raw: str | list[str] | tuple[str, ...]) -> list[str]:
    """A clean allow-list from ``image/*,application/pdf`` (raises ValueError naming the bad one)."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        value = item.strip().lower()
        if not value:
            continue
        if not _PATTERN.match(value):
            raise ValueError(f"{item.strip()!r} is not a MIME type or a pattern like image/*")
        if value not in out:
            out.append(value)
    return out
