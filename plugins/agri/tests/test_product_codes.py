"""Product codes: GS1 check digits, generation that never reuses a code, parsing, and the contract."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twinledger_plugins.agri import builders as b
from twinledger_plugins.agri.demo import CEST, FARM, PREFIX, SHOP, TERMS, TOMATO_BOX, Scenario, SeededRandom, t
from twinledger_plugins.agri.errors import ProductCodeInvalid, ProductCodeRefused, ProductCodeReused, RecordInvalid
from twinledger_plugins.agri.gs1 import Gtin, check_digit, has_valid_check_digit
from twinledger_plugins.agri.product_codes import (
    SERIAL_ALPHABET,
    CodeStatus,
    ProductCode,
    check_new_codes,
    check_packing,
    check_sale,
    code_status,
    generate_codes,
    new_serial,
    parse_product_code,
)
from twinledger_plugins.agri.sealing import seal

SALT = b"s" * 16
digits = st.text(alphabet="0123456789", min_size=1, max_size=17)


@pytest.mark.parametrize("valid", ["9780306406157", "4006381333931", "09521234543213", "00012345600012", "96385074"])
def test_published_gs1_numbers_have_valid_check_digits(valid: str) -> None:
    assert has_valid_check_digit(valid)
    assert check_digit(valid[:-1]) == int(valid[-1])


@given(body=digits, position=st.integers(min_value=0), replacement=st.integers(min_value=1, max_value=9))
def test_every_single_digit_error_is_detected(body: str, position: int, replacement: int) -> None:
    code = body + str(check_digit(body))
    i = position % len(code)
    wrong = code[:i] + str((int(code[i]) + replacement) % 10) + code[i + 1 :]
    assert not has_valid_check_digit(wrong)


@given(body=st.text(alphabet="0123456789", min_size=2, max_size=17), position=st.integers(min_value=0))
def test_adjacent_transpositions_are_detected_unless_the_digits_differ_by_5(body: str, position: int) -> None:
    code = body + str(check_digit(body))
    i = position % (len(code) - 1)
    a, c = int(code[i]), int(code[i + 1])
    swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    if a == c or abs(a - c) == 5:
        assert has_valid_check_digit(swapped)  # the mod-10 scheme's known blind spot
    else:
        assert not has_valid_check_digit(swapped)


@given(
    prefix=st.text(alphabet="0123456789", min_size=6, max_size=12),
    item=st.integers(min_value=0),
    indicator=st.integers(min_value=0, max_value=9),
    raw=st.binary(min_size=10, max_size=10),
)
def test_codes_round_trip_through_all_three_forms(prefix: str, item: int, indicator: int, raw: bytes) -> None:
    width = 12 - len(prefix)
    gtin = Gtin.build(prefix, str(item % 10**width).zfill(width) if width else "", indicator=indicator)
    code = ProductCode(gtin, new_serial(lambda n: raw))
    assert len(code.serial) == 16 and set(code.serial) <= set(SERIAL_ALPHABET)
    for text in (code.epc_uri, code.element_string, code.digital_link("https://trace.example/p/")):
        assert parse_product_code(text, company_prefixes=[prefix]) == code


def test_serials_carry_all_80_random_bits() -> None:
    assert new_serial(lambda n: b"\x00" * n) == "0" * 16
    assert new_serial(lambda n: b"\xff" * n) == "Z" * 16
    assert new_serial(lambda n: b"\x00" * 9 + b"\x01") == "0" * 15 + "1"
    with pytest.raises(ValueError, match="returned 3 bytes"):
        new_serial(lambda n: b"abc")


def test_generation_is_unique_and_never_returns_an_issued_code() -> None:
    issued: set[ProductCode] = set()
    rnd = SeededRandom("gen")
    for _ in range(20):
        batch = generate_codes(TOMATO_BOX, 50, ever_issued=issued.__contains__, random_bytes=rnd)
        assert len(set(batch)) == 50 and not issued & set(batch)
        issued |= set(batch)
    # A random source that repeats itself: a repeat is skipped, and past the retry budget generation gives up loudly.
    constant = bytes(range(10))
    first = generate_codes(TOMATO_BOX, 1, ever_issued=lambda c: False, random_bytes=lambda n: constant)
    with pytest.raises(ProductCodeReused, match="not random"):
        generate_codes(TOMATO_BOX, 1, ever_issued=first.__contains__, random_bytes=lambda n: constant)
    with pytest.raises(ProductCodeReused, match="not random"):
        generate_codes(TOMATO_BOX, 2, ever_issued=lambda c: False, random_bytes=lambda n: constant)


@given(serial=st.text(alphabet=SERIAL_ALPHABET, min_size=16, max_size=16), position=st.integers(0, 13))
def test_a_mistyped_gtin_digit_is_refused_with_the_check_digit(serial: str, position: int) -> None:
    gtin = TOMATO_BOX.digits
    wrong = gtin[:position] + str((int(gtin[position]) + 1) % 10) + gtin[position + 1 :]
    with pytest.raises(ProductCodeInvalid) as err:
        parse_product_code(f"(01){wrong}(21){serial}", company_prefixes=[PREFIX])
    assert "check digit" in err.value.message or "company prefixes" in err.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("hello", "not a product code"),
        ("urn:epc:id:sgtin:9521234.100012.abcdefghjkmnpqrs", "contains"),
        ("urn:epc:id:sgtin:9521234.100012.ILOU0000ILOU0000", "no I, L, O or U"),
        ("urn:epc:id:sgtin:9521234.100012.0123456789ABCDEFG", "17 characters"),
        ("urn:epc:id:sgtin:9521234.10001.0123456789ABCDEF", "13 digits"),
        ("urn:epc:id:sgtin:4012345.100012.0123456789ABCDEF", "not issued under"),
        ("(01)19521234000125(21)0123456789ABCDEF", "check digit"),
        ("(01)1952123400012(21)0123456789ABCDEF", "14 digits"),
        ("(01)14012345000129(21)0123456789ABCDEF", "not issued under"),
        ("https://trace.example/p/01/19521234000122", "no '/01/<GTIN>/21/<serial>' path"),
    ],
)
def test_malformed_and_forged_codes_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ProductCodeInvalid) as err:
        parse_product_code(text, company_prefixes=[PREFIX])
    assert message in err.value.message
    assert err.value.to_ditto()["status"] == 400 and err.value.to_ditto()["error"] == "agri:productcode.invalid"


def test_a_well_formed_code_that_was_never_issued_is_unknown(scenario: Scenario) -> None:
    forged = ProductCode(TOMATO_BOX, "0123456789ABCDEF")
    verdict = code_status(forged, scenario.sealed, t(12, 0))
    assert verdict.status is CodeStatus.UNKNOWN and "No packing record" in verdict.reason


def test_the_contract_follows_the_code_through_its_life(scenario: Scenario) -> None:
    code = scenario.codes[0]
    assert code_status(code, scenario.sealed, t(10, 15)).status is CodeStatus.UNKNOWN  # before packing
    v = code_status(code, scenario.sealed, t(11, 12))
    assert (v.status, v.units, v.units_sold, v.units_left) == (CodeStatus.VALID, 12, 0, 12)
    assert v.valid_until == t(20, 6, 30)  # harvest + 10 days of shelf life for tomatoes
    assert v.packed_by == scenario.by_name["packing-1"].record_id
    v = code_status(code, scenario.sealed, t(12, 0))
    assert (v.status, v.units_sold) == (CodeStatus.VALID, 5) and "7 of 12 units unsold" in v.reason
    v = code_status(scenario.codes[1], scenario.sealed, t(12, 0))
    assert v.status is CodeStatus.SOLD_OUT and "All 12 units were sold" in v.reason
    v = code_status(code, scenario.sealed, t(20, 6, 31))
    assert v.status is CodeStatus.EXPIRED and "Expired on 2024-06-20T06:30:00+02:00" in v.reason
    v = code_status(scenario.codes[1], scenario.sealed, t(21, 0))
    assert v.status is CodeStatus.EXPIRED and "it had sold out" in v.reason
    assert v.to_json()["status"] == "expired" and v.to_json()["contract"] == "agri.product-code/1"


def test_retired_codes_say_so_and_stay_assigned(scenario: Scenario) -> None:
    code = scenario.codes[2]
    retired, _ = seal(b.retirement(signer=FARM.id, codes=[code], retired_at=t(12, 9), reason="cold chain broken"),
                      salt=SALT)  # fmt: skip
    records = [*scenario.sealed, retired]
    assert code_status(code, records, t(12, 8)).status is CodeStatus.VALID
    v = code_status(code, records, t(12, 10))
    assert v.status is CodeStatus.RETIRED and "cold chain broken" in v.reason and "recalled" in v.reason
    with pytest.raises(ProductCodeReused, match="already used by the retirement record"):
        check_new_codes([code], [retired])


def test_a_code_is_never_assigned_twice(scenario: Scenario) -> None:
    with pytest.raises(ProductCodeReused, match="already used by the packing record") as err:
        check_new_codes([scenario.codes[0]], scenario.sealed)
    assert err.value.to_ditto()["status"] == 409
    with pytest.raises(ProductCodeReused, match="listed twice"):
        check_new_codes([scenario.codes[0].epc_uri, scenario.codes[0]], [])
    fresh = generate_codes(TOMATO_BOX, 4, ever_issued=lambda c: False, random_bytes=SeededRandom("fresh"))
    check_new_codes(fresh, scenario.sealed)
    with pytest.raises(RecordInvalid, match="each product code once"):
        b.packing(signer=FARM.id, lot=scenario.lot, crop="tomato", harvested_at=t(10, 6, 30),
                  codes=[fresh[0], fresh[0]], packed_at=t(12, 8), units_per_box=6, kg_used=1, terms=TERMS)  # fmt: skip


def test_sales_are_checked_against_the_contract(scenario: Scenario) -> None:
    code = scenario.codes[0]
    assert check_sale(code, scenario.sealed, 7, t(12, 0)).units_left == 7
    with pytest.raises(ProductCodeRefused, match="only 7 are left"):
        check_sale(code, scenario.sealed, 8, t(12, 0))
    with pytest.raises(ProductCodeRefused, match="it is sold_out"):
        check_sale(scenario.codes[1], scenario.sealed, 1, t(12, 0))
    with pytest.raises(ProductCodeRefused, match="it is expired"):
        check_sale(code, scenario.sealed, 1, t(25, 0))
    with pytest.raises(ProductCodeRefused, match="it is unknown"):
        check_sale(ProductCode(TOMATO_BOX, "0123456789ABCDEF"), scenario.sealed, 1, t(12, 0))
    with pytest.raises(ValueError, match="time zone"):
        code_status(code, scenario.sealed, datetime(2024, 6, 12))


def test_packing_validity_is_the_contracts(scenario: Scenario) -> None:
    harvest = scenario.by_name["harvest-1"]
    check_packing(scenario.by_name["packing-1"], harvest, TERMS)
    longer = TERMS.__class__(shelf_life={"tomato": timedelta(days=30)})
    fresh = generate_codes(TOMATO_BOX, 1, ever_issued=lambda c: False, random_bytes=SeededRandom("long"))
    greedy, _ = seal(b.packing(signer=FARM.id, lot=scenario.lot, crop="tomato", harvested_at=t(10, 6, 30),
                               codes=fresh, packed_at=t(10, 17), units_per_box=12, kg_used=6, terms=longer),
                     salt=SALT)  # fmt: skip
    with pytest.raises(RecordInvalid, match=r"valid until 2024-07-10T06:30:00\+02:00; the contract gives 2024-06-20"):
        check_packing(greedy, harvest, TERMS)
    with pytest.raises(RecordInvalid, match="which that harvest did not produce"):
        check_packing(scenario.by_name["packing-2"], harvest, TERMS)


def test_a_seller_cannot_sell_zero_units() -> None:
    with pytest.raises(RecordInvalid, match="agri:unitsSold as a whole number of at least 1"):
        b.sale(signer=SHOP.id, code=ProductCode(TOMATO_BOX, "0123456789ABCDEF"), sold_at=t(12, 0), units=0,
               last_units=False)  # fmt: skip
    assert CEST.utcoffset(None) == timedelta(hours=2)
