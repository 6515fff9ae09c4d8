"""The plugin manager: validation at load, loud failures, enable/disable, run-time isolation."""

from collections.abc import Sequence
from pathlib import Path

import pytest

from twinledger import (
    Contract,
    Exists,
    Platform,
    PluginError,
    RaiseAlert,
    Rule,
    Signal,
    Subscriber,
    TwinEvent,
    hookimpl,
)
from twinledger.plugins import hookspecs
from twinledger.plugins.manager import PluginManager
from twinledger.testing import eventually
from twinledger.testing.pytest_plugin import MakePlatform


class Misspelled:
    @hookimpl
    def twinledger_on_statup(self, platform: Platform) -> None: ...


class AsyncRegistration:
    @hookimpl
    async def twinledger_register_subscribers(self, platform: Platform) -> list[Subscriber]:
        return []


class WrongArgument:
    @hookimpl
    def twinledger_on_startup(self, platfrom: Platform) -> None: ...


class Fine:
    @hookimpl
    def twinledger_register_twin_types(self) -> list[Path]:
        return []


def test_bad_plugins_are_refused_with_name_and_reason() -> None:
    manager = PluginManager()
    manager.register(Misspelled(), "misspelled")
    manager.register(AsyncRegistration(), "async-reg")
    manager.register(WrongArgument(), "wrong-arg")
    manager.register(Fine(), "fine")
    infos = {i.name: i for i in manager.plugins()}
    assert infos["misspelled"].error == (
        "implements unknown hook(s): twinledger_on_statup (did you mean twinledger_on_startup?)"
    )
    assert "twinledger_register_subscribers must be a plain function, not async" in (infos["async-reg"].error or "")
    assert "platfrom" in (infos["wrong-arg"].error or "")  # pluggy's validation names the argument
    assert not any(i.enabled for n, i in infos.items() if n != "fine")
    assert infos["fine"].enabled and infos["fine"].error is None
    assert infos["fine"].hooks == ["twinledger_register_twin_types"]
    with pytest.raises(PluginError, match="plugin 'misspelled' implements unknown hook"):
        manager.check()


async def test_strict_start_fails_loudly(make_platform: MakePlatform, tl_settings) -> None:  # type: ignore[no-untyped-def]
    strict = tl_settings.model_copy(update={"plugins": tl_settings.plugins.model_copy(update={"strict": True})})
    with pytest.raises(PluginError, match="did you mean twinledger_on_startup"):
        await make_platform([Misspelled()], settings=strict)
    lenient = await make_platform([Misspelled(), Fine()])  # not strict: started without the bad plugin
    assert [p.name for p in lenient.plugins.plugins() if p.enabled] == ["Fine"]


def test_disable_and_only_by_name(tl_settings) -> None:  # type: ignore[no-untyped-def]
    manager = PluginManager(tl_settings.plugins.model_copy(update={"disabled": ["b"]}))
    manager.register(Fine(), "a")
    manager.register(Fine(), "b")
    assert [(i.name, i.enabled, i.hooks) for i in manager.plugins()] == [
        ("a", True, ["twinledger_register_twin_types"]),
        ("b", False, []),
    ]
    only = PluginManager(tl_settings.plugins.model_copy(update={"only": ["b"]}))
    only.register(Fine(), "a")
    only.register(Fine(), "b")
    assert [i.name for i in only.plugins() if i.enabled] == ["b"]


def _raising_everywhere() -> object:
    """A plugin implementing every hook of the spec module (also hooks added later), each raising."""

    def make(hook: str) -> object:
        def impl(**kwargs: object) -> None:
            raise RuntimeError(f"{hook} is broken")

        spec = getattr(hookspecs, hook)
        impl.__signature__ = __import__("inspect").signature(spec)  # type: ignore[attr-defined]
        return hookimpl(impl)

    hooks = [n for n in dir(hookspecs) if n.startswith("twinledger_")]
    return type("Broken", (), {"name": "broken", **{h: staticmethod(make(h)) for h in hooks}})()


async def test_a_plugin_raising_in_every_hook_is_reported_and_the_others_keep_working(
    make_platform: MakePlatform,
) -> None:
    seen: list[int] = []

    class Good:
        name = "good"

        @hookimpl
        def twinledger_register_contracts(self) -> list[Contract]:
            return [Contract("good.double", lambda inputs: inputs["x"] * 2)]

        @hookimpl
        def twinledger_register_subscribers(self) -> list[Subscriber]:
            async def handle(events: Sequence[TwinEvent]) -> None:
                seen.extend(e.revision for e in events)

            return [Subscriber("good.audit", handle, durable=False)]

        @hookimpl
        def twinledger_register_rules(self) -> list[Rule]:
            return [Rule("good.flag", when=Exists("/attributes/flag"), actions=[RaiseAlert("flag:{thing_id}", "flag")])]

    broken = _raising_everywhere()
    platform = await make_platform([broken, Good()])
    hooks_called = {f.hook for f in platform.plugins.failures if f.plugin == "broken"}
    assert {
        "twinledger_register_twin_types",
        "twinledger_register_model_modules",
        "twinledger_on_startup",
        "twinledger_register_contracts",
        "twinledger_register_subscribers",
        "twinledger_register_rules",
        "twinledger_register_adapters",
        "twinledger_register_services",
    } <= hooks_called
    assert all("is broken" in f.error for f in platform.plugins.failures)

    await platform.apply(Signal("a:b", "/", {"attributes": {"flag": 1}}, op="put"))
    await platform.apply(Signal("a:b", "/features/f/desiredProperties", {"x": 1}, op="merge"))
    await platform.bus.wait_idle()
    assert seen == [1, 2]
    assert await platform.alerts.find("flag:a:b") is not None  # the good plugin's rule fired
    assert await platform.contracts.call("good.double", {"x": 21}) == 42
    # the command path asked the broken plugin for a timeout, which counts as no answer
    assert "twinledger_command_timeout" in {f.hook for f in platform.plugins.failures}

    alerting = {f.hook for f in platform.plugins.failures if f.hook != "twinledger_on_alert"}

    async def alerted() -> bool:  # failures become alerts in the background (not on_alert's: it would loop)
        return await platform.alerts.count(open_only=True, source_prefix="plugin:broken") >= len(alerting)

    await eventually(alerted)
    keys = {a.key for a in await platform.alerts.list(limit=1000)}
    assert "plugin:broken:twinledger_on_startup" in keys and "plugin:broken:twinledger_on_alert" not in keys
    await platform.stop()
    assert "twinledger_on_shutdown" in {f.hook for f in platform.plugins.failures}
