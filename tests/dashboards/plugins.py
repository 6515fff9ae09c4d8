"""Plugins that add dashboard pages, the way an integrator writes them (public API only)."""

from __future__ import annotations

from typing import Any

from dash import MATCH, Input, Output, dcc, html

from twinledger import (
    DashPage,
    PageCallback,
    Platform,
    browser_receipt,
    hookimpl,
    live_input,
    verify_receipt_callback,
)
from twinledger.dashboards import NoSession, current_principal


class FarmPlugin:
    """Two pages: an overview that follows pond-1 live and has a callback that raises, and a report
    whose layout raises."""

    name = "farm"

    @hookimpl
    def twinledger_register_dash_pages(self, platform: Platform) -> list[DashPage]:
        async def oxygen(_live: Any) -> str:
            twin = platform.registry.cached("org.farm:pond-1")
            value = twin.reported("oxygen", "value") if twin is not None else None
            return f"pond-1 oxygen: {value} mg/L"

        def broken(_clicks: int | None) -> str:  # a plain function: runs in a worker thread
            raise RuntimeError("the sensor table is missing")

        def report(**query: str) -> Any:
            raise ValueError(f"no report for {query.get('month', 'this month')}")

        overview = html.Div(
            [
                html.Div(id="farm-oxygen"),
                html.Button("Break it", id="farm-break", className="tl-button"),
                html.Div("untouched", id="farm-broken-out"),
            ]
        )
        return [
            DashPage(
                path="/",
                title="Farm overview",
                description="Ponds of the farm, live.",
                layout=overview,
                order=1,
                callbacks=[
                    PageCallback(oxygen, outputs=[Output("farm-oxygen", "children")], inputs=[live_input()]),
                    PageCallback(
                        broken,
                        outputs=[Output("farm-broken-out", "children")],
                        inputs=[Input("farm-break", "n_clicks")],
                        prevent_initial_call=True,
                    ),
                ],
            ),
            DashPage(path="/report", title="Monthly report", layout=report, order=2),
        ]


class BrokenHookPlugin:
    name = "leaky"

    @hookimpl
    def twinledger_register_dash_pages(self, platform: Platform) -> list[DashPage]:
        raise KeyError("pages.yaml")


class ClashingPlugin:
    """A page whose output another plugin owns, one with a bad path, one that is not a page."""

    name = "clash"

    @hookimpl
    def twinledger_register_dash_pages(self, platform: Platform) -> list[Any]:
        return [
            DashPage(
                path="/steal",
                title="Steals farm's output",
                layout=html.Div(),
                callbacks=[
                    PageCallback(lambda _: "x", outputs=[Output("farm-oxygen", "children")], inputs=[live_input()])
                ],
            ),
            DashPage(path="Bad Path", title="Bad", layout=html.Div()),
            {"path": "/dict", "title": "not a DashPage"},
            DashPage(path="/fine", title="Fine page", layout=html.Div("fine", id="clash-fine")),
        ]


class TracePlugin:
    """A consumer's trace page open to anyone (twin data, records checked in the browser, a callback
    that reports who it runs for, one that fails), and an operators' page of the same plugin."""

    name = "trace"
    KIND = "trace.record"

    @hookimpl
    def twinledger_register_dash_pages(self, platform: Platform) -> list[DashPage]:
        async def product(code: str = "", **_: str) -> Any:
            twin = platform.registry.cached("org.farm:pond-1")
            site = twin.doc.get("attributes", {}).get("site") if twin is not None else None
            records = [e for e in await platform.ledger.find(kind=self.KIND) if e.payload.get("code") == code]
            rows = [
                html.Li(
                    [
                        html.Span(str(e.payload["step"]), className="trace-step"),
                        dcc.Store(
                            id={"type": "trace-receipt", "n": e.index},
                            data=await browser_receipt(platform.ledger, e.index),
                        ),
                        html.Div(id={"type": "trace-verdict", "n": e.index}, className="trace-verdict"),
                    ],
                    **{"data-index": str(e.index)},
                )
                for e in records
            ]
            return html.Div(
                [
                    html.P(f"Grown at the {site} site", id="trace-origin"),
                    html.Ol(rows, id="trace-records"),
                    dcc.Input(id="trace-question", value=""),
                    html.Div(id="trace-answer"),
                ]
            )

        def who(question: str) -> str:  # a plain function: runs in a worker thread
            if question == "boom":
                raise RuntimeError("secret table farm_costs is missing")
            try:
                return f"{question}: answered for {current_principal().name}"
            except NoSession:
                return f"{question}: answered for an anonymous visitor"

        return [
            DashPage(
                path="/product",
                title="Trace a product",
                description="Every step of the product, checked in your browser.",
                layout=product,
                public="consumers trace the code printed on the box, without an account",
                callbacks=[
                    verify_receipt_callback(
                        {"type": "trace-receipt", "n": MATCH}, {"type": "trace-verdict", "n": MATCH}
                    ),
                    PageCallback(
                        who, outputs=[Output("trace-answer", "children")], inputs=[Input("trace-question", "value")]
                    ),
                ],
            ),
            DashPage(path="/internal", title="Costs", layout=html.Div("farm costs: 1,234", id="trace-costs")),
        ]


class BadPublicPlugin:
    """Public pages declared wrongly: no reason, for partners too, live."""

    name = "badpublic"

    @hookimpl
    def twinledger_register_dash_pages(self, platform: Platform) -> list[DashPage]:
        live = PageCallback(lambda _: "x", outputs=[Output("badpublic-live", "children")], inputs=[live_input()])
        return [
            DashPage(path="/blank", title="No reason", layout=html.Div(), public=" "),
            DashPage(path="/partners", title="Partners too", layout=html.Div(), public="why not", partners=True),
            DashPage(path="/live", title="Live", layout=html.Div(), public="live", callbacks=[live]),
        ]
