"""The one path to the database (closing.store.connection): what the store's reads give back
(UTC-aware instants, exact Decimal money, booleans, the same as the schema's typed columns
declare) on both backends; `closing status` and the marks never import SQLAlchemy; a driver error
is one line and writes nothing; a database closing should not use is refused, never created."""

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
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from closing.domain.errors import DatabaseError, ExitCode, RefusedError
from closing.domain.events import Event
from closing.domain.marking import MarkRequest
from closing.services.board import board
from closing.services.deals import open_deal
from closing.services.mark import mark
from closing.store import connection as store_connection
from closing.store import deals as stored_deals
from closing.store import events as log
from closing.store import verifications, wires
from closing.store.connection import HEAD, Database
from closing.store.schema import EVENTS, PURCHASERS, VERIFICATIONS, WIRE_INSTRUCTIONS
from closing.views.status_document import board_json
from tests.helpers import AS_ALICE, VERIFY_INSTRUCTIONS, WIRES_DEAL, Cli, load_wires_deal, run_all

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
    """What SQLAlchemy's typed columns (closing.store.schema, the tables' one declaration)
    return for the rows the board reads."""
    engine = create_engine(url)
    try:
        with engine.connect() as session:
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
    finally:
        engine.dispose()


def stored_records(url: str) -> dict[str, list[tuple[object, ...]]]:
    """The same rows as the store reads them, on a Connection."""
    with Database(url, must_exist=True).transaction(write=False) as connection:
        deal = open_deal(connection, None)
        purchasers, company = stored_deals.parties(connection, deal.id, active_only=False)
        everyone = [*purchasers, *([company] if company else [])]
        by_party = log.events_by_party(connection, deal.id)
        last = verifications.last_verification(connection, deal.id)
        assert last is not None
        return {
            "events": sorted(
                (tuple(e) for events in by_party.values() for e in events), key=lambda e: e[0]
            ),
            "parties": sorted((p.id, p.purchase_price, p.active) for p in everyone),
            "versions": [
                (v.entered_at, v.verified_at) for v in wires.wire_versions(connection, deal.id)
            ],
            "checks": [(last.at, last.ok)],
        }


def test_the_store_reads_what_the_typed_columns_declare(busy: Cli) -> None:
    """Instants UTC-aware, money exact Decimal, booleans: equal, field by field, to what the
    schema's typed columns give, on each backend."""
    typed, found = typed_records(busy.database_url), stored_records(busy.database_url)
    assert found == typed
    amounts = [e[Event._fields.index("amount")] for e in found["events"]]
    assert Decimal("465000.25") in amounts
    moments = [e[Event._fields.index("recorded_at")] for e in found["events"]]
    assert all(isinstance(m, datetime) and m.utcoffset() == UTC.utcoffset(None) for m in moments)
    assert {active for _, _, active in found["parties"]} <= {True, False}
    assert found["versions"][0][1] == datetime(2002, 6, 7, 16, 30, tzinfo=UTC)  # 09:30 PDT


def test_status_now_and_as_it_stood(busy: Cli) -> None:
    """The board the service reads is the one `status --json` prints, as the closing stands and
    as it stood at 10:05 (the partial receipt counted, the later wire not)."""
    now = datetime.fromisoformat(FRI.format("16:00"))
    database = Database(busy.database_url, must_exist=True)
    current = board(database, None, now)
    earlier = board(database, None, now, datetime.fromisoformat(FRI.format("10:05")))  # type: ignore[arg-type]
    shown = json.loads(busy("status", "--json", now=FRI.format("16:00")).out)
    assert shown == json.loads(json.dumps(board_json(current)))
    bnc = next(p for p in shown["purchasers"] if p["slug"] == "bnc-bach")
    assert bnc["amount_received"] == "465000.25"
    assert shown["wire_instructions"]["verified"] is True
    assert board_json(earlier) != board_json(current)


def test_a_database_closing_should_not_use_is_refused(busy: Cli, tmp_path: Path) -> None:
    """A missing file (not created), a URL with an option SQLite would not apply and a file at a
    newer schema are each refused with one line (exit 6)."""
    url = busy.database_url
    missing = tmp_path / "nothing-here.db"
    busy.monkeypatch.setenv("CLOSING_DATABASE_URL", f"sqlite:///{missing}")
    absent = busy("status", now=FRI.format("16:00"))
    assert (absent.code, absent.err) == (
        ExitCode.DATABASE,
        f"Error: no database at {missing}; run closing init FILE\n",
    )
    assert not missing.exists()
    if not url.startswith("sqlite:///"):
        return
    busy.monkeypatch.setenv("CLOSING_DATABASE_URL", f"{url}?timeout=5")
    optioned = busy("status", now=FRI.format("16:00"))
    assert optioned.code == ExitCode.DATABASE
    assert "option timeout is not applied; SQLite options need the URI form" in optioned.err
    busy.monkeypatch.setenv("CLOSING_DATABASE_URL", url)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    newer = busy("status", "--json", now=FRI.format("16:00"))
    assert newer.code == ExitCode.DATABASE
    assert f"has schema 0099, newer than this closing knows ({HEAD}); upgrade closing" in newer.err


def test_a_file_that_is_not_a_database_is_explained_by_the_store(cli: Cli, tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_text("not SQLite\n" * 100)
    cli.monkeypatch.setenv("CLOSING_DATABASE_URL", f"sqlite:///{not_a_database}")
    result = cli("status")
    assert result.code != 0
    assert "file is not a database" in result.err
    assert not_a_database.read_text() == "not SQLite\n" * 100


def test_a_mark_imports_no_sqlalchemy(seeded: Cli, tmp_path: Path) -> None:
    """`closing mark-signed` records through the database's driver alone; the event is chained
    as every append chains it (`closing verify` holds)."""
    if not seeded.database_url.startswith("sqlite:///"):
        pytest.skip("a subprocess on the SQLite file")
    code = AS_ALICE + (
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
    assert checked["events"] == 4  # alice made admin by the first load, two marks, and one


def test_a_driver_error_while_recording_writes_nothing(
    seeded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A driver failure inside the write transaction rolls back what it appended and is one
    `DatabaseError` line (nothing is retried another way); a refusal rolls back and is raised as
    it is."""
    database = Database(seeded.database_url, must_exist=True)
    now = datetime.fromisoformat(FRI.format("09:00"))
    request = MarkRequest("stonestreet", "signed", None, "alice", "vm")
    appended = log.append_event

    def fails_after_appending(*args: Any) -> Event:
        appended(*args)
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(log, "append_event", fails_after_appending)
        with pytest.raises(DatabaseError, match=r"failed: disk I/O error$"):
            mark(database, None, request, now)
    refused = MarkRequest("stonestreet", "wired", None, "alice", "vm")
    with pytest.raises(RefusedError, match="signed is not done"):
        mark(database, None, refused, now)
    history = seeded("history", "--json", now=FRI.format("09:05"))
    steps = [e["step"] for e in json.loads(history.out) if e["kind"] != "team"]
    assert steps == ["prospectus_delivered"]


def test_a_database_another_writer_holds_is_refused_once(
    seeded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that cannot get the lock within the wait says so (exit 6, "try again"); readers
    are not held up."""
    url = seeded.database_url
    if not url.startswith("sqlite:///"):
        pytest.skip("the file lock is SQLite's")
    monkeypatch.setattr(store_connection, "LOCK_WAIT", 0.2)
    database = Database(url, must_exist=True)
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with (
            pytest.raises(DatabaseError, match="database is locked; try again") as refused,
            database.transaction(),
        ):
            pass
        assert refused.value.exit_code == ExitCode.DATABASE
        with database.transaction(write=False) as connection:
            assert stored_deals.deal_slugs(connection, 5) == ["neotherapeutics-2002-06-07"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
