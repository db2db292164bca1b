"""Recorded time is the machine's: `recorded_at` comes from the system clock (SQLite) or the
database server (PostgreSQL), never from `CLOSING_NOW`, which stays the rehearsal clock (the
history's and the board's times); every event recorded under it says it is a rehearsal, in
`history`, `--json`, the export and the memo; a machine time earlier than the deal's last is
refused (a clock moved back); the hash covers the rehearsal time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from closing.domain.errors import ExitCode
from tests.helpers import Cli
from tests.test_record import tamper

FRI = "2002-06-07T{}:00-07:00"


def test_an_event_recorded_in_a_rehearsal_carries_both_times(seeded: Cli) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    assert seeded("mark-signed", "bnc", now=FRI.format("09:10")).code == 0
    (event,) = [
        e
        for e in json.loads(seeded("history", "--json", now=FRI.format("09:20")).out)
        if e["kind"] == "mark" and e["purchaser"] == "bnc-bach"
    ]
    recorded = datetime.fromisoformat(event["recorded_at"])
    assert before <= recorded <= datetime.now(UTC) + timedelta(seconds=5)  # the machine's
    assert event["rehearsal"] is True
    assert event["rehearsal_at"] == "2002-06-07T09:10:00-07:00"  # CLOSING_NOW's
    text = seeded("history", "bnc", now=FRI.format("09:20")).out
    assert text.startswith("#3  2002-06-07 09:10 PDT  mark signed")
    assert text.rstrip().endswith("· rehearsal")
    memo = seeded("report", "--format", "md", now=FRI.format("09:30")).out
    first = memo.split("\n## ")[1]  # the memo's first section, on its first page
    assert first.startswith("The closing")
    assert "This memo records a rehearsal: 3 of its 3 events" in first


def test_the_rehearsal_time_is_under_the_hash(seeded: Cli) -> None:
    assert seeded("mark-signed", "bnc", now=FRI.format("09:10")).code == 0
    tamper(seeded, "UPDATE event SET rehearsal_at = NULL WHERE kind = 'mark' AND step = 'signed'")
    broken = seeded("verify", now=FRI.format("09:20"))
    assert broken.code == ExitCode.RECORD and "is changed" in broken.err


def test_a_clock_moved_back_is_refused(seeded: Cli) -> None:
    """The deal's last event was recorded (by the machine) in 2100: a mark now is refused."""
    assert seeded("mark-signed", "bnc", now=FRI.format("09:10")).code == 0
    future = "2100-01-01 00:00:00.000000" if "sqlite" in seeded.database_url else "2100-01-01"
    tamper(seeded, f"UPDATE event SET recorded_at = '{future}' WHERE kind = 'mark'")
    refused = seeded("mark-signed", "stonestreet", now=FRI.format("09:30"))
    assert refused.code == ExitCode.REFUSED
    assert "earlier than the last event recorded in this deal" in refused.err
    assert len(refused.err.splitlines()) == 1
