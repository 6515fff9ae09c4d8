"""Ledger: the log's key, its latest signed tree heads (checkpoints, cosignatures, anchors), the
entries of a twin, and "Verify": the entry's receipt checked in the operator's browser.

The server only hands over the receipt (the entry, its inclusion proof, the signed checkpoint and
the signer's key registration); ``assets/ledger-verify.js`` checks it with WebCrypto against the log
key pinned in the browser (or the one the server sent, said so), so a server that altered an entry
cannot also vouch for it.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

import orjson
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from twinledger.dashboards import format as fmt
from twinledger.dashboards.components import badge, card, empty_state, field, table
from twinledger.dashboards.context import PageContext
from twinledger.dashboards.page import (
    LIVE_STORE_ID,
    ClientCallback,
    DashPage,
    PageCallback,
    browser_receipt,
    live_input,
)
from twinledger.dashboards.queries import newest_entries
from twinledger.ledger import LedgerEntry, LedgerError, Note, SignedHead

HEADS_SHOWN, ENTRIES_SHOWN = 8, 50
THING, LOGINFO, PIN, FORGET, PASTE, PIN_STATE = (
    "tl-ledger-thing",
    "tl-ledger-log",
    "tl-ledger-pin",
    "tl-ledger-forget",
    "tl-ledger-paste",
    "tl-ledger-pin-status",
)
HEADS, HEADS_SHOWN_ID, ENTRIES, ENTRIES_SHOWN_ID, SUMMARY = (
    "tl-ledger-heads",
    "tl-ledger-heads-shown",
    "tl-ledger-entries",
    "tl-ledger-entries-shown",
    "tl-ledger-summary",
)
VERIFY, WANTED, RECEIPT, VERDICT = "tl-ledger-verify", "tl-ledger-wanted", "tl-ledger-receipt", "tl-ledger-verdict"
HEADS_EVERY = 3.0  # seconds: the heads card is re-read at most this often while the log grows
HEADS_ANYWAY = 30.0  # ... and this often when it does not (cosignatures, anchors, a stale head re-signed)


def page(pc: PageContext) -> DashPage:
    platform = pc.platform

    async def layout(thing: str = "", **_: str) -> Any:
        ledger = platform.ledger
        try:
            key = await ledger.log_verifier()
        except LedgerError as exc:
            return empty_state("The ledger is not available.", str(exc))
        info = {"origin": ledger.origin, "vkey": key.vkey()}
        log_card = card(
            "Log",
            [
                html.Dl(
                    [
                        html.Dt("Origin"),
                        html.Dd(html.Span(ledger.origin, className="tl-mono")),
                        html.Dt("Entries"),
                        html.Dd(f"{ledger.size:,}", id="tl-ledger-size"),
                        html.Dt("Verifier key"),
                        html.Dd(html.Span(key.vkey(), className="tl-mono tl-break", id="tl-ledger-vkey")),
                        html.Dt("In this browser"),
                        html.Dd(html.Span(id=PIN_STATE)),
                    ],
                    className="tl-facts tl-facts-wide",
                ),
                html.Div(
                    [
                        field(
                            "Key from another source (optional)",
                            dcc.Input(
                                id=PASTE, type="text", placeholder="origin+hash+key, e.g. from the plant's records"
                            ),
                        ),
                        html.Button("Pin key in this browser", id=PIN, className="tl-button"),
                        html.Button("Forget pinned key", id=FORGET, className="tl-button"),
                    ],
                    className="tl-filters tl-pin",
                ),
                html.P(
                    "Verification runs in this browser against the pinned key. Pin the key once from a source you "
                    "trust (the plant's records, or GET /api/ledger/keys); until then the key the server sends is "
                    "used, and the result says so.",
                    className="tl-summary",
                ),
            ],
            subtitle="an RFC 9162 Merkle tree with C2SP signed checkpoints",
        )
        return html.Div(
            [
                dcc.Store(id=LOGINFO, data=info),
                log_card,
                card("Signed tree heads", html.Div(id=HEADS), subtitle="newest first"),
                card(
                    "Entries",
                    [
                        html.Div(
                            [
                                field(
                                    "Thing id",
                                    dcc.Input(
                                        id=THING,
                                        value=thing,
                                        type="search",
                                        placeholder="e.g. org.farm:pond-1 (empty: the newest entries)",
                                        debounce=0.3,
                                        className="tl-wide-input",
                                    ),
                                ),
                            ],
                            className="tl-filters",
                        ),
                        html.Div(id=SUMMARY, className="tl-summary"),
                        html.Div(id=ENTRIES),
                    ],
                ),
                card(
                    "Verification",
                    html.Div(empty_state("No entry checked yet.", "Press Verify on an entry above."), id=VERDICT),
                    subtitle="in this browser, with WebCrypto",
                ),
                dcc.Store(id=WANTED),
                dcc.Store(id=RECEIPT),
                dcc.Store(id=HEADS_SHOWN_ID),
                dcc.Store(id=ENTRIES_SHOWN_ID),
            ]
        )

    async def heads(live: Any, shown: dict[str, Any] | None) -> tuple[Any, Any]:
        ledger = platform.ledger
        now = platform.clock.now()
        if ctx.triggered_id == LIVE_STORE_ID and shown:
            age = now - shown.get("at", 0)
            if age < HEADS_EVERY or (shown.get("size") == ledger.size and age < HEADS_ANYWAY):
                raise PreventUpdate
        latest = await ledger.heads.latest()
        found = [] if latest is None else await ledger.heads.list(after_id=max(latest.id - HEADS_SHOWN, 0))
        if not found:
            body: Any = empty_state(
                "No tree head is signed yet.",
                "The platform signs one on its schedule ([ledger] head_interval_s) once the log has entries.",
            )
        else:
            key = await ledger.log_verifier()
            body = table(
                ["Tree size", "Root hash", "Signed (UTC)", "Signatures", "Anchors"],
                [_head_row(h, key.name) for h in reversed(found)],
                table_id="tl-ledger-heads-rows",
                numeric=(0,),
                row_ids=[str(h.id) for h in reversed(found)],
            )
        return body, {"size": ledger.size, "at": now}

    async def entries(thing: str | None, live: Any, shown: dict[str, Any] | None) -> tuple[Any, Any, Any, Any]:
        body, summary, state = await _entries(thing, shown)
        return body, summary, state, f"{state['size']:,}"

    async def _entries(thing: str | None, shown: dict[str, Any] | None) -> tuple[Any, Any, Any]:
        ledger = platform.ledger
        thing_id = (thing or "").strip() or None
        if ctx.triggered_id == LIVE_STORE_ID and shown and (shown["size"], shown["thing"]) == (ledger.size, thing_id):
            raise PreventUpdate  # the log did not grow
        db = platform.db
        if db is None:
            raise RuntimeError("The platform is not running; start it and reload the page.")
        viewer = pc.viewer()
        if thing_id is not None and not await viewer.may_read(thing_id):
            found: list[LedgerEntry] = []
        else:
            newest = await newest_entries(db, thing_id=thing_id, limit=ENTRIES_SHOWN)
            found = [e for e in newest if await viewer.entry(e)]
        state: dict[str, Any] = {"size": ledger.size, "thing": thing_id}
        if not found:
            if thing_id:
                hint = "Ledger writers record the events they are configured for ([plugin.ledger-default] namespaces)."
                if not viewer.admin:
                    hint += " You see entries whose whole content your policies let you read."
                return empty_state(f"No ledger entry for {thing_id!r}.", hint), "", state
            if ledger.size == 0:
                return (
                    empty_state(
                        "The ledger is empty.",
                        "Entries appear when a ledger writer records twin events or a plugin appends records.",
                    ),
                    "",
                    state,
                )
            return (
                empty_state(
                    "No entry you may read.", "Operators see every entry; choose a twin your policies let you read."
                ),
                "",
                state,
            )
        state["rows"] = [e.index for e in found]
        summary = (
            f"The newest {len(found)} entries" + (f" of {thing_id}" if thing_id else "") + f"; the log holds "
            f"{ledger.size:,}."
            if viewer.admin
            else f"The newest {len(found)} entries you may read."
        )
        if ctx.triggered_id == LIVE_STORE_ID and shown is not None and shown.get("rows") == state["rows"]:
            # the log grew elsewhere: the same rows stay as they are, so a click on one is not lost
            return no_update, summary, state
        rows = [_entry_row(pc, e) if _readable(e) else _damaged_row(e) for e in found]
        return (
            table(
                ["#", "Time (UTC)", "Kind", "Signer", "Twin", "Content", "Leaf hash", ""],
                rows,
                table_id="tl-ledger-rows",
                numeric=(0,),
                row_ids=[str(e.index) for e in found],
            ),
            summary,
            state,
        )

    async def receipt(wanted: dict[str, Any] | None) -> Any:
        if not wanted:
            raise PreventUpdate
        index = int(wanted["key"])
        try:
            may_read = await pc.viewer().entry(await platform.ledger.entry(index))
        except (LedgerError, ValueError):  # no such entry, or its body is damaged: the receipt says which
            may_read = pc.viewer().admin
        if not may_read:
            return {"index": index, "error": f"You may not read entry {index}."}
        found = await browser_receipt(platform.ledger, index)
        # a fresh object each time (the nonce), so checking the same entry again runs the check again
        return {**found, "nonce": secrets.token_hex(4)}

    return DashPage(
        path="/ledger",
        title="Ledger",
        description="Signed tree heads and the entries of a twin; verify an entry's proof and signature here.",
        layout=layout,
        order=40,
        partners=True,
        callbacks=[
            PageCallback(
                heads,
                outputs=[Output(HEADS, "children"), Output(HEADS_SHOWN_ID, "data")],
                inputs=[live_input()],
                state=[State(HEADS_SHOWN_ID, "data")],
            ),
            PageCallback(
                entries,
                outputs=[
                    Output(ENTRIES, "children"),
                    Output(SUMMARY, "children"),
                    Output(ENTRIES_SHOWN_ID, "data"),
                    Output("tl-ledger-size", "children"),
                ],
                inputs=[Input(THING, "value"), live_input()],
                state=[State(ENTRIES_SHOWN_ID, "data")],
            ),
            ClientCallback(
                "twinledger",
                "pick",
                outputs=[Output(WANTED, "data")],
                inputs=[Input({"type": VERIFY, "key": ALL}, "n_clicks")],
                prevent_initial_call=True,
            ),
            PageCallback(receipt, outputs=[Output(RECEIPT, "data")], inputs=[Input(WANTED, "data")]),
            ClientCallback(
                "twinledger_ledger",
                "verify",
                outputs=[Output(VERDICT, "children")],
                inputs=[Input(RECEIPT, "data")],
                prevent_initial_call=True,
            ),
            ClientCallback(
                "twinledger_ledger",
                "pin",
                outputs=[Output(PIN_STATE, "children")],
                inputs=[Input(PIN, "n_clicks"), Input(FORGET, "n_clicks")],
                state=[State(PASTE, "value"), State(LOGINFO, "data")],
            ),
        ],
    )


def _short(raw: bytes, n: int = 12) -> str:
    return base64.b64encode(raw).decode()[:n] + "…"


def _head_row(h: SignedHead, log_name: str) -> list[Any]:
    signatures: list[Any] = []
    try:
        note = Note.parse(h.note)
    except LedgerError:
        note = None
    if note is not None:
        for s in note.signatures:
            if s.name == log_name and s.timestamp is not None:
                signatures.append(badge("log · timestamped", "ok", title=f"cosignature/v1 at {s.timestamp}"))
            elif s.name == log_name:
                signatures.append(badge("log", "ok", title="the log's Ed25519 note signature"))
            else:
                kind = "witness" if len(s.signature) == 72 else "other"
                signatures.append(badge(f"{kind}: {s.name}", "neutral", title=f"key hash {s.key_hash.hex()}"))
            signatures.append(" ")
    anchors: list[Any] = []
    for a in h.anchors:
        where = ", ".join(f"{k}: {v}" for k, v in a.items() if k != "anchor" and isinstance(v, str | int))
        anchors += [badge(str(a.get("anchor", "?")), "ok", title=where[:500] or None), " "]
    return [
        f"{h.size:,}",
        html.Span(base64.b64encode(h.root).decode(), className="tl-mono tl-hash", title=h.root.hex()),
        fmt.time_us(h.ts_us).removesuffix(" UTC"),
        signatures,
        anchors or html.Span("none", className="tl-muted"),
    ]


def _readable(e: LedgerEntry) -> bool:
    try:
        return isinstance(e.fields, dict)
    except ValueError:
        return False


def _damaged_row(e: LedgerEntry) -> list[Any]:
    """An entry whose stored body is not JSON: said so, never a crashed page."""
    return [
        e.index,
        "",
        badge("damaged: not JSON", "bad", title="changed outside the ledger; run `twinledger verify`"),
        "",
        "",
        html.Span(e.body[:80].decode("utf-8", "replace"), className="tl-mono"),
        html.Span(_short(e.leaf_hash), className="tl-mono", title=e.leaf_hash.hex()),
        html.Button("Verify", id={"type": VERIFY, "key": e.index}, className="tl-button tl-button-small"),
    ]


def _entry_row(pc: PageContext, e: LedgerEntry) -> list[Any]:
    twin = e.twin or {}
    thing_id = twin.get("thingId")
    twin_cell: Any = fmt.EMPTY
    if isinstance(thing_id, str):
        rev = twin.get("revision")
        twin_cell = [
            dcc.Link(thing_id, href=pc.twin_href(thing_id), className="tl-mono"),
            html.Span(f"rev {rev}", className="tl-muted") if rev is not None else None,
        ]
    return [
        e.index,
        fmt.time_us(e.ts_us, ms=True).removesuffix(" UTC"),
        html.Span(e.kind, className="tl-mono"),
        e.signer,
        twin_cell,
        _content(pc, e),
        html.Span(_short(e.leaf_hash), className="tl-mono", title=e.leaf_hash.hex()),
        html.Button("Verify", id={"type": VERIFY, "key": e.index}, className="tl-button tl-button-small"),
    ]


def _content(pc: PageContext, e: LedgerEntry) -> Any:
    payload = e.payload
    if isinstance(payload, dict) and isinstance(payload.get("path"), str):  # a twin event (default writer)
        twin = pc.platform.registry.cached(str((e.twin or {}).get("thingId", "")))
        doc = twin.doc if twin is not None else {}
        path, value = payload["path"], payload.get("value")
        flat = isinstance(value, dict) and 0 < len(value) <= 4 and not any(isinstance(v, dict) for v in value.values())
        if flat and isinstance(value, dict):
            parts = [f"{k} = {fmt.value(v, pc.units.unit(doc, f'{path}/{k}'), limit=30)}" for k, v in value.items()]
            text = ", ".join(parts)  # a merge of a few properties, each with its unit
        else:
            text = f"= {fmt.value(value, pc.units.unit(doc, path), limit=60)}"
        return [html.Span(path, className="tl-mono"), " ", html.Span(text, className="tl-mono")]
    full = orjson.dumps(payload).decode() if payload is not None else ""
    return html.Span(fmt.value(payload, limit=80) if payload is not None else fmt.EMPTY, title=full[:2000])
