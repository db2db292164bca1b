"""The board works out a purchaser's open steps once for all purchasers that stand alike; the
result is the same as working out every purchaser on its own (a property test over random
closings, with per-purchaser zones and holidays and a deadline that follows another step)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closing.domain.board import build_board, purchaser_status
from closing.domain.calendar import CalendarBook, calendar_snapshot
from closing.domain.deal import Deal
from closing.domain.dealfile.load import load_deal_file
from closing.domain.events import Event, Purchaser, replay
from tests.helpers import SEED, accepted_events

PACIFIC = ZoneInfo("America/Los_Angeles")


@pytest.fixture(scope="module")
def deal(tmp_path_factory: pytest.TempPathFactory) -> Deal:
    """The seed, with the original warrant due a business day after the fax, in the
    purchaser's zone and by its holidays."""
    text = SEED.read_text()
    text = text.replace(
        "    due:\n      after: closing\n      business_days: 1\n    needs: [notices.address]",
        "    due:\n      after: warrant_faxed\n      business_days: 1\n"
        "    calendars: [NYSE, purchaser]\n"
        "    cutoff: {time: '17:00', time_zone: purchaser}\n    needs: [notices.address]",
    )
    path = tmp_path_factory.mktemp("deal") / "deal.yaml"
    path.write_text(text)
    terms = load_deal_file(path).terms
    names = terms.calendar_names([])
    book = CalendarBook([], calendar_snapshot([*names, "CA-ON", "GB"], terms.closing_date))
    return Deal(1, terms.slug, terms, book, datetime(2002, 6, 7, tzinfo=PACIFIC))


DETAILS = [
    {},
    {"notices": {"facsimile": "+1 212 555 0100", "address": "1 Main St"}},
    {"time_zone": "America/Toronto", "holidays": ["CA-ON"], "notices": {"facsimile": "x"}},
    {"time_zone": "Europe/London", "holidays": ["GB"]},
]
STEPS = ["signed", "wired", "warrant_faxed", "warrant_delivered", "dwac_credited"]
KINDS = ["mark"] * 6 + ["undo", "waive", "reverse", "receipt", "withdraw"]
MINUTES = [0, 600, 1500, 2900, 4400, 7000]  # from Wednesday 08:00, a few days apart

purchaser_events = st.lists(
    st.tuples(st.sampled_from(KINDS), st.sampled_from(STEPS), st.sampled_from(MINUTES)),
    max_size=10,
)


def valid(deal: Deal, party: Purchaser, wanted: list[tuple[str, str, int]]) -> list[Event]:
    """The events of `wanted` the machine accepts, in order, as a party's log."""
    return accepted_events(deal, party, datetime(2002, 6, 5, 8, tzinfo=PACIFIC), wanted)


@settings(max_examples=80, deadline=None)
@given(
    logs=st.lists(
        st.tuples(st.integers(0, len(DETAILS) - 1), purchaser_events), min_size=1, max_size=30
    ),
    company_done=st.booleans(),
    hour=st.integers(0, 6 * 24),
)
def test_shared_open_steps_equal_each_purchaser_worked_out_alone(
    deal: Deal,
    logs: list[tuple[int, list[tuple[str, str, int]]]],
    company_done: bool,
    hour: int,
) -> None:
    purchasers = [
        Purchaser(i + 10, f"p{i}", f"P {i}", i, 100, Decimal("100.00"), 10, json.dumps(DETAILS[d]))
        for i, (d, _) in enumerate(logs)
    ]
    events = {p.id: valid(deal, p, wanted) for p, (_, wanted) in zip(purchasers, logs, strict=True)}
    company = Purchaser(1, "@company", "Co", -1, 0, Decimal(0), 0, role="company")
    if company_done:
        at = datetime(2002, 6, 7, 7, 30, tzinfo=PACIFIC)
        events[1] = [Event(0, 1, 1, "mark", "prospectus_delivered", at, at, "alice", "vm")]
    now = datetime(2002, 6, 5, tzinfo=PACIFIC) + timedelta(hours=hour)
    board = build_board(deal, purchasers, events, now, company=company)
    company_standing = replay(deal.company_machine, events.get(1, []))
    company_states = company_standing.states
    for row, party in zip(board.purchasers, purchasers, strict=True):
        alone = purchaser_status(
            deal, party, events[party.id], now, company_states, company_standing=company_standing
        )
        assert list(row.steps.items()) == list(alone.steps.items())
        assert row.state == alone.state
