"""GS1 identifiers the trace records use: check digits, GTIN-14, and their EPC URIs.

- GTIN-14: indicator digit, company prefix, item reference, check digit (GS1 General
  Specifications 7.9, the mod-10 algorithm with weights 3 and 1 from the right).
- EPC URIs (GS1 EPC Tag Data Standard): ``urn:epc:class:lgtin:`` for a lot of a trade item,
  ``urn:epc:id:sscc:`` for a logistic unit (pallet), ``urn:epc:id:sgln:`` for a location.
  The product codes on boxes (SGTIN) live in :mod:`product_codes`.

Company prefixes are 6 to 12 digits; the EPC URIs need the prefix's length to split the digits,
so every function here takes the prefix, never guesses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from .errors import ProductCodeInvalid

_DIGITS = re.compile(r"[0-9]+")
LOT_NUMBER = re.compile(r"[A-Za-z0-9-]{1,20}")


def check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit for ``digits`` (the identifier without its check digit)."""
    if not digits or not _DIGITS.fullmatch(digits):
        raise ValueError(f"A GS1 check digit is computed over digits only (got {digits!r}).")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def has_valid_check_digit(identifier: str) -> bool:
    return (
        len(identifier) >= 2
        and bool(_DIGITS.fullmatch(identifier))
        and check_digit(identifier[:-1]) == int(identifier[-1])
    )


def check_company_prefix(prefix: str) -> str:
    if not (_DIGITS.fullmatch(prefix) and 6 <= len(prefix) <= 12):
        raise ValueError(f"A GS1 company prefix has 6 to 12 digits (got {prefix!r}).")
    return prefix


@dataclass(frozen=True, slots=True)
class Gtin:
    """A GTIN-14 together with the length of its company prefix (needed for EPC URIs)."""

    digits: str
    prefix_length: int

    def __post_init__(self) -> None:
        if not (len(self.digits) == 14 and _DIGITS.fullmatch(self.digits)):
            raise ProductCodeInvalid(f"A GTIN-14 has 14 digits (got {self.digits!r}).", code=self.digits)
        if not 6 <= self.prefix_length <= 12:
            raise ValueError(f"A GS1 company prefix has 6 to 12 digits (got length {self.prefix_length}).")
        if not has_valid_check_digit(self.digits):
            expected = check_digit(self.digits[:-1])
            raise ProductCodeInvalid(
                f"The GTIN {self.digits} has the check digit {self.digits[-1]}, but its digits give {expected}: "
                "the code is mistyped or forged.",
                code=self.digits,
            )

    @classmethod
    def build(cls, company_prefix: str, item_reference: str, *, indicator: int = 0) -> Gtin:
        """Assemble a GTIN-14 from a company prefix and an item reference (13 digits in all with the indicator)."""
        check_company_prefix(company_prefix)
        if not 0 <= indicator <= 9:
            raise ValueError(f"The GTIN indicator digit is 0-9 (got {indicator}).")
        want = 12 - len(company_prefix)
        if not (len(item_reference) == want and (want == 0 or _DIGITS.fullmatch(item_reference))):
            raise ValueError(
                f"With the {len(company_prefix)}-digit company prefix {company_prefix}, the item reference has "
                f"{want} digits (got {item_reference!r})."
            )
        body = f"{indicator}{company_prefix}{item_reference}"
        return cls(body + str(check_digit(body)), len(company_prefix))

    @property
    def company_prefix(self) -> str:
        return self.digits[1 : 1 + self.prefix_length]

    @property
    def indicator_and_item_reference(self) -> str:
        """The EPC URI's second field: the indicator digit followed by the item reference."""
        return self.digits[0] + self.digits[1 + self.prefix_length : 13]

    def lgtin_uri(self, lot_number: str) -> str:
        """The EPC class URI of one lot of this trade item."""
        if not LOT_NUMBER.fullmatch(lot_number):
            raise ValueError(f"A lot number here is 1-20 letters, digits or '-' (got {lot_number!r}).")
        return f"urn:epc:class:lgtin:{self.company_prefix}.{self.indicator_and_item_reference}.{lot_number}"

    def __str__(self) -> str:
        return self.digits


def lgtin_parts(uri: str) -> tuple[str, str, str] | None:
    """``(company prefix, indicator+item reference, lot)`` of an LGTIN class URI, or None."""
    m = re.fullmatch(r"urn:epc:class:lgtin:([0-9]{6,12})\.([0-9]{1,7})\.([A-Za-z0-9-]{1,20})", uri)
    if m is None or len(m.group(1)) + len(m.group(2)) != 13:
        return None
    return m.group(1), m.group(2), m.group(3)


def sscc_uri(company_prefix: str, serial_reference: str, *, extension: int = 0) -> str:
    """The EPC URI of an SSCC (a pallet or other logistic unit); validates the digit counts."""
    check_company_prefix(company_prefix)
    want = 16 - len(company_prefix)
    if not (len(serial_reference) == want and _DIGITS.fullmatch(serial_reference)):
        raise ValueError(
            f"With a {len(company_prefix)}-digit company prefix the SSCC serial reference has {want} digits."
        )
    if not 0 <= extension <= 9:
        raise ValueError(f"The SSCC extension digit is 0-9 (got {extension}).")
    return f"urn:epc:id:sscc:{company_prefix}.{extension}{serial_reference}"


def sgln_uri(company_prefix: str, location_reference: str, extension: str = "0") -> str:
    """The EPC URI of a location (GLN plus extension)."""
    check_company_prefix(company_prefix)
    want = 12 - len(company_prefix)
    if not (len(location_reference) == want and (want == 0 or _DIGITS.fullmatch(location_reference))):
        raise ValueError(f"With a {len(company_prefix)}-digit company prefix the location reference has {want} digits.")
    return f"urn:epc:id:sgln:{company_prefix}.{location_reference}.{extension}"


def twin_uri(thing_id: str) -> str:
    """A twin (a plot, a tag reader's read point, a store) as a location or object URI in EPCIS events."""
    return "urn:twinledger:twin:" + quote(thing_id, safe=":.-_~")


def planting_uri(plot: str, crop: str, sown_on: str) -> str:
    """The identifier of one sowing of a crop on a plot (``sown_on`` is the local date, YYYY-MM-DD)."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", sown_on):
        raise ValueError(f"The sowing date is YYYY-MM-DD (got {sown_on!r}).")
    return f"urn:twinledger:agri:planting:{quote(plot, safe=':.-_~')}:{quote(crop, safe='-_~')}:{sown_on}"
