"""Adapters and devices: connected or not, last seen, message rates, errors and dead letters, live.

Adapters and devices keep their counters in memory (``adapter.health()``, ``device.health``), so
the page re-reads them every second without touching the database; the list of recent dead
letters is read from the database only when their count moved (or every ten seconds). For operators only: adapters and
devices are the plant's plumbing, not any partner's twins.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from twinledger.dashboards import format as fmt
from twinledger.dashboards.components import badge, card, empty_state, field, table
from twinledger.dashboards.context import PageContext
from twinledger.dashboards.page import DashPage, PageCallback
from twinledger.devices.adapter import AdapterHealth
from twinledger.registry.deadletters import DeadLetter, query_dead_letters

TICK, ADAPTERS, DEVICES, LETTERS, LETTERS_SHOWN, SOURCE = (
    "tl-health-tick",
    "tl-health-adapters",
    "tl-health-devices",
    "tl-health-letters",
    "tl-health-letters-shown",
    "tl-health-source",
)
DEVICE_COLUMNS = ["Device", "Protocol", "Twins", "Connection", "Messages", "Rate", "Errors", "Dead letters"]
DEVICE_COLUMNS += ["Last seen", "Last error"]
QUIET_AFTER = 60.0  # seconds without a message before a device shows as quiet
LETTERS_LIMIT = 30


def page(pc: PageContext) -> DashPage:
    platform = pc.platform

    def layout(source: str = "", **_: str) -> Any:
        return html.Div(
            [
                dcc.Interval(id=TICK, interval=1000),  # memory reads only
                card("Adapters", html.Div(id=ADAPTERS), subtitle="one per protocol connection"),
                card("Devices", html.Div(id=DEVICES), subtitle="as their adapter sees them"),
                card(
                    "Recent dead letters",
                    [
                        html.Div(
                            field(
                                "Source starts with",
                                dcc.Input(
                                    id=SOURCE, value=source, type="search", placeholder="e.g. mqtt:", debounce=0.3
                                ),
                            ),
                            className="tl-filters",
                        ),
                        html.Div(id=LETTERS),
                    ],
                    subtitle="refused messages and updates, kept with the reason (twinledger deadletters)",
                ),
                dcc.Store(id=LETTERS_SHOWN),
            ]
        )

    async def adapters(_tick: int | None) -> tuple[Any, Any]:
        now = platform.clock.now()
        rows: list[list[Any]] = []
        ids: list[str] = []
        problems: list[str] = []
        for plugin, adapter in platform.adapters:
            try:
                h = adapter.health()
            except Exception as exc:  # one broken adapter must not hide the others
                problems.append(f"{plugin}: health() failed: {exc!r}")
                continue
            rows.append(_adapter_row(plugin, h, now))
            ids.append(f"{plugin}:{h.name}")
        if not rows and not problems:
            body: Any = empty_state(
                "No adapter is running.",
                "Adapters start when configured: [mqtt] host (or the demo's embedded broker), [coap] and [opcua] "
                "sections; `twinledger adapters` shows the same from the command line.",
            )
        else:
            body = table(
                ["Adapter", "Protocol", "Connection", "Messages", "Rate", "Errors", "Dead letters", "Last seen"],
                rows,
                table_id="tl-health-adapter-rows",
                numeric=(3, 4, 5, 6),
                row_ids=ids,
            )
        devices = list(platform.devices)
        if not devices:
            device_body: Any = empty_state(
                "No device is registered.",
                "Devices are declared in device files ([devices] files) or by plugins; each maps its data points "
                "to twin properties.",
            )
        else:
            devices.sort(key=lambda d: d.id)
            device_body = table(
                DEVICE_COLUMNS,
                [_device_row(pc, d, now) for d in devices],
                table_id="tl-health-device-rows",
                numeric=(4, 5, 6, 7),
                row_ids=[d.id for d in devices],
            )
        if problems:
            body = [html.Div([html.Div(p) for p in problems], className="tl-error"), body]
        return body, device_body

    async def letters(_tick: int | None, source: str | None, shown: dict[str, Any] | None) -> tuple[Any, Any]:
        count = sum(_dead(a) for _, a in platform.adapters) + sum(d.health.dead_letters for d in platform.devices)
        prefix = (source or "").strip()
        # re-read when an adapter counted a new one, and every 10 s for those refused past adapters
        wanted: dict[str, Any] = {"count": count, "source": prefix, "every": int(platform.clock.now() // 10)}
        if shown == wanted:
            raise PreventUpdate  # nothing new was refused since the last read
        db = platform.db
        if db is None:
            raise RuntimeError("The platform is not running; start it and reload the page.")
        found = await query_dead_letters(db, source=prefix or None, limit=LETTERS_LIMIT)
        if not found:
            return empty_state(
                "No dead letters." if not prefix else "No dead letter from this source.",
                "Every message an adapter could not decode or map, and every update a twin type refused, lands here.",
            ), wanted
        return table(
            ["Time (UTC)", "Source", "Thing", "Error", "Reason", "Payload"],
            [_letter_row(pc, dl) for dl in found],
            table_id="tl-health-letter-rows",
            row_ids=[str(dl.id) for dl in found],
        ), wanted

    return DashPage(
        path="/health",
        title="Adapters & devices",
        description="Connections, last messages, rates, errors and dead letters of every adapter and device.",
        layout=layout,
        order=50,
        callbacks=[
            PageCallback(
                adapters,
                outputs=[Output(ADAPTERS, "children"), Output(DEVICES, "children")],
                inputs=[Input(TICK, "n_intervals")],
            ),
            PageCallback(
                letters,
                outputs=[Output(LETTERS, "children"), Output(LETTERS_SHOWN, "data")],
                inputs=[Input(TICK, "n_intervals"), Input(SOURCE, "value")],
                state=[State(LETTERS_SHOWN, "data")],
            ),
        ],
    )


def _dead(adapter: Any) -> int:
    try:
        return int(adapter.health().dead_letters)
    except Exception:
        return 0


def _ago(ts: float | None, now: float) -> Any:
    if ts is None:
        return html.Span("never", className="tl-muted")
    age = max(now - ts, 0.0)
    if age < 1:
        text = "just now"
    elif age < 120:
        text = f"{age:.0f} s ago"
    elif age < 7200:
        text = f"{age / 60:.0f} min ago"
    else:
        text = f"{age / 3600:.0f} h ago"
    return html.Span(text, title=fmt.time_us(int(ts * 1_000_000), ms=True))


def _connection(connected: bool | None, last_seen: float | None, now: float, detail: str = "") -> Any:
    if connected is True:
        return badge("connected", "ok", title=detail or None)
    if connected is False:
        return badge("disconnected", "bad", title=detail or None)
    if last_seen is not None and now - last_seen <= QUIET_AFTER:  # no connection of its own: judged by traffic
        return badge("reporting", "ok", title="no connection per device in this protocol: judged by its messages")
    return badge("quiet", "warn", title=f"no message for more than {QUIET_AFTER:.0f} s")


def _adapter_row(plugin: str, h: AdapterHealth, now: float) -> list[Any]:
    return [
        [html.Span(h.name, className="tl-mono"), html.Span(plugin, className="tl-muted")],
        h.protocol,
        [_connection(h.connected, h.last_seen, now, h.detail), html.Div(h.detail, className="tl-muted tl-detail")],
        f"{h.messages:,}",
        f"{h.messages_per_s:.1f} msg/s",
        f"{h.errors:,}",
        f"{h.dead_letters:,}",
        _ago(h.last_seen, now),
    ]


def _device_row(pc: PageContext, d: Any, now: float) -> list[Any]:
    h = d.health
    twins = [dcc.Link(t, href=pc.twin_href(t), className="tl-mono tl-block") for t in d.twins]
    return [
        html.Span(d.id, className="tl-mono"),
        d.protocol,
        twins,
        _connection(h.connected, h.last_seen, now),
        f"{h.messages:,}",
        f"{h.meter.rate(now):.1f} msg/s",
        f"{h.errors:,}",
        f"{h.dead_letters:,}",
        _ago(h.last_seen, now),
        html.Span(h.last_error[:80], title=h.last_error, className="tl-muted") if h.last_error else "",
    ]


def _letter_row(pc: PageContext, dl: DeadLetter) -> list[Any]:
    payload = dl.payload or b""
    text = payload[:200].decode("utf-8", "replace")
    return [
        fmt.time_us(dl.ts_us, ms=True).removesuffix(" UTC"),
        dl.source,
        dcc.Link(dl.thing_id, href=pc.twin_href(dl.thing_id), className="tl-mono") if dl.thing_id else fmt.EMPTY,
        html.Span(dl.error, className="tl-mono"),
        dl.reason,
        html.Span(text + ("…" if len(payload) > 200 else ""), className="tl-mono", title=f"{len(payload)} bytes"),
    ]
