"""A board stays the board until `board_expires` says: at any moment before that instant,
nothing recorded in between, the board (as its JSON document shows it) is the same but for its
`as_of`. A property test over random closings of the seed (with an outside date, a step's own
lapse date, Fedwire's cutoff and its own at 16:10) and of the 60-step example, at moments every
67 minutes over eight days."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closing.domain.board import build_board
from closing.domain.board_expiry import board_expires
from closing.domain.calendar import CalendarBook, calendar_snapshot
from closing.domain.deal import Deal
from closing.domain.dealfile.load import load_deal_file
from closing.domain.events import Event, Purchaser
from closing.views.status_document import board_json
from tests.helpers import ROOT, SEED, accepted_events

PACIFIC = ZoneInfo("America/Los_Angeles")
EXAMPLE = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"
KINDS = ["mark"] * 6 + ["undo", "waive", "reverse", "withdraw"]


class Deals(list[tuple[Deal, datetime]]):
    def __repr__(self) -> str:  # hypothesis prints the fixture with a failing example
        return f"<{len(self)} deals>"


def loaded(path: Path, closing_day: datetime) -> Deal:
    terms = load_deal_file(path).terms
    book = CalendarBook([], calendar_snapshot(terms.calendar_names([]), terms.closing_date))
    return Deal(1, terms.slug, terms, book, closing_day)


@pytest.fixture(scope="module")
def deals(tmp_path_factory: pytest.TempPathFactory) -> Deals:
    """(deal, a moment to start from): the seed with an outside date and the wire lapsing on its
    own day, its cutoff at 16:10 (not two hours after Fedwire's close), and the 60-step
    example."""
    text = SEED.read_text().replace(
        "closing_date: 2002-06-07\n", "closing_date: 2002-06-07\noutside_date: 2002-06-12\n"
    )
    text = text.replace("    payment: true\n", "    payment: true\n    lapses_at: 2002-06-10\n", 1)
    text = text.replace('  time: "17:00"\n', '  time: "16:10"\n', 1)
    assert "outside_date" in text and "lapses_at" in text and "16:10" in text
    seed = tmp_path_factory.mktemp("deal") / "deal.yaml"
    seed.write_text(text)
    return Deals(
        [
            (
                loaded(seed, datetime(2002, 6, 7, tzinfo=PACIFIC)),
                datetime(2002, 6, 5, tzinfo=PACIFIC),
            ),
            (
                loaded(EXAMPLE, datetime(2019, 6, 28, tzinfo=PACIFIC)),
                datetime(2019, 6, 26, tzinfo=PACIFIC),
            ),
        ]
    )


def valid(deal: Deal, party: Purchaser, start: datetime, wanted: list[Any]) -> list[Event]:
    """The events of `wanted` (kind, step index, minutes after `start`) the machine accepts."""
    steps = [step.id for step in deal.purchaser_steps]
    named = [(kind, steps[index % len(steps)], minutes) for kind, index, minutes in wanted]
    return accepted_events(deal, party, start, named)


def document(board: Any) -> dict[str, Any]:
    """The board as its JSON document shows it, but for `as_of`, and with what the text board
    says of the markets' cutoffs."""
    shown = board_json(board)
    shown.pop("as_of")
    shown["markets_closed"] = board.markets_closed
    return json.loads(json.dumps(shown, default=str))  # type: ignore[no-any-return]


@settings(max_examples=5, deadline=None)
@given(
    which=st.integers(0, 1),
    logs=st.lists(
        st.lists(
            st.tuples(st.sampled_from(KINDS), st.integers(0, 59), st.integers(0, 6 * 24 * 60)),
            max_size=8,
        ),
        min_size=1,
        max_size=6,
    ),
    company_steps=st.integers(0, 3),
    offset=st.integers(0, 66),
    fraction=st.floats(0, 1),
)
def test_a_board_is_the_same_at_every_moment_until_it_expires(
    deals: Deals,
    which: int,
    logs: list[list[Any]],
    company_steps: int,
    offset: int,
    fraction: float,
) -> None:
    deal, start = deals[which]
    purchasers = [
        Purchaser(i + 10, f"p{i}", f"P {i}", i, 100, Decimal("100.00"), 10)
        for i in range(len(logs))
    ]
    events = {
        p.id: valid(deal, p, start, wanted) for p, wanted in zip(purchasers, logs, strict=True)
    }
    company = Purchaser(1, "@company", "Co", -1, 0, Decimal(0), 0, role="company")
    done = start + timedelta(days=1, hours=7)
    events[1] = [
        Event(0, 1, n + 1, "mark", step.id, done, done, "alice", "vm")
        for n, step in enumerate(
            [step for step in deal.terms.steps if step.for_company and not step.requires]
        )
        if n < company_steps
    ]
    # Moments every 67 minutes over eight days from the start, the first `offset` minutes in.
    for step in range(8 * 24 * 60 // 67):
        now = start + timedelta(minutes=offset + 67 * step)
        first = build_board(deal, purchasers, events, now, company=company)
        expires = board_expires(first)
        assert expires > now
        shown = document(first)
        # A moment on the way, and a microsecond before it expires: the same board.
        last = expires - timedelta(microseconds=1)
        for moment in (min(now + (expires - now) * fraction, last), last):
            if moment > now:
                later = build_board(deal, purchasers, events, moment, company=company)
                assert document(later) == shown, (now, moment, expires)
