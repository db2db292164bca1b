"""The deal file loader: the seed deal loads exactly, and every problem is `path:line: message`.

Variants of the seed are made by text edits written to a temporary directory; the line a problem
is expected on is found by searching the edited text, never hard-coded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from closing.domain.dealfile.load import load_deal_file
from closing.domain.dealfile.schema import Due
from closing.domain.errors import DealFileError, ExitCode

SEED = Path(__file__).resolve().parents[1] / "workflows" / "neotherapeutics-2002-06-07.yaml"

# Problems that belong to no key of their own (a missing top-level field) are put on line 1.
WHOLE_FILE_LINE = 1

# PyYAML words the same syntax error differently with and without libyaml; the loader uses libyaml
# (CSafeLoader) when it is there.
MAPPING_VALUE_PROBLEM = (
    "mapping values are not allowed in this context"
    if hasattr(yaml, "CSafeLoader")
    else "mapping values are not allowed here"
)

Edit = tuple[str, str]
MakeVariant = Callable[..., tuple[Path, str]]


# --- helpers --------------------------------------------------------------------------------------


def replace_once(text: str, old: str, new: str) -> str:
    """`text` with the one occurrence of `old` replaced by `new` (fails if `old` is not unique)."""
    count = text.count(old)
    assert count == 1, f"{old!r} occurs {count} times in the deal file"
    return text.replace(old, new)


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first `needle` (after the first `after`, if given)."""
    start = 0 if after is None else text.index(after)
    index = text.index(needle, start)
    return text.count("\n", 0, index) + 1


def problems_of(path: Path | str) -> list[str]:
    """The problems `load_deal_file` reports for `path` (it must refuse the file)."""
    with pytest.raises(DealFileError) as caught:
        load_deal_file(path)
    return [str(problem) for problem in caught.value.problems]


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def write_deal(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "deal.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def variant(seed_text: str, write_deal: Callable[..., Path]) -> MakeVariant:
    """Apply `(old, new)` edits to the seed, write it, and return its path and text."""

    def make(*edits: Edit, name: str = "deal.yaml") -> tuple[Path, str]:
        text = seed_text
        for old, new in edits:
            text = replace_once(text, old, new)
        return write_deal(text, name), text

    return make


# Edits reused by several tests.
BAD_ZONE: Edit = ("time_zone: America/Los_Angeles", "time_zone: America/Irvine")
BAD_ZONE_MESSAGE = (
    "cutoff.time_zone: unknown time zone 'America/Irvine'; use an IANA name like "
    "America/Los_Angeles"
)
STONESTREET_OVERPAID: Edit = ("purchase_price: $450,000", "purchase_price: $450,001")
STONESTREET_OVERPAID_MESSAGE = (
    "Stonestreet Limited Partnership: 1,935,483 shares x $0.2325 = $449,999.7975 falls short of "
    "the purchase price $450,001.00; shares are the whole number the price buys: 1,935,488"
)
BNC_EMAIL: Edit = ("    slug: bnc-bach\n", "    slug: bnc-bach\n    email: bnc@example.com\n")
SIGNED_REQUIRES_WIRED: Edit = (
    "    title: Agreement signed\n",
    "    title: Agreement signed\n    requires: [wired]\n",
)


# --- the seed -------------------------------------------------------------------------------------


def test_seed_loads_with_exact_values() -> None:
    """The seed deal loads, with every amount an exact Decimal and every count an int."""
    deal = load_deal_file(SEED)
    terms = deal.terms
    assert terms.slug == "neotherapeutics-2002-06-07"
    stock = terms.securities.common_stock
    warrant = terms.securities.warrant
    assert (stock.price_per_share, str(stock.price_per_share)) == (Decimal("0.2325"), "0.2325")
    assert (stock.par_value, str(stock.par_value)) == (Decimal("0.001"), "0.001")
    assert (warrant.exercise_price, str(warrant.exercise_price)) == (Decimal("0.275"), "0.275")
    assert (warrant.coverage, str(warrant.coverage)) == (Decimal("0.10"), "0.10")
    assert warrant.term_years == 5
    stonestreet, bnc = deal.purchasers
    assert (stonestreet.name, stonestreet.key) == ("Stonestreet Limited Partnership", "stonestreet")
    assert (bnc.name, bnc.key) == ("BNC Bach International, Ltd.", "bnc-bach")
    assert (stonestreet.purchase_price, str(stonestreet.purchase_price)) == (
        Decimal("450000"),
        "450000",
    )
    assert (bnc.purchase_price, str(bnc.purchase_price)) == (Decimal("930000"), "930000")
    assert (stonestreet.shares, stonestreet.warrant_shares) == (1935483, 193548)
    assert (bnc.shares, bnc.warrant_shares) == (4000000, 400000)
    assert all(
        type(value) is int
        for purchaser in deal.purchasers
        for value in (purchaser.shares, purchaser.warrant_shares)
    )
    assert all(
        type(value) is Decimal
        for value in (
            stock.price_per_share,
            warrant.coverage,
            stonestreet.purchase_price,
            bnc.purchase_price,
        )
    )


def test_seed_loads_dates_cutoff_and_calendars() -> None:
    """The seed's dates, 17:00 Los Angeles cutoff and NYSE/XFED calendars load as written."""
    terms = load_deal_file(SEED).terms
    assert terms.agreement_date == date(2002, 6, 7)
    assert terms.closing_date == date(2002, 6, 7)
    assert terms.cutoff.time == time(17, 0)
    assert terms.cutoff.time_zone == "America/Los_Angeles"
    assert terms.zone == ZoneInfo("America/Los_Angeles")
    assert terms.business_days.calendars == ["NYSE", "XFED"]
    assert terms.business_days.extra_closures == []


def test_seed_loads_steps_in_order() -> None:
    """The seed's steps load in file order with their requires, due, needs and payment."""
    terms = load_deal_file(SEED).terms
    assert terms.step_ids == [
        "prospectus_delivered",
        "prospectus_filed",
        "signed",
        "wired",
        "warrant_faxed",
        "warrant_delivered",
        "dwac_credited",
    ]
    assert [step.id for step in terms.company_steps] == ["prospectus_delivered", "prospectus_filed"]
    assert [step.requires for step in terms.purchaser_steps] == [
        [],
        ["signed", "prospectus_delivered"],
        ["wired"],
        ["warrant_faxed"],
        ["wired"],
    ]
    assert [step.heading for step in terms.steps] == [
        "Prospectus",
        "424(b)(5)",
        "Signed",
        "Wired",
        "Faxed",
        "Original",
        "DWAC",
    ]
    assert [step.id for step in terms.steps if step.is_payment] == ["wired"]
    # "the original Warrant to be delivered ... on the next following business day" after the
    # closing; the 424(b)(5) filing two business days after the pricing on the SEC's calendar,
    # by EDGAR's cutoff; the wire by the agreement's, Fedwire's beside it.
    assert terms.step("warrant_delivered").due == Due(after="closing", business_days=1)
    assert terms.step("prospectus_filed").due == Due(after="pricing", business_days=2)
    assert terms.step("prospectus_filed").calendars == ["SEC"]
    filed_cutoff = terms.step("prospectus_filed").cutoff
    assert filed_cutoff is not None and filed_cutoff.market == "edgar"
    assert terms.key_dates == {"signing": date(2002, 6, 7), "pricing": date(2002, 6, 7)}
    assert terms.step("wired").due == "closing_cutoff"
    practical = terms.step("wired").practical
    assert practical is not None and (practical.market, practical.time_zone) == (
        "fedwire",
        "America/New_York",
    )
    assert terms.step("dwac_credited").needs == ["dwac.dtc_number", "dwac.account_number"]


def test_seed_blank_notice_and_dwac_details_load_as_none() -> None:
    """Schedule 1's blank notice and DWAC details (`attention: ,`) load as None, not ''."""
    for purchaser in load_deal_file(SEED).purchasers:
        notices, dwac = purchaser.notices, purchaser.dwac
        assert (notices.attention, notices.address, notices.facsimile) == (None, None, None)
        assert (dwac.dtc_number, dwac.account_number, dwac.reference) == (None, None, None)


def test_seed_keeps_path_and_text() -> None:
    """The loaded deal keeps the path it was read from and the file's exact text."""
    deal = load_deal_file(SEED)
    assert deal.path == SEED
    assert deal.text == SEED.read_text(encoding="utf-8")


def test_slug_defaults_to_file_name(variant: MakeVariant) -> None:
    """Without a slug, the deal's slug is made from the file name."""
    path, _ = variant(("slug: neotherapeutics-2002-06-07\n", ""), name="Acme Corp 2002.yaml")
    assert load_deal_file(path).terms.slug == "acme-corp-2002"


# --- Schedule 1 arithmetic ------------------------------------------------------------------------


def test_seed_stonestreet_row_is_the_whole_number_of_shares_the_price_buys() -> None:
    """1,935,483 x $0.2325 = $449,999.7975: $450,000 buys those shares and not one more."""
    deal = load_deal_file(SEED)
    stonestreet = deal.purchasers[0]
    price = deal.terms.securities.common_stock.price_per_share
    assert stonestreet.shares * price == Decimal("449999.7975")
    assert Decimal(0) <= stonestreet.purchase_price - stonestreet.shares * price < price


@pytest.mark.parametrize("amount", ["449999.80", "450000.02"])
def test_a_price_that_buys_exactly_the_shares_loads(variant: MakeVariant, amount: str) -> None:
    """Any price from shares x price up to a cent less than one more share loads."""
    path, _ = variant(("purchase_price: $450,000", f"purchase_price: {amount}"))
    assert load_deal_file(path).purchasers[0].purchase_price == Decimal(amount)


def test_a_price_that_buys_more_shares_is_reported(variant: MakeVariant) -> None:
    """$450,001 buys 1,935,488 shares, not 1,935,483: reported on the shares line."""
    path, text = variant(STONESTREET_OVERPAID)
    line = line_of(text, "shares: 1,935,483")
    assert problems_of(path) == [f"{path}:{line}: {STONESTREET_OVERPAID_MESSAGE}"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("shares: 1,935,483", "shares: 1,935,484"),
            "1,935,484 shares x $0.2325 = $450,000.0300 exceeds the purchase price $450,000.00; "
            "shares are the whole number the price buys: 1,935,483",
        ),
        (
            ("purchase_price: $450,000", "purchase_price: 449999.79"),
            "1,935,483 shares x $0.2325 = $449,999.7975 exceeds the purchase price $449,999.79; "
            "shares are the whole number the price buys: 1,935,482",
        ),
    ],
)
def test_shares_the_price_does_not_pay_for_are_reported(
    variant: MakeVariant, edit: Edit, message: str
) -> None:
    """Schedule 1 is checked one way: a purchaser never gets a share it did not pay for."""
    path, text = variant(edit)
    line = line_of(text, edit[1] if edit[1].startswith("shares") else "shares: 1,935,483")
    assert problems_of(path) == [f"{path}:{line}: Stonestreet Limited Partnership: {message}"]


def test_warrant_shares_not_floor_of_coverage_is_reported(variant: MakeVariant) -> None:
    """Warrant shares other than floor(shares x coverage) are reported on their line."""
    path, text = variant(("warrant_shares: 193,548", "warrant_shares: 193,549"))
    line = line_of(text, "warrant_shares: 193,549")
    assert problems_of(path) == [
        f"{path}:{line}: Stonestreet Limited Partnership: warrant shares 193,549 should be "
        "193,548 (1,935,483 shares x 0.10 coverage, rounded down)"
    ]


def test_warrant_shares_round_down_not_half_up(variant: MakeVariant) -> None:
    """193,548.6 warrant shares round down to 193,548: 193,549 (rounded half up) is refused."""
    path, text = variant(
        ("shares: 1,935,483", "shares: 1,935,486"),
        ("purchase_price: $450,000", "purchase_price: $450,000.50"),
        ("warrant_shares: 193,548", "warrant_shares: 193,549"),
    )
    line = line_of(text, "warrant_shares: 193,549")
    assert problems_of(path) == [
        f"{path}:{line}: Stonestreet Limited Partnership: warrant shares 193,549 should be "
        "193,548 (1,935,486 shares x 0.10 coverage, rounded down)"
    ]


# --- money stays exact ----------------------------------------------------------------------------


def test_float_looking_money_stays_exact(variant: MakeVariant) -> None:
    """Unquoted 930000.10, 449999.90, 0.2325 and 0.10 load as those exact Decimals, not floats."""
    path, _ = variant(
        ('price_per_share: "0.2325"', "price_per_share: 0.2325"),
        ('coverage: "0.10"', "coverage: 0.10"),
        ("purchase_price: $450,000", "purchase_price: 449999.90"),
        ("purchase_price: $930,000", "purchase_price: 930000.10"),
    )
    deal = load_deal_file(path)
    securities = deal.terms.securities
    stonestreet, bnc = deal.purchasers
    assert [
        (type(value), str(value))
        for value in (
            securities.common_stock.price_per_share,
            securities.warrant.coverage,
            stonestreet.purchase_price,
            bnc.purchase_price,
        )
    ] == [
        (Decimal, "0.2325"),
        (Decimal, "0.10"),
        (Decimal, "449999.90"),
        (Decimal, "930000.10"),
    ]


def test_fractions_of_a_cent_are_refused(variant: MakeVariant) -> None:
    """A purchase price with fractions of a cent is refused, not rounded."""
    path, text = variant(("purchase_price: $450,000", "purchase_price: 450000.005"))
    line = line_of(text, "purchase_price: 450000.005")
    assert problems_of(path) == [
        f"{path}:{line}: purchasers[0].purchase_price: purchase price 450000.005 has fractions "
        "of a cent"
    ]


# --- unknown and missing keys ---------------------------------------------------------------------


def test_unknown_top_level_key_is_reported(variant: MakeVariant) -> None:
    """An unknown top-level key is reported on its line."""
    path, text = variant(
        ("governing_law: California\n", "governing_law: California\nvenue: Orange County\n")
    )
    line = line_of(text, "venue:")
    assert problems_of(path) == [f"{path}:{line}: unknown key 'venue'"]


def test_unknown_key_in_purchaser_is_reported(variant: MakeVariant) -> None:
    """An unknown key inside a purchaser is reported with its dotted path on its line."""
    path, text = variant(BNC_EMAIL)
    line = line_of(text, "email:")
    assert problems_of(path) == [f"{path}:{line}: unknown key 'purchasers[1].email'"]


def test_unknown_key_in_section_is_reported(variant: MakeVariant) -> None:
    """An unknown key inside a top-level section (cutoff) is reported on its line."""
    path, text = variant(
        ("  time_zone: America/Los_Angeles\n", "  time_zone: America/Los_Angeles\n  tz: PST\n")
    )
    line = line_of(text, "tz: PST")
    assert problems_of(path) == [f"{path}:{line}: unknown key 'cutoff.tz'"]


def test_unknown_key_in_step_is_reported(variant: MakeVariant) -> None:
    """An unknown key inside a step is reported with its dotted path on its line."""
    path, text = variant(("    label: Wired\n", "    label: Wired\n    signer: Gulko\n"))
    line = line_of(text, "signer: Gulko")
    assert problems_of(path) == [f"{path}:{line}: unknown key 'steps[3].signer'"]


def test_missing_top_level_field_is_reported(variant: MakeVariant) -> None:
    """A missing closing_date is reported on line 1, having no line of its own."""
    path, _ = variant(("closing_date: 2002-06-07\n", ""))
    assert problems_of(path) == [f"{path}:{WHOLE_FILE_LINE}: missing required field 'closing_date'"]


def test_missing_purchaser_field_is_reported(variant: MakeVariant) -> None:
    """A purchaser without shares is reported on the line where that purchaser starts."""
    path, text = variant(("    shares: 4,000,000\n", ""))
    line = line_of(text, "name: BNC Bach International, Ltd.")
    assert problems_of(path) == [f"{path}:{line}: missing required field 'purchasers[1].shares'"]


def test_missing_purchasers_is_reported(seed_text: str, write_deal: Callable[..., Path]) -> None:
    """A deal file without Schedule 1 says purchasers is missing."""
    path = write_deal(seed_text[: seed_text.index("purchasers:")])
    assert problems_of(path) == [
        f"{path}:{WHOLE_FILE_LINE}: missing required field 'purchasers' (Schedule 1)"
    ]


# --- bad values -----------------------------------------------------------------------------------


def test_bad_date_is_reported(variant: MakeVariant) -> None:
    """An impossible date (2002-13-45) is reported with the format to use."""
    path, text = variant(("closing_date: 2002-06-07", "closing_date: 2002-13-45"))
    line = line_of(text, "closing_date: 2002-13-45")
    assert problems_of(path) == [
        f"{path}:{line}: closing_date: '2002-13-45' is not a valid date; write it as YYYY-MM-DD"
    ]


def test_bad_time_is_reported(variant: MakeVariant) -> None:
    """An impossible cutoff time (25:00) is reported with the format to use."""
    path, text = variant(('time: "17:00"', 'time: "25:00"'))
    line = line_of(text, 'time: "25:00"')
    assert problems_of(path) == [
        f"{path}:{line}: cutoff.time: '25:00' is not a valid time; write it as HH:MM"
    ]


def test_unknown_time_zone_is_reported(variant: MakeVariant) -> None:
    """A time zone that is not an IANA name is reported with an example of one."""
    path, text = variant(BAD_ZONE)
    line = line_of(text, "time_zone: America/Irvine")
    assert problems_of(path) == [f"{path}:{line}: {BAD_ZONE_MESSAGE}"]


def test_unknown_calendar_is_reported(variant: MakeVariant) -> None:
    """An unknown business-day calendar is reported with the calendars there are."""
    path, text = variant(("calendars: [NYSE, XFED]", "calendars: [NYSE, LSEX]"))
    line = line_of(text, "calendars: [NYSE, LSEX]")
    assert problems_of(path) == [
        f"{path}:{line}: business_days.calendars: unknown calendar 'LSEX'; use NYSE, XFED, SEC, "
        "or a country or subdivision code such as CA-ON, VG or GB"
    ]


# --- purchasers -----------------------------------------------------------------------------------


def test_duplicate_purchaser_name_is_reported(variant: MakeVariant) -> None:
    """Two purchasers with the same name (in any case) are reported on the second one's name."""
    path, text = variant(
        ("name: BNC Bach International, Ltd.", "name: STONESTREET LIMITED PARTNERSHIP")
    )
    line = line_of(text, "name: STONESTREET LIMITED PARTNERSHIP")
    assert problems_of(path) == [
        f"{path}:{line}: duplicate purchaser 'STONESTREET LIMITED PARTNERSHIP' (also purchasers[0])"
    ]


def test_duplicate_purchaser_slug_is_reported(variant: MakeVariant) -> None:
    """Two purchasers with the same slug are reported on the second one's slug."""
    path, text = variant(("slug: bnc-bach", "slug: stonestreet"))
    line = line_of(text, "slug: stonestreet", after="name: BNC Bach")
    assert problems_of(path) == [
        f"{path}:{line}: duplicate purchaser slug 'stonestreet' (also purchasers[0]); give one "
        "of them a distinct slug"
    ]


# --- steps ----------------------------------------------------------------------------------------


def test_step_requiring_unknown_step_is_reported(variant: MakeVariant) -> None:
    """A step requiring a step that does not exist is reported on its requires line."""
    path, text = variant(("requires: [warrant_faxed]", "requires: [warrant_fax]"))
    line = line_of(text, "requires: [warrant_fax]")
    assert problems_of(path) == [
        f"{path}:{line}: step 'warrant_delivered' requires unknown step 'warrant_fax'"
    ]


def test_cycle_between_steps_is_reported(variant: MakeVariant) -> None:
    """Steps that require each other are reported as a cycle on the first one's requires."""
    path, text = variant(SIGNED_REQUIRES_WIRED)
    line = line_of(text, "requires: [wired]", after="id: signed")
    assert problems_of(path) == [f"{path}:{line}: steps form a cycle: signed -> wired -> signed"]


def test_step_due_after_unknown_step_is_reported(variant: MakeVariant) -> None:
    """A step due after a step that does not exist is reported on its due line."""
    path, text = variant(
        ("after: closing\n      business_days: 1", "after: faxed\n      business_days: 1")
    )
    line = line_of(text, "due:", after="id: warrant_delivered")
    assert problems_of(path) == [
        f"{path}:{line}: step 'warrant_delivered' is due after 'faxed', which is neither a step "
        "nor a key date (closing, signing, pricing)"
    ]


def test_duplicate_step_id_is_reported(variant: MakeVariant) -> None:
    """A step id used twice is reported on the second one's id."""
    path, text = variant(("  - id: dwac_credited", "  - id: warrant_delivered"))
    line = line_of(text, "id: warrant_delivered", after="title: Original warrant delivered")
    assert problems_of(path) == [
        f"{path}:{line}: duplicate step 'warrant_delivered' (also steps[5])"
    ]


def test_duplicate_step_id_is_not_also_reported_as_a_cycle(variant: MakeVariant) -> None:
    """A copy-pasted step reusing an earlier id is one duplicate, not also a made-up cycle."""
    # The last step (requires [wired]) renamed to `signed`, which `wired` requires: the
    # duplicate must not merge the two `signed` steps into signed -> wired -> signed.
    path, text = variant(("  - id: dwac_credited", "  - id: signed"))
    line = line_of(text, "id: signed", after="title: Original warrant delivered")
    assert problems_of(path) == [f"{path}:{line}: duplicate step 'signed' (also steps[2])"]


# --- dates ----------------------------------------------------------------------------------------


def test_closing_on_a_weekend_is_reported(variant: MakeVariant) -> None:
    """A closing_date on a Saturday is reported as not a business day."""
    path, text = variant(("closing_date: 2002-06-07", "closing_date: 2002-06-08"))
    line = line_of(text, "closing_date: 2002-06-08")
    assert problems_of(path) == [
        f"{path}:{line}: closing_date 2002-06-08 is not a business day (Saturday)"
    ]


@pytest.mark.parametrize(
    ("day", "why"),
    [
        ("2002-07-04", "Independence Day (NYSE)"),  # both closed: the first calendar is named
        ("2002-03-29", "Good Friday (NYSE)"),  # the market is closed, the Fed is open
        ("2002-10-14", "Columbus Day (XFED)"),  # the Fed is closed, the market is open
    ],
)
def test_closing_on_a_holiday_is_reported(variant: MakeVariant, day: str, why: str) -> None:
    """A closing_date on which the NYSE or the Fed is closed is reported with the holiday."""
    path, text = variant(
        ("agreement_date: 2002-06-07", "agreement_date: 2002-01-02"),
        ("closing_date: 2002-06-07", f"closing_date: {day}"),
    )
    line = line_of(text, f"closing_date: {day}")
    assert problems_of(path) == [f"{path}:{line}: closing_date {day} is not a business day ({why})"]


def test_closing_on_an_extra_closure_is_reported(variant: MakeVariant) -> None:
    """A closing_date the deal file lists in extra_closures is reported as such."""
    path, text = variant(("extra_closures: []", "extra_closures: [2002-06-07]"))
    line = line_of(text, "closing_date: 2002-06-07")
    assert problems_of(path) == [
        f"{path}:{line}: closing_date 2002-06-07 is not a business day (Friday, a closure added "
        "by the deal file)"
    ]


def test_agreement_after_closing_is_reported(variant: MakeVariant) -> None:
    """An agreement_date after the closing_date is reported on the agreement_date line."""
    path, text = variant(("agreement_date: 2002-06-07", "agreement_date: 2002-06-10"))
    line = line_of(text, "agreement_date: 2002-06-10")
    assert problems_of(path) == [
        f"{path}:{line}: agreement_date 2002-06-10 is after closing_date 2002-06-07"
    ]


# --- the file itself ------------------------------------------------------------------------------


def test_invalid_yaml_is_reported_with_its_line(variant: MakeVariant) -> None:
    """YAML that does not parse is reported as not valid YAML on the offending line."""
    path, text = variant(
        ("title: NeoTherapeutics, Inc. Securities", "title: NeoTherapeutics: Inc. Securities")
    )
    line = line_of(text, "title: NeoTherapeutics: Inc.")
    assert problems_of(path) == [f"{path}:{line}: not valid YAML: {MAPPING_VALUE_PROBLEM}"]


def test_duplicate_yaml_key_is_reported(variant: MakeVariant) -> None:
    """A key written twice in one mapping is reported on the second one."""
    path, text = variant(
        ("governing_law: California\n", "governing_law: California\ngoverning_law: Delaware\n")
    )
    line = line_of(text, "governing_law: Delaware")
    assert problems_of(path) == [f"{path}:{line}: duplicate key 'governing_law'"]


def test_duplicate_yaml_key_in_purchaser_is_reported(variant: MakeVariant) -> None:
    """A key written twice inside a purchaser is reported with its dotted path."""
    path, text = variant(
        ("    shares: 4,000,000\n", "    shares: 4,000,000\n    shares: 4,000,001\n")
    )
    line = line_of(text, "shares: 4,000,001")
    assert problems_of(path) == [f"{path}:{line}: duplicate key 'purchasers[1].shares'"]


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A deal file that does not exist is reported on line 0 of its path."""
    path = tmp_path / "no-such-deal.yaml"
    assert problems_of(path) == [f"{path}: no such file; check the path"]


def test_empty_file_is_reported(write_deal: Callable[..., Path]) -> None:
    """An empty deal file is reported as not being a mapping."""
    path = write_deal("")
    assert problems_of(path) == [f"{path}:1: a deal file is a mapping of keys like closing_date:"]


def test_path_is_shown_as_given(
    seed_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Problems name the file by the path the caller gave, relative or not."""
    text = replace_once(seed_text, *BAD_ZONE)
    (tmp_path / "deal.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    line = line_of(text, "time_zone: America/Irvine")
    assert problems_of("deal.yaml") == [f"deal.yaml:{line}: {BAD_ZONE_MESSAGE}"]


# --- every problem at once ------------------------------------------------------------------------


def test_every_problem_is_reported_at_once(variant: MakeVariant) -> None:
    """A bad time zone, bad purchaser arithmetic and an unknown purchaser key all come at once."""
    path, text = variant(BAD_ZONE, STONESTREET_OVERPAID, BNC_EMAIL)
    with pytest.raises(DealFileError) as caught:
        load_deal_file(path)
    expected = [
        f"{path}:{line_of(text, 'time_zone: America/Irvine')}: {BAD_ZONE_MESSAGE}",
        f"{path}:{line_of(text, 'shares: 1,935,483')}: {STONESTREET_OVERPAID_MESSAGE}",
        f"{path}:{line_of(text, 'email:')}: unknown key 'purchasers[1].email'",
    ]
    assert [str(problem) for problem in caught.value.problems] == expected
    assert caught.value.message == "\n".join(expected)
    assert caught.value.exit_code == ExitCode.DEAL_FILE


def test_problems_are_sorted_by_line(variant: MakeVariant) -> None:
    """Problems found in any order (YAML keys first, then sections) come out sorted by line."""
    path, text = variant(
        ("governing_law: California\n", "governing_law: California\ngoverning_law: Delaware\n"),
        BAD_ZONE,
        ("    slug: stonestreet\n", "    slug: stonestreet\n    fax: (555) 555-0100\n"),
        ("    shares: 4,000,000\n", "    shares: 4,000,000\n    shares: 4,000,001\n"),
        ("purchase_price: $930,000", "purchase_price: 930000.001"),
    )
    assert problems_of(path) == [
        f"{path}:{line_of(text, 'time_zone: America/Irvine')}: {BAD_ZONE_MESSAGE}",
        f"{path}:{line_of(text, 'governing_law: Delaware')}: duplicate key 'governing_law'",
        f"{path}:{line_of(text, 'fax:')}: unknown key 'purchasers[0].fax'",
        f"{path}:{line_of(text, 'shares: 4,000,001')}: duplicate key 'purchasers[1].shares'",
        f"{path}:{line_of(text, 'purchase_price: 930000.001')}: purchasers[1].purchase_price: "
        "purchase price 930000.001 has fractions of a cent",
    ]


def test_bad_date_is_reported_alongside_unknown_key(variant: MakeVariant) -> None:
    """An unknown top-level key does not hide a bad date elsewhere in the terms."""
    path, text = variant(
        ("closing_date: 2002-06-07\n", "closing_date: 2002-13-45\n"),
        ("governing_law: California\n", "governing_law: California\nvenue: Orange County\n"),
    )
    assert problems_of(path) == [
        f"{path}:{line_of(text, 'closing_date: 2002-13-45')}: closing_date: '2002-13-45' is not "
        "a valid date; write it as YYYY-MM-DD",
        f"{path}:{line_of(text, 'venue:')}: unknown key 'venue'",
    ]


def test_steps_and_dates_are_checked_despite_a_bad_section(variant: MakeVariant) -> None:
    """A bad time zone does not hide a step cycle or a closing_date on a weekend."""
    path, text = variant(
        ("closing_date: 2002-06-07", "closing_date: 2002-06-08"),
        BAD_ZONE,
        SIGNED_REQUIRES_WIRED,
    )
    assert problems_of(path) == [
        f"{path}:{line_of(text, 'closing_date: 2002-06-08')}: closing_date 2002-06-08 is not a "
        "business day (Saturday)",
        f"{path}:{line_of(text, 'time_zone: America/Irvine')}: {BAD_ZONE_MESSAGE}",
        f"{path}:{line_of(text, 'requires: [wired]', after='id: signed')}: steps form a cycle: "
        "signed -> wired -> signed",
    ]


# --- the closing model: parties, cutoffs, calendars, payment -------------------------------------


def test_a_company_step_cannot_require_a_purchasers_step(variant: MakeVariant) -> None:
    """The deal's own steps come before or beside each purchaser's, never after one of them."""
    path, text = variant(
        (
            "    party: company\n    note: >-",
            "    party: company\n    requires: [signed]\n    note: >-",
        )
    )
    line = line_of(text, "requires: [signed]")
    assert problems_of(path) == [
        f"{path}:{line}: company step 'prospectus_delivered' cannot require 'signed', a step of "
        "each purchaser"
    ]


def test_a_company_step_cannot_need_purchaser_details(variant: MakeVariant) -> None:
    """A company step has no purchaser: no `needs`, no payment, no purchaser calendar."""
    path, text = variant(
        (
            "    calendars: [SEC]\n    note:",
            "    calendars: [SEC, purchaser]\n    note:",
        )
    )
    line = line_of(text, "- id: prospectus_filed")
    assert problems_of(path) == [
        f"{path}:{line}: company step 'prospectus_filed' cannot use purchaser details, payment or "
        "the purchaser's calendar or zone"
    ]


@pytest.mark.parametrize("reserved", ["closing", "company"])
def test_reserved_step_ids_are_refused(variant: MakeVariant, reserved: str) -> None:
    """`closing` names the closing date in `due: {after: closing}`; `company` the deal's party."""
    path, text = variant(("  - id: dwac_credited", f"  - id: {reserved}"))
    line = line_of(text, f"id: {reserved}")
    assert problems_of(path) == [
        f"{path}:{line}: step id {reserved!r} is reserved; choose another id"
    ]


def test_a_step_due_after_itself_is_refused(variant: MakeVariant) -> None:
    path, text = variant(
        (
            "after: closing\n      business_days: 1",
            "after: warrant_delivered\n      business_days: 1",
        )
    )
    line = line_of(text, "due:", after="id: warrant_delivered")
    assert problems_of(path) == [
        f"{path}:{line}: step 'warrant_delivered' is due after itself; use after: closing, a key "
        "date or another step"
    ]


def test_only_one_step_is_the_payment(variant: MakeVariant) -> None:
    path, text = variant(("    label: Signed\n", "    label: Signed\n    payment: true\n"))
    line = line_of(text, "payment: true", after="id: wired")
    assert problems_of(path) == [f"{path}:{line}: only one step can be the payment (also steps[2])"]


def test_purchaser_zones_and_holidays_are_checked(variant: MakeVariant) -> None:
    """A purchaser's `time_zone` must be an IANA zone and its `holidays` calendars `holidays`
    knows (countries and subdivisions such as CA-ON, VG)."""
    path, text = variant(
        (
            "    slug: stonestreet\n",
            "    slug: stonestreet\n    time_zone: America/Toronto\n    holidays: [CA-ON, VG]\n",
        ),
        (
            "    slug: bnc-bach\n",
            "    slug: bnc-bach\n    time_zone: Mars/Olympus\n    holidays: [CA-XX]\n",
        ),
    )
    stonestreet = load_deal_file(SEED)  # the seed itself is untouched
    assert stonestreet.purchasers[0].holidays == []
    assert problems_of(path) == [
        f"{path}:{line_of(text, 'time_zone: Mars/Olympus')}: purchasers[1].time_zone: unknown "
        "time zone 'Mars/Olympus'; use an IANA name like America/Los_Angeles",
        f"{path}:{line_of(text, 'holidays: [CA-XX]')}: purchasers[1].holidays: unknown "
        "subdivision 'CA-XX'; CA has AB, BC, MB, NB, NL, NS, NT, NU, ON, PE, QC, SK",
    ]


def test_a_step_cutoff_and_a_payment_tolerance_load(variant: MakeVariant) -> None:
    """The wire due by Fedwire's 18:00 New York cutoff, $50 short accepted."""
    path, _ = variant(
        (
            "    calendars: [XFED]\n    practical: fedwire\n"
            "    needs: [company.wire_instructions]\n    payment: true\n",
            "    calendars: [XFED]\n"
            '    cutoff: {time: "18:00", time_zone: America/New_York}\n'
            '    payment: {tolerance: "50.00"}\n',
        )
    )
    wired = load_deal_file(path).terms.step("wired")
    assert (wired.cutoff and wired.cutoff.time_zone, wired.tolerance) == (
        "America/New_York",
        Decimal("50.00"),
    )
