"""Rows name other rows by id: a share link and a bank credit their purchaser, a judgement, a
credit and the wire instructions their event. Ids swapped in the database behind closing's back
(two purchasers' rows with their events, or two events) hand a link, a credit or a kept judgement
to another party or event: `closing verify` exits 8 naming the fact, as the record of facts hashes
what an id names, not the id. A database whose entries hashed the bare ids still verifies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import (
    ROOT,
    VERIFY_INSTRUCTIONS,
    WIRES_DEAL,
    Cli,
    load_wires_deal,
    run_all,
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
