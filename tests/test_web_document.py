"""What a web page shows, from the status JSON document: pure functions, no server."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from closing.views.board_page import PUBLIC_DEAL_KEYS, css_name, for_purchaser, status_label, view
from tests.helpers import Cli

NOW = "2002-06-07T15:30:00-07:00"


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """Only the status document is under test here: SQLite makes it."""
    return sqlite_url


def document(cli: Cli) -> dict[str, Any]:
    for args, at in [
        (("mark-signed", "stonestreet"), "08:30"),
        (("mark-signed", "bnc"), "09:10"),
        (("mark-wired", "stonestreet"), "10:15"),
    ]:
        assert cli(*args, now=f"2002-06-07T{at}:00-07:00").code == 0
    result = cli("status", "--json", now=NOW)
    data: dict[str, Any] = json.loads(result.out)
    return data


def test_a_purchaser_sees_its_row_and_the_public_heading_only(seeded: Cli) -> None:
    """The filtered document keeps the deal's public heading, that purchaser's row and the
    company's steps, and nothing else: no other row, no totals, no alert counts, no `closed` flag
    of the deal, nothing added to the document later."""
    full = document(seeded)
    full["deal"]["secret_future_field"] = "BNC's wire reference"
    full["company"]["internal"] = "BNC's wire reference"
    full["totals_by_party"] = {"bnc-bach": "930000.00"}
    mine = for_purchaser(full, "stonestreet")
    assert set(mine) == {"deal", "as_of", "purchasers", "company"}
    assert set(mine["deal"]) == set(PUBLIC_DEAL_KEYS)
    assert mine["company"] == {"steps": full["company"]["steps"]}
    assert [row["slug"] for row in mine["purchasers"]] == ["stonestreet"]
    assert mine["purchasers"][0] == full["purchasers"][0]
    text = json.dumps(mine)
    for word in ["BNC", "Bach", "bnc-bach", "930000", "1380000", "secret_future_field"]:
        assert word not in text
    assert for_purchaser(full, "nobody")["purchasers"] == []


def test_company_steps_have_their_own_table(seeded: Cli) -> None:
    """The company's deliveries (`company.steps`) are drawn apart from the purchasers' columns,
    on every link."""
    mine = view(for_purchaser(document(seeded), "stonestreet"), team=False)
    delivered, filed = mine.company_cells
    assert (delivered.heading, delivered.label, delivered.detail) == (
        "Prospectus supplement delivered",
        "Done",
        "07:30",
    )
    assert (filed.label, filed.detail) == ("Pending", "3d 23h left")  # EDGAR, 14:30 PDT
    assert [step_id for step_id, _ in mine.steps] == [
        "signed",
        "wired",
        "warrant_faxed",
        "warrant_delivered",
        "dwac_credited",
    ]


def test_each_step_is_told_in_words(seeded: Cli) -> None:
    """Done shows when; an open step the time left; a step missing a detail says which (⚑) and
    gets the `blocked` class, one waiting for another says so."""
    stonestreet, bnc = view(document(seeded), team=True).rows
    cells = {c.step: c for c in stonestreet.cells}
    assert (cells["signed"].label, cells["signed"].symbol, cells["signed"].detail) == (
        "Done",
        "✓",
        "08:30",
    )
    faxed = cells["warrant_faxed"]
    assert (faxed.label, faxed.detail, faxed.css, faxed.flags) == (
        "Due soon",
        "1h 30m left",
        "status-due_soon",
        "blocked",
    )
    assert faxed.notes == ("⚑ needs notice facsimile number",)
    assert cells["warrant_delivered"].notes == ("⚑ needs notice address", "after Warrant faxed")
    wired = {c.step: c for c in bnc.cells}["wired"]
    assert (wired.label, wired.detail) == ("Late", "by 30m")  # Fedwire closed at 15:00 PDT


def test_late_waived_reversed_and_withdrawn_as_the_board_says(seeded: Cli) -> None:
    """What `closing status --json` says after a reversal, a waiver, a partial wire and a
    withdrawal is shown in words: late and by how much, waived, the reversal's attention note on
    the step done on top of it, a withdrawn purchaser with its reason and what it sent, listed
    last."""
    document(seeded)
    for args, at in [
        (("mark-faxed", "stonestreet"), "15:00"),
        (("reverse", "stonestreet", "wired", "--reason", "wire returned"), "15:10"),
        (("waive", "stonestreet", "dwac_credited", "--reason", "DRS, not DWAC"), "15:20"),
        (("mark-wired", "bnc", "--amount", "465,000", "--partial", "--at", "17:30"), "17:40"),
        (("withdraw", "bnc", "--reason", "never funded the rest"), "17:50"),
    ]:
        result = seeded(*args, now=f"2002-06-07T{at}:00-07:00")
        assert result.code == 0, result.err
    data = json.loads(seeded("status", "--json", now="2002-06-07T18:00:00-07:00").out)
    page = view(data, team=True, max_rows=1)
    cells = {c.step: c for c in view(data, team=True).rows[0].cells}
    assert (cells["wired"].label, cells["wired"].detail) == (
        "Late",
        "by 3h 00m",
    )  # Fedwire closed 15:00
    assert cells["warrant_faxed"].flags == "attention"
    assert cells["warrant_faxed"].notes[0].startswith("attention: ")
    assert "wire returned" in cells["warrant_faxed"].notes[0]
    assert (cells["dwac_credited"].label, cells["dwac_credited"].css) == (
        "Waived",
        "status-waived",
    )
    bnc = view(data, team=True).rows[1]
    assert bnc.badges == ("Withdrawn",)
    assert bnc.notes == ("withdrawn: never funded the rest",)
    wired = {c.step: c for c in bnc.cells}["wired"]  # part of the price came, then it withdrew
    assert (wired.label, wired.detail, wired.css) == ("Withdrawn", "", "status-withdrawn")
    assert wired.notes == ("$465,000.00 received",)
    signed = {c.step: c for c in bnc.cells}["signed"]  # what it did before stays as it was
    assert (signed.label, signed.css) == ("Done", "status-done")
    assert [row.slug for row in page.rows] == ["stonestreet"]  # withdrawn: last


def test_a_status_this_version_does_not_know_is_shown_by_its_name(seeded: Cli) -> None:
    """A status added later gets its own name as label and a CSS class named after it (made safe
    for an attribute)."""
    changed = copy.deepcopy(document(seeded))
    changed["purchasers"][0]["steps"]["signed"]["status"] = "on_hold"
    changed["purchasers"][0]["steps"]["wired"]["status"] = "<img src=x>"
    cells = view(changed, team=True).rows[0].cells
    assert (cells[0].label, cells[0].css) == ("On hold", "status-on_hold")
    assert cells[1].css == "status--img-src-x-"
    assert css_name("overdue") == "status-overdue"
    assert status_label("overdue") == "Late"


def test_late_steps_say_by_how_much(seeded: Cli) -> None:
    """After the cutoff an open step reads `Late` and by how much."""
    result = seeded("status", "--json", now="2002-06-07T19:05:00-07:00")
    page = view(json.loads(result.out), team=True)
    signed = page.rows[0].cells[0]
    assert (signed.label, signed.symbol, signed.detail) == ("Late", "✗", "by 2h 05m")
    assert page.rows[0].urgency == 0


def test_the_team_sees_totals_and_failing_alerts(seeded: Cli) -> None:
    """The team's page has the per-step footer, the totals and a warning for failing alert
    deliveries; a purchaser's page has none of them."""
    full = document(seeded)
    full["alerts"]["failing_deliveries"] = 2
    team = view(full, team=True)
    assert team.footer == ("0/2 closed", "2/2 done", "1/2 done", "0/2 done", "0/2 done", "0/2 done")
    assert team.totals == (
        "5,935,483 shares · 593,548 warrant shares",
        "Received $450,000.00 of $1,380,000.00",
    )
    assert team.warnings == ("2 alert deliveries failing: see closing alerts list",)
    assert (team.cutoff, team.closing, team.as_of) == (
        "17:00 PDT",
        "Fri 2002-06-07",
        "2002-06-07 15:30 PDT",
    )
    mine = view(for_purchaser(full, "stonestreet"), team=False)
    assert (mine.footer, mine.totals, mine.warnings) == ((), (), ())
