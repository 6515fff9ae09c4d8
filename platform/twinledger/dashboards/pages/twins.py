"""Twins: search by namespace, id and type; the table follows changes of the listed twins live."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from twinledger.dashboards import format as fmt
from twinledger.dashboards.components import badge, empty_state, field, table
from twinledger.dashboards.context import PageContext
from twinledger.dashboards.page import DashPage, PageCallback, live_input
from twinledger.dashboards.queries import TwinFilter, namespaces
from twinledger.dashboards.sessions import current_principal
from twinledger.registry.twin import Twin

LIMIT = 200
NS, ID, DEF = "tl-twins-namespace", "tl-twins-id", "tl-twins-definition"
RESULTS, SUMMARY, SHOWN = "tl-twins-results", "tl-twins-summary", "tl-twins-shown"


def page(ctx: PageContext) -> DashPage:
    platform = ctx.platform

    def readable() -> Any:
        """None for operators; else the policies the user reads under (what the API's search does)."""
        principal = current_principal()
        return None if principal.admin else platform.policies.readable_policy_ids(principal.subjects)

    async def layout(namespace: str = "", q: str = "", definition: str = "", **_: str) -> html.Div:
        db = platform.db
        if db is None:
            return empty_state("The platform is not running.", "Start it, then reload this page.")
        scope = readable()
        known_ns = await namespaces(db, scope)
        known_defs = set(await ctx.viewer().definitions(db))  # a partner: the types it may read
        if scope is None:  # an operator: every installed type, with twins or not
            known_defs |= {m.id for m in platform.catalog.models()}
        return html.Div(
            [
                html.Div(
                    [
                        field(
                            "Namespace",
                            dcc.Dropdown(
                                id=NS,
                                options=known_ns,
                                value=namespace or None,
                                placeholder="any namespace",
                                clearable=True,
                            ),
                        ),
                        field(
                            "Thing id contains",
                            dcc.Input(id=ID, value=q, type="search", placeholder="e.g. pond-", debounce=0.3),
                        ),
                        field(
                            "Twin type",
                            dcc.Dropdown(
                                id=DEF,
                                options=[{"label": _type_label(ctx, d), "value": d} for d in sorted(known_defs)],
                                value=definition or None,
                                placeholder="any type",
                                clearable=True,
                            ),
                        ),
                    ],
                    className="tl-filters",
                ),
                html.Div(id=SUMMARY, className="tl-summary"),
                html.Div(id=RESULTS),
                dcc.Store(id=SHOWN),
            ]
        )

    async def search(namespace: str | None, q: str | None, definition: str | None) -> tuple[Any, Any, Any]:
        db = platform.db
        if db is None:
            raise RuntimeError("The platform is not running; start it and reload the page.")
        flt = TwinFilter(namespace or None, (q or "").strip() or None, definition or None)
        found, total = await ctx.viewer().search_twins(db, flt, limit=LIMIT)
        rows = [_row(t) for t in found]
        shown = {"filter": [flt.namespace, flt.id_contains, flt.definition], "rows": rows, "total": total, "new": 0}
        return _results(ctx, rows, flt), _summary(total, len(rows), 0), shown

    async def follow(live: dict[str, Any] | None, shown: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        if not live or not shown:
            raise PreventUpdate
        rows: list[dict[str, Any]] = shown["rows"]
        flt = TwinFilter(*shown["filter"])
        listed = {r["id"] for r in rows}
        viewer = ctx.viewer()
        touched = False
        # Every listed row against memory (at most LIMIT lookups), not only this push's changed
        # twins: the browser drops an answer that the next push overtakes.
        for i, row in enumerate(rows):
            twin = platform.registry.cached(row["id"])
            if twin is None:
                if row["id"] in (live.get("changed") or []) and not row.get("deleted"):
                    rows[i] = {**row, "deleted": True}
                    touched = True
            elif twin.revision != row["revision"]:
                seen = await viewer.twin(twin)
                rows[i] = _row(seen) if seen is not None else {**row, "revision": twin.revision, "hidden": True}
                touched = True
        new = shown.get("new", 0)
        for thing_id in live.get("changed") or []:  # the push lists only twins the user may read
            twin = platform.registry.cached(thing_id) if thing_id not in listed else None
            seen = await viewer.twin(twin) if twin is not None else None
            if seen is not None and seen.revision == 1 and flt.matches(seen):
                new += 1  # created since the search: offer to search again rather than query per change
        if not touched and new == shown.get("new", 0):
            raise PreventUpdate
        shown["new"] = new
        total = shown.get("total", len(rows))
        return _results(ctx, rows, flt), _summary(total, len(rows), new), shown

    return DashPage(
        path="/",
        title="Twins",
        description="Search the digital twins; the listed ones update as their devices report.",
        layout=layout,
        order=10,
        partners=True,
        callbacks=[
            PageCallback(
                search,
                outputs=[Output(RESULTS, "children"), Output(SUMMARY, "children"), Output(SHOWN, "data")],
                inputs=[Input(NS, "value"), Input(ID, "value"), Input(DEF, "value")],
            ),
            PageCallback(
                follow,
                outputs=[
                    Output(RESULTS, "children", allow_duplicate=True),
                    Output(SUMMARY, "children", allow_duplicate=True),
                    Output(SHOWN, "data", allow_duplicate=True),
                ],
                inputs=[live_input()],
                state=[State(SHOWN, "data")],
                prevent_initial_call=True,
            ),
        ],
    )


def _row(twin: Twin) -> dict[str, Any]:
    return {
        "id": twin.thing_id,
        "definition": twin.definition,
        "features": len(twin.features),
        "revision": twin.revision,
        "modified_us": twin.modified_us,
    }


def _type_label(ctx: PageContext, definition: str | None) -> str:
    if not definition:
        return "untyped"
    model = ctx.platform.catalog.get(definition)
    return f"{model.title} ({definition})" if model is not None else definition


def _results(ctx: PageContext, rows: list[dict[str, Any]], flt: TwinFilter) -> Any:
    if not rows:
        if flt == TwinFilter():
            return empty_state(
                "There are no twins yet.",
                "Twins appear when devices report through an adapter, or when created through the API "
                "or `twinledger twin put`.",
            )
        return empty_state("No twin matches these filters.", "Clear a filter or shorten the id fragment.")
    body = []
    for r in rows:
        link = dcc.Link(r["id"], href=ctx.twin_href(r["id"]), className="tl-mono")
        if r.get("hidden"):  # its policy changed since the search: nothing more of it is shown
            body.append([html.Span([r["id"], " ", badge("no longer readable", "bad")]), "", "", "", ""])
            continue
        body.append(
            [
                html.Span([link, " ", badge("deleted", "bad")]) if r.get("deleted") else link,
                _type_label(ctx, r["definition"]),
                r["features"],
                r["revision"],
                fmt.time_us(r["modified_us"]),
            ]
        )
    return table(
        ["Thing", "Type", "Features", "Revision", "Last change"],
        body,
        table_id="tl-twins-table",
        numeric=(2, 3),
        row_ids=[r["id"] for r in rows],
    )


def _summary(total: int, shown: int, new: int) -> Any:
    text = "1 twin matches" if total == 1 else f"{total:,} twins match"
    if shown < total:
        text += f"; showing the first {shown:,} by id — narrow the filters to see others"
    parts: list[Any] = [text + "."]
    if new:
        parts += [" ", badge(f"{new} new since this search — change a filter to search again", "warn")]
    return parts
