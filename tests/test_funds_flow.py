"""The funds flow of the 60-step example (`funds_flow:`), through the CLI on both backends: the
statement to the cent (gross $10,000,000; the placement agent's 7% = $700,000 and $50,000 of
expenses; net $9,250,000), each disbursement due by Fedwire's cutoff; a disbursement refused
before its release conditions with the missing ones named, and while its beneficiary's bank
details wait for a second person's callback; outgoing wires recorded with their IMAD/OMAD and
matched to the escrow bank's own debits in a camt.053 statement and a BAI2 file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from closing.domain.errors import ExitCode
from tests.helpers import ROOT, Cli

EXAMPLE = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"
FIXTURES = ROOT / "tests" / "fixtures"
CAMT053 = FIXTURES / "escrow-bank-2019-06-28.camt053.xml"
BAI2 = FIXTURES / "escrow-bank-2019-06-28.bai2"
FRI = "2019-06-28T{}:00-07:00"
PURCHASERS = ("bramblewood", "northgate", "laurentian", "sable-point", "harrow-street")
ESCROW = """
  wire_instructions:
    bank: Wells Fargo Bank, N.A., San Francisco
    aba: "121000248"
    account: "7431-552190"
    account_name: Harborview Trust Company, as escrow agent for Halvorsen Therapeutics, Inc.
  callback_numbers: ["+1 415 555 0100"]
"""
BENEFICIARY = """
      beneficiary:
        bank: JPMorgan Chase Bank, N.A., New York
        aba: "021000021"
        account: "9900-311245"
        account_name: Kestrel Securities LLC
      callback_numbers: ["+1 212 555 0150"]
"""


@pytest.fixture
def deal_path(tmp_path: Path) -> Path:
    """The 60-step example with the escrow account as the account the purchasers wire to, and
    the placement agent's bank details on its disbursement."""
    text = EXAMPLE.read_text()
    text = text.replace("  facsimile: (858) 555-0190\n", "  facsimile: (858) 555-0190" + ESCROW, 1)
    fee = "      pays: [placement_agent_fee, placement_agent_expenses]\n"
    assert fee in text
    text = text.replace(fee, fee + BENEFICIARY.lstrip("\n"), 1)
    path = tmp_path / EXAMPLE.name
    path.write_text(text)
    return path


def run(cli: Cli, at: str, *args: str) -> str:
    result = cli(*args, now=FRI.format(at))
    assert result.code == 0, (args, result.err)
    return result.out


def flow(cli: Cli, at: str = "17:30", *extra: str) -> Any:
    return json.loads(run(cli, at, "funds-flow", "--json", *extra))


@pytest.fixture
def loaded(cli: Cli, deal_path: Path) -> Cli:
    """Loaded by alice at 07:00; bob (verifier) called back the escrow account's bank."""
    run(cli, "07:00", "init", str(deal_path))
    run(cli, "07:00", "team", "add", "bob", "--role", "verifier")
    run(
        cli,
        "07:30",
        "@bob",
        "wire-instructions",
        "verify",
        "--callback-number",
        "+1 415 555 0100",
        "--spoke-with",
        "Dana Whitfield",
    )
    return cli


def test_a_deal_with_a_funds_flow_loads_again(loaded: Cli, deal_path: Path) -> None:
    """`closing init` again on the unchanged file is up to date (it was an internal error: the
    stored terms keep a disbursement's `from:` as `from_account`, which reading them back
    refused); a changed `from:` is a change like any other."""
    again = run(loaded, "08:00", "init", str(deal_path))
    assert "is up to date; nothing changed" in again
    text = deal_path.read_text()
    named = "      from: escrow_agent\n"  # the account it already comes from by default
    assert named in text
    deal_path.write_text(text.replace(named, "", 1))
    changed = loaded("init", str(deal_path), now=FRI.format("08:05"))
    assert changed.code == 0, changed.err
    assert "nothing changed" not in changed.out


def test_the_statement_to_the_cent(cli: Cli) -> None:
    run(cli, "07:00", "init", str(EXAMPLE))
    found = flow(cli, "10:00")
    assert found["gross_total"] == "10000000.00"
    assert [(d["id"], d["amount"]) for d in found["deductions"]] == [
        ("placement_agent_fee", "700000.00"),
        ("placement_agent_expenses", "50000.00"),
    ]
    assert found["deductions_total"] == "750000.00"
    assert found["net"] == "9250000.00"
    assert [(d["id"], d["to"], d["amount"], d["status"]) for d in found["disbursements"]] == [
        ("pa_fee", "placement_agent", "750000.00", "pending"),
        ("net_to_company", "company", "9250000.00", "pending"),
    ]
    # Both by Fedwire's cutoff (6:00 p.m. Eastern), not the agreement's 5:00 p.m. Pacific.
    assert {d["due"] for d in found["disbursements"]} == {"2019-06-28T15:00:00-07:00"}
    assert found["left_once_sent"] == {"escrow_agent": "0.00", "company": "9250000.00"}
    text = run(cli, "10:00", "funds-flow")
    for figure in ("$10,000,000.00", "-$700,000.00", "-$50,000.00", "$9,250,000.00"):
        assert figure in text


def test_the_seed_has_no_funds_flow(seeded: Cli) -> None:
    result = seeded("funds-flow")
    assert result.code == ExitCode.REFUSED
    assert "has no funds flow" in result.err


def test_a_disbursement_is_refused_before_its_conditions_naming_them(loaded: Cli) -> None:
    refused = loaded(
        "mark-sent", "pa_fee", "--imad", "20190628QMGFT001000123", now=FRI.format("12:00")
    )
    assert refused.code == ExitCode.REFUSED
    assert "every purchaser wired (not Bramblewood" in refused.err
    assert "closing_memo" in refused.err and "--out-of-order --reason" in refused.err
    for slug in PURCHASERS:
        run(loaded, "11:00", "mark-wired", slug, "--out-of-order", "--reason", "test")
    refused = loaded(
        "mark-sent", "pa_fee", "--imad", "20190628QMGFT001000123", now=FRI.format("12:00")
    )
    assert refused.code == ExitCode.REFUSED
    assert "closing_memo" in refused.err and "every purchaser" not in refused.err
    assert flow(loaded)["disbursements"][0]["status"] == "pending"


def test_an_unverified_beneficiary_holds_the_wire_and_its_enterer_cannot_verify(
    loaded: Cli,
) -> None:
    args = ("mark-sent", "pa_fee", "--imad", "20190628QMGFT001000123", "--out-of-order")
    held = loaded(*args, "--reason", "r", now=FRI.format("12:00"))
    assert held.code == ExitCode.REFUSED
    assert "not verified" in held.err and "closing beneficiary verify pa_fee" in held.err
    assert "9900" not in held.err and "311245" not in held.err  # masked: ••••1245
    same = loaded(
        "beneficiary",
        "verify",
        "pa_fee",
        "--callback-number",
        "+1 212 555 0150",
        "--spoke-with",
        "Lee",
        now=FRI.format("11:00"),
    )
    assert same.code == ExitCode.REFUSED and "two-person rule" in same.err


def ready_to_send(loaded: Cli) -> None:
    """bob called back the placement agent's bank at 08:00; every purchaser wired by 11:00 and
    the closing memo marked at 11:30 (both out of order, for the test)."""
    run(
        loaded,
        "08:00",
        "@bob",
        "beneficiary",
        "verify",
        "pa_fee",
        "--callback-number",
        "+1 212 555 0150",
        "--spoke-with",
        "Lee Ambrose",
    )
    for slug in PURCHASERS:
        run(loaded, "11:00", "mark-wired", slug, "--out-of-order", "--reason", "test")
    run(loaded, "11:30", "mark", "company", "closing_memo", "--out-of-order", "--reason", "test")


def test_disbursements_sent_and_matched_from_camt053_and_bai2_debits(loaded: Cli) -> None:
    ready_to_send(loaded)
    said = run(
        loaded,
        "12:00",
        "mark-sent",
        "pa_fee",
        "--imad",
        "20190628QMGFT001000123",
        "--omad",
        "20190628B1QGC07C004411",
    )
    assert "pa_fee sent, $750,000.00" in said
    out = run(loaded, "17:10", "wires", "import", str(CAMT053), "--apply", "--json")
    assert json.loads(out)["disbursements"] == [
        {
            "bank_reference": "0628FW900001",
            "disbursement": "pa_fee",
            "reason": "same Fed reference as mark-sent recorded",
        }
    ]
    refused = loaded("mark-sent", "net_to_company", "--imad", "X", now=FRI.format("12:30"))
    assert refused.code == ExitCode.REFUSED
    assert "escrow_agreement" in refused.err and "bring_down_comfort" in refused.err
    assert "closing_memo" not in refused.err
    run(
        loaded,
        "12:30",
        "mark-sent",
        "net_to_company",
        "--imad",
        "20190628QMGFT001000124",
        "--out-of-order",
        "--reason",
        "released on the parties' joint instruction",
    )
    run(loaded, "17:15", "wires", "import", str(BAI2), "--apply")
    again = json.loads(run(loaded, "17:20", "wires", "import", str(BAI2), "--apply", "--json"))
    assert again["disbursements"][0]["reason"] == "confirmed before"
    found = flow(loaded)
    rows = {d["id"]: d for d in found["disbursements"]}
    assert rows["pa_fee"]["status"] == "confirmed"
    assert rows["pa_fee"]["sent"]["imad"] == "20190628QMGFT001000123"
    assert rows["pa_fee"]["confirmed"]["bank_reference"] == "0628FW900001"
    assert rows["net_to_company"]["status"] == "confirmed"
    assert rows["net_to_company"]["sent"]["flags"] == [
        f"out of order: net_to_company before {step}"
        for step in (
            "escrow_agreement",
            "bring_down_certificate",
            "legal_opinion",
            "negative_assurance",
            "bring_down_comfort",
        )
    ]
    assert found["balances"] == {"escrow_agent": "0.00", "company": "9250000.00"}
    history = run(loaded, "17:30", "history")
    assert "pa_fee confirmed by the bank's debit 0628FW900001" in history
    verify = loaded("verify", now=FRI.format("17:40"))
    assert verify.code == 0, verify.err


def test_the_rest_is_what_came_in_when_a_wire_is_short_within_the_tolerance(cli: Cli) -> None:
    """Bramblewood's wire arrives $15 short (the receiving bank's fee, within the $50
    tolerance: its price counts as paid): once every wire is in, the net proceeds are what the
    escrow account holds, not what the prices add up to, so sending them leaves it at $0.00."""
    from tests.helpers import ROOT

    example = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"
    slugs = ("bramblewood", "northgate", "laurentian", "sable-point", "harrow-street")
    reason = ("--out-of-order", "--reason", "wired before the escrow instructions were confirmed")
    friday = "2019-06-28T{}:00-07:00"

    def run(at: str, *args: str) -> str:
        result = cli(*args, now=friday.format(at))
        assert result.code == 0, (args, result.err)
        return result.out

    run("07:00", "init", str(example))
    run("10:30", "mark-wired", "bramblewood", "--amount", "2,999,985", *reason)
    for slug in slugs[1:]:
        run("10:30", "mark-wired", slug, *reason)
    for step in (
        "closing_memo",
        "escrow_agreement",
        "bring_down_certificate",
        "legal_opinion",
        "negative_assurance",
        "bring_down_comfort",
    ):
        run("11:00", "mark", "company", step, *reason)
    run("12:00", "mark-sent", "pa_fee", "--imad", "20190628QMGFT001000123")
    before = json.loads(run("12:05", "funds-flow", "--json"))
    rest = next(row for row in before["disbursements"] if row["id"] == "net_to_company")
    assert rest["amount"] == "9249985.00", rest
    run("12:10", "mark-sent", "net_to_company", "--imad", "20190628QMGFT001000124")
    after = json.loads(run("12:20", "funds-flow", "--json"))
    assert after["balances"]["escrow_agent"] == "0.00", after["balances"]


def test_a_fee_sent_at_a_time_before_its_conditions_were_met_is_out_of_order(cli: Cli) -> None:
    """Every purchaser wired at 10:30; the placement agent's fee said to have gone out at 09:00:
    its release conditions were not met then, so it is refused without --out-of-order (as a mark
    before what it requires is), naming them; with it, the event carries the flags."""
    from tests.helpers import ROOT

    example = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"
    reason = ("--out-of-order", "--reason", "wired before the escrow instructions were confirmed")
    friday = "2019-06-28T{}:00-07:00"
    assert cli("init", str(example), now=friday.format("07:00")).code == 0
    for slug in ("bramblewood", "northgate", "laurentian", "sable-point", "harrow-street"):
        wired = cli("mark-wired", slug, "--at", "10:30", *reason, now=friday.format("10:30"))
        assert wired.code == 0, wired.err
    assert cli("mark", "company", "closing_memo", *reason, now=friday.format("11:00")).code == 0
    send = ("mark-sent", "pa_fee", "--imad", "20190628QMGFT001000123", "--at", "09:00")
    refused = cli(*send, now=friday.format("12:00"))
    assert refused.code == ExitCode.REFUSED, refused.err
    assert "its release conditions are not met: every purchaser wired" in refused.err
    taken = cli(*send, "--out-of-order", "--reason", "as the bank says", now=friday.format("12:00"))
    assert taken.code == 0, taken.err
    flow = json.loads(cli("funds-flow", "--json", now=friday.format("12:10")).out)
    sent = next(row for row in flow["disbursements"] if row["id"] == "pa_fee")["sent"]
    assert sent["flags"] and all(
        flag.startswith("out of order: pa_fee before") for flag in sent["flags"]
    )


def test_a_disbursement_s_fed_references_are_its_own(loaded: Cli) -> None:
    """`mark-sent` refuses an IMAD that is not one, and one another disbursement was sent
    with (one Fed message is one wire): nothing recorded either time."""
    ready_to_send(loaded)
    run(loaded, "12:00", "mark-sent", "pa_fee", "--imad", "20190628QMGFT001000123")
    anyway = ("--out-of-order", "--reason", "released on the parties' joint instruction")
    for imad, says in (
        ("abc def", "--imad is not a Fedwire IMAD"),
        ("20190628QMGFT001000123", "pa_fee was sent with IMAD 20190628QMGFT001000123"),
    ):
        refused = loaded(
            "mark-sent", "net_to_company", "--imad", imad, *anyway, now=FRI.format("12:30")
        )
        assert refused.code == ExitCode.REFUSED, refused.err
        assert says in refused.err and "nothing recorded" in refused.err
    rows = {d["id"]: d for d in flow(loaded, "12:31")["disbursements"]}
    assert rows["net_to_company"]["sent"] is None


def test_a_debit_is_matched_by_its_fed_reference_only_for_the_amount_sent() -> None:
    """A bank debit that carries a disbursement's IMAD but another amount is not that wire
    confirmed: it is left for a person, saying why; an IMAD recorded for two disbursements
    matches neither."""
    from datetime import UTC, datetime
    from decimal import Decimal
    from types import SimpleNamespace

    from closing.domain.disbursements import match_debit
    from closing.domain.funds import DisbursementRow, Sent

    at = datetime(2019, 6, 28, 19, tzinfo=UTC)

    def row(name: str, amount: str, imad: str | None) -> DisbursementRow:
        sent = Sent(name, Decimal(amount), imad, None, (), at, "alice", 3) if imad else None
        item: object = SimpleNamespace(id=name)
        return DisbursementRow(item, name, "x", "escrow", Decimal(amount), at, sent, None, ())

    fee = row("pa_fee", "750000.00", "20190628QMGFT001000123")
    net = row("net_to_company", "9250000.00", "20190628QMGFT001000124")
    found = match_debit("20190628QMGFT001000123", None, Decimal("9250000.00"), [fee, net], set())
    assert found.disbursement is None
    assert "same Fed reference as pa_fee" in found.reason and "$9,250,000.00" in found.reason
    right = match_debit("20190628QMGFT001000123", None, Decimal("750000.00"), [fee, net], set())
    assert right.disbursement == "pa_fee"
    twice = row("legal_fee", "750000.00", "20190628QMGFT001000123")
    both = match_debit("20190628QMGFT001000123", None, Decimal("750000.00"), [fee, twice], set())
    assert both.disbursement is None and "pa_fee, legal_fee" in both.reason


def _init_with_expenses(cli: Cli, tmp_path: Path, amount: str) -> tuple[Path, Any]:
    """`closing init` of the 60-step example with the placement agent's expenses at `amount`
    (as written in the file): refused as a deal file (exit 3)."""
    text = EXAMPLE.read_text()
    fixed = "      amount: $50,000\n"
    assert fixed in text
    path = tmp_path / EXAMPLE.name
    path.write_text(text.replace(fixed, f"      amount: {amount}\n", 1))
    refused = cli("init", str(path), now=FRI.format("07:00"))
    assert refused.code == ExitCode.DEAL_FILE, refused.err
    return path, refused


def test_a_funds_flow_amount_is_in_whole_cents(cli: Cli, tmp_path: Path) -> None:
    """A fixed deduction or disbursement of a fraction of a cent is refused with its place (it
    was kept, shown rounded, and no mark-sent could ever match it); nothing is loaded."""
    _, refused = _init_with_expenses(cli, tmp_path, '"$50,000.004"')
    assert "funds_flow.deductions[1].amount" in refused.err
    assert "not a positive amount in whole cents" in refused.err
    deals = cli("deals", now=FRI.format("07:00"))  # SQLite: not even a database file
    assert deals.out.startswith("No deals yet") or "no database at" in deals.err


def test_disbursements_larger_than_what_comes_in_are_refused_at_load(
    cli: Cli, tmp_path: Path
) -> None:
    """Fixed amounts and deductions that come to more than Schedule 1 brings in would leave the
    rest of the account below nothing (a negative wire mark-sent would record): refused with the
    rest's place, nothing loaded."""
    path, refused = _init_with_expenses(cli, tmp_path, "$9,500,000")
    rest_line = path.read_text().splitlines().index("      rest: true") + 1
    assert f"{path}:{rest_line}: " in refused.err
    assert "the rest of escrow_agent would be -$200,000.00" in refused.err
    assert "Schedule 1's $10,000,000.00" in refused.err
