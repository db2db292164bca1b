"""The database: exact money, aware times, append-only events, reloads that lose nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from closing.domain.errors import ExitCode
from closing.domain.events import Event
from closing.domain.marking import MarkRequest
from closing.services.load import load_deal
from closing.services.mark import mark
from closing.store import events as log
from closing.store.connection import Connection, Database
from closing.store.identity import actor
from tests.helpers import Cli

PDT = timezone(timedelta(hours=-7))
LOADED = datetime(2002, 6, 7, 7, 0, tzinfo=PDT)


def add_event(connection: Connection, **changes: object) -> None:
    """An event of the first party, with `changes` applied, written as every append writes its
    values (`Connection.bind_moment`, `bind_money`)."""
    values: dict[str, object] = {
        "deal_id": 1,
        "purchaser_id": 1,
        "seq": 1,
        "kind": "mark",
        "step": "signed",
        "occurred_at": LOADED,
        "recorded_at": LOADED,
        "actor": actor(connection),  # who is signed in (PostgreSQL refuses any other)
        "host": "h",
        "amount": None,
        **changes,
    }
    values["occurred_at"] = connection.bind_moment(values["occurred_at"])  # type: ignore[arg-type]
    values["recorded_at"] = connection.bind_moment(values["recorded_at"])  # type: ignore[arg-type]
    values["amount"] = connection.bind_money(values["amount"])  # type: ignore[arg-type]
    names = ", ".join(values)
    connection.execute(
        f"INSERT INTO event ({names}) VALUES ({', '.join('?' * len(values))})",
        list(values.values()),
    )


def stored_events(database: Database) -> list[Event]:
    with database.transaction(write=False) as connection:
        return log.party_events(connection, 1)


@pytest.fixture
def database(database_url: str) -> Database:
    return Database(database_url)


@pytest.mark.parametrize(
    "amount",
    ["0.2325", "450000.00", "449999.80", "123456789012345678.91", "0.10", "930000"],
)
def test_money_round_trips_exactly(database: Database, seed_path: Path, amount: str) -> None:
    """What goes in as a Decimal comes out as the same Decimal, digits and scale."""
    load_deal(database, str(seed_path), LOADED)
    with database.transaction() as connection:
        add_event(connection, seq=99, step="wired", amount=Decimal(amount))
    (stored,) = [event for event in stored_events(database) if event.seq == 99]
    assert stored.amount == Decimal(amount)
    assert str(stored.amount) == amount


def test_ten_dimes_sum_to_a_dollar(database: Database, seed_path: Path) -> None:
    """Adding stored amounts gives exact sums (SQLite's NUMERIC would not)."""
    load_deal(database, str(seed_path), LOADED)
    with database.transaction() as connection:
        for seq in range(10):
            add_event(connection, seq=100 + seq, step="x", amount=Decimal("0.10"))
    amounts = [event.amount for event in stored_events(database) if event.seq >= 100]
    assert sum(amounts, Decimal(0)) == Decimal("1.00")  # type: ignore[arg-type]


def test_floats_are_refused_as_money(database: Database, seed_path: Path) -> None:
    """A float never reaches the database as money."""
    load_deal(database, str(seed_path), LOADED)
    with (
        pytest.raises(Exception, match="money must be a Decimal"),
        database.transaction() as connection,
    ):
        add_event(connection, step="wired", amount=0.1)


def test_times_come_back_aware_and_equal(database: Database, seed_path: Path) -> None:
    """A time stored with an offset comes back as the same instant, time-zone aware."""
    load_deal(database, str(seed_path), LOADED)
    at = datetime(2002, 6, 7, 13, 0, 59, 123456, tzinfo=PDT)
    recorded = mark(database, None, MarkRequest("stonestreet", "signed", at=at), at)
    with database.transaction(write=False) as connection:
        (stored,) = [
            event
            for event in log.party_events(connection, recorded.purchaser.id)
            if event.id == recorded.event.id
        ]
    assert stored.occurred_at.tzinfo is not None
    assert stored.occurred_at == at
    assert stored.occurred_at.astimezone(UTC) == datetime(2002, 6, 7, 20, 0, 59, 123456, UTC)


@pytest.mark.parametrize("year", [1, 999, 1000, 2002])
def test_an_instant_of_any_year_reads_back_as_written(year: int) -> None:
    """SQLite's text of a year before 1000 is unpadded (as the chain's time text): it reads back
    (a link's wire report once stored year 1, and nothing could read the alert made of it)."""
    from closing.store.values import moment_to_store, stored_moment

    moment = datetime(year, 1, 1, 22, 56, 2, tzinfo=UTC)
    assert stored_moment(moment_to_store(moment, sqlite=True)) == moment


def test_naive_times_are_refused(database: Database, seed_path: Path) -> None:
    """A naive datetime never reaches the database."""
    load_deal(database, str(seed_path), LOADED)
    with pytest.raises(Exception, match="naive"), database.transaction() as connection:
        add_event(
            connection,
            occurred_at=datetime(2002, 6, 7, 13, 0),  # noqa: DTZ001 - the point of the test
            recorded_at=LOADED,
        )


def test_reloading_the_same_file_changes_nothing(seeded: Cli, seed_path: Path) -> None:
    """init is idempotent: no new revision, the same message."""
    result = seeded("init", str(seed_path), now="2002-06-07T08:00:00-07:00")
    assert result.out == "Deal neotherapeutics-2002-06-07 is up to date; nothing changed.\n"


def test_reloading_a_changed_file_says_what_changed_and_keeps_events(
    seeded: Cli, seed_path: Path
) -> None:
    """A new cutoff and a new purchaser are listed; recorded events stay."""
    seeded("mark-signed", "stonestreet", now="2002-06-07T08:30:00-07:00")
    text = seed_path.read_text().replace('time: "17:00"', 'time: "16:00"')
    text = text.replace(
        "  - name: BNC Bach International, Ltd.",
        "  - name: Alpha Capital AG\n    shares: 100\n    purchase_price: $23.25\n"
        "    warrant_shares: 10\n  - name: BNC Bach International, Ltd.",
    )
    seed_path.write_text(text)
    result = seeded("init", str(seed_path), now="2002-06-07T09:00:00-07:00")
    assert result.code == 0, result.err
    assert result.out == (
        "Updated deal neotherapeutics-2002-06-07:\n"
        "  cutoff.time: 17:00 -> 16:00\n"
        "  purchaser added: Alpha Capital AG\n"
    )
    # The reload is an event of the deal, in words, in the history.
    history = json.loads(seeded("history", "--json", now="2002-06-07T09:00:00-07:00").out)
    assert (history[-1]["kind"], history[-1]["note"]) == (
        "revision",
        "cutoff.time: 17:00 -> 16:00; purchaser added: Alpha Capital AG",
    )
    data = json.loads(seeded("status", "--json", now="2002-06-07T09:00:00-07:00").out)
    assert [p["slug"] for p in data["purchasers"]] == [
        "stonestreet",
        "alpha-capital-ag",
        "bnc-bach",
    ]
    assert data["purchasers"][0]["steps"]["signed"]["status"] == "done"
    assert data["purchasers"][0]["steps"]["wired"]["deadline"] == "2002-06-07T16:00:00-07:00"


def test_a_purchaser_dropped_from_the_file_keeps_its_events(seeded: Cli, seed_path: Path) -> None:
    """Removing a purchaser with recorded events is refused with what would change and the flag
    that accepts it; accepted, it hides the purchaser from the board and its history stays."""
    seeded("mark-signed", "bnc", now="2002-06-07T08:30:00-07:00")
    text = seed_path.read_text()
    seed_path.write_text(text[: text.index("  - name: BNC Bach")])
    refused = seeded("init", str(seed_path), now="2002-06-07T09:00:00-07:00")
    assert (refused.code, refused.err) == (
        ExitCode.REFUSED,
        f"Error: closing init {seed_path} would lose sight of recorded facts:\n"
        "  - BNC Bach International, Ltd. (bnc-bach) would leave the board with 1 recorded "
        "event (a removed or renamed purchaser; if renamed, add `slug: bnc-bach` to it in the "
        "deal file to keep its record)\n"
        "nothing was changed; to make these changes deliberately (they are recorded in the "
        "deal's history): closing init FILE --accept-changes\n",
    )
    still = json.loads(seeded("status", "--json", now="2002-06-07T09:00:00-07:00").out)
    assert len(still["purchasers"]) == 2
    result = seeded("init", str(seed_path), "--accept-changes", now="2002-06-07T09:00:00-07:00")
    assert "purchaser removed: BNC Bach International, Ltd. (its 1 event is kept)" in result.out
    data = json.loads(seeded("status", "--json", now="2002-06-07T09:00:00-07:00").out)
    assert [p["slug"] for p in data["purchasers"]] == ["stonestreet"]
    history = json.loads(seeded("history", "--json", now="2002-06-07T09:00:00-07:00").out)
    assert [(e["purchaser"], e["step"]) for e in history if e["purchaser"] == "bnc-bach"] == [
        ("bnc-bach", "signed")
    ]


def test_renaming_a_purchaser_says_which_slug_keeps_its_record(cli: Cli, seed_path: Path) -> None:
    """A purchaser loaded with a typo in its name (and no slug of its own) has its record under
    the slug made from that name: fixing the typo is refused with the `slug:` line that keeps
    the record, and with that line the reload renames it and keeps its events."""
    typo = "  - name: Stonestreet Limited Partnershp\n"
    seed_path.write_text(
        seed_path.read_text().replace(
            "  - name: Stonestreet Limited Partnership\n    slug: stonestreet\n", typo
        )
    )
    assert cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00").code == 0
    slug = "stonestreet-limited-partnershp"
    for args in (("mark-signed", slug), ("mark", "company", "prospectus_delivered")):
        assert cli(*args, now="2002-06-07T08:30:00-07:00").code == 0
    assert cli("mark-wired", slug, now="2002-06-07T08:40:00-07:00").code == 0
    fixed = "  - name: Stonestreet Limited Partnership\n"
    seed_path.write_text(seed_path.read_text().replace(typo, fixed))
    refused = cli("init", str(seed_path), now="2002-06-07T09:00:00-07:00")
    assert refused.code == ExitCode.REFUSED
    assert (
        "  - Stonestreet Limited Partnershp (stonestreet-limited-partnershp) would leave the "
        "board with 2 recorded events and $450,000.00 received (a removed or renamed purchaser; "
        "if renamed, add `slug: stonestreet-limited-partnershp` to it in the deal file to keep "
        "its record)\n"
    ) in refused.err
    seed_path.write_text(seed_path.read_text().replace(fixed, f"{fixed}    slug: {slug}\n"))
    renamed = cli("init", str(seed_path), now="2002-06-07T09:05:00-07:00")
    assert renamed.code == 0, renamed.err
    data = json.loads(cli("status", "--json", now="2002-06-07T09:05:00-07:00").out)
    first = data["purchasers"][0]
    assert (first["slug"], first["name"]) == (slug, "Stonestreet Limited Partnership")
    assert first["steps"]["wired"]["status"] == "done"


def test_a_reload_that_would_strand_recorded_events_is_refused(
    seeded: Cli, seed_path: Path
) -> None:
    """Removing a step that has events is refused, and the old terms stay."""
    seeded("mark-signed", "bnc", now="2002-06-07T08:30:00-07:00")
    text = seed_path.read_text()
    start = text.index("  - id: signed")
    end = text.index("  - id: wired")
    text = text[:start] + text[end:]
    seed_path.write_text(
        text.replace(
            "    requires: [signed, prospectus_delivered]\n",
            "    requires: [prospectus_delivered]\n",
        ).replace("    satisfies: [signed]\n", "")  # the agreement's pages no longer mark it
    )
    result = seeded("init", str(seed_path), now="2002-06-07T09:00:00-07:00")
    assert result.code == 3
    assert result.err == (
        f"{seed_path}:1: the new steps do not fit events already recorded (BNC Bach "
        "International, Ltd.: there is no step 'signed'; the steps are wired, warrant_faxed, "
        "warrant_delivered, dwac_credited); record an undo first or keep the steps\n"
    )
    data = json.loads(seeded("status", "--json", now="2002-06-07T09:00:00-07:00").out)
    assert data["deal"]["steps"][2]["id"] == "signed"


def test_a_price_changed_after_a_wire_needs_accept_changes(seeded: Cli, seed_path: Path) -> None:
    """Re-pricing a purchaser whose wire is recorded is refused; accepted, the history says so."""
    seeded("mark-signed", "bnc", now="2002-06-07T08:30:00-07:00")
    seeded("mark-wired", "bnc", now="2002-06-07T09:00:00-07:00")
    text = seed_path.read_text().replace("purchase_price: $930,000", "purchase_price: $930,000.02")
    seed_path.write_text(text)
    refused = seeded("init", str(seed_path), now="2002-06-07T10:00:00-07:00")
    assert refused.code == ExitCode.REFUSED
    assert (
        "  - BNC Bach International, Ltd.: purchase price $930,000.00 -> $930,000.02 after "
        "$930,000.00 was recorded as received\n" in refused.err
    )
    accepted = seeded("init", str(seed_path), "--accept-changes", now="2002-06-07T10:01:00-07:00")
    assert accepted.code == 0, accepted.err
    last = json.loads(seeded("history", "--json", now="2002-06-07T10:02:00-07:00").out)[-1]
    assert last["kind"] == "revision"
    assert last["note"].startswith(
        "accepted: BNC Bach International, Ltd.: purchase price $930,000.00 -> $930,000.02"
    )


def test_a_different_deal_over_the_same_slug_is_refused(seeded: Cli, seed_path: Path) -> None:
    """Another agreement loaded under an existing slug is refused, naming both."""
    text = seed_path.read_text().replace(
        "title: NeoTherapeutics, Inc. Securities Purchase Agreement (shares and warrants)",
        "title: Acme Corp. Note Purchase Agreement",
    )
    seed_path.write_text(text)
    refused = seeded("init", str(seed_path), now="2002-06-07T10:00:00-07:00")
    assert refused.code == ExitCode.REFUSED
    assert "a different deal over neotherapeutics-2002-06-07" in refused.err


def test_an_import_looks_up_earlier_credits_by_their_imad_through_an_index(
    database: Database, seed_path: Path
) -> None:
    """A second bank file of the day repeats the first's credits: each is looked up by its IMAD
    among those imported before (one wire, whichever file reports it) through the index of
    migration 0014 on both backends, not by reading the deal's whole credit ledger."""
    from closing.store.wires import credits_by

    load_deal(database, str(seed_path), LOADED)
    with database.transaction() as connection:
        if connection.sqlite:
            plan = connection.rows("EXPLAIN QUERY PLAN " + credits_by("imad", 1), (1, "a"))
        else:  # a small table: the planner would scan it unless told not to
            connection.execute("SET LOCAL enable_seqscan = off")
            plan = connection.rows("EXPLAIN " + credits_by("imad", 1), (1, "a"))
    shown = " ".join(" ".join(str(cell) for cell in row) for row in plan)
    if database.dialect == "sqlite":
        assert "USING INDEX ix_bank_credit_deal_imad (deal_id=? AND imad=?)" in shown, shown
    else:
        condition = shown.split("Index Cond:", 1)[1]
        assert "ix_bank_credit_deal_imad" in shown and "imad" in condition, shown
