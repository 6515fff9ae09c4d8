"""The building blocks every page uses, so all pages look and behave alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import html

PAGE_ERROR_ID = "tl-page-error"  # the panel above each page's body (hidden until a callback fails)
PAGE_ERROR_BODY = "tl-page-error-body"
PAGE_ERROR_DISMISS = "tl-page-error-dismiss"


def empty_state(title: str, hint: str = "") -> html.Div:
    """What a page shows instead of an empty table: what is missing and what to do about it."""
    return html.Div(
        [html.Div(title, className="tl-empty-title"), html.Div(hint, className="tl-empty-hint") if hint else None],
        className="tl-empty",
    )


def error_panel(title: str, detail: str, *, hint: str = "") -> html.Div:
    """An error explained: what failed, the cause, and what the operator can do."""
    return html.Div(
        [
            html.Div(title, className="tl-error-title"),
            html.Pre(detail, className="tl-error-detail") if detail else None,
            html.Div(hint, className="tl-error-hint") if hint else None,
        ],
        className="tl-error",
        role="alert",
    )


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    table_id: str | None = None,
    numeric: Sequence[int] = (),
    row_ids: Sequence[str] | None = None,
) -> html.Table:
    """A plain table; ``numeric`` columns are right-aligned, ``row_ids`` become ``data-key``."""
    head = html.Thead(
        html.Tr([html.Th(c, className="tl-num" if i in numeric else None) for i, c in enumerate(columns)])
    )
    body = []
    for r, row in enumerate(rows):
        cells = [html.Td(cell, className="tl-num" if i in numeric else None) for i, cell in enumerate(row)]
        extra: dict[str, Any] = {"data-key": row_ids[r]} if row_ids is not None else {}
        body.append(html.Tr(cells, **extra))
    kwargs: dict[str, Any] = {"id": table_id} if table_id else {}
    return html.Table([head, html.Tbody(body)], className="tl-table", **kwargs)


def card(title: str, children: Any, *, subtitle: str = "", key: str | None = None) -> html.Section:
    """A titled panel; ``key`` becomes ``data-key`` (for tests and links, with any characters)."""
    kwargs: dict[str, Any] = {"data-key": key} if key else {}
    return html.Section(
        [
            html.Div(
                [html.H2(title), html.Span(subtitle, className="tl-card-sub") if subtitle else None],
                className="tl-card-head",
            ),
            html.Div(children, className="tl-card-body"),
        ],
        className="tl-card",
        **kwargs,
    )


def badge(text: str, kind: str = "neutral", *, title: str | None = None) -> html.Span:
    """A small label: ``neutral``, ``ok``, ``warn`` or ``bad``."""
    return html.Span(text, className=f"tl-badge tl-badge-{kind}", title=title)


def field(label: str, control: Any) -> html.Label:
    return html.Label([html.Span(label, className="tl-field-label"), control], className="tl-field")
