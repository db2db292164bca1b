"""The 60-step example checklist (workflows/examples/registered-direct-60-steps.yaml): it loads,
each step is due when the agreement says, and marking every company delivery and every step of
every purchaser, in an order the steps' `requires` allow, on the closing day closes the deal."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from closing.domain.errors import ExitCode
from tests.helpers import ROOT, Cli

EXAMPLE = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"
SLUG = "halvorsen-registered-direct-2019-06-28"
PURCHASERS = {
    "bramblewood": "Bramblewood Capital Master Fund, Ltd.",
    "northgate": "Northgate Healthcare Opportunities Fund, L.P.",
    "laurentian": "Laurentian Life Sciences Partners Inc.",
    "sable-point": "Sable Point Partners LLC",
    "harrow-street": "Harrow Street Investments, L.P.",
}
OPENS = datetime.fromisoformat("2019-06-28T05:00:00-07:00")  # the closing day, in San Diego


def minute(n: int) -> str:
    """The n-th minute after 05:00 PDT on the closing day, as CLOSING_NOW."""
    return (OPENS + timedelta(minutes=n)).isoformat()


def board(cli: Cli, now: str) -> dict[str, Any]:
    result = cli("status", "--json", now=now)
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def ready(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(party, step) for every open step whose prerequisites are all done (`waiting_on` empty):
    the company's first, then each purchaser's in Schedule 1 order."""
    parties = [("company", data["company"]["steps"])]
    parties += [(row["slug"], row["steps"]) for row in data["purchasers"]]
    return [
        (party, step_id)
        for party, steps in parties
        for step_id, status in steps.items()
        if status["status"] in ("pending", "due_soon", "overdue") and not status["waiting_on"]
    ]


def loaded(cli: Cli) -> Cli:
    result = cli("init", str(EXAMPLE), now=minute(0))
    assert result.code == 0, result.err
    first, *notes = result.out.splitlines()
    assert first == f"Loaded deal {SLUG} with 5 purchasers."
    # Schedule 1 rounds each price to whole shares: each says which wires pay it in full.
    assert len(notes) == 5 and all(n.startswith("Note: ") for n in notes), notes
    return cli


def test_the_example_loads_with_each_deadline_from_its_own_cutoff_and_calendars(cli: Cli) -> None:
    """46 company steps and 14 per purchaser. The pricing press release is due 09:30 New York
    time, the wire at Fedwire's close (18:00 New York), the 424(b)(5) two SEC business days after
    the pricing on Thursday June 27, 2019 (Monday July 1), the 8-K four after the signing that day
    (Wednesday July 3), both at EDGAR's 17:30 New York, the listing notice 15 calendar days
    before the closing (Thursday June 13), and the original warrant the next business day: Monday
    July 1, except in Toronto, where Canada Day makes it Tuesday July 2."""
    data = board(loaded(cli), minute(0))
    steps = data["deal"]["steps"]
    parties = [step["party"] for step in steps]
    assert (len(steps), parties.count("company"), parties.count("purchaser")) == (60, 46, 14)
    company = data["company"]["steps"]
    assert company["press_release"]["deadline"] == "2019-06-28T06:30:00-07:00"
    assert company["prospectus_filed"]["deadline"] == "2019-07-01T14:30:00-07:00"
    assert company["form_8k"]["deadline"] == "2019-07-03T14:30:00-07:00"
    assert company["listing_notice"]["deadline"] == "2019-06-13T17:00:00-07:00"
    assert company["closing_set"]["deadline"] == "2019-07-15T17:00:00-07:00"
    assert company["legal_opinion"]["deadline"] == "2019-06-28T17:00:00-07:00"
    originals = {
        row["slug"]: row["steps"]["warrant_delivered"]["deadline"] for row in data["purchasers"]
    }
    assert originals == {
        slug: "2019-07-02T17:00:00-07:00" if slug == "laurentian" else "2019-07-01T17:00:00-07:00"
        for slug in PURCHASERS
    }
    wires = {row["steps"]["wired"]["deadline"] for row in data["purchasers"]}
    assert wires == {"2019-06-28T15:00:00-07:00"}
    harrow = next(row for row in data["purchasers"] if row["slug"] == "harrow-street")
    assert harrow["steps"]["warrant_faxed"]["blocked_by"] == ["notice facsimile number missing"]


def test_marking_through_all_sixty_steps_closes_the_deal(cli: Cli) -> None:
    """Round after round, every step whose prerequisites are done is marked, a minute apart from
    05:01 PDT: 46 company deliveries and 14 steps of each of five purchasers, all before their
    deadlines (Laurentian's wire $15 short, within the $50 tolerance). A mark out of order on the
    way is refused and writes nothing. At the end the deal is closed and the 80-column board
    fits, names every purchaser and says so."""
    loaded(cli)
    marked: list[tuple[str, str]] = []
    clock = 0
    refused_checked = False
    while True:
        now = minute(clock)
        found = ready(board(cli, now))
        if not found:
            break
        if not refused_checked and marked:
            # The escrow cannot be released before the opinions and certificates are in, nor a
            # warrant faxed before its wire: refused, and nothing is written.
            before = (cli("history", "--json", now=now).out, board(cli, now))
            refused = cli("mark", "company", "escrow_release", now=now)
            assert refused.code == ExitCode.REFUSED
            assert refused.err.startswith(
                "Error: cannot mark escrow_release for Halvorsen Therapeutics, Inc.: "
            )
            assert refused.err.endswith(
                " not done; to record it as it happened add --out-of-order --reason TEXT\n"
            )
            faxed = cli("mark-faxed", "laurentian", now=now)
            assert (faxed.code, faxed.err) == (
                ExitCode.REFUSED,
                "Error: cannot mark warrant_faxed for Laurentian Life Sciences Partners Inc.: "
                "wired, warrants_executed and ownership_cap are not done; "
                "to record it as it happened add --out-of-order --reason TEXT\n",
            )
            assert (cli("history", "--json", now=now).out, board(cli, now)) == before
            refused_checked = True
        for party, step_id in found:
            clock += 1
            now = minute(clock)
            if step_id == "wired":
                amount = ["--amount", "1,749,985.00"] if party == "laurentian" else []
                args = ["mark-wired", party, *amount, "--reference", f"FED {party.upper()}"]
            else:
                args = ["mark", party, step_id]
            result = cli(*args, now=now)
            assert result.code == 0, (args, result.err)
            assert result.out.startswith(f"Marked {step_id} for "), result.out
            marked.append((party, step_id))
    assert refused_checked
    assert len(marked) == len(set(marked)) == 46 + 5 * 14
    assert clock < 12 * 60  # every mark on the closing day, before 17:00

    end = minute(clock)
    data = board(cli, end)
    assert data["deal"]["closed"] is True
    assert data["company"]["closed"] is True
    assert {row["slug"]: row["state"] for row in data["purchasers"]} == dict.fromkeys(
        PURCHASERS, "closed"
    )
    statuses = {
        status["status"]
        for steps in [data["company"]["steps"], *(row["steps"] for row in data["purchasers"])]
        for status in steps.values()
    }
    # Everything on time but the listing notice, due before the agreement existed (marks before
    # the agreement date are refused): done on the closing day, late.
    late = {
        step_id
        for steps in [data["company"]["steps"], *(row["steps"] for row in data["purchasers"])]
        for step_id, status in steps.items()
        if status["status"] != "done"
    }
    assert (statuses, late) == ({"done", "done_late"}, {"listing_notice"})
    assert data["totals"]["amount_received"] == "9999985.00"
    laurentian = next(row for row in data["purchasers"] if row["slug"] == "laurentian")
    assert laurentian["shortfall"] == "15.00"

    cli.monkeypatch.setenv("COLUMNS", "80")
    text = cli("status", now=end).out
    lines = [line.rstrip() for line in text.splitlines()]
    assert max(len(line) for line in lines) <= 80, text
    assert "  DEAL CLOSED" in text
    company_line = next(line for line in lines if line.startswith("Company: "))
    assert re.fullmatch(r"Company: 46/46 done · LAS filed ✓ \d\d:\d\d late", company_line), text
    for name in PURCHASERS.values():
        assert any(re.fullmatch(rf"{re.escape(name)} +14/14 +closed", line) for line in lines), (
            name,
            text,
        )


def test_the_money_leaving_escrow_is_due_by_fedwires_close(cli: Cli) -> None:
    """The escrow release and the placement agent's fee go out by wire: like each purchaser's
    wire, they are due by Fedwire's close (18:00 New York, 15:00 in San Diego) on the closing
    day, whatever the agreement's 17:00."""
    data = board(loaded(cli), minute(7 * 60))  # noon
    steps = data["company"]["steps"]
    for step_id in ("escrow_release", "pa_fee"):
        assert steps[step_id]["deadline"] == "2019-06-28T15:00:00-07:00", step_id
    assert steps["closing_memo"]["deadline"] == "2019-06-28T17:00:00-07:00"  # not a wire


def test_a_company_step_recorded_out_of_order_keeps_its_reason_and_says_its_flag(cli: Cli) -> None:
    """The closing memo circulated before the pricing committee's minutes: recorded with
    --out-of-order, the mark says what it flags and the history keeps the reason, as a
    purchaser's out-of-order mark does."""
    at = "2019-06-28T12:00:00-07:00"
    assert cli("init", str(EXAMPLE), now=at).code == 0
    refused = cli("mark", "company", "closing_memo", now=at)
    assert refused.code == ExitCode.REFUSED and "pricing_committee" in refused.err
    reason = "circulated in agreed form before the minutes"
    marked = cli("mark", "company", "closing_memo", "--out-of-order", "--reason", reason, now=at)
    assert marked.code == 0, marked.err
    assert "⚑ out of order: closing_memo before pricing_committee" in marked.out
    last = json.loads(cli("history", "company", "--json", now=at).out)[-1]
    assert (last["step"], last["note"]) == ("closing_memo", f"out of order: {reason}")
