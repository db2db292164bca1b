"""The team's desk in the browser on PostgreSQL (issues 24 and 25): the server connects as the
tables' owner and runs each member's transaction as the member's own role (`SET LOCAL ROLE`), so
the database's identity and role checks hold for accepting proposed details, attaching a file
and applying a bank file as they do for the CLI; a viewer is refused naming the role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from closing.services.proposals import propose_details
from closing.store.connection import Database
from tests.helpers import POSTGRES_URL, Cli, as_owner, board_json, postgres_schema, purchaser_row
from tests.team_web import serve_team
from tests.test_link_forms import DETAILS, NOW, PDF, deal, links
from tests.test_web_team import MOMENT, signed_in_client
from tests.test_web_team_desk import bnc_credit_file

__all__ = ["deal", "links"]  # the fixtures this module uses

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="set CLOSING_TEST_POSTGRES_URL")
SLUG = "neotherapeutics-2002-06-07"

# Team changes come before the sign-in links (made at 10:00): a link made before its member's
# roles changed no longer signs in.
BEFORE_LINKS = "2002-06-07T09:50:00-07:00"


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no {name} in the page"
    return found.group(1)


def test_accept_attach_and_apply_run_as_the_members_own_role(
    deal: Cli, links: dict[str, Any], tmp_path: Path
) -> None:
    assert deal("team", "add", "carol", "--role", "viewer", now=BEFORE_LINKS).code == 0
    bank = bnc_credit_file().encode()
    with serve_team(as_owner(deal.database_url), MOMENT) as served:
        # through the service as alice: a link's post would append as the server's role, which
        # the database refuses unless that role is on the deal's team
        propose_details(Database(deal.database_url), links["ids"]["stonestreet"], DETAILS, MOMENT)
        stone = f"{served.base}/d/{SLUG}/p/stonestreet/act"
        carol, carol_csrf = signed_in_client(deal, served, "carol")
        refused = carol.post(stone, data={"csrf": carol_csrf, "do": "accept", "step": ""})
        assert "carol needs the operator role" in refused.text, refused.text[-1500:]
        assert refused.status_code == 403

        alice, csrf = signed_in_client(deal, served, "alice")
        accepted = alice.post(stone, data={"csrf": csrf, "do": "accept", "step": ""})
        assert accepted.status_code == 303, accepted.text[:500]

        fields = {"csrf": csrf, "do": "attach", "step": "spa", "signatory": "purchaser"}
        attached = alice.post(
            f"{served.base}/d/{SLUG}/p/bnc-bach/act",
            data={**fields, "hold": "1"},
            files={"file": ("bnc-page.pdf", PDF, "application/pdf")},
        )
        assert attached.status_code == 303, attached.text[:500]

        page = f"{served.base}/d/{SLUG}/bank-file"
        dry = alice.post(page, data={"csrf": csrf}, files={"file": ("bank.bai2", bank)})
        assert dry.status_code == 200 and "Would record 1 wire" in dry.text
        again = {name: hidden(dry.text, name) for name in ("name", "sha256", "content")}
        applied = alice.post(
            page, data={"csrf": csrf, "apply": "1", **again}, files={"unused": ("", b"")}
        )
        assert "Recorded 1 wire" in applied.text, applied.text[:500]
        foreign = httpx.post(
            page,
            data={"csrf": csrf, "apply": "1", **again},
            files={"unused": ("", b"")},
            headers={"cookie": alice.headers["cookie"], "origin": "http://evil.example"},
        )
        assert foreign.status_code == 403
    assert (
        "details_accepted  Stonestreet Limited Partnership\n    by alice"
        in deal("history", "stonestreet", now=NOW).out
    )
    assert "attach  BNC Bach International, Ltd.\n    by alice" in deal("history", "bnc").out
    wired = purchaser_row(board_json(deal, NOW), "bnc-bach")["steps"]["wired"]
    assert wired["status"] == "done" and wired["done_by"] == "alice"
