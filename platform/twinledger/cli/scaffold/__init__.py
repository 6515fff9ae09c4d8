"""The template ``twinledger new-plugin`` fills: an installable plugin package with one twin type,
one rule, one test and a README. ``{{name}}``-style fields are replaced (see FIELDS)."""

from pathlib import Path

TEMPLATES = Path(__file__).parent

# template file → path in the new project (fields allowed in the path too)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "gitignore.tmpl": ".gitignore",
    "plugin_init.py.tmpl": "src/{{package}}/__init__.py",
    "py.typed.tmpl": "src/{{package}}/py.typed",
    "rules.yaml.tmpl": "src/{{package}}/rules.yaml",
    "room.tm.json.tmpl": "src/{{package}}/twins/room.tm.json",
    "climate.tm.json.tmpl": "src/{{package}}/twins/climate.tm.json",
    "test_plugin.py.tmpl": "tests/test_{{package}}.py",
}

FIELDS = ("name", "title", "package", "distribution", "namespace", "twinledger_version")
