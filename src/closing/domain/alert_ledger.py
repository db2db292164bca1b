"""An alert as the ledger reads it back (`closing alerts list`): what was due, for whom, each
channel's delivery, and the one status those deliveries add up to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    deal: str
    purchaser: str
    step: str
    rule: str
    deadline: datetime
    due_at: datetime
    decided_at: datetime
    title: str
    key: str
    superseded: bool
    deliveries: list[dict[str, object]]
    zone: ZoneInfo

    @property
    def status(self) -> str:
        states = {str(d["status"]) for d in self.deliveries}
        if self.superseded:
            return "superseded"
        for state in ("failed", "retrying", "sending", "pending", "dismissed"):
            if state in states:
                return state
        return "sent"
