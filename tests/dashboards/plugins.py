"""Plugins that add dashboard pages, the way an integrator writes them (public API only)."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, html

from twinledger import DashPage, PageCallback, Platform, hookimpl, live_input


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
