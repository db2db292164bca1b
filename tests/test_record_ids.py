"""Rows name other rows by id: a share link and a bank credit their purchaser, a judgement, a
credit and the wire instructions their event. Ids swapped in the database behind closing's back
(two purchasers' rows with their events, or two events) hand a link, a credit or a kept judgement
to another party or event: `closing verify` exits 8 naming the fact, as the record of facts hashes
what an id names, not the id. A database whose entries hashed the bare ids still verifies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from closing.domain.errors import ExitCode
from tests.helpers import (
    ROOT,
    VERIFY_INSTRUCTIONS,
    WIRES_DEAL,
    Cli,
    board_json,
    load_wires_deal,
    run_all,
    statuses,
    tampering,
)
from tests.test_record import closing_day, tamper
from tests.test_record_facts import FRI, holds, refused

BAI2 = ROOT / "tests" / "fixtures" / "company-bank-2002-06-07.bai2"


def swap(cli: Cli, columns: list[tuple[str, str]], first: int, second: int) -> None:
    """Swap ids `first` and `second` in every (table, column) given, as sqlite3 (which checks no
    foreign key) or a superuser could."""
    tamper(
        cli,
        *(
            f"UPDATE {table} SET {column} = {new} WHERE {column} = {old}"
            for table, column in columns
            for old, new in ((first, -7), (second, first), (-7, second))
        ),
    )


def party_id(cli: Cli, slug: str) -> int:
    with tampering(cli.database_url) as connection:
        return int(connection.value("SELECT id FROM purchaser WHERE slug = ?", (slug,)))


def event_id(cli: Cli, slug: str, step: str, kind: str = "mark") -> int:
    """The id of the party's one event of `kind` (on `step`, when given)."""
    with tampering(cli.database_url) as connection:
        return int(
            connection.value(
                "SELECT e.id FROM event e JOIN purchaser p ON p.id = e.purchaser_id "
                "WHERE p.slug = ? AND e.kind = ? AND (e.step = ? OR ? = '')",
                (slug, kind, step, step),
            )
        )


PURCHASER_IDS = [("purchaser", "id"), ("event", "purchaser_id"), ("alert", "purchaser_id")]


def test_purchasers_swapped_by_id_hand_a_share_link_to_another(seeded: Cli) -> None:
    """BNC's link: Stonestreet's and BNC's rows and events swapped by id, the link's purchaser_id
    (unchanged) names Stonestreet: verify exits 8 naming the link, and report refuses."""
    closing_day(seeded)
    assert seeded("share", "bnc", now=FRI.format("12:00")).code == 0
    holds(seeded)
    swap(seeded, PURCHASER_IDS, party_id(seeded, "stonestreet"), party_id(seeded, "bnc-bach"))
    refused(seeded, "share link", "changed in the database")


@pytest.fixture
def imported(cli: Cli, tmp_path: Path) -> Cli:
    """The wires deal, its instructions verified and the bank's file imported (credits recorded
    for Stonestreet and BNC)."""
    copy = tmp_path / WIRES_DEAL.name
    shutil.copy(WIRES_DEAL, copy)
    load_wires_deal(cli, copy)
    run_all(cli, [(VERIFY_INSTRUCTIONS, "09:30")])
    done = cli("wires", "import", str(BAI2), "--apply", now=FRI.format("16:35"))
    assert done.code == 0, done.err
    holds(cli)
    return cli


def test_purchasers_swapped_by_id_swap_their_bank_credits(imported: Cli) -> None:
    swap(imported, PURCHASER_IDS, party_id(imported, "stonestreet"), party_id(imported, "bnc-bach"))
    refused(imported, "bank credit", "changed in the database")


def test_events_swapped_by_id_move_a_credit_and_the_instructions(imported: Cli) -> None:
    """The instructions' event and their verification's swapped: the instructions name the
    verification as their entry and the other way round; two wired marks swapped: each credit
    names the other purchaser's mark."""
    entered = event_id(imported, "@company", "", "instructions")
    verified = event_id(imported, "@company", "", "instructions_verified")
    swap(imported, [("event", "id")], entered, verified)
    refused(imported, "wire instructions version 1: changed")
    swap(imported, [("event", "id")], entered, verified)  # put back
    holds(imported)
    stonestreet, bnc = (event_id(imported, slug, "wired") for slug in ("stonestreet", "bnc-bach"))
    swap(imported, [("event", "id")], stonestreet, bnc)
    refused(imported, "bank credit")


def test_events_swapped_by_id_cannot_move_a_kept_late_judgement(
    seeded: Cli, seed_path: Path
) -> None:
    """BNC's wire judged late against 17:00, kept when a reload moved the cutoff: swapping that
    event's id with BNC's signature's moves the judgement onto the signature (the wire would
    show on time): verify exits 8 naming the judgement, and the memo is refused."""
    assert seeded("mark-signed", "bnc", now=FRI.format("09:00")).code == 0
    assert seeded("mark-wired", "bnc", now=FRI.format("17:10")).code == 0
    seed_path.write_text(seed_path.read_text().replace('  time: "17:00"', '  time: "23:00"', 1))
    assert seeded("init", str(seed_path), "--accept-changes", now=FRI.format("17:20")).code == 0
    holds(seeded)
    swap(
        seeded,
        [("event", "id")],
        event_id(seeded, "bnc-bach", "wired"),
        event_id(seeded, "bnc-bach", "signed"),
    )
    refused(seeded, "judgement kept of event", "changed in the database")


def test_entries_that_hashed_bare_ids_still_verify(imported: Cli) -> None:
    """Entries written before ids were hashed as what they name (their row hashes over the bare
    ids, the chain rehashed over them, as an older closing wrote it) stand; a row changed since
    is recorded the new way, and a swap of ids then breaks it."""
    from dataclasses import replace

    from closing.domain.facts import fact_hash
    from closing.store.facts import FACT_TABLES, current_facts, fact_entries

    older = tuple(
        replace(
            table,
            columns=tuple((n, "int" if k in ("party", "event") else k) for n, k in table.columns),
        )
        for table in FACT_TABLES
    )
    with tampering(imported.database_url) as connection:
        deal_id, slug = connection.rows("SELECT id, slug FROM deal")[0]
        bare = current_facts(connection, deal_id, older)
        assert bare != current_facts(connection, deal_id)  # credits and instructions name ids
        previous = "0" * 64
        for entry in fact_entries(connection, deal_id):
            row = bare.get((entry.table, entry.key), entry.row_hash) if entry.row_hash else None
            at, table, key = entry.recorded_at, entry.table, entry.key
            digest = fact_hash(slug, entry.seq, at, table, key, row, previous)
            connection.execute(
                "UPDATE fact SET row_hash = ?, prev_hash = ?, hash = ? "
                "WHERE deal_id = ? AND seq = ?",
                (row, previous, digest, deal_id, entry.seq),
            )
            previous = digest
    holds(imported)
    assert imported("share", "bnc", now=FRI.format("16:50")).code == 0
    holds(imported)
    swap(imported, PURCHASER_IDS, party_id(imported, "stonestreet"), party_id(imported, "bnc-bach"))
    refused(imported, "share link")


# --- stray event rows ----------------------------------------------------------------------------


def add_stray(cli: Cli, deal: str, party: str, seq: str, step: str = "dwac_credited") -> None:
    """An event row copied from BNC's signature as a mark of `step`, with the deal, the party
    and the seq given as SQL, inserted behind closing's back."""
    bnc = "(SELECT id FROM purchaser WHERE slug = 'bnc-bach')"
    tamper(
        cli,
        "INSERT INTO event (deal_id, purchaser_id, seq, kind, step, occurred_at, recorded_at, "
        "actor, host, evidence_kind, evidence, amount, note, prev_hash, hash, on_behalf_of, "
        "actor_declared, rehearsal_at) "
        f"SELECT {deal}, {party}, {seq}, kind, '{step}', occurred_at, recorded_at, actor, host, "
        "evidence_kind, evidence, amount, note, prev_hash, hash, on_behalf_of, actor_declared, "
        f"rehearsal_at FROM event WHERE purchaser_id = {bnc} AND step = 'signed'",
    )


def test_an_event_of_another_deal_is_no_event_of_this_one(seeded: Cli) -> None:
    """A row naming BNC but a deal that does not exist, marking its DWAC credit: no reader of
    the deal sees it (the mark is not "already marked", history shows no such event and no
    internal error), and verify exits 8 naming it."""
    closing_day(seeded)
    add_stray(seeded, "9999", "(SELECT id FROM purchaser WHERE slug = 'bnc-bach')", "100")
    result = seeded("verify", now=FRI.format("18:00"))
    assert result.code == ExitCode.RECORD, result.err
    assert "of bnc-bach" in result.err and "is stray" in result.err, result.err
    assert "names deal id 9999, not neotherapeutics-2002-06-07" in result.err, result.err
    for command in (("history",), ("history", "bnc")):
        shown = seeded(*command, now=FRI.format("18:01"))
        assert shown.code == 0 and "DWAC" not in shown.out, (shown.out, shown.err)
    assert statuses(board_json(seeded, FRI.format("18:01")), "bnc-bach")["dwac_credited"] != "done"
    marked = seeded("mark-dwac", "bnc", "--confirmation", "DTC 1", now=FRI.format("18:02"))
    assert marked.code == 0, marked.err


def test_a_stray_row_in_the_place_of_the_next_event_refuses_the_mark(seeded: Cli) -> None:
    """A row of BNC's naming another deal where BNC's next event goes: the mark is refused
    (exit 8) naming it, not an internal error."""
    closing_day(seeded)
    add_stray(seeded, "9999", "(SELECT id FROM purchaser WHERE slug = 'bnc-bach')", "4")
    marked = seeded("mark-dwac", "bnc", "--confirmation", "DTC 1", now=FRI.format("18:02"))
    assert marked.code == ExitCode.RECORD, marked.err
    assert "cannot record event #4 of bnc-bach: a stray event row" in marked.err, marked.err


@pytest.mark.parametrize("seq", ["1", "100"])
def test_an_event_of_no_party_is_named(seeded: Cli, seq: str) -> None:
    """A row under the deal naming a purchaser id that is none of its parties: the board says
    there are more events than the chains record (not fewer), history shows the deal's events,
    and verify exits 8 naming the row, whatever its seq (#1 is not "the chain of None")."""
    closing_day(seeded)
    add_stray(seeded, "(SELECT id FROM deal)", "9999", seq)
    board = seeded("status", now=FRI.format("18:00"))
    assert "The event log has 1 event of no party of the deal" in board.out, board.out
    shown = seeded("history", now=FRI.format("18:00"))
    assert shown.code == 0 and "Internal error" not in shown.err, shown.err
    result = seeded("verify", now=FRI.format("18:00"))
    assert result.code == ExitCode.RECORD, result.err
    assert f"event #{seq} of purchaser id 9999" in result.err, result.err
    assert "names none of the deal's parties" in result.err and "None" not in result.err


def test_an_event_added_to_a_chain_makes_the_board_say_more(seeded: Cli) -> None:
    """A row of BNC's after its chain's head: more events than the chains record."""
    closing_day(seeded)
    add_stray(
        seeded, "(SELECT id FROM deal)", "(SELECT id FROM purchaser WHERE slug = 'bnc-bach')", "100"
    )
    board = seeded("status", now=FRI.format("18:00"))
    assert "The event log has more events than its chains record" in board.out, board.out
