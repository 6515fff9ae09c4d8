"""The aqua pages of the operator dashboards (``/dash/aqua/...``), behind the operator login.

- **Ponds** (``/ponds?pond=<id>``): oxygen of the last days with the set point, the forecast and
  its 95 % band; daily minima and maxima, time below the set point, suggested operations; the
  aerator's state. Follows the pond live.
- **Incidents** (``/incidents``): incidents still open (from the live trackers, with a flag when
  the aerator's confirmation is overdue) and every ledgered incident with its handling times.
- **Portal** (``/portal``): per farm, the farmer's grants (active, expired, revoked) and the
  evaluations institutions recorded, each with its ledger entry.

The pages are open to partner logins (``partners=True``) and show each user only the farms its
policies let it read: the operator (the service provider) sees every farm, a farmer their own, an
institution the farms whose farmer granted it access (and, on the portal page, only its own
grants and evaluations). Someone with no grant sees no farm.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from dash import Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from twinledger import DashPage, PageCallback, Principal, live_input
from twinledger.dashboards import current_principal

from .analytics import PondAnalysis
from .ledger import INCIDENT, entries
from .portal import consents, evaluations
from .records import IncidentRecord
from .series import OXYGEN, samples
from .views import pond_analysis, pond_events

if TYPE_CHECKING:
    from twinledger import Platform

    from .config import FarmConfig, PondConfig
    from .runtime import AquaRuntime

__all__ = ["aqua_pages"]


def _when(ts: float | None, tz: timezone = UTC) -> str:
    return "—" if ts is None else datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _table(columns: list[str], rows: list[list[Any]], empty: str) -> Any:
    if not rows:
        return html.Div(empty, className="tl-empty-hint")
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(c) for c in columns])),
            html.Tbody([html.Tr([html.Td(c) for c in r]) for r in rows]),
        ],
        className="tl-table",
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def oxygen_figure(series: list[tuple[float, float]], analysis: PondAnalysis) -> dict[str, Any]:
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "oxygen [mg/L]",
            "x": [_iso(t) for t, _ in series],
            "y": [v for _, v in series],
            "line": {"color": "#1f6feb", "width": 2},
        }
    ]
    if series:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "set point",
                "x": [_iso(series[0][0]), _iso(max(series[-1][0], analysis.end))],
                "y": [analysis.set_point, analysis.set_point],
                "line": {"color": "#cf222e", "dash": "dash", "width": 1},
            }
        )
    if analysis.forecast is not None:
        points = analysis.forecast.points
        xs = [_iso(p.ts) for p in points]
        data += [
            {
                "type": "scatter",
                "mode": "lines",
                "x": xs,
                "y": [p.high for p in points],
                "line": {"width": 0},
                "showlegend": False,
                "hoverinfo": "skip",
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "forecast (95 %)",
                "x": xs,
                "y": [p.low for p in points],
                "fill": "tonexty",
                "fillcolor": "rgba(130,80,223,0.15)",
                "line": {"width": 0},
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "forecast",
                "x": xs,
                "y": [p.value for p in points],
                "line": {"color": "#8250df", "dash": "dot", "width": 2},
            },
        ]
    return {
        "data": data,
        "layout": {
            "height": 360,
            "margin": {"l": 56, "r": 16, "t": 16, "b": 40},
            "xaxis": {"type": "date", "title": {"text": "time (UTC)"}},
            "yaxis": {"title": {"text": "dissolved oxygen [mg/L]"}, "rangemode": "tozero"},
            "legend": {"orientation": "h"},
            "uirevision": "keep",
        },
    }


def aqua_pages(platform: Platform, runtime: AquaRuntime) -> list[DashPage]:
    config = runtime.config
    recent: dict[str, tuple[float, Any]] = {}  # pond → (when, rendered view)

    def owns(principal: Principal, farm: FarmConfig) -> bool:
        return principal.admin or farm.farmer in principal.subjects

    async def readable(principal: Principal) -> list[FarmConfig]:
        """The farms the logged-in user may read (the farm twin's policy, as the API applies it)."""
        out = []
        for farm in config.farms:
            twin = platform.registry.cached(farm.id) or await platform.registry.get(farm.id)
            if owns(principal, farm) or (twin is not None and await platform.policies.visible(twin, principal)):
                out.append(farm)
        return out

    async def pond_layout(pond: str | None = None, **_query: str) -> Any:
        ponds = [(f, p) for f in await readable(current_principal()) for p in f.ponds]
        chosen = pond if any(p.id == pond for _, p in ponds) else (ponds[0][1].id if ponds else None)
        if chosen is None:
            return html.Div("No aqua farm you may see (ask the farmer for a grant).", className="tl-empty-hint")
        return html.Div(
            [
                dcc.Dropdown(
                    id="aqua-pond-choice",
                    options=[{"label": f"{f.name} — {p.name or p.key}", "value": p.id} for f, p in ponds],
                    value=chosen,
                    clearable=False,
                ),
                html.Div(id="aqua-pond-view"),
            ]
        )

    async def render_pond(live: Any, pond_id: str | None) -> Any:
        found = config.pond(pond_id or "")
        if found is None or found[0] not in await readable(current_principal()):
            raise PreventUpdate
        farm, pond = found
        cached = recent.get(pond.id)
        if cached is not None and time.monotonic() - cached[0] < 2.0:
            return cached[1]  # at most one analysis every 2 s per pond, however often twins change
        view = await _pond_view(farm, pond, platform.registry.cached(pond.id))
        recent[pond.id] = (time.monotonic(), view)
        return view

    async def _pond_view(farm: FarmConfig, pond: PondConfig, twin: Any) -> Any:
        tz = timezone(timedelta(hours=farm.utc_offset_h))
        analysis = await pond_analysis(platform, farm, pond)
        events = await pond_events(platform, pond.id, since=platform.clock.now() - 4 * 86_400)
        series = [(s.ts, float(s.value)) for s in samples(events, OXYGEN, kind="number")]
        aerator = "on" if twin is not None and twin.reported("aerator", "on") else "off"
        mode = twin.reported("aerator", "mode", "?") if twin is not None else "?"
        latest = twin.reported("oxygen", "value") if twin is not None else None
        suggestions = [html.Li(s.text, title=s.reason) for s in analysis.suggestions]
        if analysis.forecast is None:
            suggestions.append(html.Li(f"No forecast yet: {analysis.forecast_error}", className="tl-empty-hint"))
        return html.Div(
            [
                html.Div(
                    [
                        html.Span(f"oxygen {latest} mg/L · set point {analysis.set_point} mg/L · "),
                        html.Span(f"aerator {aerator} ({mode}) · "),
                        html.Span(f"time below set point {_duration(analysis.time_below_s)}"),
                    ],
                    id="aqua-pond-summary",
                ),
                dcc.Graph(id="aqua-pond-graph", figure=oxygen_figure(series, analysis)),
                html.H3("Suggested operations"),
                html.Ul(suggestions or [html.Li("none")], id="aqua-pond-suggestions"),
                html.H3("Daily minimum and maximum (local time)"),
                _table(
                    ["day", "minimum", "at", "maximum", "at", "mean", "readings"],
                    [
                        [
                            str(d.day),
                            f"{d.minimum:.2f}",
                            _when(d.minimum_at, tz)[11:16],
                            f"{d.maximum:.2f}",
                            _when(d.maximum_at, tz)[11:16],
                            f"{d.mean:.2f}",
                            d.samples,
                        ]
                        for d in reversed(analysis.daily)
                    ],
                    "no readings yet",
                ),
            ]
        )

    async def render_incidents(live: Any) -> Any:
        now = platform.clock.now()
        ponds = [(f, p) for f in await readable(current_principal()) for p in f.ponds]
        open_rows = []
        recorder = runtime.incidents
        for farm, pond in ponds:
            tracker = recorder.tracker(pond.id) if recorder is not None else None
            incident = tracker.open_incident if tracker is not None else None
            if incident is None:
                continue
            overdue = incident.confirmation_overdue(now, config.confirm_timeout_s)
            open_rows.append(
                [
                    farm.name,
                    pond.name or pond.key,
                    _when(incident.detected_at),
                    f"{incident.lowest_value:.2f}",
                    _when(incident.command_at),
                    _when(incident.confirmed_at),
                    "confirmation overdue" if overdue else ("aerator running" if incident.confirmed_at else "—"),
                ]
            )
        closed: list[tuple[IncidentRecord, int]] = []
        for _, pond in ponds:
            for e in await entries(platform, kind=INCIDENT, thing_id=pond.id):
                closed.append((IncidentRecord.model_validate(e.payload), e.index))
        closed.sort(key=lambda r: r[0].detected_at, reverse=True)
        rows = [
            [
                r.pond,
                _when(r.detected_at),
                f"{r.detected_value:.2f} → {r.lowest_value:.2f}",
                r.outcome,
                _duration(r.detect_to_command_s),
                _duration(r.command_to_confirm_s),
                _duration(r.detect_to_recover_s),
                _duration(r.below_set_point_s),
                index,
            ]
            for r, index in closed[:200]
        ]
        return html.Div(
            [
                html.H3("Open"),
                _table(["farm", "pond", "detected", "lowest", "command", "confirmed", "state"], open_rows, "none open"),
                html.H3(f"Recorded in the ledger ({len(closed)})"),
                _table(
                    [
                        "pond",
                        "detected",
                        "oxygen",
                        "outcome",
                        "to command",
                        "to confirm",
                        "to recover",
                        "below",
                        "entry",
                    ],
                    rows,
                    "no incident recorded yet",
                ),
            ]
        )

    async def render_portal(live: Any) -> Any:
        now = platform.clock.now()
        principal = current_principal()
        sections = []
        for farm in await readable(principal):
            mine = owns(principal, farm)
            grants = [
                [
                    c.grant.grantee,
                    c.grant.role,
                    _when(c.grant.granted_at),
                    _when(c.grant.expires_at),
                    "active" if c.active_at(now) else ("revoked" if c.revoke else "expired"),
                    c.index,
                ]
                for c in await consents(platform, farm)
                if mine or c.grant.grantee in principal.subjects
            ]
            evals = [
                [
                    ev.institution,
                    ev.product,
                    ev.decision,
                    f"{ev.amount_minor / 100:,.2f} {ev.currency}" if ev.amount_minor is not None else "—",
                    ev.reason or "—",
                    _when(ev.evaluated_at),
                    e.index,
                ]
                for ev, e in await evaluations(platform, farm)
                if mine or ev.institution in principal.subjects
            ]
            sections += [
                html.H3(f"{farm.name} ({farm.id}) — farmer {farm.farmer}"),
                _table(["grantee", "role", "granted", "expires", "state", "entry"], grants, "no grant given"),
                _table(
                    ["institution", "product", "decision", "amount", "reason", "evaluated", "entry"],
                    evals,
                    "no evaluation yet",
                ),
            ]
        return html.Div(sections or [html.Div("No aqua farm you may see.", className="tl-empty-hint")])

    return [
        DashPage(
            path="/ponds",
            title="Ponds",
            description="Dissolved oxygen, daily extremes, time below the set point, forecast and suggestions.",
            layout=pond_layout,
            order=1,
            partners=True,
            callbacks=[
                PageCallback(
                    render_pond,
                    outputs=[Output("aqua-pond-view", "children")],
                    inputs=[live_input(), Input("aqua-pond-choice", "value")],
                )
            ],
        ),
        DashPage(
            path="/incidents",
            title="Incidents",
            description="Low-oxygen incidents: open ones live, closed ones as the gateway signed them.",
            layout=html.Div(id="aqua-incidents"),
            order=2,
            partners=True,
            callbacks=[
                PageCallback(render_incidents, outputs=[Output("aqua-incidents", "children")], inputs=[live_input()])
            ],
        ),
        DashPage(
            path="/portal",
            title="Grants and evaluations",
            description="The farmers' consents and the institutions' evaluations, from the ledger.",
            layout=html.Div(id="aqua-portal"),
            order=3,
            partners=True,
            callbacks=[PageCallback(render_portal, outputs=[Output("aqua-portal", "children")], inputs=[live_input()])],
        ),
    ]
