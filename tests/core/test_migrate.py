"""Migrations at every start: Alembic runs only when the database is behind the version files."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from twinledger.storage import Database
from twinledger.storage.migrate import (
    _assignments,
    alembic_config,
    head_revisions,
    stored_revisions,
    up_to_date_revisions,
    upgrade,
)


def test_the_heads_read_from_the_files_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert head_revisions() == frozenset(script.get_heads())


def test_revision_assignments_are_read_on_one_line_or_several(tmp_path: Path) -> None:
    one = tmp_path / "one.py"
    one.write_text('"""x\n\nRevision ID: b\n"""\nrevision: str = "b"  # the id\ndown_revision = ("a", "c")\n')
    several = tmp_path / "several.py"
    several.write_text('revision = "d"\ndown_revision: tuple[str, ...] | None = (\n    "b",\n    "c",\n)\n')
    names = ("revision", "down_revision")
    assert _assignments(one, names) == {"revision": "b", "down_revision": ("a", "c")}
    assert _assignments(several, names) == {"revision": "d", "down_revision": ("b", "c")}


async def _tables(db: Database) -> set[str]:
    async with db.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_a_new_database_and_one_at_an_older_revision_are_brought_to_the_heads(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert await stored_revisions(db) is None  # no alembic_version table yet
        await upgrade(db, "alerts_0001")  # an older release: alerts_0002/0003 and other branches missing
        assert await stored_revisions(db) == {"alerts_0001"}
        assert "rule_states" not in await _tables(db)

        await upgrade(db)
        assert await stored_revisions(db) == up_to_date_revisions()
        assert {"rule_states", "commands", "api_tokens"} <= await _tables(db)

        await upgrade(db)  # up to date: nothing to do, nothing changes
        assert await stored_revisions(db) == up_to_date_revisions()
    finally:
        await db.dispose()
