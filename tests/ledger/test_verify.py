"""`twinledger verify` finds what was changed in the database with plain SQL, and names the entry."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from twinledger.config import Settings
from twinledger.ledger import audit, merkle, signed_entry
from twinledger.ledger.keys import Ed25519PrivateKey
from twinledger.storage import Database
from twinledger.testing.cli import run_cli
from twinledger.testing.pytest_plugin import MakePlatform

ENTRIES = 40  # entry 0 registers the platform key, 1-2 the lab and its key, then 37 more


async def populate(make_platform: MakePlatform, settings: Settings) -> dict[str, object]:
    platform = await make_platform(settings=settings)
    ledger = platform.ledger
    lab = Ed25519PrivateKey.generate()
    await ledger.register_participant("lab.certa", "testing-agency")
    await ledger.add_public_key("lab.certa", lab.public_key())
    kept = None
    while ledger.size < ENTRIES:
        n = ledger.size
        if n % 3:
            await ledger.append("test.reading", {"n": n, "value": n * 1.5}, ref=f"r-{n}")
        else:
            req = signed_entry(lab, signer="lab.certa", kind="test.report", payload={"n": n}, ref=f"report-{n}")
            await ledger.append_signed(req["body"], req["signature"])
        if ledger.size in (17, 30):
            head = await ledger.sign_head()
            kept = kept or head.note
    await ledger.sign_head()
    log_key = (await ledger.log_verifier()).vkey()
    await platform.stop()
    return {"kept": kept, "log_key": log_key}


async def sql(settings: Settings, statement: str, **params: object) -> list[tuple[object, ...]]:
    db = Database(settings.resolved_database_url)
    try:
        async with db.begin() as conn:
            result = await conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        await db.dispose()


async def flip(settings: Settings, table: str, column: str, key: str, value: int) -> None:
    """Change one byte of one stored value, with plain SQL (in a body: a digit of its timestamp)."""
    [(old,)] = await sql(settings, f"SELECT {column} FROM {table} WHERE {key} = :v", v=value)
    data = bytearray(bytes(old))  # type: ignore[arg-type]
    at = data.index(b'"ts":') + 8 if column == "body" else 5
    data[at] = data[at] + 1 if data[at] < 0x7E else data[at] - 1
    await sql(settings, f"UPDATE {table} SET {column} = :d WHERE {key} = :v", d=bytes(data), v=value)


async def verify_db(settings: Settings) -> audit.VerifyResult:
    db = Database(settings.resolved_database_url)
    try:
        return await audit.verify_database(db)
    finally:
        await db.dispose()


def tl(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, data_dir=settings.data_dir, env={"TWINLEDGER_DATABASE_URL": settings.resolved_database_url})


async def test_an_untouched_log_verifies(make_platform: MakePlatform, tl_settings: Settings, tmp_path: Path) -> None:
    info = await populate(make_platform, tl_settings)
    result = await verify_db(tl_settings)
    assert result.ok, result.problems
    assert (result.entries, result.checkpoints) == (ENTRIES, 3)
    assert result.nodes == 2 * ENTRIES - ENTRIES.bit_count()
    # a partner's view: export, keys file, verify offline, with the checkpoint it kept
    export = tmp_path / "export.jsonl"
    assert tl(tl_settings, "ledger", "export", "-o", str(export)).returncode == 0
    keys = tmp_path / "keys.json"
    listed = tl(tl_settings, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    keys.write_text(listed.stdout)
    kept = tmp_path / "kept.checkpoint"
    kept.write_text(str(info["kept"]))
    ok = tl(tl_settings, "verify", str(export), "--keys", str(keys), "--since", str(kept))
    assert ok.returncode == 0, ok.stderr
    assert f"OK: {ENTRIES} entries, {ENTRIES} signatures, 4 checkpoints" in ok.stdout


@pytest.mark.parametrize(
    ("table", "column", "key", "value", "named"),
    [
        ("ledger_entries", "body", "idx", 23, "entry 23: the signature does not verify"),
        ("ledger_entries", "signature", "idx", 9, "entry 9: the signature does not verify"),
        ("ledger_nodes", "hash", "id", merkle.node_id(0, 31), "entry 31: the stored tree node (level 0, index 31)"),
        ("ledger_nodes", "hash", "id", merkle.node_id(2, 5), "entry 20: the stored tree node (level 2, index 5)"),
    ],
)
async def test_one_changed_byte_names_the_entry(
    make_platform: MakePlatform, tl_settings: Settings, table: str, column: str, key: str, value: int, named: str
) -> None:
    await populate(make_platform, tl_settings)
    await flip(tl_settings, table, column, key, value)
    result = await verify_db(tl_settings)
    assert str(result.first).startswith(named), result.problems


async def test_the_command_names_the_changed_entry(make_platform: MakePlatform, tl_settings: Settings) -> None:
    await populate(make_platform, tl_settings)
    await flip(tl_settings, "ledger_entries", "body", "idx", 12)
    result = tl(tl_settings, "verify")
    assert result.returncode == 1
    assert "FAILED: entry 12: the signature does not verify" in result.stderr, result.stderr


async def test_deleted_and_reordered_entries_are_found(
    make_platform: MakePlatform, tl_settings: Settings, tmp_path: Path
) -> None:
    info = await populate(make_platform, tl_settings)
    await sql(tl_settings, "DELETE FROM ledger_entries WHERE idx = 25")
    result = await verify_db(tl_settings)
    assert str(result.first).startswith("entry 25: entry 25 is missing"), result.problems
    # a partner gets an export without entry 25
    export = tmp_path / "export.jsonl"
    assert tl(tl_settings, "ledger", "export", "-o", str(export)).returncode == 0
    checked = tl(tl_settings, "verify", str(export), "--log-key", str(info["log_key"]))
    assert checked.returncode == 1
    assert "FAILED: entry 25: entry 25 is missing" in checked.stderr, checked.stderr

    await sql(tl_settings, "UPDATE ledger_entries SET idx = 25 WHERE idx = 32")
    await sql(tl_settings, "UPDATE ledger_entries SET idx = 32 WHERE idx = 14")
    await sql(tl_settings, "UPDATE ledger_entries SET idx = 14 WHERE idx = 25")
    await sql(tl_settings, "UPDATE ledger_entries SET idx = 25 WHERE idx = 26")  # the gap moves after the swap
    result = await verify_db(tl_settings)
    assert str(result.first).startswith("entry 14: the stored tree node (level 0, index 14)"), result.problems
    assert tl(tl_settings, "ledger", "export", "-o", str(export)).returncode == 0
    checked = tl(tl_settings, "verify", str(export), "--log-key", str(info["log_key"]))
    assert checked.returncode == 1
    assert "FAILED: entry 0: the first 17 entries hash to" in checked.stderr, checked.stderr


async def test_a_forked_log_is_found(make_platform: MakePlatform, tl_settings: Settings, tmp_path: Path) -> None:
    info = await populate(make_platform, tl_settings)
    kept = tmp_path / "kept.checkpoint"
    kept.write_text(str(info["kept"]))  # the partner kept the checkpoint of size 17
    # the operator rewrites history from entry 15 on, and signs new heads over it (one of size 17)
    await sql(tl_settings, "DELETE FROM ledger_entries WHERE idx >= 15")
    for level in range(8):
        first, last = merkle.node_id(level, 15 >> level), merkle.node_id(level + 1, 0)
        await sql(tl_settings, "DELETE FROM ledger_nodes WHERE id >= :a AND id < :b", a=first, b=last)
    platform = await make_platform(settings=tl_settings)
    for n in range(15, 20):
        await platform.ledger.append("test.reading", {"n": n, "rewritten": True})
        if platform.ledger.size == 17:
            await platform.ledger.sign_head()
    await platform.ledger.sign_head()
    await platform.stop()

    assert (await verify_db(tl_settings)).first is not None  # its own old heads do not match the rewrite
    await sql(tl_settings, "DELETE FROM ledger_heads WHERE id <= 3")
    assert (await verify_db(tl_settings)).ok  # with those gone, the rewritten log is consistent on its own
    export = tmp_path / "export.jsonl"
    assert tl(tl_settings, "ledger", "export", "-o", str(export)).returncode == 0
    checked = tl(tl_settings, "verify", str(export), "--log-key", str(info["log_key"]), "--since", str(kept))
    assert checked.returncode == 1
    assert "FAILED: the log forked:" in checked.stderr and "same size 17" in checked.stderr, checked.stderr
