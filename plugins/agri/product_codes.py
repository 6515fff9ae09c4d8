"""Product codes on boxes, and the product-code contract.

**The code.** Each box gets a GS1 SGTIN: the GTIN-14 of the boxed trade item (company prefix,
item reference, mod-10 check digit) and a serial of 16 characters from Crockford's base-32
alphabet (``0-9A-Z`` without ``I L O U``) carrying 80 bits from a cryptographically secure random
source. The serial fits GS1's AI 21 (at most 20 characters, all in its character set) and needs no
escaping in EPC URIs. Random rather than sequential serials mean a code reveals nothing about
volumes, and a forger who knows every issued code still hits an issued one with a chance of
about issued/2^80. Generation asks the caller whether a candidate was ever issued (the plugin's
store, whose unique constraint has the last word) and never returns one that was.

A code is written three ways, all accepted by :func:`parse_product_code`::

    urn:epc:id:sgtin:9521234.054321.7F3KQ2M9XW4HT8ZC       (EPC URI: in the trace records)
    (01)09521234543213(21)7F3KQ2M9XW4HT8ZC                   (GS1 element string: printed)
    https://id.example.org/01/09521234543213/21/7F3KQ2M9XW4HT8ZC   (GS1 Digital Link: the QR code)

Parsing refuses malformed codes, wrong check digits and company prefixes that are not the
issuer's, each with a message that says which.

**The contract.** :func:`code_status` is a deterministic function of a code, the sealed records
that mention it and a time: it reads only public record fields, so anyone holding the public
trace can replay it. Its answer is one of ``unknown`` (never packed), ``retired`` (withdrawn by
a retirement record), ``expired`` (past the ``agri:validUntil`` its packing record fixed),
``sold_out`` (its units all sold) or ``valid``, with the reason. The validity itself is decided at
packing by :class:`ContractTerms` (harvest time plus the crop's shelf life) and checked by
:func:`check_packing`. A code is assigned once: :func:`check_new_codes` refuses any code that any
record already mentions, retired or not.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from .epcis import TransformationEvent
from .errors import ProductCodeInvalid, ProductCodeRefused, ProductCodeReused, RecordInvalid
from .gs1 import Gtin, check_company_prefix, check_digit
from .records import RecordKind
from .sealing import SealedRecord

SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
SERIAL_LENGTH = 16
SERIAL_BYTES = 10  # 80 bits = 16 base-32 characters
_SERIAL = re.compile(f"[{SERIAL_ALPHABET}]{{{SERIAL_LENGTH}}}")
_EPC = re.compile(r"urn:epc:id:sgtin:([0-9]+)\.([0-9]+)\.(.+)")
_ELEMENT = re.compile(r"\(01\)([0-9]+)\(21\)(.+)")
_LINK_PATH = re.compile(r"(?:/.*)?/01/([0-9]+)/21/([^/?#]+)/?")

RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class ProductCode:
    gtin: Gtin
    serial: str

    def __post_init__(self) -> None:
        if not _SERIAL.fullmatch(self.serial):
            raise ProductCodeInvalid(_serial_problem(self.serial), code=self.serial)

    @property
    def epc_uri(self) -> str:
        return f"urn:epc:id:sgtin:{self.gtin.company_prefix}.{self.gtin.indicator_and_item_reference}.{self.serial}"

    @property
    def element_string(self) -> str:
        return f"(01){self.gtin.digits}(21){self.serial}"

    def digital_link(self, resolver: str) -> str:
        """The GS1 Digital Link URI under ``resolver`` (e.g. the platform's public trace route)."""
        return f"{resolver.rstrip('/')}/01/{self.gtin.digits}/21/{self.serial}"

    def __str__(self) -> str:
        return self.epc_uri


def _serial_problem(serial: str) -> str:
    if len(serial) != SERIAL_LENGTH:
        return f"The serial {serial!r} has {len(serial)} characters; product codes issued here have {SERIAL_LENGTH}."
    bad = sorted({c for c in serial if c not in SERIAL_ALPHABET})
    return (
        f"The serial {serial!r} contains {', '.join(map(repr, bad))}; serials issued here use only "
        f"{SERIAL_ALPHABET} (no I, L, O or U)."
    )


def new_serial(random_bytes: RandomBytes = secrets.token_bytes) -> str:
    """16 base-32 characters from 80 random bits."""
    raw = random_bytes(SERIAL_BYTES)
    if len(raw) != SERIAL_BYTES:
        raise ValueError(f"The random source returned {len(raw)} bytes instead of {SERIAL_BYTES}.")
    number = int.from_bytes(raw, "big")
    return "".join(SERIAL_ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(SERIAL_LENGTH)))


def generate_codes(
    gtin: Gtin,
    count: int,
    *,
    ever_issued: Callable[[ProductCode], bool],
    random_bytes: RandomBytes = secrets.token_bytes,
    max_attempts: int = 100,
) -> list[ProductCode]:
    """``count`` new codes for ``gtin``: none was ever issued (``ever_issued`` asks the store) nor repeats."""
    if count < 1:
        raise ValueError(f"Ask for at least one code (got {count}).")
    codes: list[ProductCode] = []
    seen: set[str] = set()
    attempts = 0
    while len(codes) < count:
        attempts += 1
        if attempts > count + max_attempts:
            raise ProductCodeReused(
                f"{attempts - 1} candidate serials for {gtin} were already issued: the random source is not random.",
                code=gtin.digits,
            )
        code = ProductCode(gtin, new_serial(random_bytes))
        if code.serial in seen or ever_issued(code):
            continue
        seen.add(code.serial)
        codes.append(code)
    return codes


def parse_product_code(text: str, *, company_prefixes: Collection[str]) -> ProductCode:
    """Read a code in any of its three forms, issued under one of ``company_prefixes``."""
    for prefix in company_prefixes:
        check_company_prefix(prefix)
    raw = text.strip()
    if not raw:
        raise ProductCodeInvalid("The product code is empty.")
    m = _EPC.fullmatch(raw)
    if m:
        prefix, item, serial = m.groups()
        if len(prefix) + len(item) != 13 or not 6 <= len(prefix) <= 12:
            raise ProductCodeInvalid(
                f"{raw!r} is not an SGTIN EPC URI: its company prefix and indicator+item reference have 13 digits.",
                code=raw,
            )
        body = item[0] + prefix + item[1:]
        gtin_digits = body + str(check_digit(body))
        _check_prefix(prefix, company_prefixes, raw)
        return ProductCode(Gtin(gtin_digits, len(prefix)), serial)
    m = _ELEMENT.fullmatch(raw)
    if m is None and raw.lower().startswith(("https://", "http://")):
        m = _LINK_PATH.fullmatch(urlsplit(raw).path)
        if m is None:
            raise ProductCodeInvalid(f"The link {raw!r} has no '/01/<GTIN>/21/<serial>' path.", code=raw)
    if m is None:
        raise ProductCodeInvalid(
            f"{raw!r} is not a product code: expected 'urn:epc:id:sgtin:...', '(01)<GTIN>(21)<serial>' or a GS1 "
            "Digital Link.",
            code=raw,
        )
    digits, serial = m.groups()
    if len(digits) != 14:
        raise ProductCodeInvalid(f"{raw!r}: a GTIN has 14 digits here (got {len(digits)}).", code=raw)
    issuer = next((p for p in company_prefixes if digits[1 : 1 + len(p)] == p), None)
    _check_prefix(issuer, company_prefixes, raw)
    assert issuer is not None
    return ProductCode(Gtin(digits, len(issuer)), serial)  # Gtin checks the check digit


def _check_prefix(prefix: str | None, allowed: Collection[str], raw: str) -> None:
    if prefix is None or prefix not in allowed:
        raise ProductCodeInvalid(
            f"{raw!r} was not issued under this platform's company prefixes ({', '.join(sorted(allowed))}).",
            code=raw,
        )


# -- the contract ---------------------------------------------------------------------------------

CONTRACT_ID = "agri.product-code/1"


class CodeStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    SOLD_OUT = "sold_out"
    RETIRED = "retired"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CodeVerdict:
    code: str
    status: CodeStatus
    reason: str
    at: datetime
    valid_until: datetime | None = None
    units: int | None = None
    units_sold: int = 0
    packed_by: str | None = None  # record id of the packing record

    @property
    def units_left(self) -> int | None:
        return None if self.units is None else max(self.units - self.units_sold, 0)

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "status": self.status.value,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "validUntil": self.valid_until.isoformat() if self.valid_until else None,
            "units": self.units,
            "unitsSold": self.units_sold,
            "packedBy": self.packed_by,
            "contract": CONTRACT_ID,
        }


@dataclass(frozen=True)
class ContractTerms:
    """How long a crop stays valid after harvest; fixed into each packing record as ``agri:validUntil``."""

    shelf_life: Mapping[str, timedelta] = field(default_factory=dict)
    default_shelf_life: timedelta = timedelta(days=7)
    contract: str = CONTRACT_ID

    def valid_until(self, crop: str, harvested_at: datetime) -> datetime:
        if harvested_at.utcoffset() is None:
            raise ValueError("The harvest time needs a time zone offset.")
        return harvested_at + self.shelf_life.get(crop, self.default_shelf_life)


def check_new_codes(codes: Iterable[ProductCode | str], existing: Iterable[SealedRecord]) -> None:
    """Refuse codes that repeat, or that any existing record already mentions (a code is never re-assigned)."""
    uris = [c.epc_uri if isinstance(c, ProductCode) else c for c in codes]
    dupes = sorted({u for u in uris if uris.count(u) > 1})
    if dupes:
        raise ProductCodeReused(f"The product code {dupes[0]} is listed twice.", code=dupes[0])
    wanted = set(uris)
    for record in existing:
        taken = wanted & record.event.epcs()
        if taken:
            code = sorted(taken)[0]
            raise ProductCodeReused(
                f"The product code {code} was already used by the {record.kind.value} record {record.record_id}; "
                "a code is never assigned twice.",
                code=code,
            )


def check_packing(packing: SealedRecord, harvest: SealedRecord, terms: ContractTerms) -> None:
    """Refuse a packing record whose validity is not the one the contract gives for its lot's harvest."""
    if packing.kind is not RecordKind.PACKING or harvest.kind is not RecordKind.HARVEST:
        raise RecordInvalid("check_packing compares a packing record with the harvest record of its lot.")
    pe, he = packing.event, harvest.event
    assert isinstance(pe, TransformationEvent) and isinstance(he, TransformationEvent)
    if not pe.inputs() & he.outputs():
        raise RecordInvalid(f"The packing record packs {sorted(pe.inputs())}, which that harvest did not produce.")
    ilmd, hilmd = pe.ilmd or {}, he.ilmd or {}
    if ilmd.get("agri:contract") != terms.contract:
        raise RecordInvalid(
            f"The packing record names the contract {ilmd.get('agri:contract')!r}, not {terms.contract!r}."
        )
    if ilmd.get("agri:crop") != hilmd.get("agri:crop"):
        raise RecordInvalid(
            f"The packing record says crop {ilmd.get('agri:crop')!r}; its lot is {hilmd.get('agri:crop')!r}."
        )
    expected = terms.valid_until(str(hilmd.get("agri:crop")), he.event_time)
    stated = datetime.fromisoformat(str(ilmd.get("agri:validUntil")))
    if stated != expected:
        raise RecordInvalid(
            f"The packing record makes its codes valid until {stated.isoformat()}; the contract gives "
            f"{expected.isoformat()} (harvest {he.event_time.isoformat()} + shelf life of {hilmd.get('agri:crop')})."
        )


def code_status(code: ProductCode | str, records: Iterable[SealedRecord], at: datetime) -> CodeVerdict:
    """The contract: the status of ``code`` at ``at`` from the records that mention it (others are ignored)."""
    if at.utcoffset() is None:
        raise ValueError("code_status needs a time with a time zone offset.")
    uri = code.epc_uri if isinstance(code, ProductCode) else code
    relevant = sorted(
        (r for r in records if r.event.event_time <= at and uri in r.event.epcs()),
        key=lambda r: (r.event.event_time, r.record_id),
    )
    packing = next((r for r in relevant if r.kind is RecordKind.PACKING), None)
    if packing is None:
        return CodeVerdict(uri, CodeStatus.UNKNOWN, "No packing record assigns this product code.", at)
    ilmd = getattr(packing.event, "ilmd", None) or {}
    units = _int(ilmd.get("agri:unitsPerBox"))  # checked when the packing record was made
    valid_until = datetime.fromisoformat(str(ilmd["agri:validUntil"]))
    sales = [r for r in relevant if r.kind is RecordKind.SALE]
    sold = sum(_int(r.event.extensions.get("agri:unitsSold")) for r in sales)

    def verdict(status: CodeStatus, reason: str) -> CodeVerdict:
        return CodeVerdict(uri, status, reason, at, valid_until, units, sold, packing.record_id)

    retired = next((r for r in relevant if r.kind is RecordKind.RETIREMENT), None)
    if retired is not None:
        why = retired.event.extensions.get("agri:reason")
        when = retired.event.event_time.isoformat()
        return verdict(CodeStatus.RETIRED, f"Retired on {when} ({retired.event.disposition}): {why}.")
    if at > valid_until:
        note = f"; it had sold out ({sold} of {units} units)" if sold >= units else ""
        return verdict(CodeStatus.EXPIRED, f"Expired on {valid_until.isoformat()}{note}.")
    if sold >= units:
        last = sales[-1].event.event_time.isoformat()
        return verdict(CodeStatus.SOLD_OUT, f"All {units} units were sold (last sale {last}).")
    return verdict(CodeStatus.VALID, f"Valid until {valid_until.isoformat()}; {units - sold} of {units} units unsold.")


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordInvalid(f"Expected a whole number in a sealed record (got {value!r}).")
    return value


def check_sale(code: ProductCode | str, records: Iterable[SealedRecord], units: int, at: datetime) -> CodeVerdict:
    """Refuse selling ``units`` of the box at ``at`` unless the contract says the code is valid with enough left."""
    verdict = code_status(code, records, at)
    if verdict.status is not CodeStatus.VALID:
        raise ProductCodeRefused(f"Cannot sell {verdict.code}: it is {verdict.status.value}. {verdict.reason}",
                                 code=verdict.code, status=verdict.status.value)  # fmt: skip
    left = verdict.units_left or 0
    if units > left:
        raise ProductCodeRefused(f"Cannot sell {units} units of {verdict.code}: only {left} are left.",
                                 code=verdict.code, status=verdict.status.value)  # fmt: skip
    return verdict
