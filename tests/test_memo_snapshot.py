"""The closing memo certifies one state of the record: its board, the verification of the log,
the record of events and the funds flow are read in one transaction that sees one snapshot
(closing.services.record.memo_inputs), so a mark committed while the memo is being read is in
none of them, on SQLite (it waits for the memo's transaction) and on PostgreSQL (REPEATABLE READ:
it commits, unseen)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest

from closing.domain.marking import MarkRequest
from closing.services import record
from closing.services.mark import mark
from closing.services.record import memo_inputs
from closing.store.connection import Database
from tests.helpers import Cli, board_json, purchaser_row

NOW = datetime.fromisoformat("2002-06-07T09:30:00-07:00")


def test_a_mark_committed_while_the_memo_is_read_is_in_none_of_its_parts(
    seeded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert seeded("mark-signed", "stonestreet", now="2002-06-07T08:30:00-07:00").code == 0
    real_read_board = record.read_board
    marked = threading.Event()

    def other_terminal() -> None:  # BNC signs, from another connection
        request = MarkRequest("bnc-bach", "signed", actor="alice", host="other")
        mark(Database(seeded.database_url), None, request, NOW)
        marked.set()

    def read_board_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # After the log is verified, before the board is read: another terminal marks.
        thread = threading.Thread(target=other_terminal, daemon=True)
        thread.start()
        thread.join(0.5)  # PostgreSQL: committed by now; SQLite: waiting for the memo's lock
        return real_read_board(*args, **kwargs)

    monkeypatch.setattr(record, "read_board", read_board_meanwhile)
    inputs = memo_inputs(Database(seeded.database_url), None, NOW)
    assert marked.wait(10), "the other terminal's mark never went through"
    shown = {row.purchaser.slug: row for row in inputs.board.purchasers}
    assert shown["bnc-bach"].steps["signed"].status != "done"
    assert inputs.check.events == len(inputs.record.entries)
    assert not any(
        entry.party.slug == "bnc-bach" and entry.event.step == "signed"
        for entry in inputs.record.entries
    )
    after = purchaser_row(board_json(seeded, NOW.isoformat()), "bnc-bach")
    assert after["steps"]["signed"]["status"] == "done"  # it was recorded, after the memo
