"""Stonestreet acts through its own link in a real browser (Chromium, Playwright), on the seed deal
with its wire instructions: it sends its DWAC and notice details, the team's page shows them as
proposed, `closing details accept stonestreet` accepts them and the ⚑ lines go from `status` and
the web board; it uploads its signature page (held) and reports its wire, which a BAI2 file
carrying that IMAD then matches. The page's screenshot is the README's
(CLOSING_SCREENSHOTS=docs/tests copies it there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Cli, board_json, purchaser_row
from tests.test_link_forms import IMAD, MOMENT, NOW, PDF, database_url, deal, links
from tests.test_web_browser import browser, chromium, errors_of, keep
from tests.web_helpers import serve

__all__ = ["browser", "database_url", "deal", "links"]  # the fixtures this module uses

pytestmark = pytest.mark.skipif(chromium() is None, reason="no Chromium found")


def test_stonestreet_sends_its_details_page_and_wire(
    browser: Any, deal: Cli, links: dict[str, Any], tmp_path: Path
) -> None:
    with serve(deal.database_url, MOMENT) as served:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = errors_of(page)
        page.goto(served.url(links["stonestreet"]))
        needed = page.inner_text(".needed")
        assert needed.startswith("Still needed from you: notice facsimile number")
        assert "DTC participant number, DWAC account number" in needed
        page.get_by_label("DTC participant number").fill("0226")
        page.get_by_label("DWAC account number").fill("NG-330419")
        page.get_by_label("Notice facsimile").fill("(212) 555-0147")
        page.get_by_label("Notice address").fill("410 Park Avenue, 17th Floor, New York, NY 10022")
        page.get_by_role("button", name="Send details").click()
        page.wait_for_selector('[role="status"]')
        assert "Your details were sent" in page.inner_text('[role="status"]')
        own = page.inner_text("main")
        assert "proposed by the purchaser: DTC participant number 0226" in own

        # a refusal: one line in role="alert", nothing written
        page.get_by_label("DTC participant number").fill("226")
        page.get_by_role("button", name="Send details").click()
        alert = page.inner_text('[role="alert"]')
        assert "not 4 digits" in alert and "\n" not in alert

        team = browser.new_page(viewport={"width": 1280, "height": 720})
        team.goto(served.url(links["team"]))
        stone = 'tr[data-slug="stonestreet"]'
        assert "proposed by the purchaser: DWAC account number ••••0419" in team.inner_text(stone)
        assert team.locator(f"{stone} .note", has_text="⚑ needs").count() == 3

        accepted = deal("details", "accept", "stonestreet", now=NOW)
        assert accepted.code == 0, accepted.err
        assert "needs DTC participant number" not in deal("status", now=NOW).out.split("BNC")[0]
        team.reload()
        assert team.locator(f"{stone} .note", has_text="⚑ needs").count() == 0
        assert team.locator('tr[data-slug="bnc-bach"] .note', has_text="⚑ needs").count() == 3
        history = deal("history", "stonestreet", now=NOW).out
        assert "proposal  Stonestreet Limited Partnership\n    by alice@web for share link" in (
            history
        )
        assert "details_accepted  Stonestreet Limited Partnership\n    by alice" in history

        page.reload()
        assert page.locator(".needed").count() == 0  # nothing more needed from Stonestreet
        signed = tmp_path / "stonestreet-signature-page.pdf"
        signed.write_bytes(PDF)
        page.get_by_label("Signature page").set_input_files(str(signed))
        page.get_by_role("button", name="Upload").click()
        page.wait_for_selector('[role="status"]')
        assert "held in escrow" in page.inner_text('[role="status"]')
        assert "received (held)" in deal("documents", "--json", now=NOW).out

        page.get_by_label("Amount").fill("450,000.00")
        page.get_by_label("Sending bank").fill("JPMorgan Chase Bank, New York")
        page.get_by_label("IMAD").fill(IMAD)
        page.get_by_label("Sent at").fill("2002-06-07T10:05")
        page.get_by_role("button", name="Report wire sent").click()
        page.wait_for_selector('[role="status"]')
        wired = page.inner_text('tr[data-slug="stonestreet"] td[data-step="wired"]')
        assert f"reported sent 10:05 · IMAD {IMAD}" in wired
        assert "received" not in wired.split("IMAD")[0].replace("reported", "")
        shot = tmp_path / "web-purchaser-forms.png"
        page.screenshot(path=str(shot), full_page=True)
        keep(shot)
        page.close()
        team.close()
    # the refused form's own answer (400) is the only thing the console reports: no CSP breach
    assert [e for e in errors if "status of 400" not in e] == []

    bank = tmp_path / "bank.bai2"
    from tests.bank_files import Account, Detail, bai2_text

    credit = Detail(
        "195",
        45_000_000,
        "0607FW000999",
        IMAD,
        [f"FEDWIRE CREDIT IMAD: {IMAD}", "ORG: /77 SSLP NOMINEE ACCOUNT 4"],
    )
    bank.write_text(bai2_text([Account("4881016789", [credit])]))
    later = "2002-06-07T12:00:00-07:00"
    imported = deal("wires", "import", str(bank), "--apply", now=later)
    assert imported.code == 0, imported.err
    assert purchaser_row(board_json(deal, later), "stonestreet")["steps"]["wired"]["status"] == (
        "done"
    )
    assert f"IMAD {IMAD} as Stonestreet Limited Partnership reported it" in " ".join(
        deal("history", "stonestreet", now=later).out.split()
    )
