"""Live events: the newest committed changes, filtered, straight from the shared in-memory feed."""

from __future__ import annotations

from typing import Any

import orjson
from dash import Input, Output, ctx, dcc, html
from dash.exceptions import PreventUpdate

from twinledger.dashboards import format as fmt
from twinledger.dashboards.components import badge, empty_state, field, table
from twinledger.dashboards.context import PageContext
from twinledger.dashboards.page import LIVE_STORE_ID, DashPage, PageCallback, live_input
from twinledger.dashboards.visibility import MISSING
from twinledger.registry.events import TwinEvent

SHOWN = 100  # rows re-sent at each push (at most four a second): enough to read, light to send
THING, NS, PATH, SOURCE, PAUSE = (
    "tl-events-thing",
    "tl-events-ns",
    "tl-events-path",
    "tl-events-source",
    "tl-events-pause",
)
TABLE, SUMMARY = "tl-events-table", "tl-events-summary"
ACTION_KIND = {"created": "ok", "modified": "neutral", "merged": "neutral", "deleted": "bad"}


def page(ctx_: PageContext) -> DashPage:
    feed = ctx_.feed

    def layout(thing: str = "", namespace: str = "", **_: str) -> html.Div:
        def text(ident: str, label: str, value: str, hint: str) -> Any:
            return field(label, dcc.Input(id=ident, value=value, type="search", placeholder=hint, debounce=0.3))

        return html.Div(
            [
                html.Div(
                    [
                        text(NS, "Namespace", namespace, "e.g. org.farm"),
                        text(THING, "Thing id contains", thing, "e.g. pond-1"),
                        text(PATH, "Path contains", "", "e.g. oxygen"),
                        text(SOURCE, "Source contains", "", "e.g. mqtt:"),
                        field("", dcc.Checklist(id=PAUSE, options=[{"label": " pause", "value": "pause"}], value=[])),
                    ],
                    className="tl-filters",
                ),
                html.Div(id=SUMMARY, className="tl-summary"),
                html.Div(id=TABLE),
            ]
        )

    async def render(
        live: dict[str, Any] | None, namespace: str, thing: str, path: str, source: str, pause: list[str]
    ) -> tuple[Any, Any]:
        if pause and ctx.triggered_id == LIVE_STORE_ID:
            raise PreventUpdate
        ns, th, pa, so = (namespace or "").strip(), (thing or "").strip().lower(), (path or "").strip(), source or ""

        def match(e: TwinEvent) -> bool:
            return (
                (not ns or e.namespace == ns)
                and (not th or th in e.thing_id.lower())
                and (not pa or pa in e.path)
                and (not so.strip() or so.strip() in e.source)
            )

        viewer = ctx_.viewer()
        found: list[tuple[TwinEvent, Any]] = []
        for e in feed.recent(match=match):
            value = await viewer.event_value(e)
            if value is not MISSING:
                found.append((e, value))
        if not found:
            if not (ns or th or pa or so.strip()) and not viewer.admin:
                return empty_state(
                    "No recent events of twins you may read.",
                    "You see the changes of twins whose policies grant you READ; ask a twin's owner for access.",
                ), ""
            if not len(feed):
                return empty_state(
                    "No events yet.",
                    "Each accepted change of a twin appears here as it is committed: connect a device or start "
                    "the demo's simulators.",
                ), ""
            return empty_state("No recent event matches these filters.", "Clear a filter to see more."), ""
        newest = found[-SHOWN:][::-1]
        rows = [_row(ctx_, e, value) for e, value in newest]
        if viewer.admin:
            summary: Any = (
                f"{len(found):,} of the {len(feed):,} most recent events match; showing the newest "
                f"{len(newest):,}. Ingest rate {fmt.rate(feed.rate(now=ctx_.platform.clock.now()))}."
            )
        else:  # the platform's totals would tell about twins the user may not read
            summary = f"{len(found):,} recent events of twins you may read match; showing the newest {len(newest):,}."
        if pause:
            summary = [badge("paused", "warn"), " ", summary]
        return table(
            ["Time (UTC)", "Thing", "Rev", "Change", "Path", "Value", "Source"],
            rows,
            table_id="tl-events-rows",
            numeric=(2,),
            row_ids=[str(e.seq) for e, _ in newest],
        ), summary

    return DashPage(
        path="/events",
        title="Live events",
        description="Every committed change of a twin, newest first, as it happens.",
        layout=layout,
        order=20,
        partners=True,
        callbacks=[
            PageCallback(
                render,
                outputs=[Output(TABLE, "children"), Output(SUMMARY, "children")],
                inputs=[
                    live_input(),
                    Input(NS, "value"),
                    Input(THING, "value"),
                    Input(PATH, "value"),
                    Input(SOURCE, "value"),
                    Input(PAUSE, "value"),
                ],
            )
        ],
    )


def _row(ctx_: PageContext, e: TwinEvent, value: Any) -> list[Any]:
    """One event, with ``value`` (the part of its value the user may read)."""
    twin = ctx_.platform.registry.cached(e.thing_id)
    unit = ctx_.units.unit(twin.doc, e.path) if twin is not None else None
    full = orjson.dumps(value).decode() if value is not None else ""
    return [
        fmt.time_us(e.ingest_ts_us, ms=True).removesuffix(" UTC"),
        dcc.Link(e.thing_id, href=ctx_.twin_href(e.thing_id), className="tl-mono"),
        e.revision,
        badge(e.action, ACTION_KIND.get(e.action, "neutral")),
        html.Span(e.path, className="tl-mono"),
        html.Span(fmt.value(value, unit, limit=60), title=full[:2000], className="tl-mono"),
        e.source,
    ]
