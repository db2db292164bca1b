"""A purchaser acts through its own link (issue 25), against a real server on 127.0.0.1: details
proposed and accepted (`closing details accept`), the ⚑ gone; the wire reported and matched by its
IMAD in the bank's file; what a read-only, foreign, tokenless, revoked or other purchaser's request
may do (nothing: 403 or 404, every table unchanged). Bad input through the forms:
`tests/test_link_abuse.py`."""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from closing.services.shares import create_share, revoke
from closing.store.connection import Database
from tests.bank_files import Account, Detail, bai2_text
from tests.closing_files import closing_files
from tests.helpers import (
    SEED,
    VERIFY_INSTRUCTIONS,
    WIRES_DEAL,
    Cli,
    board_json,
    load_wires_deal,
    purchaser_row,
)
from tests.test_document_escrow import spa_row
from tests.test_hostile_inputs import SEEDED, database_digest
from tests.web_helpers import Served, Stream, serve

NOW = "2002-06-07T11:00:00-07:00"
MOMENT = datetime.fromisoformat(NOW)
IMAD = "20020607QMGFT015000123"
DETAILS = {
    "dwac.dtc_number": "0226",
    "dwac.account_number": "NG-330419",
    "notices.facsimile": "(212) 555-0147",
    "notices.address": "410 Park Avenue, 17th Floor, New York, New York 10022",
}
# The CLI's hostile text (every `--note` row of the hostile-input table): each field refuses it.
HOSTILE = [bad.args[3] for key, bad in SEEDED.items() if key.startswith("--note")]
FIELDS = [
    "notices.attention",
    "notices.address",
    "notices.facsimile",
    "notices.email",
    "dwac.dtc_number",
    "dwac.account_number",
    "contact",
]
HIDDEN = zlib.compress(b"<< /S /JavaScript /JS (app.alert(1)) >>")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url  # the link's writes go through the same services as the CLI's


@pytest.fixture
def deal(cli: Cli, tmp_path: Path) -> Cli:
    copy = tmp_path / WIRES_DEAL.name
    seed = SEED.read_text()
    documents = seed[seed.index("\ndocuments:") : seed.index("\n# Schedule 1")]
    text = WIRES_DEAL.read_text()
    at = text.index("\npurchasers:")
    copy.write_text(text[:at] + documents + "\n" + text[at:])  # the seed's closing set too
    load_wires_deal(cli, copy)
    assert cli(*VERIFY_INSTRUCTIONS, now="2002-06-07T09:30:00-07:00").code == 0
    return cli


@pytest.fixture
def links(deal: Cli) -> dict[str, Any]:
    database = Database(deal.database_url)
    made = {
        who: create_share(database, None, who, "alice", MOMENT)
        for who in ("team", "stonestreet", "bnc")
    }
    read_only = create_share(database, None, "stonestreet", "alice", MOMENT, read_only=True)
    tokens: dict[str, Any] = {who: share.token for who, share in made.items()}
    tokens["read-only"] = read_only.token
    tokens["ids"] = {who: share.record.id for who, share in made.items()}
    return tokens


@pytest.fixture
def served(deal: Cli, links: dict[str, Any]) -> Iterator[Served]:
    with serve(deal.database_url, MOMENT) as running:
        yield running


def form_token(served: Served, token: str) -> str:
    page = httpx.get(served.url(token))
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, "the link's page has no form"
    return found.group(1)


def post(
    served: Served,
    token: str,
    path: str,
    data: dict[str, str],
    files: dict[str, Any] | None = None,
    origin: str | None = "own",
    csrf: str | None = "own",
) -> httpx.Response:
    fields = dict(data)
    if csrf == "own":
        fields["csrf"] = form_token(served, token)
    elif csrf is not None:
        fields["csrf"] = csrf
    headers = {}
    if origin == "own":
        headers["origin"] = served.base
    elif origin is not None:
        headers["origin"] = origin
    return httpx.post(
        served.url(token, path), data=fields, files=files, headers=headers, follow_redirects=False
    )


def alert_line(response: httpx.Response) -> str:
    found = re.findall(r'<p class="refusal" role="alert">([^<]*)</p>', response.text)
    assert len(found) == 1, response.text[:500]
    return found[0]


def test_details_proposed_accepted_and_the_flags_go(
    deal: Cli, links: dict[str, Any], served: Served
) -> None:
    """Stonestreet's link proposes its DWAC and notice details; the team's board and status
    --json show them as proposed (BNC's link shows none of it); `closing details accept` applies
    them, the ⚑ lines go, and history names both actors."""
    sent = post(served, links["stonestreet"], "/details", DETAILS)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/b/{links['stonestreet']}?sent=details"
    page = httpx.get(served.url(links["stonestreet"]) + "?sent=details")
    assert 'role="status">Your details were sent' in page.text
    document = board_json(deal, NOW)
    row = purchaser_row(document, "stonestreet")
    link = f"share link #{links['ids']['stonestreet']} of Stonestreet Limited Partnership"
    assert row["proposed_details"]["dwac.dtc_number"] == {
        "value": "0226",
        "submitted_at": NOW,
        "by": link,
    }
    assert set(row["proposed_details"]) == set(DETAILS)
    assert purchaser_row(document, "bnc-bach")["proposed_details"] == {}
    team = httpx.get(served.url(links["team"])).text
    assert "proposed by the purchaser: DTC participant number 0226" in team
    bnc = (
        httpx.get(served.url(links["bnc"])).text
        + httpx.get(f"{served.base}/api/status?token={links['bnc']}").text
    )
    assert "0226" not in bnc and "NG-330419" not in bnc and "proposed by" not in bnc
    assert "needs DTC participant number" in deal("status", now=NOW).out

    accepted = deal("details", "accept", "stonestreet", now=NOW)
    assert accepted.code == 0, accepted.err
    assert "Accepted DTC participant number '0226'" in accepted.out
    status = deal("status", now=NOW).out
    assert "Stonestreet Limited Partnership: Wired" not in status
    assert "Faxed needs notice facsimile number" in status  # BNC's, still missing
    row = purchaser_row(board_json(deal, NOW), "stonestreet")
    assert row["proposed_details"] == {}
    assert all(not step["blocked_by"] for step in row["steps"].values())
    history = deal("history", "stonestreet", now=NOW).out
    assert f"proposal  Stonestreet Limited Partnership\n    by alice@web for {link}" in history
    assert "details_accepted  Stonestreet Limited Partnership\n    by alice" in history
    assert deal("details", "accept", "stonestreet", now=NOW).code != 0  # nothing left
    # the DWAC account number is masked everywhere it is shown (the record keeps it)
    assert "DWAC account number ••••0419" in accepted.out + history + team
    shown = accepted.out + history + team + deal("status", "--json", now=NOW).out
    assert "NG-330419" not in shown and "330419" not in shown


def test_wire_report_shown_and_matched_by_imad(
    deal: Cli, links: dict[str, Any], served: Served, tmp_path: Path
) -> None:
    """The link reports its wire: the board says `reported sent ... · IMAD ...` (no money
    received); a BAI2 credit whose ordering customer names no purchaser but carries that IMAD is
    matched to Stonestreet by it, and the mark's note ties it to the report."""
    sent = post(
        served,
        links["stonestreet"],
        "/wire",
        {
            "amount": "450,000.00",
            "bank": "JPMorgan Chase",
            "imad": IMAD,
            "sent_at": "2002-06-07T10:05",
        },
    )
    assert sent.status_code == 303, alert_line(sent)
    row = purchaser_row(board_json(deal, NOW), "stonestreet")
    assert row["wire_report"] == {
        "amount": "450000.00",
        "imad": IMAD,
        "sent_at": "2002-06-07T10:05:00-07:00",
        "reported_at": NOW,
    }
    assert row["amount_received"] == "0.00"
    own = httpx.get(served.url(links["stonestreet"])).text
    assert f"reported sent 10:05 · IMAD {IMAD}" in own
    assert IMAD not in httpx.get(served.url(links["bnc"])).text

    bank = tmp_path / "bank.bai2"
    wire = Detail(
        "195",
        45_000_000,
        "0607FW000999",
        IMAD,
        [f"FEDWIRE CREDIT IMAD: {IMAD}", "ORG: /77 SSLP NOMINEE ACCOUNT 4"],
    )
    bank.write_text(bai2_text([Account("4881016789", [wire])]))
    imported = deal("wires", "import", str(bank), "--apply", now="2002-06-07T12:00:00-07:00")
    assert imported.code == 0, imported.err
    later = "2002-06-07T12:05:00-07:00"
    row = purchaser_row(board_json(deal, later), "stonestreet")
    assert row["steps"]["wired"]["status"] == "done"
    history = deal("history", "stonestreet", now=later).out
    assert f"IMAD {IMAD} as Stonestreet Limited Partnership reported it" in " ".join(
        history.split()
    )


def test_a_wire_report_sent_at_an_impossible_time_is_refused_and_a_past_day_shown(
    deal: Cli, links: dict[str, Any], served: Served
) -> None:
    """A sent time in year 1 (stored, it broke every board and the alert sender), before the
    agreement's date, skipped by the clocks or in the future is refused at once, nothing
    written; one of the day before the as-of day is shown with its day."""
    report = {"amount": "450,000.00", "bank": "JPMorgan Chase", "imad": IMAD}
    before = database_digest(deal.database_url)
    for sent_at, says in [
        ("0001-01-01T00:00", "out of range"),
        ("1850-01-01T00:00", "out of range"),
        ("2002-06-06T16:00", "before the agreement's date (2002-06-07)"),
        ("2002-06-07T08:55+14:00", "before the agreement's date (2002-06-07)"),
        ("2002-06-07T13:00", "in the future"),
    ]:
        response = post(served, links["stonestreet"], "/wire", {**report, "sent_at": sent_at})
        assert response.status_code == 400, sent_at
        assert says in html.unescape(alert_line(response)), (sent_at, alert_line(response))
    assert database_digest(deal.database_url) == before
    sent = post(served, links["stonestreet"], "/wire", {**report, "sent_at": "2002-06-07T10:05"})
    assert sent.status_code == 303, alert_line(sent)
    monday = "2002-06-10T09:00:00-07:00"
    board = " ".join(deal("status", now=monday).out.split())
    assert f"wire reported sent Fri 2002-06-07 10:05 · IMAD {IMAD}" in board
    today = " ".join(deal("status", now=NOW).out.split())
    assert f"wire reported sent 10:05 · IMAD {IMAD}" in today


def test_a_link_cannot_act_for_another_or_when_read_only(
    deal: Cli, links: dict[str, Any], served: Served
) -> None:
    """Read-only and team links get 403; a foreign Origin, none, or a missing or other link's
    form token get 403; an unknown token 404; GET on a form's path is not allowed: nothing is
    written by any of them, and BNC's link never reaches Stonestreet's row."""
    before = database_digest(deal.database_url)
    stone, bnc = links["stonestreet"], links["bnc"]
    refused = [
        (
            post(served, links["read-only"], "/details", DETAILS, csrf=form_token(served, stone)),
            403,
        ),
        (post(served, links["team"], "/details", DETAILS, csrf=None), 403),
        (post(served, stone, "/details", DETAILS, origin="https://evil.example"), 403),
        (post(served, stone, "/details", DETAILS, origin=None), 403),
        (post(served, stone, "/details", DETAILS, csrf=None), 403),
        (post(served, stone, "/details", DETAILS, csrf=form_token(served, bnc)), 403),
        (post(served, "x" * 43, "/details", DETAILS, csrf=None), 404),
    ]
    for response, status in refused:
        assert response.status_code == status, response.text[:300]
        if status == 403:
            assert len(alert_line(response)) < 120
    assert httpx.get(served.url(stone, "/details")).status_code in (404, 405)
    assert database_digest(deal.database_url) == before
    # BNC's own submission lands on BNC's chain, never Stonestreet's
    assert post(served, bnc, "/details", {"dwac.dtc_number": "0573"}).status_code == 303
    document = board_json(deal, NOW)
    assert purchaser_row(document, "stonestreet")["proposed_details"] == {}
    assert purchaser_row(document, "bnc-bach")["proposed_details"]["dwac.dtc_number"]["value"] == (
        "0573"
    )


def test_revoked_link_proposal_needs_a_warning(
    deal: Cli, links: dict[str, Any], served: Served
) -> None:
    assert post(served, links["stonestreet"], "/details", DETAILS).status_code == 303
    revoke(Database(deal.database_url), links["ids"]["stonestreet"], "alice", MOMENT)
    before = database_digest(deal.database_url)
    refused = deal("details", "accept", "stonestreet", now=NOW)
    assert refused.code != 0
    assert "revoked" in refused.err and "--from-revoked-link" in refused.err
    assert database_digest(deal.database_url) == before
    anyway = deal("details", "accept", "stonestreet", "dtc_number", "--from-revoked-link", now=NOW)
    assert anyway.code == 0, anyway.err
    assert "warning: share link" in anyway.err
    assert "warning: share link" in " ".join(deal("history", "stonestreet", now=NOW).out.split())


def test_signature_page_held_and_rate_limit(
    deal: Cli, links: dict[str, Any], served: Served
) -> None:
    """The page is kept as Stonestreet's page of the agreement, held in escrow, in the link's
    name; after 30 submissions in an hour the link is refused (429) and nothing more written."""
    sent = post(
        served, links["stonestreet"], "/signature-page", {}, files={"page": ("signed.pdf", PDF)}
    )
    assert sent.status_code == 303, alert_line(sent)
    documents = deal("documents", "--json", now=NOW)
    assert documents.code == 0, documents.err
    assert "received (held)" in documents.out
    history = deal("history", "stonestreet", now=NOW).out
    assert f"share link #{links['ids']['stonestreet']}" in history
    for n in range(29):
        response = post(served, links["stonestreet"], "/details", {"contact": f"Desk {n}"})
        assert response.status_code == 303
    before = database_digest(deal.database_url)
    limited = post(served, links["stonestreet"], "/details", {"contact": "one more"})
    assert limited.status_code == 429
    assert "30 submissions" in alert_line(limited)
    assert database_digest(deal.database_url) == before


def test_reload_keeps_accepted_details_and_asks_on_a_change(
    deal: Cli, links: dict[str, Any], served: Served, tmp_path: Path
) -> None:
    post(served, links["stonestreet"], "/details", DETAILS)
    assert deal("details", "accept", "stonestreet", now=NOW).code == 0
    path = tmp_path / WIRES_DEAL.name
    assert deal("init", str(path), now=NOW).code == 0  # unchanged: accepted details stay
    assert "needs DTC participant number" not in deal("status", now=NOW).out.split("BNC")[0]
    text = path.read_text()
    path.write_text(text.replace("facsimile: }", "facsimile: (212) 555-9999}", 1))
    asked = deal("init", str(path), now=NOW)
    assert asked.code != 0
    assert "'(212) 555-9999'" in asked.err and "'(212) 555-0147'" in asked.err
    assert deal("init", str(path), "--accept-changes", now=NOW).code == 0
    assert deal("init", str(path), now=NOW).out.startswith("Deal")  # agrees now


def test_another_purchasers_stream_never_carries_stonestreets_proposals(
    deal: Cli, links: dict[str, Any], served: Served
) -> None:
    """BNC's live stream: its first board, then its own proposal, never Stonestreet's."""
    with Stream(served.url(links["bnc"], "/events")) as stream:
        first = stream.next(timeout=5)
        assert "BNC Bach" in first.data
        assert post(served, links["stonestreet"], "/details", DETAILS).status_code == 303
        assert (
            post(served, links["bnc"], "/details", {"dwac.dtc_number": "0573"}).status_code == 303
        )
        later = stream.next(timeout=5)
        while "0573" not in later.data:
            later = stream.next(timeout=5)
    for event in (first, later):
        assert "0226" not in event.data and "Stonestreet" not in event.data


def test_an_unconfirmed_wire_report_alerts_at_fedwires_cutoff(
    deal: Cli, links: dict[str, Any], served: Served
) -> None:
    """A wire reported sent at 10:05 that no bank file confirms: nothing before Fedwire's 18:00
    Eastern (15:00 in Irvine), one alert to the team at it, naming the IMAD, once."""
    report = {"amount": "450000", "bank": "Chase", "imad": IMAD, "sent_at": "2002-06-07T10:05"}
    assert post(served, links["stonestreet"], "/wire", report).status_code == 303
    before = deal("alerts", "check", now="2002-06-07T14:59:00-07:00")
    assert before.code == 0, before.err
    assert "not confirmed by the bank" not in before.out + before.err
    at = deal("alerts", "check", now="2002-06-07T15:00:30-07:00")
    said = at.out + at.err
    assert "rule=wire-unconfirmed" in said and IMAD in said
    again = deal("alerts", "check", now="2002-06-07T15:05:00-07:00")
    assert "wire-unconfirmed" not in again.out + again.err


def test_share_read_only_says_so(deal: Cli) -> None:
    made = deal("share", "stonestreet", "--read-only", now=NOW)
    assert made.code == 0, made.err
    assert made.out.splitlines()[0].endswith("no other purchaser (read-only):")


def test_accepting_needs_the_operator_role(
    deal: Cli, links: dict[str, Any], served: Served
) -> None:
    assert post(served, links["stonestreet"], "/details", DETAILS).status_code == 303
    assert deal("team", "add", "carol", "--role", "viewer", now=NOW).code == 0
    before = database_digest(deal.database_url)
    refused = deal("@carol", "details", "accept", "stonestreet", now=NOW)
    assert refused.code != 0 and "operator" in refused.err
    rejected = deal("@carol", "details", "reject", "stonestreet", "--reason", "no", now=NOW)
    assert rejected.code != 0
    assert database_digest(deal.database_url) == before
    done = deal("details", "reject", "stonestreet", "facsimile", "--reason", "wrong desk", now=NOW)
    assert done.code == 0, done.err
    row = purchaser_row(board_json(deal, NOW), "stonestreet")
    assert "notices.facsimile" not in row["proposed_details"]
    assert "dwac.dtc_number" in row["proposed_details"]


def test_a_link_of_another_deal_than_the_served_one_sends_its_forms(
    deal: Cli, links: dict[str, Any], tmp_path: Path
) -> None:
    """One server serves every deal's links: Stonestreet's link, of a deal other than the one
    `closing serve` started with, shows its forms and sends them (they were looked up among the
    first deal's links only, and every submission got 404)."""
    from tests.team_web import serve_team
    from tests.test_web_team import WIRES

    other = tmp_path / "other.yaml"
    slug = "neotherapeutics-2002-06-07"
    other.write_text(WIRES.read_text().replace(f"slug: {slug}", "slug: aaa-other"))
    assert deal("init", str(other), now="2002-06-07T07:00:00-07:00").code == 0
    token = links["stonestreet"]
    with serve_team(deal.database_url, MOMENT) as served:
        assert served.live.slug == "aaa-other"  # the first deal by slug: not the link's
        page = httpx.get(f"{served.base}/b/{token}")
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert page.status_code == 200 and found, "the link's page shows its forms"
        sent = httpx.post(
            f"{served.base}/b/{token}/details",
            data={**DETAILS, "csrf": found.group(1)},
            headers={"origin": served.base},
        )
    assert sent.status_code == 303, sent.text[:500]
    proposed = purchaser_row(board_json(deal, NOW, "--deal", slug), "stonestreet")
    assert proposed["proposed_details"], proposed


def test_a_page_sent_again_through_the_link_after_the_release_is_held(
    deal: Cli, links: dict[str, Any], served: Served, tmp_path: Path
) -> None:
    """The purchaser's link sends its page again once the agreement is released: the new page
    is held, and the team's `release` lets it go."""
    first = post(
        served, links["stonestreet"], "/signature-page", {}, files={"page": ("signed.pdf", PDF)}
    )
    assert first.status_code == 303, alert_line(first)
    counter = str(closing_files(tmp_path / "files")["stonestreet_counter"])
    assert deal("attach", "stonestreet", "spa", counter, "--hold", now=NOW).code == 0
    assert deal("mark-wired", "stonestreet", now=NOW).code == 0
    assert deal("release", "stonestreet", "--reason", "wired", now=NOW).code == 0
    assert spa_row(deal, NOW)["state"] == "released"
    again = PDF.replace(b"%%EOF", b"% signed again\n%%EOF")
    sent = post(
        served, links["stonestreet"], "/signature-page", {}, files={"page": ("again.pdf", again)}
    )
    assert sent.status_code == 303, alert_line(sent)
    row = spa_row(deal, NOW)
    assert row["state"] == "received (held)" and row["released"] is None
    assert [(f["name"], f["held"]) for f in row["files"]][-1] == ("again.pdf", True)
    assert deal("release", "stonestreet", "--reason", "page again", now=NOW).code == 0
    assert spa_row(deal, NOW)["state"] == "released"
