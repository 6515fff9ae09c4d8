"""The ledger's commands as an operator and a partner run them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest

from twinledger.bench.context import BenchContext
from twinledger.bench.scenarios import SCENARIOS
from twinledger.ledger.keys import load_private_key
from twinledger.ledger.note import Checkpoint, Note
from twinledger.testing.cli import invoke_cli, run_cli


def tl(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as the user runs it (a child process): once for each kind of command."""
    return run_cli(*args, data_dir=data_dir)


def here(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The same command in this process, for the test's further calls."""
    return invoke_cli(*args, data_dir=data_dir)


@pytest.mark.slow
def test_keys_appends_heads_proofs_receipts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    lab_key = tmp_path / "lab.pem"
    # the lab makes its key pair on its side and hands over the public key
    public = tl(data, "keys", "generate", str(lab_key))
    assert public.returncode == 0 and "BEGIN PUBLIC KEY" in public.stdout
    (tmp_path / "lab.pub").write_text(public.stdout)
    imported = tl(data, "keys", "import", "lab.certa", str(tmp_path / "lab.pub"), "--role", "testing-agency")
    assert imported.returncode == 0, imported.stderr
    assert orjson.loads(imported.stdout)["holder"] == "participant"
    device = here(data, "keys", "create", "org.farm:sensor-1", "--role", "device")
    assert device.returncode == 0 and orjson.loads(device.stdout)["holder"] == "platform"
    handed = tl(data, "keys", "create", "bank.acme", "--role", "bank", "--out", str(tmp_path / "bank.pem"))
    assert handed.returncode == 0 and (tmp_path / "bank.pem").stat().st_mode & 0o777 == 0o600
    load_private_key((tmp_path / "bank.pem").read_bytes())
    bad = here(data, "keys", "import", "x", str(lab_key), "--role", "bank")
    assert bad.returncode == 1 and "Not an Ed25519 public key" in bad.stderr

    appended = tl(data, "ledger", "append", "ops.note", '{"text": "pond 3 drained"}', "--signer", "org.farm:sensor-1")
    assert appended.returncode == 0, appended.stderr
    index = orjson.loads(appended.stdout)["index"]
    no_key = here(data, "ledger", "append", "ops.note", "{}", "--signer", "lab.certa")
    assert no_key.returncode == 1 and "holds no private key of 'lab.certa'" in no_key.stderr

    signed = tl(data, "ledger", "head", "--sign")
    assert signed.returncode == 0
    head = here(data, "ledger", "head")
    checkpoint = Checkpoint.from_text(Note.parse(head.stdout).text)
    assert checkpoint.size == index + 1

    proof = orjson.loads(here(data, "ledger", "proof", str(index)).stdout)
    assert proof["treeSize"] == checkpoint.size and proof["leafIndex"] == index
    consistency = orjson.loads(here(data, "ledger", "consistency", "2").stdout)
    assert consistency["second"] == checkpoint.size
    listed = here(data, "ledger", "entries", "--signer", "org.farm:sensor-1")
    assert [orjson.loads(line)["index"] for line in listed.stdout.splitlines()] == [index]

    keys = tmp_path / "keys.json"
    keys.write_text(here(data, "keys", "list", "--json").stdout)
    receipt = tmp_path / "receipt.json"
    assert tl(data, "ledger", "receipt", str(index), "-o", str(receipt)).returncode == 0
    ok = tl(data, "verify", str(receipt), "--keys", str(keys))
    assert ok.returncode == 0 and f"receipt OK: entry {index} (ops.note, signed by org.farm:sensor-1)" in ok.stdout
    doc = orjson.loads(receipt.read_bytes())
    doc["entry"] = doc["entry"].replace("drained", "flooded")
    receipt.write_bytes(orjson.dumps(doc))
    tampered = here(data, "verify", str(receipt), "--keys", str(keys))
    assert tampered.returncode == 1 and "does not hash to the proof's leaf hash" in tampered.stderr
    no_trust = here(data, "verify", str(receipt))
    assert no_trust.returncode == 1 and "give the log's key" in no_trust.stderr


async def test_the_benchmark_scenario_reports_its_figures(tmp_path: Path) -> None:
    ctx = BenchContext(duration=0.5, workdir=tmp_path, options={"ledger_entries": 3000, "ledger_appends": 600})
    metrics = await SCENARIOS["ledger"].run(ctx)
    for key in ("ledger_appends_per_s", "ledger_proofs_per_s", "ledger_verifications_per_s", "ledger_build_s"):
        assert metrics[key] > 0, key
    assert metrics["ledger_entries"] == 3000 and metrics["ledger_tree_size"] == 3608
