"""Record what happened; flag, don't refuse: `--out-of-order --reason TEXT` records a mark that
breaks the agreement's order, and every output says so (`breach` in `status --json`, a line under
the board, an exception in the memo). Without the option the refusal stays and names it."""

from __future__ import annotations

import json
from pathlib import Path

from closing.domain.errors import ExitCode
from tests.helpers import Cli, board_json, purchaser_row

FRI = "2002-06-07T{}:00-07:00"
ANYWAY = "to record it as it happened add --out-of-order --reason TEXT"


def loaded(cli: Cli, seed_path: Path) -> Cli:
    result = cli("init", str(seed_path), now=FRI.format("07:00"))
    assert result.code == 0, result.err
    return cli


def test_a_wire_before_the_prospectus_is_refused_naming_the_option(
    cli: Cli, seed_path: Path
) -> None:
    """Without the option nothing is recorded, and the refusal says how to record it anyway."""
    loaded(cli, seed_path)
    cli("mark-signed", "stonestreet", now=FRI.format("08:30"))
    refused = cli("mark-wired", "stonestreet", now=FRI.format("10:15"))
    assert (refused.code, refused.err) == (
        ExitCode.REFUSED,
        "Error: cannot mark wired for Stonestreet Limited Partnership: prospectus_delivered is "
        f"not done; {ANYWAY}\n",
    )
    no_reason = cli("mark-wired", "stonestreet", "--out-of-order", now=FRI.format("10:15"))
    assert no_reason.code == ExitCode.REFUSED
    assert "--out-of-order needs --reason TEXT" in no_reason.err
    assert purchaser_row(board_json(cli, FRI.format("10:20")), "stonestreet")["steps"]["wired"][
        "status"
    ] != ("done")


def test_a_wire_that_arrived_before_the_prospectus_is_recorded_and_flagged(
    cli: Cli, seed_path: Path
) -> None:
    """The wire really came at 10:15, before anyone marked the prospectus: recorded with the
    option, flagged in `breach`, under the board and in the memo's exceptions; the reason is
    kept with the event."""
    loaded(cli, seed_path)
    cli("mark-signed", "stonestreet", now=FRI.format("08:30"))
    marked = cli(
        "mark-wired",
        "stonestreet",
        "--out-of-order",
        "--reason",
        "wire arrived before the prospectus was marked",
        now=FRI.format("10:15"),
    )
    assert marked.code == 0, marked.err
    assert "⚑ out of order: wired before prospectus_delivered." in marked.out
    cli("mark", "company", "prospectus_delivered", now=FRI.format("10:30"))
    document = board_json(cli, FRI.format("10:40"))
    steps = purchaser_row(document, "stonestreet")["steps"]
    assert steps["wired"]["status"] == "done"
    assert steps["wired"]["breach"] == ["out of order: wired before prospectus_delivered"]
    assert steps["signed"]["breach"] == []
    assert document["company"]["steps"]["prospectus_delivered"]["breach"] == []
    board = cli("status", now=FRI.format("10:40")).out
    assert (
        "⚑ Stonestreet Limited Partnership: out of order: wired before prospectus_delivered"
        in board
    )
    history = cli("history", "stonestreet", "--json", now=FRI.format("10:40"))
    notes = [event["note"] for event in json.loads(history.out)]
    assert "out of order: wire arrived before the prospectus was marked" in notes
    memo = cli("report", "--format", "md", now=FRI.format("10:40"))
    assert memo.code == 0, memo.err
    assert "Purchase price wired: out of order: wired before prospectus\\_delivered" in memo.out


def test_a_mark_in_order_has_no_breach(seeded: Cli) -> None:
    """A wire after the prospectus and the signature carries no flag."""
    seeded("mark-signed", "stonestreet", now=FRI.format("08:30"))
    seeded("mark-wired", "stonestreet", now=FRI.format("10:15"))
    steps = purchaser_row(board_json(seeded, FRI.format("10:20")), "stonestreet")["steps"]
    assert {step: s["breach"] for step, s in steps.items()} == {key: [] for key in steps}


def test_a_signature_dated_before_the_agreement_is_flagged(seeded: Cli) -> None:
    """A signature page faxed the evening before: refused without the option, recorded and
    flagged with it."""
    at = ["--at", "2002-06-06 17:00"]
    refused = seeded("mark-signed", "bnc", *at, now=FRI.format("09:00"))
    assert refused.code == ExitCode.REFUSED
    assert refused.err.endswith(f"check --at, or {ANYWAY}\n")
    marked = seeded(
        "mark-signed", "bnc", *at, "--out-of-order", "--reason", "faxed the evening before"
    )
    assert marked.code == 0, marked.err
    signed = purchaser_row(board_json(seeded, FRI.format("09:00")), "bnc-bach")["steps"]["signed"]
    assert signed["breach"] == ["out of order: dated before the agreement (2002-06-07)"]
    assert signed["done_at"] == "2002-06-06T17:00:00-07:00"


def test_a_fax_dated_before_the_wire_is_flagged(seeded: Cli) -> None:
    """A step dated before the step it requires was done: flagged with the option."""
    seeded("mark-signed", "bnc", now=FRI.format("08:00"))
    seeded("mark-wired", "bnc", "--at", "11:00", now=FRI.format("11:05"))
    args = ["mark-faxed", "bnc", "--at", "10:00"]
    assert seeded(*args, now=FRI.format("11:10")).code == ExitCode.REFUSED
    marked = seeded(*args, "--out-of-order", "--reason", "fax log", now=FRI.format("11:10"))
    assert marked.code == 0, marked.err
    faxed = purchaser_row(board_json(seeded, FRI.format("11:15")), "bnc-bach")["steps"][
        "warrant_faxed"
    ]
    assert faxed["breach"] == ["out of order: warrant_faxed before wired"]


def test_a_wire_outside_the_price_is_recorded_with_the_option(seeded: Cli) -> None:
    """$460,000 for a $450,000 price: refused, then recorded on the operator's word and flagged
    with the figures."""
    seeded("mark-signed", "stonestreet", now=FRI.format("08:30"))
    refused = seeded("mark-wired", "stonestreet", "--amount", "460,000", now=FRI.format("10:00"))
    assert refused.code == ExitCode.REFUSED
    assert f"{ANYWAY}; nothing recorded" in refused.err
    marked = seeded(
        "mark-wired",
        "stonestreet",
        "--amount",
        "460,000",
        "--out-of-order",
        "--reason",
        "purchaser overpaid; refund agreed",
        now=FRI.format("10:00"),
    )
    assert marked.code == 0, marked.err
    wired = purchaser_row(board_json(seeded, FRI.format("10:05")), "stonestreet")["steps"]["wired"]
    assert (wired["status"], wired["received"]) == ("done", "460000.00")
    assert wired["breach"] == [
        "outside the price: received $460,000.00 of $450,000.00 (+$10,000.00)"
    ]


def test_schedule_1_exact_cost_is_paid_in_full(cli: Cli, seed_path: Path) -> None:
    """1,935,483 x $0.2325 = $449,999.80 against a $450,000 price: `init` says so, and a wire of
    exactly that is paid in full, no flag, the $0.20 shown."""
    result = cli("init", str(seed_path), now=FRI.format("07:00"))
    assert result.out.splitlines()[1] == (
        "Note: Stonestreet Limited Partnership: 1,935,483 shares x $0.2325 = $449,999.7975 for "
        "a purchase price of $450,000.00; a wire of $450,000.00 or of $449,999.80 is paid in "
        "full."
    )
    assert len(result.out.splitlines()) == 2  # BNC's 4,000,000 x $0.2325 is its price exactly
    cli("mark", "company", "prospectus_delivered", now=FRI.format("07:30"))
    cli("mark-signed", "stonestreet", now=FRI.format("08:30"))
    paid = cli("mark-wired", "stonestreet", "--amount", "449,999.80", now=FRI.format("10:00"))
    assert paid.code == 0, paid.err
    short = cli("mark-wired", "bnc", "--amount", "929,999.80", now=FRI.format("10:00"))
    assert short.code == ExitCode.REFUSED  # only Schedule 1's own arithmetic, not any cents
    stonestreet = purchaser_row(board_json(cli, FRI.format("10:05")), "stonestreet")
    wired = stonestreet["steps"]["wired"]
    assert (wired["status"], wired["breach"], stonestreet["shortfall"]) == ("done", [], "0.20")
    board = cli("status", now=FRI.format("10:05")).out
    assert "Paid: Stonestreet Limited Partnership: $449,999.80 = 1,935,483 shares x $0.2325" in (
        board.replace("\n", " ")
    )
