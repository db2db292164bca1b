"""Delivery versus payment: the seed's warrant, original and DWAC steps are `held_until: wired`.
Held steps have a status of their own (`held`), get no alerts and are marked only with
`--out-of-order`; a reversal after delivery opens remediation items that keep the deal open until
done (`reverse`) or waived (`waive`), a withdrawn purchaser's included."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from closing.domain.errors import ExitCode
from tests.helpers import Cli, board_json, purchaser_row, statuses

FRI = "2002-06-07T{}:00-07:00"
MON = "2002-06-10T{}:00-07:00"


def delivered_then_reversed(cli: Cli) -> Cli:
    """Stonestreet wired, was faxed and credited on Friday; Monday its funds were sent back."""
    for args, now in [
        (("mark-signed", "stonestreet"), FRI.format("08:30")),
        (("mark-wired", "stonestreet"), FRI.format("10:15")),
        (("mark-faxed", "stonestreet"), FRI.format("15:45")),
        (("mark-dwac", "stonestreet"), FRI.format("15:45")),
        (("reverse", "stonestreet", "wired", "--reason", "funds sent back"), MON.format("09:00")),
    ]:
        result = cli(*args, now=now)
        assert result.code == 0, result.err
    return cli


def test_before_the_wire_the_deliveries_are_held(seeded: Cli) -> None:
    """Until the payment is in, the warrant, the original and the DWAC credit are `held`, not
    counted down to their cutoff; the board says `held`, and the totals count them."""
    seeded("mark-signed", "bnc", now=FRI.format("09:00"))
    document = board_json(seeded, FRI.format("14:30"))
    assert statuses(document, "bnc-bach") == {
        "signed": "done",
        "wired": "due_soon",
        "warrant_faxed": "held",
        "warrant_delivered": "held",
        "dwac_credited": "held",
    }
    assert document["totals"]["steps"]["dwac_credited"]["held"] == 2
    board = seeded("status", now=FRI.format("14:30")).out
    bnc = next(line for line in board.splitlines() if line.startswith("BNC"))
    assert bnc.split()[-6:] == ["held", "⚑", "held", "⚑", "held", "⚑"]
    seeded("mark-wired", "bnc", now=FRI.format("15:40"))
    after = statuses(board_json(seeded, FRI.format("15:45")), "bnc-bach")
    assert after["warrant_faxed"] == after["dwac_credited"] == "due_soon"


def test_a_held_step_is_marked_only_out_of_order(seeded: Cli) -> None:
    """The original is held after the reversal: marking it is refused, naming the option, and
    recorded and flagged with it."""
    delivered_then_reversed(seeded)
    refused = seeded("mark-delivered", "stonestreet", now=MON.format("10:00"))
    assert refused.code == ExitCode.REFUSED
    assert refused.err == (
        "Error: cannot mark warrant_delivered for Stonestreet Limited Partnership: it is held "
        "until wired is done (delivery against payment); to record it as it happened add "
        "--out-of-order --reason TEXT\n"
    )
    marked = seeded(
        "mark-delivered",
        "stonestreet",
        "--out-of-order",
        "--reason",
        "courier left before the reversal was known",
        now=MON.format("10:00"),
    )
    assert marked.code == 0, marked.err
    delivered = purchaser_row(board_json(seeded, MON.format("10:05")), "stonestreet")["steps"]
    assert delivered["warrant_delivered"]["breach"] == [
        "out of order: warrant_delivered while held until wired"
    ]


def test_a_reversal_after_delivery_opens_remediation_until_done_or_waived(seeded: Cli) -> None:
    """Stonestreet's funds went back after its warrant was faxed and its shares credited: the
    original is held (not chased), the board and memo list the remediation, and it goes when the
    DWAC credit is reversed and the warrant's cancellation waived."""
    delivered_then_reversed(seeded)
    document = board_json(seeded, MON.format("09:05"))
    stonestreet = purchaser_row(document, "stonestreet")
    assert stonestreet["remediation"] == ["warrant cancellation", "DWAC withdrawal"]
    assert stonestreet["steps"]["warrant_delivered"]["status"] == "held"
    board = seeded("status", now=MON.format("09:05")).out
    assert (
        "Remediate: Stonestreet Limited Partnership: warrant cancellation, DWAC withdrawal" in board
    )
    memo = seeded("report", "--format", "md", now=MON.format("09:05")).out
    assert "Remediate: warrant cancellation, DWAC withdrawal" in memo
    assert "## Held against payment" in memo
    assert "Original warrant delivered: held until Purchase price wired is in" in memo
    # Still open lists every open item (issue 23), a held one as held, not as overdue
    still_open = memo.split("## Still open", 1)[1].split("\n## ", 1)[0]
    held = next(line for line in still_open.splitlines() if "Original warrant delivered" in line)
    assert "held until Purchase price wired is in" in held and "overdue" not in held

    reversed_credit = seeded(
        "reverse",
        "stonestreet",
        "dwac_credited",
        "--reason",
        "DWAC withdrawn",
        now=MON.format("09:30"),
    )
    assert reversed_credit.code == 0, reversed_credit.err
    assert purchaser_row(board_json(seeded, MON.format("09:35")), "stonestreet")["remediation"] == [
        "warrant cancellation"
    ]
    waived = seeded(
        "waive",
        "stonestreet",
        "warrant_faxed",
        "--reason",
        "fax copy void",
        now=MON.format("09:40"),
    )
    assert waived.code == 0, waived.err
    after = purchaser_row(board_json(seeded, MON.format("09:45")), "stonestreet")
    assert after["remediation"] == []
    assert after["steps"]["warrant_faxed"]["status"] == "done"  # it stays delivered, on purpose


def test_a_withdrawn_purchaser_with_deliveries_keeps_the_deal_open(seeded: Cli) -> None:
    """Withdrawing Stonestreet after its funds went back does not close the deal while its
    shares and warrant are out: only once the remediation is done or waived."""
    delivered_then_reversed(seeded)
    for args in [
        ("mark-signed", "bnc"),
        ("mark-wired", "bnc"),
        ("mark-faxed", "bnc"),
        ("mark-dwac", "bnc"),
        ("mark-delivered", "bnc"),
        ("mark", "company", "prospectus_filed"),
        ("withdraw", "stonestreet", "--reason", "never funded again"),
    ]:
        result = seeded(*args, now=MON.format("10:00"))
        assert result.code == 0, result.err
    document = board_json(seeded, MON.format("10:05"))
    assert document["totals"]["closed"] == document["totals"]["purchasers"] == 1
    assert purchaser_row(document, "stonestreet")["remediation"] == [
        "warrant cancellation",
        "DWAC withdrawal",
    ]
    assert document["deal"]["closed"] is False
    for step in ("warrant_faxed", "dwac_credited"):
        waived = seeded("waive", "stonestreet", step, "--reason", "kept", now=MON.format("10:10"))
        assert waived.code == 0, waived.err
    assert board_json(seeded, MON.format("10:15"))["deal"]["closed"] is True


def test_no_alert_chases_a_held_step(seeded: Cli, tmp_path: Path) -> None:
    """After the reversal the alert sender chases the wire, never the held original."""
    delivered_then_reversed(seeded)
    checked = seeded("alerts", "check", now=MON.format("16:45"))
    assert checked.code == 0, checked.err
    listed = seeded("alerts", "list", "--json", now=MON.format("16:46"))
    steps = {(alert["purchaser"], alert["step"]) for alert in json.loads(listed.out)}
    assert ("stonestreet", "wired") in steps
    assert ("stonestreet", "warrant_delivered") not in steps


def test_a_deal_file_of_the_current_release_loads_without_holds(cli: Cli, seed_path: Path) -> None:
    """Without `held_until` (the seed as the last release shipped it) nothing is held."""
    text = seed_path.read_text()
    seed_path.write_text(text.replace("    held_until: wired\n", ""))
    assert cli("init", str(seed_path), now=FRI.format("07:00")).code == 0
    cli("mark-signed", "bnc", now=FRI.format("09:00"))
    held = statuses(board_json(cli, FRI.format("10:00")), "bnc-bach")
    assert "held" not in held.values()


def test_deal_terms_stored_by_the_current_release_still_read(cli: Cli, seed_path: Path) -> None:
    """A database whose stored deal terms predate `held_until`, `remedy`, `lapses_at` and
    `outside_date` (as the current release stores them) reads unchanged, on both backends:
    nothing held, nothing lapsed; reloading today's seed then holds the deliveries, a change
    listed in words."""
    import orjson

    from closing.store.connection import Database
    from closing.store.facts import record_facts

    assert cli("init", str(seed_path), now=FRI.format("07:00")).code == 0
    database = Database(cli.database_url)
    with database.transaction() as connection:
        stored = orjson.loads(connection.value("SELECT terms_json FROM deal"))
        assert stored["outside_date"] is None
        del stored["outside_date"]
        for step in stored["steps"]:
            for key in ("held_until", "remedy", "lapses_at"):
                del step[key]
        connection.execute("UPDATE deal SET terms_json = ?", [orjson.dumps(stored).decode()])
        # as that release recorded them (its terms are a fact of the record)
        record_facts(connection, int(connection.value("SELECT id FROM deal")), datetime.now(UTC))
    database.close_all()
    cli("mark-signed", "bnc", now=FRI.format("09:00"))
    before = board_json(cli, FRI.format("10:00"))
    assert "held" not in statuses(before, "bnc-bach").values()
    assert before["deal"]["lapsed"] is False
    reloaded = cli("init", str(seed_path), now=FRI.format("10:05"))
    assert reloaded.code == 0, reloaded.err
    assert reloaded.out.startswith("Updated deal neotherapeutics-2002-06-07:")
    assert statuses(board_json(cli, FRI.format("10:10")), "bnc-bach")["dwac_credited"] == "held"
