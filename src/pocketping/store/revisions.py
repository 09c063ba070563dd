"""The migrations' revisions, known without Alembic: what a start on an up-to-date database needs.

Alembic costs a start about 0.4 s and 10 MB (it imports itself, Mako, and every migration
script to learn the heads). A server whose database is already migrated needs only the names:
which revisions exist and which are the heads. They are read here from the ``revision`` and
``down_revision`` lines of ``migrations/versions/*.py`` (a millisecond), so nothing is kept in
step by hand when a migration is added or re-chained; tests/store/test_revisions.py checks the
result against Alembic's own graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pocketping.errors import PocketPingError

VERSIONS = Path(__file__).parent / "migrations" / "versions"
# ``revision: str = 'privacy'`` / ``down_revision: str | None = "erasure"`` (or a tuple: a merge).
_ASSIGN = re.compile(r"^(revision|down_revision)\b\s*(?::[^=\n]*)?=\s*(.+)$", re.M)
_NAME = re.compile(r"""['"]([^'"]+)['"]""")


class UnknownRevision(PocketPingError):
    """The database was migrated by a version of PocketPing that knows more migrations."""

    code = "unknown_schema_revision"
    status = 500


@dataclass(frozen=True)
class Revisions:
    parents: dict[str, tuple[str, ...]]  # revision -> its down revisions
    heads: tuple[str, ...]

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self.parents)


def _read(path: Path) -> tuple[str, tuple[str, ...]]:
    found = {name: value for name, value in _ASSIGN.findall(path.read_text(encoding="utf-8"))}
    names = _NAME.findall(found.get("revision", ""))
    if len(names) != 1 or "down_revision" not in found:
        raise RuntimeError(f"{path.name}: no `revision = '...'` and `down_revision = ...` line to read")
    return names[0], tuple(_NAME.findall(found["down_revision"]))


def read_revisions(directory: Path) -> Revisions:
    """The graph of the migration scripts in ``directory``."""
    parents = dict(_read(path) for path in sorted(directory.glob("*.py")) if not path.name.startswith("_"))
    below = {down for downs in parents.values() for down in downs}
    return Revisions(parents, tuple(sorted(rev for rev in parents if rev not in below)))


@cache
def revisions() -> Revisions:
    """The graph of PocketPing's migrations (read once per process)."""
    return read_revisions(VERSIONS)


def head_revisions() -> tuple[str, ...]:
    return revisions().heads


def check_known(current: Iterable[str]) -> None:
    """Refuse a database at a revision these migrations do not have (before anything runs)."""
    unknown = sorted(set(current) - revisions().known)
    if unknown:
        raise UnknownRevision(
            f"the database's schema is at revision {', '.join(unknown)}, which this version of PocketPing does "
            "not know: a newer version migrated it. Run that version (or a newer one), or restore the backup "
            "taken before the upgrade", revisions=unknown, heads=list(revisions().heads))
