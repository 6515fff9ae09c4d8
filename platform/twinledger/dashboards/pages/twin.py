"""One twin: its attributes, its features with reported vs desired values, and history charts.

The state follows the twin live from the registry's memory; a chart is read from the event log
once when the operator picks properties or a range, then extended with the new points from the
live feed (only those travel to the browser).
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, Patch, State, dcc, html
from dash.exceptions import PreventUpdate

from twinledger.clock import to_us
from twinledger.dashboards import charts
from twinledger.dashboards import format as fmt
from twinledger.dashboards.components import badge, card, empty_state, table
from twinledger.dashboards.context import PageContext
from twinledger.dashboards.history import Series, numeric_paths, series
from twinledger.dashboards.page import DashPage, PageCallback, live_input
from twinledger.registry.twin import Twin

TWIN_ID, LIVE_STATE, SHOWN_REVISION = "tl-twin-id", "tl-twin-live", "tl-twin-shown-revision"
PROPS, RANGE, CHART, NOTE, META = (
    "tl-twin-props",
    "tl-twin-range",
    "tl-twin-chart",
    "tl-twin-chart-note",
    "tl-twin-meta",
)
RANGES = {"15m": ("15 min", 900), "1h": ("1 hour", 3600), "6h": ("6 hours", 6 * 3600), "24h": ("24 hours", 86400)}
RANGES["7d"] = ("7 days", 7 * 86400)
MAX_EVENTS = 5000  # events read for one chart; a longer range shows its newest part
DEFAULT_CHARTED = 3


def page(ctx: PageContext) -> DashPage:
    platform = ctx.platform

    async def layout(id: str = "", **_: str) -> Any:  # ``id``: the query parameter's name
        if not id:
            return empty_state(
                "No twin chosen.", "Open a twin from the Twins page (its link carries the id: /dash/twin?id=ns:name)."
            )
        found = await platform.registry.get(id)
        viewer = ctx.viewer()
        twin = await viewer.typed_twin(found) if found is not None else None
        if twin is None:  # missing or not readable: the same answer, as the API gives (404)
            return empty_state(
                f"There is no twin {id!r}.",
                "It may have been deleted, or the id is misspelt: thing ids look like 'namespace:name'.",
            )
        paths = [p for p in _chartable(ctx, twin) if await viewer.may_read_all(id, p)]  # not the type's others
        return html.Div(
            [
                dcc.Store(id=TWIN_ID, data=id),
                dcc.Store(id=SHOWN_REVISION, data=twin.revision),
                html.Div(_state(ctx, twin), id=LIVE_STATE),
                card(
                    "History",
                    [
                        html.Div(
                            [
                                dcc.Dropdown(
                                    id=PROPS,
                                    options=[{"label": _label(ctx, twin, p), "value": p} for p in paths],
                                    value=paths[:DEFAULT_CHARTED],
                                    multi=True,
                                    placeholder="numeric properties to chart",
                                    className="tl-grow",
                                ),
                                dcc.RadioItems(
                                    id=RANGE,
                                    options=[{"label": label, "value": key} for key, (label, _) in RANGES.items()],
                                    value="1h",
                                    inline=True,
                                    className="tl-range",
                                ),
                            ],
                            className="tl-filters",
                        ),
                        dcc.Graph(
                            id=CHART,
                            figure=charts.empty("Loading…"),
                            config={"displaylogo": False, "responsive": True},
                        ),
                        html.Div(id=NOTE, className="tl-summary"),
                        dcc.Store(id=META),
                    ],
                    subtitle="numeric reported properties; new values are appended live",
                ),
            ]
        )

    async def follow_state(live: dict[str, Any] | None, thing_id: str | None, shown: int | None) -> tuple[Any, Any]:
        # Compare with what is shown rather than trust this push's list of changed twins: the
        # browser drops a callback's answer when the next push arrives before it (Dash keeps the
        # newest call only), and the next push may not list this twin.
        if not live or not thing_id:
            raise PreventUpdate
        current = platform.registry.cached(thing_id)
        twin = await ctx.viewer().typed_twin(current) if current is not None else None
        if twin is None:
            if shown == -1:
                raise PreventUpdate
            if current is not None:
                return empty_state(f"You may no longer read the twin {thing_id!r}.", "Its policy changed."), -1
            return empty_state(f"The twin {thing_id!r} was deleted.", "Its history stays in the event log."), -1
        if twin.revision == shown:
            raise PreventUpdate
        return _state(ctx, twin), twin.revision

    async def chart(paths: list[str] | None, window: str | None, thing_id: str | None) -> tuple[Any, Any, Any]:
        if not thing_id:
            raise PreventUpdate
        viewer = ctx.viewer()
        paths = [p for p in paths or [] if await viewer.may_read_all(thing_id, p)]  # whatever the browser sent
        if not paths:
            return charts.empty("Pick one or more numeric properties above."), "", None
        label, seconds = RANGES.get(window or "1h", RANGES["1h"])
        seq_before = ctx.feed.seq
        events = await platform.registry.history(
            thing_id, since_us=to_us(platform.clock.now() - seconds), limit=MAX_EVENTS, newest_first=True
        )
        events.reverse()
        found = series(events, paths)
        current = platform.registry.cached(thing_id)
        twin = await viewer.typed_twin(current) if current is not None else None
        doc = twin.doc if twin is not None else {}
        meta = {"id": thing_id, "paths": paths, "seq": max([seq_before, *(e.seq for e in events)])}
        points = sum(sum(v is not None for v in s.y) for s in found)
        if points == 0:
            note = f"No values of these properties in the last {label}; choose a longer range."
        else:
            note = f"{points:,} values in the last {label}, from the event log; new ones are appended as they arrive."
        if len(events) == MAX_EVENTS:
            note += f" The twin had more than {MAX_EVENTS:,} changes in this range: the oldest are not shown."
        return _figure(ctx, doc, found, since=platform.clock.now() - seconds), note, meta

    async def extend_chart(live: dict[str, Any] | None, meta: dict[str, Any] | None) -> tuple[Any, Any]:
        if not live or not meta:
            raise PreventUpdate
        thing_id = meta["id"]
        new = ctx.feed.recent(after_seq=meta["seq"], match=lambda e: e.thing_id == thing_id)
        if not new:
            raise PreventUpdate
        found = series(new, meta["paths"])
        patch = Patch()
        for i, s in enumerate(found):
            if s.x:
                patch["data"][i]["x"].extend([charts.iso(t) for t in s.x])
                patch["data"][i]["y"].extend(s.y)
        meta["seq"] = new[-1].seq
        return patch, meta

    return DashPage(
        path="/twin",
        title="Twin",
        description="State of one twin: reported and desired values with units, and history.",
        layout=layout,
        nav=False,
        partners=True,
        callbacks=[
            PageCallback(
                follow_state,
                outputs=[Output(LIVE_STATE, "children"), Output(SHOWN_REVISION, "data")],
                inputs=[live_input()],
                state=[State(TWIN_ID, "data"), State(SHOWN_REVISION, "data")],
                prevent_initial_call=True,
            ),
            PageCallback(
                chart,
                outputs=[Output(CHART, "figure"), Output(NOTE, "children"), Output(META, "data")],
                inputs=[Input(PROPS, "value"), Input(RANGE, "value")],
                state=[State(TWIN_ID, "data")],
            ),
            PageCallback(
                extend_chart,
                outputs=[Output(CHART, "figure", allow_duplicate=True), Output(META, "data", allow_duplicate=True)],
                inputs=[live_input()],
                state=[State(META, "data")],
                prevent_initial_call=True,
            ),
        ],
    )


def _chartable(ctx: PageContext, twin: Twin) -> list[str]:
    """Numeric properties the twin has or its type declares; measurements (read-only) first."""
    paths = numeric_paths(twin.doc)
    for fid in twin.features:
        model = ctx.units.feature_type(twin.doc, fid)
        for name, prop in (model.properties if model is not None else {}).items():
            path = f"/features/{fid}/properties/{name}"
            if prop.schema.get("type") in ("number", "integer") and path not in paths:
                paths.append(path)

    def measured_first(path: str) -> tuple[bool, bool]:
        prop = ctx.units.at(twin.doc, path)
        return (not (prop is not None and prop.read_only), path.startswith("/attributes"))

    return sorted(paths, key=measured_first)


def _label(ctx: PageContext, twin: Twin, path: str) -> str:
    unit = ctx.units.unit(twin.doc, path)
    label = ctx.units.label(twin.doc, path)
    return f"{label} [{unit}]" if unit else label


def _figure(ctx: PageContext, doc: dict[str, Any], found: list[Series], *, since: float) -> dict[str, Any]:
    labels = [ctx.units.label(doc, s.path) for s in found]
    units = [ctx.units.unit(doc, s.path) for s in found]
    return charts.stacked(found, labels, units, since=since)


def _state(ctx: PageContext, twin: Twin) -> list[Any]:
    thing_type = ctx.units.thing_type(twin.doc)
    type_text = f"{thing_type.title} ({thing_type.id})" if thing_type else (twin.definition or "untyped")
    summary = html.Dl(
        [
            *_pair("Thing", html.Span(twin.thing_id, className="tl-mono")),
            *_pair("Type", type_text),
            *_pair("Revision", html.Span(str(twin.revision), id="tl-twin-revision")),
            *_pair("Last change", fmt.time_us(twin.modified_us, ms=True)),
            *_pair("Created", fmt.time_us(twin.created_us)),
            *_pair("Policy", twin.policy_id or fmt.EMPTY),
        ],
        className="tl-facts",
    )
    parts: list[Any] = [card("Twin", summary)]
    attributes = twin.attributes
    if attributes:
        rows = []
        for name, value in sorted(attributes.items()):
            prop = ctx.units.attribute(twin.doc, name)
            rows.append([_name(name, prop.title if prop else None), fmt.value(value, prop.unit if prop else None)])
        parts.append(card("Attributes", table(["Attribute", "Value"], rows, table_id="tl-twin-attributes")))
    if not twin.features:
        parts.append(card("Features", empty_state("This twin has no features.", "Devices report into features.")))
    for fid, feature in sorted(twin.features.items()):
        parts.append(_feature_card(ctx, twin, fid, feature if isinstance(feature, dict) else {}))
    return parts


def _feature_card(ctx: PageContext, twin: Twin, fid: str, feature: dict[str, Any]) -> Any:
    reported = feature.get("properties") or {}
    desired = feature.get("desiredProperties") or {}
    delta = twin.delta(fid)
    model = ctx.units.feature_type(twin.doc, fid)
    rows, pending = [], 0
    for name in sorted(set(reported) | set(desired)):
        prop = model.properties.get(name) if model is not None else None
        unit = prop.unit if prop else None
        waiting = name in delta or any(k.startswith(name + "/") for k in delta)
        status: Any = ""
        if name in desired:
            status = badge("pending", "warn", title="desired, not yet reported") if waiting else badge("in sync", "ok")
        pending += waiting
        rows.append(
            [
                _name(name, prop.title if prop else None),
                html.Span(fmt.value(reported.get(name), unit), **_prop_key(fid, name)),
                fmt.value(desired.get(name), unit) if name in desired else "",
                status,
            ]
        )
    subtitle = model.title if model is not None else "no twin type"
    if pending:
        subtitle += f" · {pending} desired value{'s' if pending > 1 else ''} pending"
    body = (
        table(["Property", "Reported", "Desired", ""], rows, numeric=(1, 2))
        if rows
        else empty_state("No properties reported yet.")
    )
    return card(f"Feature {fid}", body, subtitle=subtitle, key=f"feature:{fid}")


def _name(name: str, title: str | None) -> Any:
    return [html.Span(name, className="tl-mono"), html.Span(title, className="tl-muted") if title else None]


def _prop_key(fid: str, name: str) -> dict[str, Any]:
    return {"data-prop": f"{fid}.{name}"}


def _pair(term: str, value: Any) -> list[Any]:
    return [html.Dt(term), html.Dd(value)]
