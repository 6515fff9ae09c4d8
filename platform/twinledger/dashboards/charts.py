"""Plotly figures as plain dicts (no figure validation on the hot path): one stacked panel per
property, sharing the time axis, each with its unit on its own y axis."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from twinledger.dashboards.history import Series

PANEL_PX = 170
COLORS = ("#1f6feb", "#d4641c", "#1a7f37", "#8250df", "#bf3989", "#0a7a8a")


def iso(ts: float) -> str:
    """Plotly reads naive ISO strings as-is; the axis says UTC."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def stacked(
    series: Sequence[Series], labels: Sequence[str], units: Sequence[str | None], *, since: float | None = None
) -> dict[str, Any]:
    """One panel per series, top to bottom; the time axis starts at ``since`` and grows with the data."""
    n = max(len(series), 1)
    gap = 0.08 if n > 1 else 0.0
    data: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    xaxis: dict[str, Any] = {
        "type": "date",
        "title": {"text": "time (UTC)"},
        "gridcolor": "#eef0f3",
        "anchor": f"y{n}" if n > 1 else "y",
    }
    if since is not None:  # show the whole chosen range, and let it grow as points are appended
        xaxis.update(autorange=True, autorangeoptions={"include": [iso(since)]})
    layout: dict[str, Any] = {
        "height": 70 + PANEL_PX * n,
        "margin": {"l": 64, "r": 20, "t": 24, "b": 44},
        "showlegend": False,
        "hovermode": "x unified",
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "xaxis": xaxis,
        "uirevision": "keep",  # keep the operator's zoom when points are appended
    }
    for i, (s, label, unit) in enumerate(zip(series, labels, units, strict=True)):
        name = "y" if i == 0 else f"y{i + 1}"
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{label} [{unit}]" if unit else label,
                "x": [iso(t) for t in s.x],
                "y": s.y,
                "yaxis": name,
                "line": {"color": COLORS[i % len(COLORS)], "width": 2},
                "marker": {"size": 4},
                "connectgaps": False,
            }
        )
        top = 1 - i / n - (gap / 2 if i > 0 else 0)
        bottom = 1 - (i + 1) / n + (gap / 2 if i < n - 1 else 0)
        layout["yaxis" if i == 0 else f"yaxis{i + 1}"] = {
            "domain": [bottom, top],
            "title": {"text": unit or "", "font": {"size": 11}},
            "gridcolor": "#eef0f3",
            "zeroline": False,
            "anchor": "x",
        }
        annotations.append(
            {
                "text": f"<b>{label}</b>" + (f" [{unit}]" if unit else ""),
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": top,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12, "color": COLORS[i % len(COLORS)]},
            }
        )
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def empty(message: str) -> dict[str, Any]:
    return {
        "data": [],
        "layout": {
            "height": 160,
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "annotations": [{"text": message, "showarrow": False, "font": {"size": 14, "color": "#57606a"}}],
        },
    }
