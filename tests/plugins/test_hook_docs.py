"""Every hook is documented, tested and rendered (Datasette style): adding a hook without its
docstring example, its ``test_hook_<name>`` test or a fresh docs page fails here."""

import re
from pathlib import Path

import pytest

from twinledger.plugins import hookspecs
from twinledger.plugins.docs import hook_docs, main, render

REPO = Path(__file__).resolve().parents[2]
HOOKS = hook_docs()
TESTED_IN = ("tests", "adapters", "plugins")


def _test_names() -> set[str]:
    names: set[str] = set()
    for root in TESTED_IN:
        for path in (REPO / root).rglob("*.py"):
            names |= set(re.findall(r"^\s*(?:async\s+)?def (test_hook_\w+)\(", path.read_text(), re.MULTILINE))
    return names


def test_every_hookspec_is_found() -> None:
    in_module = sorted(n for n in dir(hookspecs) if n.startswith("twinledger_"))
    assert sorted(h.name for h in HOOKS) == in_module
    assert len(HOOKS) >= 10


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h.name)
def test_hook_is_documented(hook) -> None:  # type: ignore[no-untyped-def]
    assert hook.doc, f"{hook.name} has no docstring"
    assert "Example::" in hook.doc, f"{hook.name}'s docstring has no 'Example::' block"
    example = hook.doc.split("Example::", 1)[1]
    assert f"def {hook.name}(" in example, f"{hook.name}'s example does not show an implementation"
    assert "@hookimpl" in example, f"{hook.name}'s example does not mark the implementation with @hookimpl"
    assert re.search(r"\bCalled\b", hook.doc), f"{hook.name}'s docstring does not say when it is called"
    assert re.search(r"\bReturns?\b|\breturns\b", hook.doc), f"{hook.name}'s docstring does not say what it returns"
    assert re.search(r"raise|exception|error|refused", hook.doc, re.IGNORECASE), (
        f"{hook.name}'s docstring does not state its error policy"
    )


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h.name)
def test_hook_follows_the_naming_grammar(hook) -> None:  # type: ignore[no-untyped-def]
    returns = hook.signature.rsplit("->", 1)[1].strip()
    if hook.name.startswith("twinledger_register_"):
        assert returns.startswith("list["), f"{hook.name} registers things: it must return a list, not {returns}"
    elif hook.name.startswith("twinledger_on_"):
        assert returns == "None", f"{hook.name} is a notification: it must return None"
    else:
        assert "firstresult" in hook.options, f"{hook.name} is neither register_*, on_* nor a firstresult question"


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h.name)
def test_hook_has_a_test(hook) -> None:  # type: ignore[no-untyped-def]
    wanted = f"test_hook_{hook.name}"
    assert wanted in _test_names(), f"no test named {wanted} under {', '.join(TESTED_IN)}/"


def test_docs_page_is_up_to_date() -> None:
    page = REPO / "docs" / "plugins.md"
    assert page.read_text(encoding="utf-8") == render(), (
        "docs/plugins.md is stale: run `python -m twinledger.plugins.docs --write docs/plugins.md`"
    )
    assert main(["--check", str(page)]) == 0
    for hook in HOOKS:
        assert f"](#{hook.name})" in render() and f'<a id="{hook.name}"></a>' in render()


def test_readme_links_the_hook_reference() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Writing a plugin", 1)[1]
    assert "(docs/plugins.md)" in section


def test_docs_render_rst_habits() -> None:
    from twinledger.plugins.docs import rst_to_markdown

    text = "Use :class:`~twinledger.Rule` and ``x``::\n\n    code()\n\nAfter."
    assert rst_to_markdown(text) == "Use `twinledger.Rule` and `x`:\n\n```python\ncode()\n```\n\nAfter.\n"
