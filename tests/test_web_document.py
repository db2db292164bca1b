"""What a web page shows, from the status JSON document: pure functions, no server."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from closing.web.document import PUBLIC_DEAL_KEYS, css_name, for_purchaser, status_label, view
from tests.conftest import Cli

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
    """The filtered document keeps the deal's public heading and that purchaser's row, and
    nothing else: no other row, no totals, no alert counts, no `closed` flag of the deal."""
    full = document(seeded)
    full["deal"]["secret_future_field"] = "BNC's wire reference"
    full["totals_by_party"] = {"bnc-bach": "930000.00"}
    mine = for_purchaser(full, "stonestreet")
    assert set(mine) == {"deal", "as_of", "purchasers"}
    assert set(mine["deal"]) == set(PUBLIC_DEAL_KEYS)
    assert [row["slug"] for row in mine["purchasers"]] == ["stonestreet"]
    assert mine["purchasers"][0] == full["purchasers"][0]
    text = json.dumps(mine)
    for word in ["BNC", "Bach", "bnc-bach", "930000", "1380000", "secret_future_field"]:
        assert word not in text
    assert for_purchaser(full, "nobody")["purchasers"] == []


def test_company_steps_are_shown_to_every_purchaser(seeded: Cli) -> None:
    """The company's own deliveries (a `company.steps` section) are the deal's, not another
    purchaser's: each purchaser's link shows them, in their own table."""
    full = document(seeded)
    full["deal"]["steps"].insert(
        0, {"id": "prospectus_delivered", "title": "Prospectus delivered", "party": "company"}
    )
    full["company"] = {
        "steps": {
            "prospectus_delivered": {
                "status": "done",
                "deadline": "2002-06-07T17:00:00-07:00",
                "done_at": "2002-06-07T08:00:00-07:00",
            }
        },
        "internal": "not for purchasers",
    }
    mine = for_purchaser(full, "stonestreet")
    assert mine["company"] == {"steps": full["company"]["steps"]}
    page = view(mine, team=False)
    assert [c.heading for c in page.company_cells] == ["Prospectus delivered"]
    assert (page.company_cells[0].label, page.company_cells[0].detail) == ("Done", "08:00")
    assert [step_id for step_id, _ in page.steps] == [
        "signed",
        "wired",
        "warrant_faxed",
        "warrant_delivered",
        "dwac_credited",
    ]


def test_each_status_has_words_and_a_class_named_after_it(seeded: Cli) -> None:
    """Done shows when, open steps the time left (or how late), blocked ones what is missing;
    a status this version does not know (`done_late`, `waived`, ...) shows its own name and
    gets a CSS class named after it, and an `attention` note is shown."""
    full = document(seeded)
    page = view(full, team=True)
    stonestreet, bnc = page.rows
    cells = {c.step: c for c in stonestreet.cells}
    assert (cells["signed"].label, cells["signed"].detail) == ("Done", "08:30")
    assert cells["signed"].symbol == "✓"
    assert (cells["warrant_faxed"].label, cells["warrant_faxed"].detail) == (
        "Blocked",
        "1h 30m left",
    )
    assert cells["warrant_faxed"].notes == ("needs notice facsimile number",)
    assert {c.step: (c.label, c.css) for c in bnc.cells}["wired"] == ("Due soon", "status-due_soon")

    changed = copy.deepcopy(full)
    steps = changed["purchasers"][0]["steps"]
    steps["signed"] = {**steps["signed"], "status": "done_late", "late_by": 1800}
    steps["wired"] = {**steps["wired"], "status": "waived", "done_at": None}
    steps["warrant_faxed"]["attention"] = "wired was reversed: wire returned"
    steps["dwac_credited"]["status"] = "<img src=x>"
    cells = {c.step: c for c in view(changed, team=True).rows[0].cells}
    assert (cells["signed"].label, cells["signed"].detail, cells["signed"].css) == (
        "Done late",
        "08:30, 30m late",
        "status-done_late",
    )
    assert (cells["wired"].label, cells["wired"].detail) == ("Waived", "")
    assert cells["warrant_faxed"].notes[0] == "attention: wired was reversed: wire returned"
    assert cells["dwac_credited"].css == "status--img-src-x-"
    assert css_name("overdue") == "status-overdue"
    assert status_label("overdue") == "Late"
    assert status_label("something_new") == "Something new"


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
