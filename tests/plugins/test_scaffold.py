"""``twinledger new-plugin``: the scaffold installs with pip, its own test passes, the platform lists
it and runs its rule. The scaffold is installed into a private prefix, never into the project's venv."""

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]


def python(site_dir: Path, code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run Python with ``site_dir`` as a site directory (so the editable install's .pth is read)."""
    prelude = f"import site, sys; site.addsitedir({str(site_dir)!r}); "
    env = {**os.environ, "TWINLEDGER_LOG__LEVEL": "WARNING", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", prelude + code, *args], capture_output=True, env=env, cwd=cwd, timeout=300
    )


RUN_PLATFORM = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    import orjson
    from twinledger import Platform, Signal, load_settings
    from twinledger.logs import configure_logging
    from twinledger.testing import eventually

    configure_logging("WARNING")  # logs to stderr; stdout carries the result

    async def main(data_dir):
        settings = load_settings(data_dir=Path(data_dir), plugins={"only": ["greenhouse"]})
        async with Platform(settings) as platform:  # plugins found through their entry points
            room = {"definition": "greenhouse:room:1.0.0",
                    "features": {"climate": {"properties": {"temperature": 22}}}}
            await platform.apply(Signal("org.farm:house-1", "/", room, op="put"))
            await platform.apply(Signal("org.farm:house-1", "/features/climate/properties/temperature", 33.0))
            await eventually(lambda: platform.alerts.find("too-hot:org.farm:house-1"))
            alert = await platform.alerts.find("too-hot:org.farm:house-1")
            twin = await platform.registry.require("org.farm:house-1")
            print(orjson.dumps({"rules": platform.rules.names(), "alert": alert.to_dict(),
                                "vent": twin.desired("climate", "vent")}).decode())

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.mark.slow
def test_new_plugin_installs_passes_its_test_is_listed_and_runs(tmp_path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "twinledger.cli", "new-plugin", "greenhouse", "--dir", str(tmp_path)],
        capture_output=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    project = tmp_path / "twinledger-greenhouse"
    for part in (
        "pyproject.toml",
        "README.md",
        "src/twinledger_greenhouse/__init__.py",
        "src/twinledger_greenhouse/rules.yaml",
    ):
        assert (project / part).is_file(), part
    assert (
        '[project.entry-points.twinledger]\ngreenhouse = "twinledger_greenhouse"'
        in (project / "pyproject.toml").read_text()
    )

    prefix = tmp_path / "prefix"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--prefix", str(prefix), "-e", str(project)],
        capture_output=True,
        timeout=300,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    site_dir = Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))
    assert list(site_dir.glob("twinledger_greenhouse-0.1.0.dist-info"))

    own_test = python(site_dir, "import pytest; sys.exit(pytest.main(['-q']))", cwd=project)
    assert own_test.returncode == 0, own_test.stdout.decode()[-3000:]
    assert b"passed" in own_test.stdout

    listed = python(
        site_dir, "from twinledger.cli import main; main()", "plugins", "--json", "--data-dir", str(tmp_path / "data")
    )
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in orjson.loads(listed.stdout)}
    greenhouse = plugins["greenhouse"]
    assert greenhouse["enabled"] and greenhouse["version"] == "0.1.0"
    assert greenhouse["distribution"] == "twinledger-greenhouse" and greenhouse["error"] is None
    assert greenhouse["hooks"] == ["twinledger_register_rules", "twinledger_register_twin_types"]

    ran = python(site_dir, RUN_PLATFORM, str(tmp_path / "run"))
    assert ran.returncode == 0, ran.stderr.decode()[-3000:]
    result = orjson.loads(ran.stdout.splitlines()[-1])
    assert result["rules"] == ["greenhouse.too-hot"]
    assert (
        result["alert"]["message"] == "house-1 is at 33.0 °C" and result["alert"]["source"] == "rule:greenhouse.too-hot"
    )
    assert result["vent"] == "open"


def test_new_plugin_refuses_bad_names_and_existing_projects(tmp_path: Path) -> None:
    from twinledger.cli.new_plugin import plugin_fields, scaffold

    assert plugin_fields("cold-chain")["package"] == "twinledger_cold_chain"
    assert plugin_fields("cold_chain")["distribution"] == "twinledger-cold-chain"
    for bad in ("Greenhouse", "1st", "green house", "x-", ""):
        with pytest.raises(ValueError, match="not valid"):
            scaffold(bad, tmp_path)
    scaffold("greenhouse", tmp_path)
    with pytest.raises(FileExistsError, match="already exists"):
        scaffold("greenhouse", tmp_path)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and "{{" in p.read_text(encoding="utf-8")]
    assert leftovers == []
