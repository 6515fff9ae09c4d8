"""Plugin data: Tortoise ORM per platform, tables created at start, closed at stop, no global state."""

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from twinledger import Platform, Signal, hookimpl
from twinledger.testing.pytest_plugin import MakePlatform

MODELS = """
from tortoise import fields
from tortoise.models import Model


class Loan(Model):
    id = fields.IntField(primary_key=True)
    pond = fields.CharField(max_length=256)
    amount = fields.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        table = "aqua_loans"
"""


@pytest.fixture
def models_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A plugin's models module, importable by name (a fresh name per test)."""
    name = f"aqua_models_{uuid.uuid4().hex[:8]}"
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / f"{name}.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    yield name
    sys.modules.pop(name, None)


class Aqua:
    name = "aqua"

    def __init__(self, module: str) -> None:
        self.module = module
        self.at_startup: int | None = None

    @hookimpl
    def twinledger_register_model_modules(self, platform: Platform) -> list[str]:
        return [self.module]

    @hookimpl
    async def twinledger_on_startup(self, platform: Platform) -> None:
        loan = sys.modules[self.module].Loan
        self.at_startup = await loan.all().count()  # the tables exist when on_startup runs
        await loan.create(pond="org.farm:pond-1", amount="5000.00")


async def test_hook_twinledger_register_model_modules(make_platform: MakePlatform, models_module: str) -> None:
    aqua = Aqua(models_module)
    platform = await make_platform([aqua])
    loan = sys.modules[models_module].Loan
    assert platform.plugin_data.enabled and aqua.at_startup == 0
    assert [m.__name__ for m in platform.plugin_data.models()] == ["Loan"]
    assert loan._meta.app == "aqua"

    async with platform.plugin_data.transaction():
        await loan.create(pond="org.farm:pond-2", amount="10.50")
    rows = await platform.plugin_data.connection().execute_query_dict("SELECT pond FROM aqua_loans ORDER BY id")
    assert [r["pond"] for r in rows] == ["org.farm:pond-1", "org.farm:pond-2"]
    await platform.stop()

    again = await make_platform([Aqua(models_module)])  # restart: tables kept, creation is idempotent
    assert await sys.modules[models_module].Loan.all().count() == 3
    await again.stop()


async def test_each_platform_has_its_own_orm_state(
    make_platform: MakePlatform, models_module: str, tl_settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # Tortoise compiles SQL onto the model classes: platforms running at once share a backend.
    first = await make_platform([Aqua(models_module)], plugins_database_url=f"sqlite://{tmp_path / 'first.db'}")
    second_settings = tl_settings.model_copy(
        update={"data_dir": tmp_path / "second", "plugins_database_url": f"sqlite://{tmp_path / 'second.db'}"}
    )
    second = await make_platform([Aqua(models_module)], settings=second_settings)  # now current in this task
    loan = sys.modules[models_module].Loan
    await loan.create(pond="only-in-second", amount="1")
    assert await loan.filter(pond="only-in-second").count() == 1
    with first.plugin_data.activate():
        assert await loan.filter(pond="only-in-second").count() == 0
        assert await loan.all().count() == 1
    assert first.plugin_data.describe() != second.plugin_data.describe()
    await second.stop()
    with first.plugin_data.activate():  # stopping one platform leaves the other's ORM working
        assert await loan.all().count() == 1


async def test_plugin_code_in_platform_tasks_sees_its_models(make_platform: MakePlatform, models_module: str) -> None:
    seen: list[int] = []

    class Counting(Aqua):
        @hookimpl
        def twinledger_register_subscribers(self, platform: Platform) -> list[object]:
            from twinledger import Subscriber

            async def count(events: object) -> None:
                seen.append(await sys.modules[self.module].Loan.all().count())

            return [Subscriber("aqua.count", count)]

    platform = await make_platform([Counting(models_module)])
    await platform.apply(Signal("org.farm:pond-1", "/", {}, op="put"))
    await platform.bus.wait_idle()
    assert seen == [1]


async def test_bad_model_modules_are_refused_with_the_plugin_name(
    make_platform: MakePlatform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models_module: str
) -> None:
    name = f"clash_{uuid.uuid4().hex[:8]}"
    (tmp_path / "mods" / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from tortoise import fields
            from tortoise.models import Model

            class Event(Model):
                id = fields.IntField(primary_key=True)

                class Meta:
                    table = "events"
            """
        )
    )

    class Clash:
        name = "clash"

        @hookimpl
        def twinledger_register_model_modules(self) -> list[str]:
            return [name]

    class Missing:
        name = "missing"

        @hookimpl
        def twinledger_register_model_modules(self) -> list[str]:
            return ["no_such_models_module"]

    platform = await make_platform([Clash(), Missing(), Aqua(models_module)])
    errors = {f.plugin: f.error for f in platform.plugins.failures}
    assert "uses the table 'events', which the core uses" in errors["clash"]
    assert "table = 'clash_events'" in errors["clash"]
    assert "'no_such_models_module' cannot be imported" in errors["missing"]
    assert [m.__name__ for m in platform.plugin_data.models()] == ["Loan"]  # the good plugin's models
    sys.modules.pop(name, None)


async def test_no_models_no_orm(make_platform: MakePlatform) -> None:
    from twinledger import PluginError

    platform = await make_platform()
    assert not platform.plugin_data.enabled
    with pytest.raises(PluginError, match="no enabled plugin registered Tortoise models"):
        platform.plugin_data.connection()
