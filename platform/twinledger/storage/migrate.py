"""Alembic migrations, run programmatically (``twinledger db upgrade`` and at every start).

Each area of the core keeps its own branch of revisions in ``migrations/versions`` (labelled
``core``, ``ledger``, ``api``...), so areas evolve independently; ``upgrade`` goes to all heads.

Every command opens the database through :func:`upgrade`, and a database is nearly always up to
date: the revisions it holds are compared with the heads of the version files first (plain SQL,
the files read as text), and Alembic, its environment and every revision module are imported only
when there is something to do.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from twinledger.storage.database import Database

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(db: Database, revision: str = "heads") -> None:
    """Bring the database to ``revision`` (all heads by default)."""
    if revision == "heads" and await stored_revisions(db) == up_to_date_revisions():
        return
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade_sync, db.url, revision)


def _upgrade_sync(sync_conn: object, url: str, revision: str) -> None:
    from alembic import command

    cfg = alembic_config(url)
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)


async def stored_revisions(db: Database) -> frozenset[str] | None:
    """The revisions recorded in the database's ``alembic_version`` table; ``None`` when it has
    no such table (a new database) or cannot be read (Alembic then reports why)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return frozenset(row[0] for row in rows)
    except DBAPIError:
        return None


@functools.cache
def _graph() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Each revision of the version files with the revisions it follows and depends on,
    read from their assignments without importing the modules."""
    graph: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        values = _assignments(path, ("revision", "down_revision", "depends_on"))
        if "revision" in values:  # else not a revision file
            graph[str(values["revision"])] = (_names(values.get("down_revision")), _names(values.get("depends_on")))
    return graph


def _names(value: object) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(str(v) for v in value) if isinstance(value, (tuple, list)) else frozenset()


def head_revisions() -> frozenset[str]:
    """The heads of the revision graph: the revisions no other revision names as its ``down_revision``."""
    graph = _graph()
    return frozenset(graph) - {d for downs, _ in graph.values() for d in downs}


@functools.cache
def up_to_date_revisions() -> frozenset[str]:
    """What ``alembic_version`` holds once the database is at all heads: Alembic leaves out a head
    that another one needs (``depends_on``), as it is implied. Should a dependency be named otherwise
    than by its revision id, this set differs from the table's and Alembic simply runs each time."""
    graph = _graph()
    heads = head_revisions()
    needed: set[str] = set()
    pending = [n for head in heads for n in graph[head][0] | graph[head][1]]
    while pending:
        rev = pending.pop()
        if rev not in needed and rev in graph:
            needed.add(rev)
            pending.extend(graph[rev][0] | graph[rev][1])
    return heads - needed


# ``revision: str = "core_0001"``, ``down_revision = ("a", "b")``... each on one line at the top level
_ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=\n]*)?=\s*(.+?)\s*(?:#.*)?$", re.MULTILINE)


def _assignments(path: Path, names: tuple[str, ...]) -> dict[str, object]:
    source = path.read_text(encoding="utf-8")
    try:
        return {m[1]: ast.literal_eval(m[2]) for m in _ASSIGNMENT.finditer(source) if m[1] in names}
    except (ValueError, SyntaxError):
        pass  # written over several lines: parse the whole file (slower)
    found: dict[str, object] = {}
    for node in ast.parse(source, str(path)).body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            targets: list[ast.expr] = [node.target]
            value = node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in names:
                found[target.id] = ast.literal_eval(value)
    return found


async def current_heads(conn: AsyncConnection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    def _heads(sync_conn: object) -> set[str]:
        ctx = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        return set(ctx.get_current_heads())

    return await conn.run_sync(_heads)
