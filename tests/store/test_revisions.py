"""The revisions read from the migration scripts without Alembic are Alembic's own graph."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory

from pocketping.store import revisions as revs
from pocketping.store.migrate import alembic_config


def _down(value: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def test_the_graph_read_without_alembic_is_alembics():
    script = ScriptDirectory.from_config(alembic_config())
    alembic_parents = {rev.revision: _down(rev.down_revision) for rev in script.walk_revisions()}
    found = revs.revisions()
    assert found.parents == alembic_parents, (
        "store/revisions.py reads `revision` and `down_revision` from each migrations/versions/*.py: "
        "write them as one `name = 'value'` line each, as the other migrations do")
    assert set(found.heads) == set(script.get_heads())


def test_a_script_without_the_lines_it_reads_is_an_error(tmp_path):
    (tmp_path / "0001_x.py").write_text("revision: str = '0001'\ndown_revision = None\n")
    (tmp_path / "0002_y.py").write_text("revision = '0002'\n# no down revision given\n")
    with pytest.raises(RuntimeError, match=r"0002_y\.py"):
        revs.read_revisions(tmp_path)


def test_a_merge_revision_has_both_parents_and_only_it_is_a_head(tmp_path):
    (tmp_path / "a.py").write_text("revision = 'a'\ndown_revision = None\n")
    (tmp_path / "b.py").write_text('revision = "b"\ndown_revision = "a"\n')
    (tmp_path / "c.py").write_text('revision = "c"\ndown_revision = "a"\n')
    (tmp_path / "m.py").write_text("revision: str = 'm'\ndown_revision: tuple[str, str] = ('b', 'c')\n")
    found = revs.read_revisions(tmp_path)
    assert found.parents == {"a": (), "b": ("a",), "c": ("a",), "m": ("b", "c")}
    assert found.heads == ("m",)


def test_an_unknown_revision_is_refused_with_its_code():
    revs.check_known(revs.head_revisions())
    with pytest.raises(revs.UnknownRevision) as refused:
        revs.check_known(["from_a_newer_version"])
    assert refused.value.code == "unknown_schema_revision"
    assert "from_a_newer_version" in refused.value.message
