"""Matching a credit to a purchaser, without a database: the gates (currency, value date, amount
within the tolerance), then the ordering customer's name, then references; one clear match or a
credit left for a person with the reason."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from closing.domain.bankfiles import CREDIT, Entry
from closing.domain.events import Purchaser
from closing.domain.matching import LEGAL_FORMS, Owed, Rules, clean_name, match_credits

RULES = Rules(Decimal("50.00"), date(2002, 6, 7), date(2002, 6, 14))


def purchaser(pid: int, name: str, price: str, **details: object) -> Purchaser:
    return Purchaser(pid, f"p{pid}", name, pid, 1, Decimal(price), 0, json.dumps(details))


STONESTREET = purchaser(1, "Stonestreet Limited Partnership", "450000.00")
BNC = purchaser(2, "BNC Bach International, Ltd.", "930000.00")


def credit(amount: str, customer: str | None, reference: str = "R1", **more: object) -> Entry:
    values: dict[str, object] = {
        "direction": CREDIT,
        "amount": Decimal(amount),
        "currency": "USD",
        "account": "4881016789",
        "bank_reference": reference,
        "line": 1,
        "value_date": date(2002, 6, 7),
        "ordering_customer": customer,
        **more,
    }
    return Entry(**values)  # type: ignore[arg-type]


def owing(*parties: Purchaser, partial: bool = False) -> list[Owed]:
    return [Owed(p, p.purchase_price, partial) for p in parties]


def test_each_credit_finds_its_purchaser_by_amount_and_name() -> None:
    """Stonestreet's exact amount and BNC's $15 short (within $50) are clear matches."""
    found = match_credits(
        [
            credit("450000.00", "STONESTREET LIMITED PARTNERSHIP", "A"),
            credit("929985.00", "BNC BACH INTERNATIONAL LTD", "B"),
        ],
        owing(STONESTREET, BNC),
        RULES,
    )
    assert [(p.purchaser, p.partial, p.reason) for p in found] == [
        (STONESTREET, False, "name 100/100, amount owed"),
        (BNC, False, "name 100/100, $15.00 short (tolerance $50.00)"),
    ]


def test_an_unrelated_credit_is_left_with_the_reason() -> None:
    [left] = match_credits([credit("12000.00", "PACIFIC BIOLABS INC")], owing(STONESTREET), RULES)
    assert left.purchaser is None
    assert left.reason == "no purchaser owes $12,000.00"


def test_the_right_amount_from_a_stranger_is_left_for_a_person() -> None:
    """The amount alone never decides: a name that does not look like the purchaser's is left."""
    [left] = match_credits([credit("450000.00", "ACME WIDGETS INC")], owing(STONESTREET), RULES)
    assert left.purchaser is None
    assert left.reason.startswith(
        "the amount fits Stonestreet Limited Partnership but the ordering customer "
        "'ACME WIDGETS INC' does not look like it"
    )


def test_two_purchasers_owing_the_same_with_similar_names_are_left_for_a_person() -> None:
    """The ambiguous pair: Alpha Capital Partners and Alpha Capital Partners II both owe
    $250,000.00; a wire from 'ALPHA CAPITAL PARTNERS' could be either."""
    first = purchaser(3, "Alpha Capital Partners LP", "250000.00")
    second = purchaser(4, "Alpha Capital Partners II LP", "250000.00")
    [left] = match_credits(
        [credit("250000.00", "ALPHA CAPITAL PARTNERS")], owing(first, second), RULES
    )
    assert left.purchaser is None
    assert left.reason.startswith("ambiguous: Alpha Capital Partners LP (name 100/100) and ")
    assert left.reason.endswith(
        "could both have sent $250,000.00 as 'ALPHA CAPITAL PARTNERS'; match it by hand"
    )


def test_a_reference_settles_a_pair_the_names_cannot() -> None:
    """The same pair, with fund II's DWAC reference in the wire's OBI: a clear match."""
    first = purchaser(3, "Alpha Capital Partners LP", "250000.00")
    second = purchaser(
        4, "Alpha Capital Partners II LP", "250000.00", dwac={"reference": "ACP2-0607"}
    )
    [found] = match_credits(
        [credit("250000.00", "ALPHA CAPITAL PARTNERS", references=("FOR ACP2-0607 SPA",))],
        owing(first, second),
        RULES,
    )
    assert found.purchaser is second
    assert found.reason == "name 95/100, DWAC reference ACP2-0607, amount owed"


def test_an_alias_from_the_deal_file_counts_as_the_name() -> None:
    """A custodian sends the wire in its own name: the deal file's `aliases` say so."""
    bnc = purchaser(2, "BNC Bach International, Ltd.", "930000.00", aliases=["UBS AG FBO BNC"])
    [found] = match_credits([credit("930000.00", "UBS AG FBO BNC")], owing(bnc), RULES)
    assert found.purchaser is bnc


def test_gates_currency_value_date_and_a_total_over_the_tolerance() -> None:
    entries = [
        credit("450000.00", "STONESTREET LP", "A", currency="EUR"),
        credit("450000.00", "STONESTREET LP", "B", value_date=date(2002, 5, 1)),
        credit("450050.01", "STONESTREET LP", "C"),
    ]
    reasons = [p.reason for p in match_credits(entries, owing(STONESTREET), RULES)]
    assert reasons == [
        "in EUR, not USD",
        "value date 2002-05-01 is outside the closing window 2002-06-07 to 2002-06-14",
        "no purchaser owes $450,050.01",
    ]


def test_parts_of_the_price_when_the_purchaser_may_pay_in_parts() -> None:
    """Two halves from BNC: the first a part, the second what is then owed; without partial
    receipts allowed a half is left."""
    halves = [
        credit("465000.00", "BNC BACH INTERNATIONAL", "A"),
        credit("465000.00", "BNC BACH INTERNATIONAL", "B"),
    ]
    found = match_credits(halves, owing(BNC, partial=True), RULES)
    assert [(p.purchaser, p.partial) for p in found] == [(BNC, True), (BNC, False)]
    assert found[0].reason == "name 100/100, part of $930,000.00 owed"
    assert found[1].reason == "name 100/100, amount owed"
    left = match_credits(halves[:1], owing(BNC), RULES)
    assert left[0].purchaser is None


def test_a_purchaser_matched_once_is_not_matched_again_in_the_same_file() -> None:
    twice = [credit("450000.00", "STONESTREET LP", "A"), credit("450000.00", "STONESTREET LP", "B")]
    found = match_credits(twice, owing(STONESTREET), RULES)
    assert [p.purchaser for p in found] == [STONESTREET, None]


def test_names_are_compared_without_their_legal_forms() -> None:
    assert clean_name("BNC Bach International, Ltd.") == "bnc bach international"
    assert clean_name("Stonestreet Limited Partnership") == "stonestreet"
    assert clean_name("The Company") == "the company"  # nothing left: keep it all


@given(st.text(max_size=40))
def test_a_name_is_cleaned_the_same_whether_ascii_or_not(name: str) -> None:
    """The all-ASCII shortcut keeps what the pattern keeps: digits and lower-case letters."""
    words = re.sub(r"[^0-9a-z]+", " ", name.casefold()).split()
    kept = [w for w in words if w not in LEGAL_FORMS]
    assert clean_name(name) == " ".join(kept or words)


@given(
    st.lists(st.sampled_from(["100.00", "150.00", "200.00", "250.00"]), min_size=1, max_size=8),
    st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["0", "50.00", "120.00"])), max_size=20),
)
def test_the_book_finds_who_owes_an_amount_as_a_full_search_would(
    prices: list[str], payments: list[tuple[int, str]]
) -> None:
    """Purchasers leave the book when matched and come back owing less after a part: whoever it
    offers for an amount is whoever a search of everyone would find, however often amounts were
    taken out and put back."""
    from closing.domain.matching import _Book

    parties = [purchaser(n, f"P{n}", price) for n, price in enumerate(prices, start=1)]
    owed = {p.id: Owed(p, p.purchase_price, True) for p in parties}
    book = _Book(list(owed.values()))
    for index, paid in payments:
        party = parties[index % len(parties)]
        if party.id not in owed:
            continue
        book.remove(owed.pop(party.id))
        left = party.purchase_price - Decimal(paid)
        if Decimal(paid) and left > 0:  # a part: it owes the rest
            owed[party.id] = Owed(party, left, True)
            book.add(owed[party.id])
        for amount in ("50.00", "100.00", "130.00", "150.00", "200.00", "250.00"):
            for tolerance in ("0", "50.00"):
                wanted = {
                    item.purchaser.id
                    for item in owed.values()
                    if abs(item.owed - Decimal(amount)) <= Decimal(tolerance)
                }
                near = book.near(Decimal(amount), Decimal(tolerance))
                assert sorted(item.purchaser.id for item in near) == sorted(wanted)
        assert sorted(item.purchaser.id for item in book.partial) == sorted(owed)


IMAD = "20020607B1Q8021C000123"
TWIN = purchaser(3, "Cranshire Capital, L.P.", "450000.00")


def reported(party: Purchaser, imad: str = IMAD) -> Owed:
    return Owed(party, party.purchase_price, False, imad, "reported sent 10:05")


def test_a_reported_imad_does_not_take_a_credit_the_bank_names_another_purchaser_for() -> None:
    """Cranshire (owing what Stonestreet owes) reports Stonestreet's IMAD: the bank's ordering
    customer is Stonestreet, so the credit is left for a person, not booked to Cranshire; the
    same IMAD from a nominee account that names nobody still matches the reporter."""
    wire = credit("450000.00", "STONESTREET LIMITED PARTNERSHIP", imad=IMAD)
    [left] = match_credits(
        [wire], [Owed(STONESTREET, STONESTREET.purchase_price), reported(TWIN)], RULES
    )
    assert left.purchaser is None
    assert left.reason == (
        f"the IMAD {IMAD} is the one Cranshire Capital, L.P. reported, but the bank names the "
        "ordering customer 'STONESTREET LIMITED PARTNERSHIP', which looks like Stonestreet "
        "Limited Partnership (name 100/100); match it by hand"
    )
    nominee = credit("450000.00", "SSLP NOMINEE ACCOUNT 4", imad=IMAD)
    [found] = match_credits(
        [nominee], [Owed(STONESTREET, STONESTREET.purchase_price), reported(TWIN)], RULES
    )
    assert found.purchaser is TWIN


def test_an_imad_two_purchasers_reported_is_left_for_a_person() -> None:
    wire = credit("450000.00", "SSLP NOMINEE ACCOUNT 4", imad=IMAD)
    [left] = match_credits([wire], [reported(STONESTREET), reported(TWIN)], RULES)
    assert left.purchaser is None
    assert left.reason == (
        f"the IMAD {IMAD} was reported by Stonestreet Limited Partnership and Cranshire "
        "Capital, L.P.; match it by hand"
    )
