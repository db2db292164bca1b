"""Amounts: the written forms of an amount in whole cents round-trip exactly; everything else is
refused (property tests with hypothesis)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from closing.domain.money import MAX_AMOUNT, MAX_COUNT, format_money, parse_count, parse_money

amounts = st.decimals(
    min_value=Decimal(0), max_value=MAX_AMOUNT, places=2, allow_nan=False, allow_infinity=False
)


def written_forms(amount: Decimal) -> set[str]:
    """Every way the README allows an amount to be written: an optional `$`, commas every three
    digits or none, and no, one or two decimals (only when the cents allow it)."""
    whole, cents = divmod(amount.quantize(Decimal("0.01")) * 100, 100)
    digits = str(int(whole))
    grouped = f"{int(whole):,}"
    decimals = {f".{int(cents):02d}"}
    if cents % 10 == 0:
        decimals.add(f".{int(cents) // 10}")
    if cents == 0:
        decimals.add("")
    return {
        f"{dollar}{number}{decimal}"
        for dollar in ("", "$")
        for number in {digits, grouped}
        for decimal in decimals
    }


@given(amounts)
def test_formatted_amounts_parse_back_exactly(amount: Decimal) -> None:
    """`format_money` writes what `parse_money` reads back to the same Decimal."""
    assert parse_money(format_money(amount)) == amount


@given(amounts, st.data())
def test_every_written_form_of_an_amount_parses_to_it(amount: Decimal, data: st.DataObject) -> None:
    """`930000`, `$930,000`, `930,000.0`, `$930000.00` are all $930,000.00."""
    form = data.draw(st.sampled_from(sorted(written_forms(amount))))
    assert parse_money(form) == amount
    assert format_money(parse_money(form)) == format_money(amount)


AMOUNT_ALPHABET = st.sampled_from([*"0123456789,.$-+e_ ", "９", "٣", "\u202e", "\x1b"])


@given(st.text(AMOUNT_ALPHABET, max_size=20) | st.text(max_size=20))
@example("9,3,0,0,0,0")
@example("９３０,０００")
@example("9.3e5")
@example("930,000.")
@example("1e28")
@example("1_000")
@example("$-5")
@example("1000000000000")
def test_anything_else_is_refused(text: str) -> None:
    """A text is accepted only if it is one of the written forms of the amount it reads as;
    anything else (spaced digits, other scripts, exponents, a trailing point, too large) raises
    ValueError, never anything else."""
    try:
        amount = parse_money(text)
    except ValueError:
        return
    assert text.strip() in written_forms(amount)
    assert amount <= MAX_AMOUNT


@pytest.mark.parametrize(
    "text", ["9,3,0,0,0,0", "９３０,０００", "9.3e5", "930,000.", "1e28", "Infinity", "NaN", "0x10"]
)
def test_the_issues_amounts_are_refused(text: str) -> None:
    """The forms the issue found accepted as $930,000.00 are refused."""
    with pytest.raises(ValueError, match="is not an amount"):
        parse_money(text)


@given(st.integers(min_value=0, max_value=MAX_COUNT))
def test_share_counts_round_trip_with_and_without_commas(count: int) -> None:
    """`1,935,483` and `1935483` are the same count."""
    assert parse_count(f"{count:,}") == count
    assert parse_count(str(count)) == count


@given(st.text(max_size=16))
def test_share_counts_accept_only_digits_and_grouping_commas(text: str) -> None:
    """Anything but ASCII digits with commas every three digits is refused."""
    try:
        count = parse_count(text)
    except ValueError:
        return
    assert re.fullmatch(r"0|[1-9][0-9]{0,2}(,[0-9]{3})+|[1-9][0-9]*", text.strip())
    assert count <= MAX_COUNT
