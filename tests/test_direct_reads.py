"""The board's reads and the marks' writes through the database driver (closing.store.direct): the
same records as SQLAlchemy's typed columns give, on both backends; `closing status` and the mark
commands use a plain SQLite file without SQLAlchemy and leave every other database to the store."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from closing.domain.errors import DatabaseError, ExitCode, RefusedError
from closing.domain.events import Event
from closing.domain.marking import MarkRequest
from closing.services import operations, reading, recording
from closing.store import direct, queries, wires
from closing.store.connection import Connection
from closing.store.database import Store
from closing.store.schema import EVENTS, PURCHASERS, VERIFICATIONS, WIRE_INSTRUCTIONS
from closing.views.status_document import board_json
from tests.helpers import VERIFY_INSTRUCTIONS, WIRES_DEAL, Cli, load_wires_deal, run_all

FRI = "2002-06-07T{}:00-07:00"


@pytest.fixture
def busy(cli: Cli, tmp_path: Path) -> Cli:
    """A closing with something of everything the board reads: wire instructions entered and
    verified, a partial receipt, a wire, a reversal, a waiver, a withdrawal and a verification."""
    deal = tmp_path / WIRES_DEAL.name
    shutil.copy(WIRES_DEAL, deal)
    return run_all(
        load_wires_deal(cli, deal),
        [
            (VERIFY_INSTRUCTIONS, "09:30"),
            (("mark-wired", "bnc", "--amount", "465,000.25", "--partial"), "10:00"),
            (("mark-wired", "stonestreet"), "10:15"),
            (("mark-faxed", "stonestreet"), "10:20"),
            (("reverse", "stonestreet", "wired", "--reason", "wire returned"), "11:00"),
            (("waive", "stonestreet", "dwac_credited", "--reason", "certificated"), "11:05"),
            (("withdraw", "bnc", "--reason", "never sent the rest"), "11:08"),
            (("verify",), "11:10"),
        ],
    )


def typed_records(url: str) -> dict[str, list[tuple[object, ...]]]:
    """What SQLAlchemy's typed columns (closing.store.schema) return for the rows the board
    reads."""
    store = Store(url, must_exist=True)
    with store.session(read_only=True) as session:
        events = session.execute(
            select(*[EVENTS.c[f] for f in Event._fields]).order_by(EVENTS.c.id)
        )
        parties = session.execute(
            select(PURCHASERS.c.id, PURCHASERS.c.purchase_price, PURCHASERS.c.active)
        )
        versions = session.execute(
            select(WIRE_INSTRUCTIONS.c.entered_at, WIRE_INSTRUCTIONS.c.verified_at)
        )
        checks = session.execute(select(VERIFICATIONS.c.verified_at, VERIFICATIONS.c.ok))
        return {
            "events": [tuple(row) for row in events],
            "parties": sorted(tuple(row) for row in parties),
            "versions": [tuple(row) for row in versions],
            "checks": [tuple(row) for row in checks],
        }


def direct_records(url: str) -> dict[str, list[tuple[object, ...]]]:
    """The same rows through the driver connection of a store's session."""
    store = Store(url, must_exist=True)
    with store.session(read_only=True) as session:
        reader = queries.reader(session)
        deal = reading.open_deal(reader, None)
        purchasers, company = direct.parties(reader, deal.id, active_only=False)
        everyone = [*purchasers, *([company] if company else [])]
        by_party = direct.events_by_party(reader, deal.id)
        return {
            "events": sorted(
                (tuple(e) for events in by_party.values() for e in events), key=lambda e: e[0]
            ),
            "parties": sorted((p.id, p.purchase_price, p.active) for p in everyone),
            "versions": [
                (v.entered_at, v.verified_at) for v in wires.wire_versions(reader, deal.id)
            ],
            "checks": [direct.last_verification(reader, deal.id)[:2]],  # type: ignore[index]
        }


def test_the_driver_reads_what_the_typed_columns_give(busy: Cli) -> None:
    """Instants UTC-aware, money exact Decimal, booleans: equal, field by field, on each
    backend."""
    typed, found = typed_records(busy.database_url), direct_records(busy.database_url)
    assert found == typed
    amounts = [e[Event._fields.index("amount")] for e in found["events"]]
    assert Decimal("465000.25") in amounts
    moments = [e[Event._fields.index("recorded_at")] for e in found["events"]]
    assert all(isinstance(m, datetime) and m.utcoffset() == UTC.utcoffset(None) for m in moments)
    assert {active for _, _, active in found["parties"]} <= {True, False}
    assert found["versions"][0][1] == datetime(2002, 6, 7, 16, 30, tzinfo=UTC)  # 09:30 PDT


def test_status_on_a_sqlite_file_and_through_the_store_say_the_same(busy: Cli) -> None:
    """The board read with sqlite3 equals the board read through SQLAlchemy's session, as the
    closing stands and as it stood at 10:05."""
    if not busy.database_url.startswith("sqlite:///"):
        pytest.skip("the file path is for SQLite")
    now = datetime.fromisoformat(FRI.format("16:00"))
    store = Store(busy.database_url, must_exist=True)
    for as_of in (None, datetime.fromisoformat(FRI.format("10:05"))):
        on_file = reading.board_on_file(busy.database_url, None, now, as_of)  # type: ignore[arg-type]
        assert on_file is not None
        through_store = operations.board(store, None, now, as_of)  # type: ignore[arg-type]
        assert board_json(on_file) == board_json(through_store)
    shown = json.loads(busy("status", "--json", now=FRI.format("16:00")).out)
    bnc = next(p for p in shown["purchasers"] if p["slug"] == "bnc-bach")
    assert bnc["amount_received"] == "465000.25"
    assert shown["wire_instructions"]["verified"] is True


def test_a_database_the_driver_should_not_read_is_left_to_the_store(
    busy: Cli, tmp_path: Path
) -> None:
    """Another backend, a URL with options, a missing file (not created) and a file at another
    schema are not read directly; `status` then goes through the store, which upgrades, explains
    or refuses as before."""
    url = busy.database_url
    now = datetime.fromisoformat(FRI.format("16:00"))
    assert reading.board_on_file("postgresql+psycopg://u@127.0.0.1/x", None, now) is None
    missing = tmp_path / "nothing-here.db"
    assert reading.board_on_file(f"sqlite:///{missing}", None, now) is None
    assert not missing.exists()
    if not url.startswith("sqlite:///"):
        return
    path = url.removeprefix("sqlite:///")
    assert reading.board_on_file(f"{url}?timeout=5", None, now) is None
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    assert reading.board_on_file(url, None, now) is None
    newer = busy("status", "--json", now=FRI.format("16:00"))
    assert newer.code == ExitCode.DATABASE
    assert "has schema 0099, newer than this closing knows (0006); upgrade closing" in newer.err


def test_a_file_that_is_not_a_database_is_explained_by_the_store(cli: Cli, tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("not SQLite\n" * 100)
    cli.monkeypatch.setenv("CLOSING_DATABASE_URL", f"sqlite:///{not_a_database}")
    result = cli("status")
    assert result.code != 0
    assert "file is not a database" in result.err
    assert not_a_database.read_text() == "not SQLite\n" * 100


def test_a_mark_on_a_sqlite_file_imports_no_sqlalchemy(seeded: Cli, tmp_path: Path) -> None:
    """`closing mark-wired` on a plain SQLite file records through sqlite3 alone; the event is
    chained as the store would chain it (`closing verify` holds)."""
    if not seeded.database_url.startswith("sqlite:///"):
        pytest.skip("the file path is for SQLite")
    code = (
        "import sys\nfrom closing.cli import main\n"
        "try:\n    main(['mark-signed', 'stonestreet'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel')))"
    )
    env = {**os.environ, "CLOSING_NOW": FRI.format("09:00")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.startswith("Marked signed for Stonestreet Limited Partnership at "), done
    assert done.stdout.endswith("\n[]\n")
    assert seeded("mark-wired", "stonestreet", now=FRI.format("10:00")).code == 0
    checked = json.loads(seeded("verify", "--json", now=FRI.format("10:05")).out)
    assert checked["ok"] is True
    assert checked["events"] == 3


def test_a_driver_error_while_recording_writes_nothing(seeded: Cli) -> None:
    """A failure inside the write transaction rolls back what it appended and hands over to the
    store (None); a refusal rolls back and is raised as it is."""
    url = seeded.database_url
    if not url.startswith("sqlite:///"):
        pytest.skip("the file path is for SQLite")
    now = datetime.fromisoformat(FRI.format("09:00"))
    request = MarkRequest("stonestreet", "signed", None, "alice", "vm")

    def fails_after_appending(reader: Connection) -> None:
        recording.mark(reader, None, request, now)
        raise sqlite3.OperationalError("disk I/O error")

    assert direct.on_sqlite_file(url, fails_after_appending, write=True) is None
    refused = MarkRequest("stonestreet", "wired", None, "alice", "vm")
    with pytest.raises(RefusedError, match="signed is not done"):
        direct.on_sqlite_file(
            url, lambda reader: recording.mark(reader, None, refused, now), write=True
        )
    history = seeded("history", "--json", now=FRI.format("09:05"))
    assert [e["step"] for e in json.loads(history.out)] == ["prospectus_delivered"]


def test_a_database_another_writer_holds_is_refused_once(
    seeded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that cannot get the lock within the wait says so (exit 6, "try again") instead of
    handing over to the store, which would only wait as long again; readers are not held up."""
    url = seeded.database_url
    if not url.startswith("sqlite:///"):
        pytest.skip("the file path is for SQLite")
    monkeypatch.setattr(direct, "LOCK_WAIT", 0.2)
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseError, match="database is locked; try again") as refused:
            direct.on_sqlite_file(url, lambda reader: None, write=True)
        assert refused.value.exit_code == ExitCode.DATABASE
        deals = direct.on_sqlite_file(url, lambda reader: direct.deal_slugs(reader, 5))
        assert deals == ["neotherapeutics-2002-06-07"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
