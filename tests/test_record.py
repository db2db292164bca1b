"""The tamper-evident event log: `closing verify` holds on a real closing and names the first
event that breaks when the database is edited behind the tool's back; the board says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from closing.domain.chain import GENESIS, ChainedEvent, canonical, check_chain, event_hash
from closing.domain.errors import ExitCode
from closing.domain.events import Event
from tests.helpers import Cli, as_owner

FRI = "2002-06-07T{}:00-07:00"


def closing_day(cli: Cli) -> None:
    cli("mark-signed", "stonestreet", now=FRI.format("08:30"))
    cli("mark-signed", "bnc", now=FRI.format("09:10"))
    cli("mark-wired", "stonestreet", "--reference", "FED 1", now=FRI.format("10:15"))
    cli("mark-wired", "bnc", now=FRI.format("11:00"))
    cli("mark-faxed", "bnc", now=FRI.format("11:30"))


def tamper(cli: Cli, *statements: str) -> None:
    """Change the record behind closing's back, as the database's owner (on PostgreSQL with its
    append-only triggers switched off for this session)."""
    engine = create_engine(as_owner(cli.database_url))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET session_replication_role = replica"))
        for statement in statements:
            connection.execute(text(statement))
    engine.dispose()


def verify(cli: Cli) -> tuple[int, dict[str, object], str]:
    result = cli("verify", "--json", now=FRI.format("12:00"))
    data: dict[str, object] = json.loads(result.out)
    return result.code, data, result.err


def test_a_real_closing_holds_and_the_heads_are_printed(seeded: Cli) -> None:
    """Seven events (the first load's admin among them) in three chains: verify prints each
    chain's head, the same as the last hash stored."""
    closing_day(seeded)
    result = seeded("verify", now=FRI.format("12:00"))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].startswith(
        "The event log of neotherapeutics-2002-06-07 holds: 7 events in 3 chains, and every fact "
        "stands as recorded ("
    )
    assert lines[1].startswith("Record digest: ") and len(lines[1]) == 15 + 64
    assert lines[2] == "Heads:"
    assert [line.split(":")[0].strip() for line in lines[3:]] == [
        "company",
        "stonestreet",
        "bnc-bach",
        "facts",
    ]
    code, data, _ = verify(seeded)
    assert code == 0 and data["ok"] is True and data["events"] == 7
    assert data["digest"] == lines[1].removeprefix("Record digest: ")
    heads = data["heads"]
    assert isinstance(heads, dict) and all(len(h) == 64 for h in heads.values())


def test_an_edited_amount_is_found_and_the_board_warns(seeded: Cli) -> None:
    """`update event set amount='1.00'` on a wire: verify names that event as changed (exit 8),
    and the board, which keeps working, says so in one line."""
    closing_day(seeded)
    tamper(
        seeded,
        "UPDATE event SET amount = '1.00' WHERE step = 'wired' AND purchaser_id = "
        "(SELECT id FROM purchaser WHERE slug = 'stonestreet')",
    )
    code, data, err = verify(seeded)
    assert code == ExitCode.RECORD
    assert data["broken"] == {
        "party": "stonestreet",
        "seq": 2,
        "event_id": data["broken"]["event_id"],  # type: ignore[index]
        "number": 5,
        "what": "changed",
        "detail": "its content no longer matches its hash (changed after it was recorded)",
    }
    # Named as `closing history` numbers it too: the deal's fifth event.
    history = json.loads(seeded("history", "--json", now=FRI.format("12:05")).out)
    assert [e["number"] for e in history if e["id"] == data["broken"]["event_id"]] == [5]  # type: ignore[index]
    assert err.startswith(
        "Error: the event log of neotherapeutics-2002-06-07 does not hold: event #2 of stonestreet "
        "(history #5) is changed"
    )
    board = seeded("status", now=FRI.format("12:05"))
    assert board.code == 0
    assert (
        "The event log failed verification at 2002-06-07 12:00 PDT: stonestreet #2 (history #5): "
        "changed" in board.out
    )
    assert "The event log failed verification" in seeded("history", now=FRI.format("12:05")).err


FORGED_WIRE = (
    "UPDATE event SET amount = '{}' WHERE step = 'wired' AND purchaser_id = "
    "(SELECT id FROM purchaser WHERE slug = 'stonestreet')"
)


def test_a_failed_verification_cannot_be_deleted_from_the_board(seeded: Cli) -> None:
    """The failed result is kept by the record of facts: its row deleted (the forged amount put
    back, say), the board still says so, and verify names the result deleted; a good result
    added by hand after it does not clear the board either. A good verify clears it, and the
    record's digest stays as it then is."""
    closing_day(seeded)
    tamper(seeded, FORGED_WIRE.format("1.00"))
    assert verify(seeded)[0] == ExitCode.RECORD
    tamper(seeded, FORGED_WIRE.format("450000"), "DELETE FROM verification WHERE ok = false")
    board = seeded("status", now=FRI.format("12:05")).out
    assert "The result of closing verify at 2002-06-07 12:00 PDT was changed or deleted" in board
    code, _, err = verify(seeded)
    assert code == ExitCode.RECORD and "verify result" in err and "deleted" in err, err
    tamper(
        seeded,
        "INSERT INTO verification (deal_id, verified_at, ok, events, detail) "
        "SELECT deal_id, verified_at, true, events, '' FROM verification",
    )
    board = seeded("status", now=FRI.format("12:05")).out
    assert "The event log failed verification at 2002-06-07 12:00 PDT: @facts #" in board, board


def test_a_good_verify_after_a_failed_one_clears_the_board(seeded: Cli) -> None:
    closing_day(seeded)
    tamper(seeded, FORGED_WIRE.format("1.00"))
    assert verify(seeded)[0] == ExitCode.RECORD
    tamper(seeded, FORGED_WIRE.format("450000"))
    assert "failed verification" in seeded("status", now=FRI.format("12:05")).out
    code, first, _ = verify(seeded)
    assert code == 0 and "failed" not in seeded("status", now=FRI.format("12:05")).out
    assert verify(seeded)[1]["digest"] == first["digest"]


def test_a_deleted_last_event_is_found_by_the_head(seeded: Cli) -> None:
    """Deleting BNC's last event leaves a chain that holds but ends before its head: missing;
    the board notices without a verify."""
    closing_day(seeded)
    tamper(seeded, "DELETE FROM event WHERE step = 'warrant_faxed'")
    assert "fewer events than its chains record" in seeded("status", now=FRI.format("12:00")).out
    code, data, _ = verify(seeded)
    assert code == ExitCode.RECORD
    assert data["broken"]["what"] == "missing"  # type: ignore[index]


def test_a_deleted_middle_event_and_a_rewritten_actor_are_found(seeded: Cli) -> None:
    closing_day(seeded)
    tamper(
        seeded,
        "UPDATE event SET actor = 'mallory' WHERE step = 'signed' AND purchaser_id = "
        "(SELECT id FROM purchaser WHERE slug = 'bnc-bach')",
    )
    assert verify(seeded)[1]["broken"]["what"] == "changed"  # type: ignore[index]


def test_a_migrated_database_gets_its_chains(seeded: Cli) -> None:
    """Events recorded before the chain existed get it from the migration: emptied hashes
    recomputed the same way verify does (the migration's pinned copy agrees with the code).
    Recorded before closing knew who did them, they come back self-declared, in the chain's
    first form."""
    from alembic import command
    from alembic.config import Config

    closing_day(seeded)
    before = verify(seeded)[1]["heads"]
    engine = create_engine(as_owner(seeded.database_url))
    config = Config()
    config.set_main_option("script_location", "closing.store:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET session_replication_role = replica"))
        command.downgrade(config, "0003")
        command.upgrade(config, "head")
        if engine.dialect.name == "postgresql":  # the tables made again: alice's grants too
            connection.execute(
                text(
                    "DO $$ BEGIN EXECUTE format('GRANT ALL ON ALL TABLES IN SCHEMA %1$I TO alice, "
                    "bob; GRANT ALL ON ALL SEQUENCES IN SCHEMA %1$I TO alice, bob', "
                    "current_schema()); END $$"
                )
            )
    engine.dispose()
    code, data, _ = verify(seeded)
    assert code == 0 and set(data["heads"]) == set(before)  # type: ignore[arg-type]
    shown = seeded("history", "--json", now=FRI.format("12:00"))
    assert shown.code == 0, shown.err
    history = json.loads(shown.out)
    assert {e["actor_declared"] for e in history} == {True}


# --- the chain itself, for any events ------------------------------------------------------------

START = datetime(2002, 6, 7, 15, tzinfo=UTC)
events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["mark", "undo", "reverse", "waive", "receipt"]),
        st.sampled_from(["signed", "wired", "warrant_faxed"]),
        st.integers(0, 10_000),
        st.one_of(st.none(), st.decimals(min_value=0, max_value=10**9, places=2)),
        st.one_of(st.none(), st.text(max_size=20)),
    ),
    min_size=2,
    max_size=12,
)


def chained(items: list[tuple[str, str, int, Decimal | None, str | None]]) -> list[ChainedEvent]:
    stored, previous = [], GENESIS
    for seq, (kind, step, minutes, amount, note) in enumerate(items, start=1):
        at = START + timedelta(minutes=minutes)
        event = Event(seq, 1, seq, kind, step, at, at, "alice", "h", None, None, amount, note)
        digest = event_hash("deal", "bnc", event, previous)
        stored.append(ChainedEvent(event, previous, digest))
        previous = digest
    return stored


@settings(max_examples=150, deadline=None)
@given(events_strategy, st.data())
def test_any_single_change_deletion_insertion_or_swap_is_found(
    items: list[tuple[str, str, int, Decimal | None, str | None]], data: st.DataObject
) -> None:
    """Change one field, delete one event (not the last: the head finds that), insert a forged
    one, or swap two: `check_chain` always reports a break."""
    chain = chained(items)
    assert check_chain("deal", "bnc", chain) is None
    index = data.draw(st.integers(0, len(chain) - 2))
    how = data.draw(st.sampled_from(["change", "delete", "insert", "swap"]))
    edited = list(chain)
    if how == "change":
        item = edited[index]
        field = data.draw(st.sampled_from(["actor", "note", "amount", "occurred_at", "step"]))
        changed = {
            "actor": "mallory",
            "note": (item.event.note or "") + "!",
            "amount": (item.event.amount or Decimal(0)) + Decimal("0.01"),
            "occurred_at": item.event.occurred_at + timedelta(seconds=1),
            "step": item.event.step + "_x",
        }[field]
        edited[index] = ChainedEvent(
            item.event._replace(**{field: changed}), item.prev_hash, item.hash
        )
    elif how == "delete":
        del edited[index]
        edited = [  # renumbered, as a careful forger would
            ChainedEvent(s.event._replace(seq=n), s.prev_hash, s.hash)
            for n, s in enumerate(edited, 1)
        ]
    elif how == "insert":
        forged = chain[index].event._replace(note="forged")
        edited.insert(
            index + 1,
            ChainedEvent(
                forged,
                chain[index].hash,
                event_hash("deal", "bnc", forged, chain[index].hash or ""),
            ),
        )
        edited = [
            ChainedEvent(s.event._replace(seq=n), s.prev_hash, s.hash)
            for n, s in enumerate(edited, 1)
        ]
    else:
        edited[index], edited[index + 1] = edited[index + 1], edited[index]
    assert check_chain("deal", "bnc", edited) is not None


def test_an_event_that_cannot_be_read_is_reported_not_a_crash(seeded: Cli) -> None:
    """A garbage kind and an amount that is not a number: the board shows every purchaser and
    says which cannot be read; a mark on that purchaser is refused with exit 8."""
    closing_day(seeded)
    # PostgreSQL's NUMERIC column cannot hold 'lots'; there a NaN is what an edit can leave.
    garbage = "'lots'" if seeded.database_url.startswith("sqlite") else "'NaN'"
    tamper(
        seeded,
        "UPDATE event SET kind = 'bogus' WHERE step = 'signed' AND purchaser_id = "
        "(SELECT id FROM purchaser WHERE slug = 'bnc-bach')",
        f"UPDATE event SET amount = {garbage} WHERE step = 'wired' AND purchaser_id = "
        "(SELECT id FROM purchaser WHERE slug = 'stonestreet')",
    )
    board = seeded("status", now=FRI.format("12:00"))
    assert board.code == 0, board.err
    assert "Unreadable: BNC Bach International, Ltd.: its events cannot be read" in board.out
    assert (
        "Unreadable: Stonestreet Limited Partnership: its events cannot be read (event #2"
        in board.out
    )
    data = json.loads(seeded("status", "--json", now=FRI.format("12:00")).out)
    assert all(p["unreadable"] for p in data["purchasers"])
    refused = seeded("mark-dwac", "bnc", now=FRI.format("12:10"))
    assert refused.code == ExitCode.RECORD
    assert refused.err.startswith(
        "Error: the event log of BNC Bach International, Ltd. cannot be read"
    )
    assert verify(seeded)[0] == ExitCode.RECORD


def _json_dumps(content: list[object]) -> bytes:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def test_the_hashed_form_is_json_dumps_for_every_character() -> None:
    """The chain hashes json.dumps(ensure_ascii=False, compact) of an event's content; orjson
    writes it now, and must write the same bytes for every code point, the integers and the
    nulls, or every stored chain would stop verifying."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    content: list[object] = ["closing-event/1", every, 7, None, 0, 2**40, '\x00\x1f\x7f"\\']
    assert canonical(content) == _json_dumps(content)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(), st.integers(0, 2**53), st.none()), max_size=15))
def test_the_hashed_form_is_json_dumps_for_any_content(content: list[object]) -> None:
    try:
        expected = _json_dumps(content)
    except UnicodeEncodeError:  # a lone surrogate: refused as before, the same way
        with pytest.raises(UnicodeEncodeError):
            canonical(content)
        return
    assert canonical(content) == expected
