"""``twinledger new-plugin NAME``: scaffold an installable plugin package that passes its own test."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from twinledger.cli.options import fail
from twinledger.cli.scaffold import FIELDS, FILES, TEMPLATES

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_FIELD = re.compile(r"\{\{(\w+)\}\}")


def plugin_fields(name: str) -> dict[str, str]:
    """What the template needs, from the plugin's name (``cold-chain`` → ``twinledger_cold_chain``...)."""
    from twinledger import __version__

    return {
        "name": name,
        "title": name.replace("-", " ").replace("_", " ").title(),
        "package": "twinledger_" + name.replace("-", "_"),
        "distribution": "twinledger-" + name.replace("_", "-"),
        "namespace": "org.example",
        "twinledger_version": __version__,
    }


def fill(text: str, fields: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in fields:
            raise KeyError(f"the template names an unknown field {{{{{key}}}}}")
        return fields[key]

    return _FIELD.sub(replace, text)


def scaffold(name: str, directory: Path) -> Path:
    """Write the plugin project for ``name`` under ``directory``; returns the project's folder."""
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"The plugin name {name!r} is not valid: use lower-case letters and digits, words joined by "
            "'-' or '_', starting with a letter (e.g. 'greenhouse', 'cold-chain')."
        )
    fields = plugin_fields(name)
    assert set(fields) == set(FIELDS)
    root = directory / fields["distribution"]
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} already exists and is not empty; choose another --dir or remove it.")
    for template, target in FILES.items():
        path = root / fill(target, fields)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fill((TEMPLATES / template).read_text(encoding="utf-8"), fields), encoding="utf-8")
    return root


def new_plugin_cmd(
    name: Annotated[str, typer.Argument(help="The plugin's name, e.g. greenhouse or cold-chain.")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create the project folder (default: the current directory).")
    ] = Path("."),
) -> None:
    """Create an installable plugin package: entry point, one twin type, one rule, one test, a README."""
    try:
        root = scaffold(name, directory)
    except (ValueError, FileExistsError) as exc:
        fail(str(exc))
    fields = plugin_fields(name)
    typer.echo(f"created {root}")
    for target in FILES.values():
        typer.echo(f"  {fill(target, fields)}")
    typer.echo(
        "\nnext steps:\n"
        f"  cd {root}\n"
        '  pip install -e ".[test]"     # in the environment where twinledger is installed\n'
        "  python -m pytest\n"
        f"  twinledger plugins           # {name} is listed and enabled"
    )
