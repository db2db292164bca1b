"""The closing model through the command line: company deliveries, late marks that stay late,
deadlines that blocked details never hide, partial wires and a tolerance, reversals, waivers
and withdrawals. Exact output wherever a person reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from closing.domain.errors import ExitCode
from tests.helpers import Cli, board_json

FRI = "2002-06-07T{}:00-07:00"
MON = "2002-06-10T{}:00-07:00"


def step_of(data: dict[str, Any], slug: str, step: str) -> dict[str, Any]:
    row = next(p for p in data["purchasers"] if p["slug"] == slug)
    found: dict[str, Any] = row["steps"][step]
    return found


def row_of(text: str, name: str) -> list[str]:
    """A board row's cells (split on runs of 3+ spaces)."""
    import re

    line = next(line for line in text.splitlines() if line.startswith(name))
    return [cell for cell in re.split(r"\s{3,}", line.strip())]


def wired_stonestreet(cli: Cli) -> None:
    assert cli("mark-signed", "stonestreet", "--at", "08:30", now=FRI.format("09:00")).code == 0
    assert cli("mark-wired", "stonestreet", now=FRI.format("10:15")).code == 0


def test_the_company_delivers_the_prospectus_supplement_before_any_wire(
    cli: Cli, seed_path: Path
) -> None:
    """The seed's company steps: no wire is accepted before the prospectus supplement is
    delivered (`closing mark company ...`); its 424(b)(5) filing is due Tuesday June 11."""
    cli("init", str(seed_path), now=FRI.format("07:00"))
    cli("mark-signed", "bnc", now=FRI.format("08:00"))
    refused = cli("mark-wired", "bnc", now=FRI.format("08:30"))
    assert (refused.code, refused.err) == (
        ExitCode.REFUSED,
        "Error: cannot mark wired for BNC Bach International, Ltd.: prospectus_delivered is not "
        "done; to record it as it happened add --out-of-order --reason TEXT\n",
    )
    delivered = cli(
        "mark", "company", "Prospectus", "--evidence", "Exhibit B", now=FRI.format("08:40")
    )
    assert delivered.out == (
        "Marked prospectus_delivered for NeoTherapeutics, Inc. at 2002-06-07 08:40 PDT by alice. "
        "Still to do: prospectus_filed.\n"
    )
    assert cli("mark-wired", "bnc", now=FRI.format("09:00")).code == 0
    data = board_json(cli, FRI.format("09:00"))
    assert data["company"]["steps"]["prospectus_filed"]["deadline"] == "2002-06-11T14:30:00-07:00"
    text = cli("status", now=FRI.format("09:00")).out
    assert "Company: Prospectus ✓ 08:40 · 424(b)(5) 4d5h\n" in text


def test_a_step_done_after_its_cutoff_stays_late(seeded: Cli) -> None:
    """A wire at 17:10 against a 17:00 cutoff is `done_late` by 600 s, shown `✓ 17:10 late`:
    a missed closing deadline never disappears from the record."""
    seeded("mark-signed", "bnc", now=FRI.format("09:00"))
    done = seeded("mark-wired", "bnc", "--at", "17:10", now=FRI.format("17:20"))
    assert done.out.startswith(
        "Marked wired for BNC Bach International, Ltd. at 2002-06-07 17:10 PDT by alice"
    )
    wired = step_of(board_json(seeded, FRI.format("17:30")), "bnc-bach", "wired")
    assert (wired["status"], wired["late_by"]) == ("done_late", 600)
    text = seeded("status", now=FRI.format("17:30")).out
    assert row_of(text, "BNC Bach")[2] == "✓ 17:10 late"


def test_a_blocked_step_still_shows_its_time_left(seeded: Cli) -> None:
    """At 16:30 Stonestreet's fax lacks a fax number but is due in 30 minutes: `due_soon` with
    the missing detail in `blocked_by`, and `! 30m ⚑` on the board."""
    wired_stonestreet(seeded)
    fax = step_of(board_json(seeded, FRI.format("16:30")), "stonestreet", "warrant_faxed")
    assert (fax["status"], fax["blocked_by"]) == ("due_soon", ["notice facsimile number missing"])
    text = seeded("status", now=FRI.format("16:30")).out
    assert row_of(text, "Stonestreet")[3:6] == ["! 30m ⚑", "3d0h ⚑", "! 30m ⚑"]
    late = step_of(board_json(seeded, FRI.format("17:30")), "stonestreet", "warrant_faxed")
    assert (late["status"], late["blocked_by"]) == ("overdue", ["notice facsimile number missing"])


def test_a_wire_in_two_parts(seeded: Cli) -> None:
    """`--partial` records part of the price and the step stays open; the next `mark-wired`
    records the rest and completes it; a part that would pass the price is refused."""
    seeded("mark-signed", "bnc", now=FRI.format("09:00"))
    part = seeded("mark-wired", "bnc", "--amount", "465,000", "--partial", now=FRI.format("11:00"))
    assert part.out == (
        "Recorded part of wired for BNC Bach International, Ltd. at 2002-06-07 11:00 PDT by alice "
        "($465,000.00). Still to do: wired, warrant_faxed, warrant_delivered, dwac_credited.\n"
    )
    data = board_json(seeded, FRI.format("11:30"))
    assert step_of(data, "bnc-bach", "wired")["status"] == "pending"
    assert step_of(data, "bnc-bach", "wired")["received"] == "465000.00"
    assert "Partial: BNC Bach International, Ltd.: $465,000.00 of $930,000.00 received" in (
        seeded("status", now=FRI.format("11:30")).out
    )
    over = seeded("mark-wired", "bnc", "--amount", "465,001", "--partial", now=FRI.format("12:00"))
    assert (over.code, over.err) == (
        ExitCode.REFUSED,
        "Error: cannot mark wired for BNC Bach International, Ltd.: amount $465,001.00 with "
        "$465,000.00 received before makes $930,001.00, which differs from the purchase price "
        "$930,000.00 by +$1.00; "
        "to record it as it happened add --out-of-order --reason TEXT; nothing recorded\n",
    )
    rest = seeded("mark-wired", "bnc", now=FRI.format("12:30"))
    assert "($465,000.00). Still to do: warrant_faxed" in rest.out
    data = board_json(seeded, FRI.format("13:00"))
    bnc = next(p for p in data["purchasers"] if p["slug"] == "bnc-bach")
    assert (bnc["steps"]["wired"]["status"], bnc["amount_received"]) == ("done", "930000.00")


def test_a_wire_short_by_a_fee_within_the_tolerance_completes(cli: Cli, seed_path: Path) -> None:
    """With `payment: {tolerance: "50.00"}`, BNC's wire $15 short (an incoming-wire fee)
    completes the step and the shortfall is recorded and shown."""
    text = seed_path.read_text().replace(
        "    payment: true\n", '    payment:\n      tolerance: "50.00"\n'
    )
    seed_path.write_text(text)
    cli("init", str(seed_path), now=FRI.format("07:00"))
    cli("mark", "company", "prospectus_delivered", now=FRI.format("07:30"))
    cli("mark-signed", "bnc", now=FRI.format("09:00"))
    done = cli("mark-wired", "bnc", "--amount", "929,985.00", now=FRI.format("10:00"))
    assert done.code == 0, done.err
    bnc = next(
        p for p in board_json(cli, FRI.format("10:05"))["purchasers"] if p["slug"] == "bnc-bach"
    )
    assert (bnc["steps"]["wired"]["status"], bnc["shortfall"]) == ("done", "15.00")
    assert (
        "Short: BNC Bach International, Ltd.: $15.00 short of $930,000.00, within the tolerance"
        in cli("status", now=FRI.format("10:05")).out
    )
    cli("mark-signed", "stonestreet", now=FRI.format("10:10"))
    short = cli("mark-wired", "stonestreet", "--amount", "449,949.99", now=FRI.format("10:10"))
    assert "by -$50.01 (more than the tolerance of $50.00)" in short.err


def test_a_wire_returned_after_the_credit_is_reversed_not_undone(seeded: Cli) -> None:
    """`reverse` reopens the wire and keeps the fax and the DWAC credit done, flagged ⚠ with
    the reason on the board and in `attention`; nothing is deleted from the history."""
    wired_stonestreet(seeded)
    seeded("mark-faxed", "stonestreet", now=FRI.format("11:00"))
    seeded("mark-dwac", "stonestreet", now=FRI.format("11:05"))
    reversed_ = seeded(
        "reverse", "stonestreet", "wired", "--reason", "wire returned", now=FRI.format("14:00")
    )
    assert reversed_.out == (
        "Reversed wired for Stonestreet Limited Partnership at 2002-06-07 14:00 PDT by alice. "
        "Still to do: wired, warrant_delivered.\n"
    )
    data = board_json(seeded, FRI.format("14:05"))
    # open again, and due soon: Fedwire closes at 15:00 PDT
    assert step_of(data, "stonestreet", "wired")["status"] == "due_soon"
    assert step_of(data, "stonestreet", "warrant_faxed")["status"] == "done"
    assert step_of(data, "stonestreet", "warrant_faxed")["attention"] == [
        "wired was reversed: wire returned"
    ]
    assert data["purchasers"][0]["amount_received"] == "0.00"
    text = seeded("status", now=FRI.format("14:05")).out
    assert row_of(text, "Stonestreet")[3] == "✓ 11:00 ⚠"
    assert (
        "Attention: Stonestreet Limited Partnership: wired was reversed: wire returned (Wired, "
        "Faxed, DWAC)" in text
    )
    kinds = [e["kind"] for e in json.loads(seeded("history", "stonestreet", "--json").out)]
    assert kinds == ["mark", "mark", "mark", "mark", "reverse"]
    shown = seeded("history", "stonestreet", now=FRI.format("14:05")).out
    assert shown.endswith(
        "    by alice@vm · reason: wire returned · rehearsal\n"
    )  # as given, --reason
    # Then Stonestreet withdraws, as a purchaser whose money went back may: nothing is left to
    # act on, so the board flags nothing for it (the history keeps the reversal).
    seeded("withdraw", "stonestreet", "--reason", "deal fell through", now=FRI.format("14:10"))
    after = board_json(seeded, FRI.format("14:15"))
    assert step_of(after, "stonestreet", "warrant_faxed")["attention"] == []
    text = seeded("status", now=FRI.format("14:15")).out
    assert row_of(text, "Stonestreet")[3] == "✓ 11:00"  # no ⚠ now
    assert "Attention:" not in text


def test_a_waived_step_counts_as_satisfied_and_a_withdrawn_purchaser_leaves_the_totals(
    seeded: Cli,
) -> None:
    """Waive BNC's fax (the original is collected in person) and withdraw Stonestreet (never
    funded): the original can be delivered, Stonestreet's price leaves what is to be received,
    and once BNC and the company are done the deal is closed."""
    seeded("mark-signed", "bnc", now=FRI.format("09:00"))
    seeded("mark-wired", "bnc", now=FRI.format("10:00"))
    waived = seeded(
        "waive", "bnc", "faxed", "--reason", "collects the original", now=FRI.format("10:30")
    )
    assert waived.out.startswith("Waived warrant_faxed for BNC Bach International, Ltd.")
    withdrawn = seeded(
        "withdraw", "stonestreet", "--reason", "never funded", now=FRI.format("17:30")
    )
    assert withdrawn.out == (
        "Withdrew Stonestreet Limited Partnership at 2002-06-07 17:30 PDT by alice: never funded. "
        "No more alerts for it; its price leaves the totals to receive.\n"
    )
    refused = seeded("mark-wired", "stonestreet", now=FRI.format("17:40"))
    assert "withdrew from the deal (never funded)" in refused.err
    data = board_json(seeded, FRI.format("17:45"))
    assert data["purchasers"][0]["withdrawn"] is True
    assert (data["totals"]["purchasers"], data["totals"]["withdrawn"]) == (1, 1)
    assert data["totals"]["purchase_price"] == "930000.00"
    assert step_of(data, "bnc-bach", "warrant_faxed")["status"] == "waived"
    text = seeded("status", now=FRI.format("17:45")).out
    assert row_of(text, "Stonestreet")[2] == "withdrawn"
    assert "· 1 withdrawn\nReceived $930,000.00 of $930,000.00" in text
    seeded("mark-dwac", "bnc", now=FRI.format("17:50"))
    seeded("mark-delivered", "bnc", now=MON.format("10:00"))
    assert board_json(seeded, MON.format("10:05"))["deal"]["closed"] is False
    seeded("mark", "company", "prospectus_filed", now=MON.format("11:00"))
    assert board_json(seeded, MON.format("11:05"))["deal"]["closed"] is True


def test_a_mistaken_waiver_is_undone_with_a_time_and_a_note(seeded: Cli) -> None:
    """`undo` takes `--at` and `--note` like a mark; the reason and the note are kept."""
    seeded("waive", "bnc", "signed", "--reason", "n/a", now=FRI.format("09:00"))
    undone = seeded(
        "undo",
        "bnc",
        "signed",
        "--reason",
        "wrong purchaser",
        "--note",
        "see e-mail",
        "--at",
        "09:05",
        now=FRI.format("09:10"),
    )
    assert undone.out.startswith(
        "Undid signed for BNC Bach International, Ltd. at 2002-06-07 09:05 PDT by alice."
    )
    last = json.loads(seeded("history", "bnc", "--json").out)[-1]
    assert (last["kind"], last["note"]) == ("undo", "wrong purchaser; see e-mail")


def test_as_of_takes_a_time_in_the_deal_zone(seeded: Cli) -> None:
    """`status --as-of 09:00` is 09:00 PDT on today's date in the deal's zone."""
    wired_stonestreet(seeded)
    data = json.loads(seeded("status", "--json", "--as-of", "09:00", now=FRI.format("16:00")).out)
    assert data["as_of"] == "2002-06-07T09:00:00-07:00"
    assert step_of(data, "stonestreet", "wired")["status"] == "pending"
