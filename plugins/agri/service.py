"""The plugin at run time: issuing product codes, accepting signed records, assembling traces.

**A record's way in.** A participant builds a record (:mod:`.builders`), seals it
(:func:`.sealing.seal`), wraps the sealed form in a ledger entry body (kind ``agri.<kind>``, ref =
the record id) and signs it on its own side (``twinledger.ledger.signed_entry``). The service then
checks, before anything is written:

1. the entry: its kind, ref and signer agree with the sealed record inside;
2. who is calling: the API principal is the signer (a participant posts only its own records);
3. the signer's role, as registered in the ledger, may write this kind (:func:`.records.authorize`);
4. the record against what is already recorded: a harvest's planting was sown, a test report's
   lot was harvested, a packing packs codes issued for its lot and never packed or retired (the
   unique code table has the last word), a sale is allowed by the product-code contract, every
   product code a logistics record names was packed here;
5. the disclosure (withheld fields and salt), if given, against the record's internal digest;

and then appends the entry with ``ledger.append_signed``, which verifies the signature against the
key registered to the signer (a record signed with another participant's key is refused there).
Only then are the indexes, codes and twins updated. Checks and writes run one record at a time
(one lock), so two records can never both take the same code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from tortoise.exceptions import IntegrityError

from twinledger import Platform, Principal, Signal

from .config import AgriSettings
from .epcis import TransformationEvent
from .errors import (
    AgriError,
    DisclosureMismatch,
    ProductCodeInvalid,
    ProductCodeReused,
    ProductCodeUnknown,
    RecordForbidden,
    RecordInvalid,
)
from .gs1 import Gtin, check_digit, lgtin_parts
from .ledger import RECORD_KIND_PREFIX, entry_kind
from .models import DisclosureRow, IdentifierRow, ProductCodeRow, RecordRow
from .product_codes import (
    CodeStatus,
    ProductCode,
    check_packing,
    check_sale,
    generate_codes,
    parse_product_code,
)
from .records import SGTIN_PREFIX, Participant, RecordKind, Role, TraceRecord, authorize
from .sealing import Disclosure, SealedRecord, sealed_from_json, verify_disclosure
from .trace import assemble_trace, follow

log = structlog.get_logger("twinledger.plugins.agri")

MAX_CODES_PER_REQUEST = 10_000
_LOT_STATE = {
    RecordKind.HARVEST: "harvested",
    RecordKind.TEST_REPORT: "tested",
    RecordKind.PACKING: "packed",
    RecordKind.LOADING: "in_transit",
    RecordKind.UNLOADING: "delivered",
    RecordKind.RETIREMENT: "recalled",
}


class AgriService:
    def __init__(self, platform: Platform, settings: AgriSettings) -> None:
        self.platform = platform
        self.settings = settings
        self.terms = settings.terms()
        self._lock = asyncio.Lock()
        self._sealed_cache: dict[str, SealedRecord] = {}

    # -- who is calling -----------------------------------------------------------------------

    def participant(self, principal: Principal, participant_id: str | None = None) -> Participant:
        """The agri participant the caller is (its token's subject is its ledger participant id)."""
        ids = [participant_id] if participant_id else sorted(principal.subjects)
        for pid in ids:
            if pid not in principal.subjects:
                raise RecordForbidden(
                    f"You are authenticated as {principal.name!r}, not as {pid!r}: participants submit only "
                    "records they sign themselves.",
                    participant=pid,
                )
            try:
                return self._registered(pid)
            except RecordForbidden:
                if participant_id:
                    raise
        raise RecordForbidden(
            f"{principal.name!r} is not a registered agri participant (farm, testing_agency, logistics_provider or "
            "seller): the operator registers participants and their public keys in the ledger.",
            participant=principal.name,
        )

    def _registered(self, participant_id: str) -> Participant:
        """The participant as registered in the ledger, with its agri role."""
        registered = self.platform.ledger.participants.get(participant_id)
        try:
            if registered is not None:
                return Participant(participant_id, Role(registered.role), registered.name)
        except ValueError:
            pass
        raise RecordForbidden(
            f"{participant_id!r} is not a registered agri participant (farm, testing_agency, logistics_provider or "
            "seller): the operator registers participants and their public keys in the ledger.",
            participant=participant_id,
        )

    # -- product codes -------------------------------------------------------------------------

    async def issue_codes(self, principal: Principal, *, lot: str, gtin: str, count: int) -> list[ProductCode]:
        """New codes for boxes of ``lot`` (farms only); bound to the lot forever, packed later."""
        farm = self.participant(principal)
        if farm.role is not Role.FARM:
            raise RecordForbidden(f"Only a farm issues product codes ({farm.id!r} is a {farm.role.value}).")
        if not 1 <= count <= MAX_CODES_PER_REQUEST:
            raise RecordInvalid(f"Ask for 1 to {MAX_CODES_PER_REQUEST} codes at a time (got {count}).")
        if lgtin_parts(lot) is None:
            raise RecordInvalid(f"The lot is an LGTIN class URI (urn:epc:class:lgtin:...), got {lot!r}.")
        box = self._gtin(gtin)
        async with self._lock:
            if not await self._records_of([lot], RecordKind.HARVEST):
                raise RecordInvalid(f"No harvest produced the lot {lot}: record the harvest first.")
            for _ in range(3):
                codes = generate_codes(box, count, ever_issued=lambda c: False)
                taken = await ProductCodeRow.filter(code__in=[c.epc_uri for c in codes]).count()
                if taken:
                    continue  # 2^-80 per code; the unique constraint below is the real guard
                now = int(self.platform.clock.now() * 1_000_000)
                try:
                    async with self.platform.plugin_data.transaction():
                        for c in codes:
                            await ProductCodeRow.create(
                                code=c.epc_uri, gtin=box.digits, lot=lot, issued_to=farm.id, issued_us=now
                            )
                except IntegrityError:
                    continue
                log.info("codes_issued", lot=lot, count=count, farm=farm.id)
                return codes
        raise ProductCodeReused("Could not draw unused serials three times: the random source is not random.")

    def _gtin(self, digits: str) -> Gtin:
        prefix = next((p for p in self.settings.company_prefixes if digits[1 : 1 + len(p)] == p), None)
        if prefix is None:
            raise ProductCodeInvalid(
                f"The GTIN {digits!r} is not under this platform's company prefixes "
                f"({', '.join(self.settings.company_prefixes)})."
            )
        return Gtin(digits, len(prefix))

    def parse_code(self, text: str) -> ProductCode:
        return parse_product_code(text, company_prefixes=self.settings.company_prefixes)

    # -- records -------------------------------------------------------------------------------

    async def submit(self, principal: Principal, request: Mapping[str, Any]) -> dict[str, Any]:
        """Check and record one signed record; returns its id and ledger index. Raises :class:`AgriError`
        or :class:`LedgerError` (both in Ditto's error shape) and records nothing when refused."""
        body, signature, disclosure = _unpack(request)
        sealed = self._check_entry(body)
        participant = self.participant(principal, sealed.signer)
        authorize(participant, TraceRecord(sealed.kind, sealed.signer, sealed.role, sealed.event))
        if disclosure is not None:
            verify_disclosure(sealed, disclosure)
        async with self._lock:
            existing = await RecordRow.get_or_none(record_id=sealed.record_id)
            if existing is not None:
                return {"recordId": sealed.record_id, "entryIndex": existing.entry_index, "created": False}
            codes = await self._check_against_store(sealed)
            entry = await self.platform.ledger.append_signed(body, signature)
            await self._store(sealed, entry.index, disclosure, codes)
        log.info("record_accepted", kind=sealed.kind.value, signer=sealed.signer, record=sealed.record_id,
                 entry=entry.index)  # fmt: skip
        await self._update_lot_twins(sealed)
        return {"recordId": sealed.record_id, "entryIndex": entry.index, "created": True}

    def _check_entry(self, body: Mapping[str, Any]) -> SealedRecord:
        """The sealed record inside an entry body, whose kind, ref and signer must agree with it."""
        payload = body.get("payload")
        if not isinstance(payload, Mapping):
            raise RecordInvalid("The entry's payload is the sealed record (a JSON object).")
        sealed = sealed_from_json(payload)
        if body.get("kind") != entry_kind(sealed.kind.value):
            raise RecordInvalid(
                f"The entry's kind is {body.get('kind')!r}; a {sealed.kind.value} record goes in as "
                f"{entry_kind(sealed.kind.value)!r}."
            )
        if body.get("ref") != sealed.record_id:
            raise RecordInvalid(
                f"The entry's ref must be the record id {sealed.record_id} (SHA-256 of the sealed record's RFC 8785 "
                f"JSON), got {body.get('ref')!r}."
            )
        if body.get("signer") != sealed.signer:
            raise RecordInvalid(f"The entry is signed as {body.get('signer')!r} but the record as {sealed.signer!r}.")
        return sealed

    async def _check_against_store(self, sealed: SealedRecord) -> list[ProductCodeRow]:
        """Refuse a record that does not fit what is recorded; returns the code rows it changes."""
        kind, event = sealed.kind, sealed.event
        if kind is RecordKind.SOWING:
            return []
        if kind in (RecordKind.GROWTH_OBSERVATION, RecordKind.HARVEST):
            plantings = event.epcs() if kind is RecordKind.GROWTH_OBSERVATION else _inputs(sealed)
            if not await self._records_of(plantings, RecordKind.SOWING):
                raise RecordInvalid(f"No sowing record created {sorted(plantings)[0]}: record the sowing first.")
            if kind is RecordKind.HARVEST:
                lots = sorted(_outputs(sealed))
                if await self._records_of(lots, RecordKind.HARVEST):
                    raise RecordInvalid(f"The lot {lots[0]} was already harvested: each lot number is used once.")
            return []
        if kind is RecordKind.TEST_REPORT:
            lots = sorted(e for e in event.epcs() if lgtin_parts(e))
            for lot in lots:
                if not await self._records_of([lot], RecordKind.HARVEST):
                    raise RecordInvalid(f"No harvest produced the lot {lot}: there is nothing to test.", lot=lot)
            return []
        if kind is RecordKind.PACKING:
            return await self._check_packing(sealed)
        codes = sorted(e for e in event.epcs() if e.startswith(SGTIN_PREFIX))
        rows = await self._packed_rows(codes)
        if kind is RecordKind.SALE:
            (code,) = codes
            units = event.extensions.get("agri:unitsSold")
            sold = units if isinstance(units, int) and not isinstance(units, bool) else 0
            check_sale(code, await self._sealed_mentioning([code]), sold, event.event_time)
        if kind is RecordKind.RETIREMENT:
            retired = [r for r in rows if r.status == "retired"]
            if retired:
                raise ProductCodeReused(f"The product code {retired[0].code} is already retired.", code=retired[0].code)
            return rows
        return []

    async def _check_packing(self, sealed: SealedRecord) -> list[ProductCodeRow]:
        event = sealed.event
        assert isinstance(event, TransformationEvent)
        (lot,) = sorted(event.inputs())
        harvests = await self._records_of([lot], RecordKind.HARVEST)
        if not harvests:
            raise RecordInvalid(f"No harvest produced the lot {lot}: there is nothing to pack.", lot=lot)
        check_packing(sealed, harvests[0], self.terms)
        codes = list(event.output_epc_list)
        rows = {r.code: r for r in await ProductCodeRow.filter(code__in=codes)}
        for code in codes:
            row = rows.get(code)
            if row is None:
                self.parse_code(code)  # a foreign or malformed code says so first
                raise ProductCodeInvalid(
                    f"The product code {code} was not issued by this platform: ask for codes "
                    "(POST /api/plugins/agri/codes) and pack those.",
                    code=code,
                )
            if row.status != "issued":
                by = row.packed_by if row.status == "packed" else row.retired_by
                raise ProductCodeReused(
                    f"The product code {code} is already {row.status} (record {by}); a code is assigned once, "
                    "never again, even after it is retired.",
                    code=code,
                )
            if row.lot != lot:
                raise ProductCodeReused(
                    f"The product code {code} was issued for the lot {row.lot}, not {lot}: a code stays bound to "
                    "its lot.",
                    code=code,
                )
        return list(rows.values())

    async def _packed_rows(self, codes: list[str]) -> list[ProductCodeRow]:
        rows = {r.code: r for r in await ProductCodeRow.filter(code__in=codes)}
        for code in codes:
            row = rows.get(code)
            if row is None or row.status == "issued":
                self.parse_code(code)
                raise ProductCodeUnknown(f"No box carries the product code {code}: it was never packed here.",
                                         code=code)  # fmt: skip
        return list(rows.values())

    async def _store(
        self, sealed: SealedRecord, index: int, disclosure: Disclosure | None, codes: list[ProductCodeRow]
    ) -> None:
        async with self.platform.plugin_data.transaction():
            await RecordRow.create(
                record_id=sealed.record_id,
                kind=sealed.kind.value,
                signer=sealed.signer,
                role=sealed.role.value,
                event_time=sealed.event.event_time.isoformat(),
                entry_index=index,
                sealed=sealed.to_json(),
            )
            for identifier in sorted(sealed.event.epcs()):
                await IdentifierRow.create(identifier=identifier, record_id=sealed.record_id)
            if disclosure is not None:
                await DisclosureRow.create(record_id=sealed.record_id, salt=disclosure.salt,
                                           disclosed=dict(disclosure.fields))  # fmt: skip
            for row in codes:
                if sealed.kind is RecordKind.PACKING:
                    row.status, row.packed_by = "packed", sealed.record_id
                else:
                    row.status, row.retired_by = "retired", sealed.record_id
                await row.save(update_fields=["status", "packed_by", "retired_by"])
        self._sealed_cache[sealed.record_id] = sealed

    async def reindex(self) -> int:
        """Index the records on the ledger that the store lacks; returns how many.

        Records are appended and then indexed, one at a time, so only entries after the last indexed
        one can be missing (the platform stopped between the two). They pass the same checks as at
        submission, in log order: an ``agri.*`` entry appended around the plugin (through the core's
        ledger API) that fails them is logged and left out of every trace. Run at start.
        """
        last = await RecordRow.all().order_by("-entry_index").first()
        after = int(last.entry_index) if last is not None else None
        added = 0
        async with self._lock:
            pending = []
            for kind in RecordKind:
                cursor = after
                while found := await self.platform.ledger.find(kind=entry_kind(kind.value), after=cursor, limit=500):
                    pending += found
                    cursor = found[-1].index
            for entry in sorted(pending, key=lambda e: e.index):
                if entry.ref is None or await RecordRow.exists(record_id=entry.ref):
                    continue
                try:
                    sealed = self._check_entry(entry.fields)
                    participant = self._registered(sealed.signer)
                    authorize(participant, TraceRecord(sealed.kind, sealed.signer, sealed.role, sealed.event))
                    codes = await self._check_against_store(sealed)
                except AgriError as exc:
                    log.error("record_not_indexed", entry=entry.index, reason=exc.message)
                    continue
                await self._store(sealed, entry.index, None, codes)
                log.warning("record_reindexed", record=sealed.record_id, entry=entry.index)
                added += 1
        return added

    # -- reading the index ---------------------------------------------------------------------

    async def _sealed(self, record_ids: Iterable[str]) -> list[SealedRecord]:
        wanted = set(record_ids)
        missing = [r for r in wanted if r not in self._sealed_cache]
        if missing:
            for row in await RecordRow.filter(record_id__in=missing):
                self._sealed_cache[row.record_id] = sealed_from_json(row.sealed)
        return [self._sealed_cache[r] for r in sorted(wanted) if r in self._sealed_cache]

    async def _sealed_mentioning(self, identifiers: Iterable[str]) -> list[SealedRecord]:
        ids = list(identifiers)
        rows = await IdentifierRow.filter(identifier__in=ids).values_list("record_id", flat=True)
        return await self._sealed(str(r) for r in rows)

    async def _records_of(self, identifiers: Iterable[str], kind: RecordKind) -> list[SealedRecord]:
        return [r for r in await self._sealed_mentioning(identifiers) if r.kind is kind]

    async def entry_index(self, record_id: str) -> int:
        row = await RecordRow.get(record_id=record_id)
        return int(row.entry_index)

    # -- twins ---------------------------------------------------------------------------------

    async def _update_lot_twins(self, sealed: SealedRecord) -> None:
        """Lot twins: created by the harvest, their state following the lot's records (best effort:
        the record is on the ledger already; a twin that cannot be updated is logged)."""
        state = _LOT_STATE.get(sealed.kind)
        if state is None:
            return
        try:
            since = sealed.event.event_time.isoformat()
            if sealed.kind is RecordKind.HARVEST:
                await self._create_lot_twin(sealed)
                return
            for lot in await self._lots_of(sealed):
                patch: dict[str, Any] = {"state": state, "since": since}
                if sealed.kind is RecordKind.PACKING:
                    patch["boxes"] = len(_outputs(sealed))
                await self.platform.registry.apply(
                    Signal(lot_twin_id(self.settings, lot), "/features/state/properties", patch, source="plugin:agri")
                )
        except Exception as exc:  # the record stands; the twin is a view of it
            log.error("lot_twin_update_failed", record=sealed.record_id, error=repr(exc))

    async def _lots_of(self, sealed: SealedRecord) -> set[str]:
        lots = {e for e in sealed.event.epcs() if lgtin_parts(e)}
        codes = [e for e in sealed.event.epcs() if e.startswith(SGTIN_PREFIX)]
        if codes:
            lots |= {str(lot) for lot in await ProductCodeRow.filter(code__in=codes).values_list("lot", flat=True)}
        return lots

    async def _create_lot_twin(self, sealed: SealedRecord) -> None:
        event = sealed.event
        assert isinstance(event, TransformationEvent)
        ilmd = event.ilmd or {}
        for q in event.output_quantity_list:
            parts = lgtin_parts(q.epc_class)
            assert parts is not None
            prefix, item, lot_number = parts
            gtin_body = item[0] + prefix + item[1:]
            doc = {
                "definition": "agri:lot:1.0.0",
                "attributes": {
                    "crop": ilmd.get("agri:crop"),
                    "plot": ilmd.get("agri:plot"),
                    "harvestedAt": event.event_time.isoformat(),
                    "weightKg": q.quantity,
                    "gtin": gtin_body + str(check_digit(gtin_body)),
                    "lotNumber": lot_number,
                },
                "features": {"state": {"properties": {"state": "harvested", "since": event.event_time.isoformat()}}},
            }
            outcome = await self.platform.registry.apply(
                Signal(lot_twin_id(self.settings, q.epc_class), "/", doc, op="put", source="plugin:agri")
            )
            if outcome.error is not None:
                raise outcome.error

    # -- traces --------------------------------------------------------------------------------

    async def trace(
        self, text: str, at: datetime | None = None, *, internal_for: Principal | None = None
    ) -> dict[str, Any]:
        """The public trace of a code: each record with its signer, ledger entry receipt (inclusion
        proof, signed tree head, key registration) and the contract's status at ``at`` (default: now).

        With ``internal_for``, the internal view: records signed by that principal (every record for
        an operator) also carry their withheld fields, checked against their sealed digest.
        """
        code = self.parse_code(text)
        uri = code.epc_uri
        when = at or datetime.fromtimestamp(self.platform.clock.now(), UTC)
        ids: set[str] = {uri}
        records: list[SealedRecord] = []
        while True:
            records = await self._sealed_mentioning(ids)
            more = follow(uri, records)
            if more <= ids:
                break
            ids |= more
        disclosures = None
        if internal_for is not None:
            readable = [r.record_id for r in records if internal_for.admin or r.signer in internal_for.subjects]
            disclosures = {
                d.record_id: Disclosure(d.salt, d.disclosed) for d in await DisclosureRow.filter(record_id__in=readable)
            }
        trace = assemble_trace(code, records, at=when, disclosures=disclosures)
        if trace.status.status is CodeStatus.UNKNOWN:
            row = await ProductCodeRow.get_or_none(code=uri)
            if row is None:
                raise ProductCodeUnknown(
                    f"The product code {code.element_string} was never issued here: the code on the box is not "
                    "genuine, or was mistyped.",
                    code=uri,
                )
            raise ProductCodeUnknown(
                f"The product code {code.element_string} was issued for {row.lot} but no box was packed with it.",
                code=uri,
            )
        ledger = self.platform.ledger
        view = trace.public_view() if internal_for is None else trace.internal_view()
        for item in view["items"]:
            index = await self.entry_index(item["recordId"])
            item["entryIndex"] = index
            receipt = await ledger.receipt(index)
            item["signature"] = orjson.loads(receipt["entry"])["sig"]  # the signer's, over the entry body
            item["inclusionProof"] = receipt["proof"]
            item["receipt"] = receipt
        head = await ledger.latest_head()
        view["label"] = code.element_string
        view["treeHead"] = head.to_json()
        view["logKey"] = (await ledger.log_verifier()).vkey()
        return view


def lot_twin_id(settings: AgriSettings, lot: str) -> str:
    parts = lgtin_parts(lot)
    assert parts is not None
    namespace = settings.gateway.partition(":")[0]
    return f"{namespace}:lot-{parts[2]}"


def _inputs(r: SealedRecord) -> frozenset[str]:
    return r.event.inputs() if isinstance(r.event, TransformationEvent) else frozenset()


def _outputs(r: SealedRecord) -> frozenset[str]:
    return r.event.outputs() if isinstance(r.event, TransformationEvent) else frozenset()


def _unpack(request: Mapping[str, Any]) -> tuple[dict[str, Any], str, Disclosure | None]:
    entry = request.get("entry")
    if not isinstance(entry, Mapping) or not isinstance(entry.get("body"), Mapping):
        raise RecordInvalid('Post {"entry": {"body": {...}, "signature": "..."}, "disclosure": {...}} '
                            "(the body as twinledger.ledger.signed_entry makes it).")  # fmt: skip
    body = dict(entry["body"])
    signature = entry.get("signature")
    if not isinstance(signature, str):
        raise RecordInvalid("The entry needs its signature (base64 Ed25519 over the canonical body).")
    kind = body.get("kind")
    if not isinstance(kind, str) or not kind.startswith(RECORD_KIND_PREFIX):
        raise RecordInvalid(f"The entry's kind is agri.<record kind> (got {kind!r}).")
    raw = request.get("disclosure")
    disclosure = None
    if raw is not None:
        if not (
            isinstance(raw, Mapping) and isinstance(raw.get("salt"), str) and isinstance(raw.get("fields"), Mapping)
        ):
            raise DisclosureMismatch('A disclosure is {"salt": "...", "fields": {...}}.')
        disclosure = Disclosure(raw["salt"], dict(raw["fields"]))
    return body, signature, disclosure
