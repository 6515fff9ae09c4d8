"""Alerts: raised → acknowledged → cleared, filtered, with each alert's history and the operator's
acknowledgement (their name and a note).

The list follows alert changes live: the dashboards listen to ``platform.alerts`` and push the
count of changes; a tab re-reads the list only when it moved, and tabs with the same filters share
one read (:class:`AlertReads`), so a rule repeating an alert many times a second costs one query
per push for all browsers, not one per browser.
"""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from twinledger.alerts import Alert, AlertHistoryEntry, AlertState, AlertStore
from twinledger.dashboards import format as fmt
from twinledger.dashboards.components import badge, card, empty_state, field, table
from twinledger.dashboards.context import PageContext
from twinledger.dashboards.page import LIVE_STORE_ID, ClientCallback, DashPage, PageCallback, live_input
from twinledger.dashboards.sessions import current_session
from twinledger.dashboards.visibility import Viewer
from twinledger.errors import AlertNotFound, AlertStateConflict

LIMIT = 200
STATES, SEVERITY, THING = "tl-alerts-states", "tl-alerts-severity", "tl-alerts-thing"
TABLE, SUMMARY, SHOWN, SELECTED = "tl-alerts-table", "tl-alerts-summary", "tl-alerts-shown", "tl-alerts-selected"
OPEN = "tl-alert-open"  # pattern-matching id type of the rows' buttons
INFO, FORM, NOTE, ACK, CLEAR, RESULT = (
    "tl-alert-info",
    "tl-alert-form",
    "tl-alert-note",
    "tl-alert-ack",
    "tl-alert-clear",
    "tl-alert-result",
)
STATE_KIND = {"raised": "bad", "acknowledged": "warn", "cleared": "ok"}
SEVERITY_KIND = {"critical": "bad", "warning": "warn", "info": "neutral"}
ACTION_TEXT = {"raised": "raised", "repeated": "repeated", "acknowledged": "acknowledged", "cleared": "cleared"}


class AlertReads:
    """The last list read per filter, reused while no alert changed (shared by every tab)."""

    def __init__(self, store: AlertStore) -> None:
        self.store = store
        self._cache: dict[tuple[Any, ...], tuple[int, list[Alert]]] = {}

    async def list(self, seq: int, states: tuple[str, ...], severity: str | None, thing: str | None) -> list[Alert]:
        key = (states, severity, thing)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == seq:
            return hit[1]
        found = await self.store.list(state=list(states) or None, severity=severity, thing_id=thing, limit=LIMIT)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = (seq, found)
        return found


def page(pc: PageContext) -> DashPage:
    platform = pc.platform
    reads: dict[int, AlertReads] = {}  # one per alert store (the platform's, while it runs)

    def shared() -> AlertReads:
        store = platform.alerts
        if id(store) not in reads:
            reads.clear()
            reads[id(store)] = AlertReads(store)
        return reads[id(store)]

    def layout(thing: str = "", state: str = "", **_: str) -> html.Div:
        states = [s for s in state.split(",") if s in {x.value for x in AlertState}] or ["raised", "acknowledged"]
        return html.Div(
            [
                html.Div(
                    [
                        field(
                            "State",
                            dcc.Checklist(
                                id=STATES,
                                options=[{"label": f" {s.value}", "value": s.value} for s in AlertState],
                                value=states,
                                inline=True,
                                className="tl-range",
                            ),
                        ),
                        field(
                            "Severity",
                            dcc.Dropdown(
                                id=SEVERITY,
                                options=["critical", "warning", "info"],
                                placeholder="any severity",
                                clearable=True,
                            ),
                        ),
                        field(
                            "Thing id",
                            dcc.Input(
                                id=THING, value=thing, type="search", placeholder="e.g. org.farm:pond-1", debounce=0.3
                            ),
                        ),
                    ],
                    className="tl-filters",
                ),
                html.Div(id=SUMMARY, className="tl-summary"),
                html.Div(id=TABLE),
                dcc.Store(id=SHOWN),
                dcc.Store(id=SELECTED),
                html.Div(
                    [
                        html.Div(id=INFO),
                        html.Div(_form(), id=FORM, hidden=True),
                    ],
                    className="tl-alert-detail",
                ),
            ]
        )

    async def render(
        live: dict[str, Any] | None, states: list[str] | None, severity: str | None, thing: str | None, shown: Any
    ) -> tuple[Any, Any, Any]:
        seq = pc.feed.alerts_seq
        chosen, sev, thing_id = tuple(sorted(states or [])), severity or None, (thing or "").strip() or None
        wanted = [list(chosen), sev, thing_id]
        if ctx.triggered_id == LIVE_STORE_ID and shown == {"seq": seq, "filter": wanted}:
            raise PreventUpdate  # twins changed, alerts did not
        viewer = pc.viewer()
        found = [a for a in await shared().list(seq, chosen, sev, thing_id) if await viewer.alert(a)]
        body: Any
        if not found:
            if not states:
                body = empty_state("No state chosen.", "Tick raised, acknowledged or cleared above.")
            elif sev or thing_id or set(chosen) != {"raised", "acknowledged"}:
                body = empty_state("No alert matches these filters.", "Clear a filter or tick more states.")
            else:
                body = empty_state(
                    "No open alerts.",
                    "Rules and plugins raise alerts (low oxygen, a device gone quiet...); they appear here at once."
                    + ("" if viewer.admin else " You see alerts about twins your policies let you read."),
                )
        else:
            body = table(
                ["#", "Severity", "State", "Thing", "Message", "Times", "Raised (UTC)", "Last change (UTC)", "By", ""],
                [_row(pc, a) for a in found],
                table_id="tl-alerts-rows",
                numeric=(0, 5),
                row_ids=[str(a.id) for a in found],
            )
        return body, _summary(found), {"seq": seq, "filter": wanted}

    async def detail(picked: dict[str, Any] | None, live: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        selected = int(picked["key"]) if picked else None
        if selected is None:
            return (
                empty_state("No alert selected.", "Press Details on an alert to see its history and act on it."),
                True,
                "",
            )
        viewer = pc.viewer()
        try:
            alert = await platform.alerts.get(selected)
        except AlertNotFound:
            alert = None
        if alert is None or not await viewer.alert(alert):
            return empty_state(f"There is no alert {selected}.", "It may have been removed."), True, ""
        history = await platform.alerts.history(alert.id)
        may_act = alert.open and await _may_act(viewer, alert)
        info = _detail(pc, alert, history, may_act)
        return info, not may_act, "" if ctx.triggered_id == SELECTED else no_update

    async def act(
        ack: int | None, clear: int | None, picked: dict[str, Any] | None, note: str | None
    ) -> tuple[Any, Any]:
        if not picked or ctx.triggered_id not in (ACK, CLEAR) or not (ack or clear):
            raise PreventUpdate
        selected = int(picked["key"])
        session = current_session()
        viewer = pc.viewer()
        alert = await platform.alerts.get(selected)
        if not await viewer.alert(alert):
            raise PreventUpdate
        if not await _may_act(viewer, alert):
            return _result("bad", "Your policies do not let you act on this twin's alerts (WRITE is needed)."), note
        text = (note or "").strip()[:1000]
        try:
            if ctx.triggered_id == ACK:
                done = await platform.alerts.acknowledge(alert.id, by=session.who, note=text)
                verb = "Acknowledged"
            else:
                done = await platform.alerts.clear(alert.id, by=session.who, note=text)
                verb = "Cleared"
        except AlertStateConflict as exc:
            return _result("warn", str(exc)), note
        return _result("ok", f"{verb} alert {done.id} as {session.who}."), ""

    return DashPage(
        path="/alerts",
        title="Alerts",
        description="Raised, acknowledged and cleared alerts, live; acknowledge with your name and a note.",
        layout=layout,
        order=30,
        partners=True,
        callbacks=[
            PageCallback(
                render,
                outputs=[Output(TABLE, "children"), Output(SUMMARY, "children"), Output(SHOWN, "data")],
                inputs=[live_input(), Input(STATES, "value"), Input(SEVERITY, "value"), Input(THING, "value")],
                state=[State(SHOWN, "data")],
            ),
            ClientCallback(  # in the browser: a redraw of the table must not swallow the click
                "twinledger",
                "pick",
                outputs=[Output(SELECTED, "data")],
                inputs=[Input({"type": OPEN, "key": ALL}, "n_clicks")],
                prevent_initial_call=True,
            ),
            PageCallback(
                detail,
                outputs=[Output(INFO, "children"), Output(FORM, "hidden"), Output(RESULT, "children")],
                inputs=[Input(SELECTED, "data"), live_input()],
            ),
            PageCallback(
                act,
                outputs=[Output(RESULT, "children", allow_duplicate=True), Output(NOTE, "value")],
                inputs=[Input(ACK, "n_clicks"), Input(CLEAR, "n_clicks")],
                state=[State(SELECTED, "data"), State(NOTE, "value")],
                prevent_initial_call=True,
            ),
        ],
    )


async def _may_act(viewer: Viewer, alert: Alert) -> bool:
    """Operators act on every alert; others on alerts of twins they may change (WRITE)."""
    return viewer.admin or (alert.thing_id is not None and await viewer.may_write(alert.thing_id))


def _form() -> list[Any]:
    """The acknowledgement form: drawn once, so a live update never wipes a note being typed."""
    return [
        field(
            "Note (what you did or will do)",
            dcc.Textarea(id=NOTE, className="tl-note", placeholder="e.g. aerator 2 restarted, checking again at 14:00"),
        ),
        html.Div(
            [
                html.Button("Acknowledge", id=ACK, className="tl-button tl-button-primary"),
                html.Button("Clear", id=CLEAR, className="tl-button", title="close the alert for good"),
            ],
            className="tl-actions",
        ),
        html.Div(id=RESULT, className="tl-result"),
    ]


def _result(kind: str, text: str) -> Any:
    return html.Div(text, className=f"tl-result-{kind}", role="status")


def _row(pc: PageContext, a: Alert) -> list[Any]:
    thing = dcc.Link(a.thing_id, href=pc.twin_href(a.thing_id), className="tl-mono") if a.thing_id else fmt.EMPTY
    by = a.cleared_by or a.acknowledged_by or ""
    return [
        a.id,
        badge(a.severity.value, SEVERITY_KIND.get(a.severity.value, "neutral")),
        badge(a.state.value, STATE_KIND[a.state.value]),
        thing,
        html.Span(a.message, title=f"key: {a.key} · source: {a.source}"),
        a.occurrences,
        fmt.time_us(a.raised_us).removesuffix(" UTC"),
        fmt.time_us(a.updated_us).removesuffix(" UTC"),
        by,
        html.Button("Details", id={"type": OPEN, "key": a.id}, className="tl-button tl-button-small"),
    ]


def _summary(found: list[Alert]) -> Any:
    if not found:
        return ""
    by_state: dict[str, int] = {}
    critical = 0
    for a in found:
        by_state[a.state.value] = by_state.get(a.state.value, 0) + 1
        critical += a.open and a.severity.value == "critical"
    parts: list[Any] = [", ".join(f"{n:,} {s}" for s, n in by_state.items())]
    if critical:
        parts += [" ", badge(f"{critical} critical open", "bad")]
    if len(found) == LIMIT:
        parts.append(f" — the newest {LIMIT} shown; narrow the filters to see older ones.")
    return parts


def _detail(pc: PageContext, a: Alert, history: list[AlertHistoryEntry], may_act: bool) -> Any:
    facts = html.Dl(
        [
            html.Dt("Alert"),
            html.Dd([f"#{a.id} ", badge(a.state.value, STATE_KIND[a.state.value])], id="tl-alert-state"),
            html.Dt("Severity"),
            html.Dd(badge(a.severity.value, SEVERITY_KIND.get(a.severity.value, "neutral"))),
            html.Dt("Thing"),
            html.Dd(dcc.Link(a.thing_id, href=pc.twin_href(a.thing_id)) if a.thing_id else fmt.EMPTY),
            html.Dt("Key"),
            html.Dd(html.Span(a.key, className="tl-mono")),
            html.Dt("Source"),
            html.Dd(a.source),
            html.Dt("Occurrences"),
            html.Dd(f"{a.occurrences:,}"),
        ],
        className="tl-facts",
    )
    rows = [
        [
            fmt.time_us(h.ts_us, ms=True).removesuffix(" UTC"),
            badge(ACTION_TEXT.get(h.action, h.action), STATE_KIND.get(h.action, "neutral")),
            h.actor or "",
            h.note or h.message or "",
        ]
        for h in history
    ]
    children: list[Any] = [
        html.P(a.message, className="tl-alert-message"),
        facts,
        html.H3("History", className="tl-subhead"),
        table(["Time (UTC)", "Change", "By", "Note or message"], rows, table_id="tl-alert-history"),
    ]
    if a.open and may_act:
        children.append(html.P(f"Acting as {current_session().who}.", className="tl-summary", id="tl-alert-acting"))
    elif a.open:
        children.append(html.P("You may read this alert but not act on it.", className="tl-summary"))
    return card(f"Alert {a.id}", children, subtitle=a.key, key=f"alert:{a.id}")
