"""``twinledger plugins`` shows the failures a platform recorded (as alerts) next to each plugin."""

from pathlib import Path

from typer.testing import CliRunner

from twinledger import Platform, hookimpl, load_settings
from twinledger.cli import app
from twinledger.cli.plugins import _failures, _row
from twinledger.plugins.manager import PluginInfo, PluginManager


class Broken:
    name = "broken"

    @hookimpl
    def twinledger_on_startup(self) -> None:
        raise RuntimeError("cannot reach the farm API")


async def test_recorded_failures_are_listed_with_their_plugin(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    manager = PluginManager()
    manager.register(Broken(), "broken")
    for _ in range(2):
        platform = Platform(settings, plugins=manager)
        await platform.start()
        await platform.stop()  # the alert is written before the platform stops

    failures = await _failures(settings)
    row = _row(PluginInfo("broken", version="1.2.0", hooks=["twinledger_on_startup"]), failures)
    assert row["failures"] == [
        {
            "hook": "twinledger_on_startup",
            "error": "RuntimeError: cannot reach the farm API",
            "occurrences": 2,
            "last": row["failures"][0]["last"],
            "alert": failures[0].id,
        }
    ]
    assert _row(PluginInfo("other"), failures)["failures"] == []


def test_plugins_command_runs_with_what_is_installed(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plugins", "--check", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
