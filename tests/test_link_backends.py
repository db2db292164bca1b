"""Details proposed through a link and accepted, on both backends (PostgreSQL when
CLOSING_TEST_POSTGRES_URL is set): the proposal is appended by whoever runs the server, in the
link's name; the acceptance by the signed-in operator; the database's own checks let both."""

from __future__ import annotations

from datetime import datetime

from closing.services.proposals import propose_details, report_wire
from closing.services.shares import create_share
from closing.store.connection import Database
from tests.helpers import Cli, board_json, purchaser_row

NOW = "2002-06-07T11:00:00-07:00"
MOMENT = datetime.fromisoformat(NOW)


def test_a_proposal_accepted_and_a_wire_reported(seeded: Cli) -> None:
    database = Database(seeded.database_url)
    share = create_share(database, None, "stonestreet", "alice", MOMENT).record
    assert share.can_act
    propose_details(database, share.id, {"dwac.dtc_number": "0226"}, MOMENT)
    imad = "20020607QMGFT015000123"
    report_wire(database, share.id, "450000", "Chase", imad, MOMENT, MOMENT)
    row = purchaser_row(board_json(seeded, NOW), "stonestreet")
    assert row["proposed_details"]["dwac.dtc_number"]["value"] == "0226"
    assert row["wire_report"]["imad"] == imad
    accepted = seeded("details", "accept", "stonestreet", "dtc_number", now=NOW)
    assert accepted.code == 0, accepted.err
    row = purchaser_row(board_json(seeded, NOW), "stonestreet")
    assert row["proposed_details"] == {}
    blocked = row["steps"]["dwac_credited"]["blocked_by"]
    assert blocked == ["DWAC account number missing"]
    assert seeded("verify", now=NOW).code == 0  # the chain holds every new event
