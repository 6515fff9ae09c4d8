"""The small pieces: page declarations and routes, units from twin types, how values read."""

from __future__ import annotations

import pytest
from dash import html

from tests.dashboards.conftest import TYPES, pond
from twinledger import DashPage, PageCallback
from twinledger.dashboards import format as fmt
from twinledger.dashboards.site import CORE, Site, page_route
from twinledger.dashboards.units import Units
from twinledger.thingmodel.catalog import TwinTypeCatalog


def test_pages_mount_below_their_plugin_and_conflicts_are_explained() -> None:
    site = Site()
    assert site.add(CORE, DashPage("/", "Twins", html.Div())) is not None
    assert site.add("Aqua Farm", DashPage("/", "Ponds", html.Div())) is not None
    assert site.add("Aqua Farm", DashPage("/ponds/history", "History", html.Div(), order=1)) is not None
    assert page_route("Aqua Farm", "/") == "/aqua-farm"
    assert site.resolve("aqua-farm/ponds/history/") is site.pages["/aqua-farm/ponds/history"]

    assert site.add("other", DashPage("/x", "X", html.Div())) is not None
    assert site.add("other", DashPage("/x", "Y", html.Div())) is None
    assert site.add("other", DashPage("/UP", "Up", html.Div())) is None
    assert site.add("other", DashPage("/ok", " ", html.Div())) is None
    assert site.add("other", DashPage("/cb", "Cb", html.Div(), callbacks=[lambda: 1])) is None  # type: ignore[list-item]
    assert site.add("other", DashPage("/cb2", "Cb", html.Div(), callbacks=[PageCallback(print, [], [])])) is None
    assert [p.message.split(":")[0] for p in site.problems] == [
        "page 'Y' wants /other/x, which plugin 'other''s page 'X' has",
        "page path '/UP' must be '/' or '/' followed by lowercase segments of letters, digits, '.', '_' or '-' "
        "(e.g. '/ponds' or '/ponds/history')",
        "page '/ok' needs a non-empty title",
        "page '/cb'",
        "page '/cb2'",
    ]
    groups = [(label, [m.page.title for m in pages]) for _, label, pages, _ in site.groups()]
    assert groups == [("Platform", ["Twins"]), ("Aqua Farm", ["History", "Ponds"]), ("other", ["X"])]

    assert site.claim_outputs("a", [("x", "children")]) is None
    assert (
        site.claim_outputs("b", [("y", "children"), ("x", "children")])
        == "the output x.children is already written by a"
    )
    assert ("y", "children") not in site.outputs  # nothing claimed when one is taken
    assert site.claim_outputs("c", [("z", "v"), ("z", "v")]) == "the output z.v is written by two of its callbacks"


def test_units_and_titles_come_from_the_twin_types() -> None:
    catalog = TwinTypeCatalog()
    catalog.add_path(TYPES)
    units = Units(catalog)
    doc = pond("north", 7.5, 18.0)
    assert units.unit(doc, "/features/oxygen/properties/value") == "mg/L"
    assert units.unit(doc, "/features/water/desiredProperties/temperature") == "°C"
    assert units.unit(doc, "/attributes/area") == "m²"
    assert units.label(doc, "/features/oxygen/properties/value") == "oxygen.value (Dissolved oxygen)"
    assert units.unit(doc, "/features/nope/properties/value") is None
    assert (
        units.unit({"features": {"x": {"definition": ["test:oxygen:1.0.0"]}}}, "/features/x/properties/value") == "mg/L"
    )
    assert units.unit({}, "/not a path") is None


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (None, "mg/L", "—"),
        (7.5, "mg/L", "7.5 mg/L"),
        (0.1 + 0.2, None, "0.3"),
        (1234567, "W", "1\u202f234\u202f567 W"),
        (1e-7, None, "1.0000e-07"),
        (True, "%", "true"),
        ("north", "m", "north"),
        ({"a": [1, 2]}, None, '{"a":[1,2]}'),
        ("x" * 100, None, "x" * 79 + "…"),
    ],
)
def test_values_read_with_their_units(value: object, unit: str | None, text: str) -> None:
    assert fmt.value(value, unit) == text


def test_times_are_utc() -> None:
    assert fmt.time_us(1_700_000_000_123_456, ms=True) == "2023-11-14 22:13:20.123 UTC"
    assert fmt.time_us(None) == "—"
