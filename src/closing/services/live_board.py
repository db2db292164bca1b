"""What the live web board (`closing serve`) reads: the deal it shows (found once, before the
server starts), the change marker it polls, and at each rebuild the board with the deal's active
share links and recent alerts, all in one read transaction on the `Database`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from closing.domain.alert_plan import at_sending
from closing.domain.board import Board
from closing.domain.share_link import RecentAlert, ShareRecord
from closing.services.board import read_board
from closing.services.deals import open_deal
from closing.store.connection import Database
from closing.store.shares import change_marker, recent_alerts, shares_of

RECENT_ALERTS = 8


@dataclass(frozen=True)
class BoardRead:
    """The deal as of one read: the marker first (a mark landing during the read moves it again,
    and the next poll reads once more), then the board and who may see it."""

    marker: tuple[int, ...]
    board: Board
    shares: list[ShareRecord]
    alerts: list[RecentAlert]


class BoardFeed:
    """One deal's reads for the web server, from any of its threads (the `Database` keeps one
    connection per thread)."""

    def __init__(self, database: Database, deal_name: str | None) -> None:
        self.database = database
        with database.transaction(write=False) as connection:
            deal = open_deal(connection, deal_name)  # fails here, before the server starts
        self.deal_id = deal.id
        self.slug = deal.slug

    def marker(self) -> tuple[int, ...]:
        with self.database.transaction(write=False) as connection:
            return change_marker(connection, self.deal_id)

    def shares(self) -> list[ShareRecord]:
        """The deal's active share links as they are now (a page served from an older board
        still admits only these)."""
        with self.database.transaction(write=False) as connection:
            return shares_of(connection, self.deal_id, active_only=True)

    def read(self, now: datetime) -> BoardRead:
        with self.database.transaction(write=False, snapshot=True) as connection:
            marker = change_marker(connection, self.deal_id)
            board = read_board(connection, self.slug, now)
            shares = shares_of(connection, self.deal_id, active_only=True)
            alerts = recent_alerts(connection, self.deal_id, RECENT_ALERTS, until=now)
        zone = board.terms.zone
        # Each alert as it read when it fell due (its stored title keeps the time left open).
        shown = [replace(a, title=at_sending(a.title, a.deadline, zone, a.due_at)) for a in alerts]
        return BoardRead(marker, board, shares, shown)
