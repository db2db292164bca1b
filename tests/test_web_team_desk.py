"""The signed-in team's desk in the browser (issues 24 and 25), in a real Chromium: the board
shows a purchaser's proposed details with `Accept proposed details for ...` and `Reject proposed
details for ...` (through `closing details accept|reject`'s service, as the member; a viewer is
refused naming the role); a party's page attaches a document or signature page and releases held
pages (`closing attach|release`'s service); a bank file is a dry run first, then `Apply`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bank_files import Account, Detail, bai2_text
from tests.helpers import Cli, board_json, purchaser_row
from tests.team_web import TeamServer, serve_team
from tests.test_hostile_inputs import database_digest
from tests.test_link_forms import DETAILS, NOW, PDF, database_url, deal, links
from tests.test_web_browser import browser, chromium, errors_of
from tests.test_web_team import BNC, MOMENT, open_party, sign_in  # its invitations are for 10:00

__all__ = ["browser", "database_url", "deal", "links"]  # the fixtures this module uses

pytestmark = pytest.mark.skipif(chromium() is None, reason="no Chromium found")

STONE = "Stonestreet Limited Partnership"
ROW = 'tr[data-slug="stonestreet"]'

# Team changes come before the sign-in links (made at 10:00): a link made before its member's
# roles changed no longer signs in.
BEFORE_LINKS = "2002-06-07T09:50:00-07:00"


def bnc_credit_file() -> str:
    """The company bank's BAI2 file with one credit: BNC's $930,000.00."""
    credit = Detail(
        "195",
        93_000_000,
        "0607FW9001",
        "",
        ["ORG: /7785002 BNC BACH INTERNATIONAL LTD", "OBI: NEOTHERAPEUTICS SPA"],
    )
    return bai2_text([Account("4881016789", [credit])])


def propose(served: TeamServer, token: str, details: dict[str, str]) -> None:
    """Stonestreet's link sends its details (its own page's form token and origin)."""
    page = httpx.get(f"{served.base}/b/{token}").text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the link's page has no form"
    sent = httpx.post(
        f"{served.base}/b/{token}/details",
        data={**details, "csrf": found.group(1)},
        headers={"origin": served.base},
    )
    assert sent.status_code == 303, re.findall(r"role=\"alert\">([^<]*)", sent.text)


def open_board(page: Any) -> None:
    page.get_by_role("link", name="NeoTherapeutics").first.click()
    page.wait_for_selector("#board-rows")


def test_alice_accepts_and_rejects_proposed_details_and_a_viewer_is_refused(
    browser: Any, deal: Cli, links: dict[str, Any]
) -> None:
    assert deal("team", "add", "carol", "--role", "viewer", now=BEFORE_LINKS).code == 0
    with serve_team(deal.database_url, MOMENT) as served:
        propose(served, links["stonestreet"], DETAILS)

        carol_context, carol = sign_in(browser, deal, served, "carol")
        open_board(carol)
        before = database_digest(deal.database_url)
        carol.get_by_role("button", name=f"Accept proposed details for {STONE}").click()
        carol.get_by_role("button", name="Record").click()
        refusal = carol.get_by_role("alert").inner_text()
        assert "carol needs the operator role" in refusal and "\n" not in refusal
        assert database_digest(deal.database_url) == before  # nothing written
        carol_context.close()

        context, alice = sign_in(browser, deal, served, "alice")
        errors = errors_of(alice)
        open_board(alice)
        row = alice.inner_text(ROW)
        assert "proposed by the purchaser: DTC participant number 0226" in row
        assert alice.locator(f"{ROW} .note", has_text="⚑ needs").count() == 3
        assert alice.get_by_role("button", name="Reject proposed details for BNC").count() == 0
        alice.get_by_role("button", name=f"Accept proposed details for {STONE}").click()
        assert "DTC participant number 0226 (proposed by share link #" in alice.inner_text("main")
        alice.get_by_role("button", name="Record").click()
        alice.wait_for_url(f"{served.base}/d/*/p/stonestreet")

        stone = purchaser_row(board_json(deal, NOW), "stonestreet")
        assert stone["proposed_details"] == {}
        assert all(not step["blocked_by"] for step in stone["steps"].values())
        history = deal("history", "stonestreet", now=NOW).out
        assert "details_accepted  Stonestreet Limited Partnership\n    by alice" in history
        alice.goto(f"{served.base}/d/neotherapeutics-2002-06-07/")
        assert alice.locator(f"{ROW} .note", has_text="⚑ needs").count() == 0
        assert alice.locator(f"{ROW} .answers").count() == 0

        # a second proposal, rejected with the Reason the form asks for
        propose(served, links["stonestreet"], {"contact": "Ms. Pat Lee, +1 212 555 0100"})
        alice.reload()
        alice.get_by_role("button", name=f"Reject proposed details for {STONE}").click()
        alice.get_by_label("Reason").fill("call the desk instead")
        alice.get_by_role("button", name="Record").click()
        alice.wait_for_url(f"{served.base}/d/*/p/stonestreet")
        context.close()
    assert purchaser_row(board_json(deal, NOW), "stonestreet")["proposed_details"] == {}
    history = deal("history", "stonestreet", now=NOW).out
    assert "details_rejected  Stonestreet Limited Partnership\n    by alice" in history
    assert "rejected Contact: call the desk instead" in " ".join(history.split())
    assert errors == []


def test_alice_attaches_and_releases_bncs_signature_page_in_the_browser(
    browser: Any, deal: Cli, tmp_path: Path
) -> None:
    """alice attaches BNC's signed page of the SPA (held) from its party page: `closing
    documents` shows it; a PDF with JavaScript is refused in role="alert", nothing written; the
    release is refused naming what is missing until BNC's wire is in, then releases."""
    page_file = tmp_path / "bnc-signature-page.pdf"
    page_file.write_bytes(PDF)
    scripted = tmp_path / "scripted.pdf"
    scripted.write_bytes(PDF.replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction 2 0 R"))
    with serve_team(deal.database_url, MOMENT) as served:
        context, alice = sign_in(browser, deal, served, "alice")
        errors = errors_of(alice)
        open_party(alice, served, BNC)
        before = database_digest(deal.database_url)
        alice.get_by_role("button", name=f"Attach spa for {BNC}").click()
        alice.get_by_label("File").set_input_files(str(scripted))
        alice.get_by_role("button", name="Record").click()
        assert "File: the PDF holds scripts" in alice.get_by_role("alert").inner_text()
        assert database_digest(deal.database_url) == before

        alice.get_by_label("File").set_input_files(str(page_file))
        alice.get_by_label("Signatory").fill("purchaser")
        alice.get_by_label("Hold").check()
        alice.get_by_role("button", name="Record").click()
        alice.wait_for_url(f"{served.base}/d/*/p/bnc-bach")
        documents = deal("documents", now=NOW).out
        assert "bnc-signature-page.pdf" in documents
        (spa,) = [
            d
            for d in json.loads(deal("documents", "--json", now=NOW).out)["documents"]
            if d["document"] == "spa" and d["party"] == "bnc-bach"
        ]
        assert len(spa["files"]) == 1 and spa["state"] == "received (held)", spa
        assert "attach  BNC Bach International, Ltd.\n    by alice" in deal("history", "bnc").out

        alice.reload()
        alice.get_by_role("button", name=f"Release held signature pages for {BNC}").click()
        alice.get_by_label("Reason").fill("closing conditions met")
        alice.get_by_role("button", name="Record").click()
        refusal = alice.get_by_role("alert").inner_text()
        assert "cannot release: spa of BNC Bach International, Ltd. needs" in refusal
        assert "nothing released" in refusal
        assert deal("mark-wired", "bnc", now=NOW).code == 0
        alice.get_by_role("button", name="Record").click()
        alice.wait_for_url(f"{served.base}/d/*/p/bnc-bach")
        context.close()
    assert errors == [] or all("status of 4" in e for e in errors)
    assert "release" in deal("history", "bnc", now=NOW).out


def test_a_bank_file_uploaded_in_the_browser_is_a_dry_run_then_applied(
    browser: Any, deal: Cli, tmp_path: Path
) -> None:
    """alice uploads the bank's BAI2 file: the dry run shows BNC's credit matched and records
    nothing; `Apply` records the wire as alice. carol (operator) sees the dry run but her Apply
    is refused, naming the money role."""
    bank = tmp_path / "bank.bai2"
    bank.write_text(bnc_credit_file())
    assert deal("team", "add", "carol", "--role", "operator", now=BEFORE_LINKS).code == 0
    with serve_team(deal.database_url, MOMENT) as served:
        carol_context, carol = sign_in(browser, deal, served, "carol")
        open_board(carol)
        carol.get_by_role("link", name="Bank file").click()
        carol.get_by_label("Bank file").set_input_files(str(bank))
        carol.get_by_role("button", name="Dry run").click()
        assert "Would record 1 wire" in carol.get_by_role("status").inner_text()
        before = database_digest(deal.database_url)
        carol.get_by_role("button", name="Apply").click()
        assert "carol needs the money role" in carol.get_by_role("alert").inner_text()
        assert database_digest(deal.database_url) == before
        carol_context.close()

        context, alice = sign_in(browser, deal, served, "alice")
        errors = errors_of(alice)
        open_board(alice)
        alice.get_by_role("link", name="Bank file").click()
        alice.get_by_label("Bank file").set_input_files(str(bank))
        alice.get_by_role("button", name="Dry run").click()
        assert "Dry run: nothing recorded yet" in alice.inner_text("main")
        assert "Would record 1 wire" in alice.get_by_role("status").inner_text()
        assert "BNC Bach International, Ltd." in alice.inner_text("table.bank-file")
        wired = purchaser_row(board_json(deal, NOW), "bnc-bach")["steps"]["wired"]
        assert wired["status"] != "done"  # the dry run recorded nothing
        alice.get_by_role("button", name="Apply").click()
        assert "Recorded 1 wire" in alice.get_by_role("status").inner_text()
        assert alice.get_by_role("button", name="Apply").count() == 0
        context.close()
    wired = purchaser_row(board_json(deal, NOW), "bnc-bach")["steps"]["wired"]
    assert wired["status"] == "done" and wired["done_by"] == "alice"
    assert errors == []


def test_a_bank_file_applied_in_the_browser_keeps_the_passkey_rule(deal: Cli) -> None:
    """`closing team passkeys required`: alice, signed in by a link, is refused what she would
    record in the browser: an action (403), and a bank file's Apply alike (403, nothing
    recorded); its dry run, which records nothing, still shows."""
    import base64
    import hashlib

    from tests.test_web_team import signed_in_client

    slug = "neotherapeutics-2002-06-07"
    assert deal("team", "passkeys", "required", now=NOW).code == 0
    content = bnc_credit_file().encode()
    with serve_team(deal.database_url, MOMENT) as served:
        alice, csrf = signed_in_client(deal, served, "alice")
        act = f"{served.base}/d/{slug}/p/bnc-bach/act"
        assert alice.post(act, data={"csrf": csrf, "do": "mark", "step": "signed"}).status_code == (
            403
        )
        bank = f"{served.base}/d/{slug}/bank-file"
        dry = alice.post(bank, files={"file": ("bank.bai2", content)}, data={"csrf": csrf})
        assert dry.status_code == 200 and "Apply" in dry.text
        applied = alice.post(
            bank,
            files={"file": ("bank.bai2", b"")},
            data={
                "csrf": csrf,
                "apply": "1",
                "name": "bank.bai2",
                "content": base64.b64encode(content).decode(),
                "sha256": hashlib.sha256(content).hexdigest(),
            },
        )
    assert applied.status_code == 403 and "passkey" in applied.text
    wired = purchaser_row(board_json(deal, NOW), "bnc-bach")["steps"]["wired"]
    assert wired["status"] != "done"
