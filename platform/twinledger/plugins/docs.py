"""Render the hook reference (``docs/plugins.md``) from the hookspec module.

::

    python -m twinledger.plugins.docs --write docs/plugins.md   # after changing a hookspec
    python -m twinledger.plugins.docs --check docs/plugins.md   # exit 1 if the file is stale

The hookspecs are read with :mod:`ast` (no import side effects): ``# -- Section ---`` comments
group the hooks, each hook's signature, pluggy options and docstring become a section.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from twinledger.plugins import hookspecs

SECTION = re.compile(r"^# -- (.+?) -{3,}\s*$")
HEADER = (
    "<!-- Generated from platform/twinledger/plugins/hookspecs.py by "
    "`python -m twinledger.plugins.docs --write docs/plugins.md`: edit the hookspecs, not this file. -->"
)


@dataclass(frozen=True, slots=True)
class HookDoc:
    name: str
    section: str
    signature: str
    options: tuple[str, ...]  # pluggy options set on the spec: firstresult, historic...
    doc: str


def module_source() -> str:
    return Path(hookspecs.__file__).read_text(encoding="utf-8")


def hook_docs(source: str | None = None) -> list[HookDoc]:
    """Every hookspec in source order, with its section."""
    source = source if source is not None else module_source()
    tree = ast.parse(source)
    sections = [(i + 1, m.group(1).strip()) for i, line in enumerate(source.splitlines()) if (m := SECTION.match(line))]
    docs = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("twinledger_"):
            continue
        section = next((title for line, title in reversed(sections) if line < node.lineno), "Hooks")
        options: list[str] = []
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call):
                options += [k.arg for k in deco.keywords if k.arg and _truthy(k.value)]
        returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
        signature = f"{node.name}({ast.unparse(node.args)}){returns}"
        docs.append(HookDoc(node.name, section, signature, tuple(options), ast.get_docstring(node) or ""))
    return docs


def _truthy(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and bool(value.value)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def rst_to_markdown(text: str) -> str:
    """The few reStructuredText habits of our docstrings, as Markdown: ``::`` blocks, roles, literals."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            lead = line.rstrip()[:-2].rstrip()
            if lead:
                out.append(_inline(lead + ":"))
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            indent = min((len(b) - len(b.lstrip()) for b in block if b.strip()), default=0)
            out += ["", "```python", *(b[indent:] for b in block), "```", ""]
            continue
        out.append(_inline(line))
        i += 1
    return "\n".join(out).strip() + "\n"


def _inline(line: str) -> str:
    line = re.sub(r":(?:class|func|meth|mod|data|attr):`~?([^`]+)`", r"`\1`", line)
    return line.replace("``", "`")


def render() -> str:
    """The whole ``docs/plugins.md``."""
    source = module_source()
    docs = hook_docs(source)
    intro = ast.get_docstring(ast.parse(source)) or ""
    parts = [HEADER, "", "# Plugin hooks", "", rst_to_markdown(intro), "## Contents", ""]
    sections: dict[str, list[HookDoc]] = {}
    for doc in docs:
        sections.setdefault(doc.section, []).append(doc)
    for section, members in sections.items():
        links = ", ".join(f"[`{d.name}`](#{d.name})" for d in members)
        parts.append(f"- [{section.capitalize()}](#{_slug(section)}): {links}")
    parts.append("")
    for section, members in sections.items():
        parts += [f'<a id="{_slug(section)}"></a>', "", f"## {section.capitalize()}", ""]
        for d in members:
            parts += [f'<a id="{d.name}"></a>', "", f"### `{d.name}`", "", "```python", d.signature, "```", ""]
            if d.options:
                parts += [" · ".join(f"*{o}*" for o in d.options), ""]
            parts.append(rst_to_markdown(d.doc))
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if len(args) == 2 and args[0] == "--write":
        Path(args[1]).write_text(text, encoding="utf-8")
        return 0
    if len(args) == 2 and args[0] == "--check":
        current = Path(args[1]).read_text(encoding="utf-8") if Path(args[1]).exists() else ""
        if current != text:
            print(f"{args[1]} is out of date: run python -m twinledger.plugins.docs --write {args[1]}")
            return 1
        return 0
    if args:
        print("usage: python -m twinledger.plugins.docs [--write FILE | --check FILE]", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
