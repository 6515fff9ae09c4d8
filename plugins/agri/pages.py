"""The consumers' trace page: ``/public/agri/trace?code=…``, open to anyone (no account).

It shows a product code's status (the product-code contract: valid, expired, sold out, retired,
or why the code is not known) and its whole history, each record with its signer, and has every
record's ledger receipt checked in the visitor's browser by the core's WebCrypto script
(:func:`twinledger.verify_receipt_callback`): the log's signed checkpoint, the inclusion proof, the
signer's key registration and the signature. Only the public view is shown (the ledger holds no
more: withheld fields are sealed into a salted digest).
"""

from __future__ import annotations

from typing import Any

from dash import MATCH, dcc, html

from twinledger import DashPage, Platform, verify_receipt_callback

from .errors import AgriError
from .service import AgriService

PUBLIC_REASON = "consumers and sellers trace the product code printed on a box, without an account"
STAGE_TITLES = {
    "sowing": "Sown",
    "growth_observation": "Growing conditions",
    "harvest": "Harvested",
    "test_report": "Tested",
    "packing": "Packed",
    "loading": "Loaded",
    "transport": "Transported",
    "handover": "Handed over",
    "unloading": "Unloaded",
    "sale": "Sold",
    "retirement": "Withdrawn",
}
STATUS_TEXT = {
    "valid": "Genuine and valid",
    "expired": "Expired",
    "sold_out": "Sold out",
    "retired": "Withdrawn",
}


def pages(platform: Platform, service: AgriService) -> list[DashPage]:
    async def layout(code: str = "", **_: str) -> Any:
        form = html.Form(
            [
                dcc.Input(
                    id="agri-trace-code",
                    name="code",
                    value=code,
                    placeholder="the code on the box",
                    debounce=True,
                    style={"minWidth": "32em"},
                ),
                html.Button("Trace", id="agri-trace-submit", type="submit"),
            ],
            method="GET",
            className="agri-trace-form",
        )
        if not code.strip():
            return html.Div([form, html.P("Enter the product code printed on the box or read from its QR code.")])
        try:
            trace = await service.trace(code)
        except AgriError as exc:
            attrs: dict[str, Any] = {"data-error": exc.error}
            refusal = html.Div(
                [html.Strong(exc.message), html.P(exc.description)],
                id="agri-trace-error",
                className="tl-verdict tl-verdict-bad",
                **attrs,
            )
            return html.Div([form, refusal])
        return html.Div([form, _status(trace), _history(trace, platform)])

    return [
        DashPage(
            path="/trace",
            title="Trace a product",
            description="Every step from sowing to sale, each record checked in your browser against the ledger.",
            layout=layout,
            public=PUBLIC_REASON,
            callbacks=[
                verify_receipt_callback({"type": "agri-receipt", "n": MATCH}, {"type": "agri-verdict", "n": MATCH})
            ],
        )
    ]


def _status(trace: dict[str, Any]) -> html.Div:
    status = trace["status"]
    ok = status["status"] == "valid"
    return html.Div(
        [
            html.Div(
                f"{STATUS_TEXT.get(status['status'], status['status'])}: {trace['label']}", className="tl-verdict-title"
            ),
            html.Div(status["reason"]),
            html.Div(
                f"Contract {status['contract']}; {len(trace['items'])} records on the ledger.",
                className="tl-verdict-sub",
            ),
        ],
        id="agri-trace-status",
        className="tl-verdict " + ("tl-verdict-ok" if ok else "tl-verdict-bad"),
        **{"data-status": status["status"]},
    )


def _history(trace: dict[str, Any], platform: Platform) -> html.Ol:
    ledger = platform.ledger
    vkey = trace["logKey"]
    rows = []
    for n, item in enumerate(trace["items"]):
        data = {"index": item["entryIndex"], "origin": ledger.origin, "vkey": vkey, "receipt": item["receipt"]}
        rows.append(
            html.Li(
                [
                    html.Div(
                        [
                            html.Strong(STAGE_TITLES.get(item["kind"], item["kind"]), className="agri-trace-kind"),
                            html.Span(f" {item['eventTime']} · signed by {item['signer']} ({item['role']})"),
                        ]
                    ),
                    html.Ul([html.Li(line) for line in summary(item["kind"], item["record"]["event"])]),
                    dcc.Store(id={"type": "agri-receipt", "n": n}, data=data),
                    html.Details(
                        [html.Summary("Ledger check"), html.Div(id={"type": "agri-verdict", "n": n})], open=True
                    ),
                ],
                className="agri-trace-item",
                **{"data-kind": item["kind"], "data-index": str(item["entryIndex"])},
            )
        )
    return html.Ol(rows, id="agri-trace-history")


def summary(kind: str, event: dict[str, Any]) -> list[str]:
    """A few readable lines from a record's public fields."""
    ilmd = event.get("ilmd") or {}
    lines: list[str] = []
    if kind == "sowing":
        lines.append(
            f"{ilmd.get('agri:crop')} ({ilmd.get('agri:variety', 'variety not given')}) on {ilmd.get('agri:plot')}"
        )
    elif kind in ("growth_observation", "transport", "loading"):
        for element in event.get("sensorElementList", []):
            for r in element.get("sensorReport", []):
                what = " ".join(x for x in (r.get("component"), r.get("type")) if x)
                lines.append(f"{what}: {r.get('minValue')} – {r.get('maxValue')} {r.get('uom') or ''}".rstrip())
        if event.get("agri:snapshots"):
            lines.append(f"{len(event['agri:snapshots'])} camera snapshot(s), by reference and SHA-256")
    elif kind == "harvest":
        for q in event.get("outputQuantityList", []):
            lines.append(f"lot {q['epcClass'].rsplit('.', 1)[-1]}: {q['quantity']} kg from {ilmd.get('agri:plot')}")
    elif kind == "test_report":
        lines.append(f"{event.get('agri:testType')}: {event.get('agri:result')}")
        for a in event.get("agri:analytes", []):
            lines.append(f"{a['name']}: {a['value']} {a['unit']} (limit {a.get('limit')})")
    elif kind == "packing":
        lines.append(f"{len(event.get('outputEPCList', []))} boxes of {ilmd.get('agri:unitsPerBox')} units, valid "
                     f"until {ilmd.get('agri:validUntil')}")  # fmt: skip
    elif kind == "handover":
        src = [s["source"] for s in event.get("sourceList", [])]
        dst = [d["destination"] for d in event.get("destinationList", [])]
        lines.append(f"from {', '.join(src)} to {', '.join(dst)}")
    elif kind == "sale":
        lines.append(f"{event.get('agri:unitsSold')} units sold")
    elif kind == "retirement":
        lines.append(f"{event.get('disposition')}: {event.get('agri:reason')}")
    if kind == "transport" and event.get("agri:vehicleType"):
        lines.append(f"by {event['agri:vehicleType']}")
    return lines or [f"{event.get('bizStep')} ({event.get('disposition')})"]
