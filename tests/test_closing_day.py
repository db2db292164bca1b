"""The seed closing driven through a whole closing day from the command line, clock frozen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import Cli, board_json, statuses

FRI = "2002-06-07T{}:00-07:00"
MON = "2002-06-10T{}:00-07:00"


def stripped(text: str) -> str:
    """Rich pads table cells with spaces; compare without trailing ones."""
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def test_the_board_before_anything_happens(seeded: Cli) -> None:
    """At 09:00 the signatures are pending with 8h left and the wires 6h (Fedwire closes at
    15:00 PDT), the warrant, the original and the DWAC credit are held until the wire is in, the
    company's prospectus supplement is delivered and its filing due Tuesday (EDGAR: 14:30 PDT),
    and blank details flag the wire (no company wire instructions), the fax, the original and
    the DWAC credit as blocked."""
    result = seeded("status", now=FRI.format("09:00"))
    assert result.code == 0
    assert stripped(result.out) == (
        "NeoTherapeutics, Inc. Securities Purchase Agreement (shares and warrants)\n"
        "neotherapeutics-2002-06-07 · closing Fri 2002-06-07 · cutoff 17:00 PDT\n"
        "now 2002-06-07 09:00 PDT · times in America/Los_Angeles\n"
        "\n"
        "Company: Prospectus ✓ 07:30 · 424(b)(5) 4d5h\n"
        "Purchaser                         Signed   Wired     Faxed    Original   DWAC\n"
        "───────────────────────────────────────────────────────────────────────────────\n"
        "Stonestreet Limited Partnership   8h00m    6h00m ⚑   held ⚑   held ⚑     held ⚑\n"
        "BNC Bach International, Ltd.      8h00m    6h00m ⚑   held ⚑   held ⚑     held ⚑\n"
        "\n"
        "0/2 closed                        0/2      0/2       0/2      0/2        0/2\n"
        "5,935,483 shares · 593,548 warrant shares\n"
        "Received $0.00 of $1,380,000.00\n"
        "Blocked: Stonestreet Limited Partnership: Wired needs company wire instructions; Faxed "
        "needs notice\nfacsimile number; Original needs notice address; DWAC needs DTC "
        "participant number, DWAC account\nnumber\n"
        "Blocked: BNC Bach International, Ltd.: Wired needs company wire instructions; Faxed "
        "needs notice\nfacsimile number; Original needs notice address; DWAC needs DTC "
        "participant number, DWAC account\nnumber\n"
        "✓ done · ! due within 2h · ✗ late by · ⚑ blocked: a detail is missing · ⚠ needs "
        "attention\n"
    )


def test_the_json_board_has_totals_and_exact_money(seeded: Cli) -> None:
    """Totals match Schedule 1 and money is exact text."""
    data = board_json(seeded, FRI.format("09:00"))
    assert data["as_of"] == "2002-06-07T09:00:00-07:00"
    assert data["totals"]["shares"] == 5_935_483
    assert data["totals"]["purchase_price"] == "1380000.00"
    assert data["totals"]["warrant_shares"] == 593_548
    stonestreet = data["purchasers"][0]
    assert stonestreet["name"] == "Stonestreet Limited Partnership"
    assert stonestreet["purchase_price"] == "450000.00"
    assert stonestreet["state"] == "new"
    assert stonestreet["withdrawn"] is False
    assert stonestreet["steps"]["wired"] == {
        "status": "pending",
        "deadline": "2002-06-07T17:00:00-07:00",
        "practical_deadline": "2002-06-07T15:00:00-07:00",
        "done_at": None,
        "done_by": None,
        "on_behalf_of": None,
        "late_by": None,
        "blocked_by": ["company wire instructions missing"],
        "waiting_on": ["signed"],
        "attention": [],
        "breach": [],
        "owner": "purchaser",
        "received": "0.00",
    }
    company = data["company"]["steps"]
    assert company["prospectus_delivered"]["status"] == "done"
    assert company["prospectus_filed"]["deadline"] == "2002-06-11T14:30:00-07:00"  # EDGAR
    assert stonestreet["steps"]["dwac_credited"]["blocked_by"] == [
        "DTC participant number missing",
        "DWAC account number missing",
    ]
    assert stonestreet["steps"]["warrant_delivered"]["deadline"] == "2002-06-10T17:00:00-07:00"


def test_a_whole_closing_day(seeded: Cli) -> None:
    """Sign, wire, fax, DWAC on Friday, originals on Monday: every step lands and the deal
    closes; the board shows due soon before the cutoff and overdue after it."""
    assert (
        seeded(
            "mark-signed", "stonestreet", "--at", FRI.format("08:30"), now=FRI.format("08:31")
        ).code
        == 0
    )
    assert seeded("mark-signed", "bnc", now=FRI.format("09:05")).code == 0
    wired = seeded("mark-wired", "stone", "--reference", "FED 0123", now=FRI.format("10:15"))
    assert wired.out == (
        "Marked wired for Stonestreet Limited Partnership at 2002-06-07 10:15 PDT by alice "
        "($450,000.00). Still to do: warrant_faxed, warrant_delivered, dwac_credited.\n"
    )
    assert (
        seeded(
            "mark-faxed", "stonestreet", "--confirmation", "fax 4471", now=FRI.format("11:00")
        ).code
        == 0
    )

    at_1530 = board_json(seeded, FRI.format("15:30"))
    assert statuses(at_1530, "bnc-bach")["wired"] == "overdue"  # Fedwire closed at 15:00
    assert statuses(at_1530, "stonestreet")["wired"] == "done"
    assert at_1530["totals"]["amount_received"] == "450000.00"

    at_1705 = board_json(seeded, FRI.format("17:05"))
    assert statuses(at_1705, "bnc-bach")["wired"] == "overdue"
    assert statuses(at_1705, "stonestreet")["dwac_credited"] == "overdue"
    # The original warrant is due Monday, not yet late; its missing address is flagged apart.
    assert statuses(at_1705, "stonestreet")["warrant_delivered"] == "pending"
    stonestreet = at_1705["purchasers"][0]["steps"]["warrant_delivered"]
    assert stonestreet["blocked_by"] == ["notice address missing"]

    # The wire lands late, and is recorded with the time it arrived.
    assert (
        seeded(
            "mark-wired",
            "bnc",
            "--at",
            FRI.format("17:10"),
            "--amount",
            "930,000.00",
            now=FRI.format("17:20"),
        ).code
        == 0
    )
    assert seeded("mark-faxed", "bnc", now=FRI.format("17:30")).code == 0
    assert (
        seeded(
            "mark-dwac", "stonestreet", "--confirmation", "DTC 88213", now=FRI.format("17:40")
        ).code
        == 0
    )
    assert seeded("mark-dwac", "bnc", now=FRI.format("17:45")).code == 0
    assert (
        seeded(
            "mark-delivered", "stonestreet", "--tracking", "FedEx 7901", now=MON.format("10:20")
        ).code
        == 0
    )
    last = seeded("mark-delivered", "bnc", now=MON.format("11:05"))
    assert last.out.endswith("Every step is done: BNC Bach International, Ltd. is closed.\n")
    assert board_json(seeded, MON.format("11:30"))["deal"]["closed"] is False  # 424(b)(5) open
    filed = seeded("mark", "company", "424(b)(5)", now=MON.format("11:30"))
    assert filed.out.endswith("Every step is done: the company is closed.\n")

    final = board_json(seeded, MON.format("12:00"))
    assert final["deal"]["closed"] is True
    assert final["totals"]["closed"] == 2
    assert final["totals"]["amount_received"] == "1380000.00"
    assert all(p["state"] == "closed" for p in final["purchasers"])
    bnc = next(p for p in final["purchasers"] if p["slug"] == "bnc-bach")
    assert bnc["steps"]["wired"]["done_at"] == "2002-06-07T17:10:00-07:00"
    assert bnc["steps"]["wired"]["done_by"] == "alice"
    # Late marks stay late in the record: ten minutes past the cutoff.
    assert bnc["steps"]["wired"]["status"] == "done_late"
    assert bnc["steps"]["wired"]["late_by"] == 600

    text = seeded("status", now=MON.format("12:00")).out
    assert "DEAL CLOSED" in text
    assert "\n2/2 closed " in text
    assert "Received $1,380,000.00 of $1,380,000.00" in text


def test_as_of_shows_the_board_as_it_stood(seeded: Cli) -> None:
    """--as-of replays only the events recorded by then."""
    seeded("mark-signed", "stonestreet", now=FRI.format("08:30"))
    seeded("mark-wired", "stonestreet", now=FRI.format("10:15"))
    earlier = board_json(seeded, FRI.format("16:00"), "--as-of", FRI.format("09:00"))
    assert earlier["as_of"] == "2002-06-07T09:00:00-07:00"
    assert statuses(earlier, "stonestreet")["signed"] == "done"
    assert statuses(earlier, "stonestreet")["wired"] == "pending"
    assert earlier["purchasers"][0]["state"] == "signed"
    later = board_json(seeded, FRI.format("16:00"))
    assert later["purchasers"][0]["state"] == "wired"


def test_as_of_shows_schedule_1_as_it_stood(seeded: Cli, seed_path: Path) -> None:
    """A purchaser added by a reload at 12:00 is not on the board as of 10:00; one taken off
    Schedule 1 at 12:00 still is (and neither counts the other way round after 12:00)."""
    text = seed_path.read_text()
    bnc = text[text.index("  - name: BNC Bach") :]
    added = bnc.replace("BNC Bach International, Ltd.", "Cranshire Capital").replace(
        "slug: bnc-bach", "slug: cranshire"
    )
    seed_path.write_text(text.replace(bnc, added))  # bnc-bach off, cranshire on
    reloaded = seeded("init", str(seed_path), now=FRI.format("12:00"))
    assert reloaded.code == 0, reloaded.err

    def slugs(document: dict[str, Any]) -> list[str]:
        return [row["slug"] for row in document["purchasers"]]

    earlier = board_json(seeded, FRI.format("16:00"), "--as-of", FRI.format("10:00"))
    assert slugs(earlier) == ["stonestreet", "bnc-bach"]
    assert earlier["totals"]["purchase_price"] == "1380000.00"
    later = board_json(seeded, FRI.format("16:00"), "--as-of", FRI.format("13:00"))
    assert slugs(later) == ["stonestreet", "cranshire"]
    assert slugs(board_json(seeded, FRI.format("16:00"))) == slugs(later)
    before_loaded = board_json(seeded, FRI.format("16:00"), "--as-of", FRI.format("06:00"))
    assert slugs(before_loaded) == []


def test_as_of_before_a_reload_says_the_terms_are_those_loaded_now(
    seeded: Cli, seed_path: Path
) -> None:
    """The closing moved to Monday at 17:30: the board and the memo as of 17:10 say the deal file
    was reloaded since (their deadlines are Monday's); as of 17:40, nothing to say."""
    seed_path.write_text(
        seed_path.read_text().replace("closing_date: 2002-06-07", "closing_date: 2002-06-10")
    )
    moved = seeded("init", str(seed_path), "--accept-changes", now=FRI.format("17:30"))
    assert moved.code == 0, moved.err
    earlier = board_json(seeded, FRI.format("18:00"), "--as-of", FRI.format("17:10"))
    (reload,) = earlier["deal"]["reloaded_since"]
    assert reload["at"].startswith("2002-06-07T17:30")
    assert "closing_date: 2002-06-07 -> 2002-06-10" in reload["changes"]
    text = seeded("status", "--as-of", FRI.format("17:10"), now=FRI.format("18:00")).out
    assert "Terms and deadlines as loaded now: the deal file was reloaded since (2002-06-07 " in (
        " ".join(text.split())
    )
    memo = seeded(
        "report", "--format", "md", "--as-of", FRI.format("17:10"), now=FRI.format("18:00")
    )
    assert memo.code == 0, memo.err
    assert "The deal file was reloaded since (Fri 2002-06-07 17:30 PDT: closing" in memo.out
    later = board_json(seeded, FRI.format("18:00"), "--as-of", FRI.format("17:40"))
    assert later["deal"]["reloaded_since"] == []
    assert board_json(seeded, FRI.format("18:00"))["deal"]["reloaded_since"] == []


def test_the_original_warrant_is_due_the_business_day_after_the_closing(seeded: Cli) -> None:
    """ "On the next following business day" counts from the closing: a warrant faxed late, on
    Monday June 10, is still due in original that Monday at 17:00 PDT, not on Tuesday."""
    seeded("mark-signed", "bnc", now=FRI.format("09:00"))
    seeded("mark-wired", "bnc", now=FRI.format("10:00"))
    seeded("mark-faxed", "bnc", now=MON.format("09:00"))
    data = board_json(seeded, MON.format("09:30"))
    bnc = next(p for p in data["purchasers"] if p["slug"] == "bnc-bach")
    assert bnc["steps"]["warrant_delivered"]["deadline"] == "2002-06-10T17:00:00-07:00"
    assert bnc["steps"]["warrant_faxed"]["status"] == "done_late"


def test_undo_is_a_new_event_and_the_step_can_be_marked_again(seeded: Cli) -> None:
    """A correction never deletes: the history keeps the mark, the undo and the new mark."""
    seeded("mark-signed", "bnc", now=FRI.format("09:00"))
    seeded("mark-wired", "bnc", now=FRI.format("10:00"))
    undone = seeded(
        "undo", "bnc", "wired", "--reason", "wire was for another deal", now=FRI.format("10:30")
    )
    assert undone.code == 0
    assert undone.out.startswith("Undid wired for BNC Bach International, Ltd.")
    assert statuses(board_json(seeded, FRI.format("10:31")), "bnc-bach")["wired"] == "pending"
    assert seeded("mark-wired", "bnc", now=FRI.format("11:00")).code == 0
    history = json.loads(seeded("history", "bnc", "--json", now=FRI.format("11:01")).out)
    assert [(e["seq"], e["kind"], e["step"]) for e in history] == [
        (1, "mark", "signed"),
        (2, "mark", "wired"),
        (3, "undo", "wired"),
        (4, "mark", "wired"),
    ]
    assert history[2]["note"] == "wire was for another deal"
    assert history[1]["amount"] == "930000"


def test_history_lists_every_event_with_who_and_where(seeded: Cli) -> None:
    """The history names the operator and the host of each event."""
    seeded(
        "mark-signed", "stonestreet", "--by", "bob", "--note", "fax page 3", now=FRI.format("08:30")
    )
    events = json.loads(seeded("history", "stonestreet", "--json", now=FRI.format("09:00")).out)
    assert len(events) == 1
    assert (events[0]["actor"], events[0]["on_behalf_of"]) == ("alice", "bob")
    assert events[0]["host"]
    assert events[0]["note"] == "fax page 3"
    assert events[0]["occurred_at"] == "2002-06-07T08:30:00-07:00"


def test_deals_lists_the_loaded_deal(seeded: Cli) -> None:
    """`closing deals --json` names the deal, its cutoff and its counts."""
    data = json.loads(seeded("deals", "--json").out)
    assert data == [
        {
            "slug": "neotherapeutics-2002-06-07",
            "title": "NeoTherapeutics, Inc. Securities Purchase Agreement (shares and warrants)",
            "closing_date": "2002-06-07",
            "cutoff": "2002-06-07T17:00:00-07:00",
            "purchasers": 2,
            "events": 2,  # alice made admin by the first load; the prospectus delivered
        }
    ]


def test_the_demo_replays_the_seed_closing_to_the_end(cli: Cli) -> None:
    """`closing demo` (the README's first command) finds the seed deal and closes it, in a
    scratch database of its own: CLOSING_DATABASE_URL's is left as it was."""
    result = cli("demo")
    assert result.code == 0, result.err
    assert "2002-06-07 07:45 PDT  company      prospectus_delivered" in result.out
    assert "DEAL CLOSED" in result.out
    listed = cli("deals", "--json")
    assert listed.out.strip() == "[]" or listed.err.startswith("Error: no database at ")


def test_the_demo_uses_the_database_given_on_the_command_line(cli: Cli, tmp_path: Path) -> None:
    kept = tmp_path / "demo-kept.db"
    assert cli("--database", str(kept), "demo").code == 0
    shown = cli("--database", str(kept), "deals", "--json")
    assert [d["events"] for d in json.loads(shown.out)] == [13]


def test_event_numbers_run_per_deal(seeded: Cli, seed_path: Path, tmp_path: Path) -> None:
    """What people are shown as an event's number is its place in its deal's log: with two
    deals loaded, the second deal's history starts at #1 (its database ids, in --json's `id`,
    go on from the first deal's)."""
    seeded("mark-signed", "stonestreet", now=FRI.format("08:30"))
    second = tmp_path / "second.yaml"
    second.write_text(seed_path.read_text().replace("slug: neotherapeutics-2002-06-07", ""))
    assert seeded("init", str(second), now=FRI.format("07:00")).code == 0
    for args, at in [
        (("mark", "company", "prospectus_delivered"), "09:00"),
        (("mark-signed", "bnc"), "09:10"),
    ]:
        assert seeded(*args, "--deal", "second", now=FRI.format(at)).code == 0
    shown = seeded("history", "--deal", "second", now=FRI.format("09:30")).out.splitlines()
    # #1 of each deal: its first load made alice its admin
    heads = [line for line in shown if not line.startswith(" ")]  # details are indented
    assert [line.split("  ")[0] for line in heads] == ["#1", "#2", "#3"]
    assert heads[2] == "#3  2002-06-07 09:10 PDT  mark signed  BNC Bach International, Ltd."
    one = seeded("history", "bnc", "--deal", "second", now=FRI.format("09:30")).out
    assert one.startswith("#3  2002-06-07 09:10 PDT  mark signed")
    listed = json.loads(seeded("history", "--deal", "second", "--json").out)
    assert [(e["number"], e["id"]) for e in listed] == [(1, 4), (2, 5), (3, 6)]
    first = json.loads(seeded("history", "--json", "--deal", "neotherapeutics").out)
    assert [(e["number"], e["id"]) for e in first] == [(1, 1), (2, 2), (3, 3)]
