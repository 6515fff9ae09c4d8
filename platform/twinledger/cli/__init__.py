"""The ``twinledger`` command line. Each area adds its commands in a module of this package."""

from __future__ import annotations

import typer

from twinledger.cli import (
    adapters,
    alerts,
    bench,
    db,
    deadletters,
    keys,
    ledger,
    new_plugin,
    plugins,
    serve,
    tokens,
    twin,
)

app = typer.Typer(
    name="twinledger",
    help="Digital twins of IoT devices, with plugins and a verifiable ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("run")(serve.run_cmd)
app.command("demo")(serve.demo_cmd)
app.command("deadletters")(deadletters.deadletters_cmd)
app.command("bench")(bench.bench_cmd)
app.command("plugins")(plugins.plugins_cmd)
app.command("new-plugin")(new_plugin.new_plugin_cmd)
app.command("adapters")(adapters.adapters_cmd)
app.add_typer(adapters.devices_app, name="devices")
app.add_typer(twin.app, name="twin")
app.add_typer(db.app, name="db")
app.add_typer(alerts.app, name="alerts")
app.add_typer(tokens.app, name="tokens")
app.add_typer(ledger.app, name="ledger")
app.add_typer(keys.app, name="keys")
app.command("verify")(ledger.verify_cmd)


@app.command("version")
def version_cmd() -> None:
    """Print the installed version."""
    from twinledger import __version__

    typer.echo(__version__)


def main() -> None:
    app()
