"""The record digest covers every stored fact the board, the memo or a mark relies on: each one
changed behind closing's back (on both backends) makes `closing verify` exit 8 naming it, and
`closing report` refuse; writes refuse to make a changed fact part of the record; a party whose
chain disappears is a break; a deal loaded before facts were kept adopts them once."""

from __future__ import annotations

import json
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
    purchaser_row,
    run_all,
    tampering,
)
from tests.test_record import closing_day, tamper

FRI = "2002-06-07T{}:00-07:00"
BAI2 = ROOT / "tests" / "fixtures" / "company-bank-2002-06-07.bai2"
STONESTREET = "(SELECT id FROM purchaser WHERE slug = 'stonestreet')"


def refused(cli: Cli, *names: str) -> None:
    """verify: exit 8, one line naming what changed; report: exit 8, nothing written."""
    result = cli("verify", now=FRI.format("18:00"))
    assert result.code == ExitCode.RECORD, (result.out, result.err)
    assert len(result.err.splitlines()) == 1 and "Traceback" not in result.err
    for name in names:
        assert name in result.err, result.err
    report = cli("report", "--format", "md", now=FRI.format("18:00"))
    assert report.code == ExitCode.RECORD and report.out == ""


def holds(cli: Cli) -> str:
    result = cli("verify", now=FRI.format("18:00"))
    assert result.code == 0, result.err
    return result.out


@pytest.fixture
def day(seeded: Cli) -> Cli:
    closing_day(seeded)
    holds(seeded)
    return seeded


@pytest.mark.parametrize(
    ("statement", "names"),
    [
        (
            "UPDATE purchaser SET purchase_price = '449950' WHERE slug = 'stonestreet'",
            ("Schedule 1 stonestreet: changed in the database",),
        ),
        (
            "UPDATE purchaser SET name = 'Stonestreet LP (forged)' WHERE slug = 'stonestreet'",
            ("Schedule 1 stonestreet",),
        ),
        ("UPDATE purchaser SET shares = shares + 1 WHERE slug = 'bnc-bach'", ("bnc-bach",)),
        ("UPDATE purchaser SET warrant_shares = 0 WHERE slug = 'bnc-bach'", ("bnc-bach",)),
        ("UPDATE purchaser SET active = false WHERE slug = 'bnc-bach'", ("bnc-bach",)),
        (
            "UPDATE deal SET terms_json = replace(terms_json, '17:00', '23:59')",
            ("the deal's terms neotherapeutics-2002-06-07: changed",),
        ),
        ("UPDATE deal SET title = 'Another deal'", ("the deal's terms",)),
        ("UPDATE deal_revision SET changes = '[]'", ("deal file load",)),
        ("UPDATE team_member SET roles = 'viewer'", ("team member",)),
        ("DELETE FROM team_member", ("team member", "deleted from the database")),
        (
            f"DELETE FROM event WHERE purchaser_id = {STONESTREET}; "
            f"UPDATE purchaser SET head_seq = 0, head_hash = NULL WHERE id = {STONESTREET}",
            ("the chain of stonestreet: deleted",),
        ),
        ("UPDATE fact SET row_key = 'x' WHERE seq = 2", ("entry #2", "rewritten")),
        ("DELETE FROM fact WHERE seq = 3", ("entry #4 does not follow",)),
    ],
)
def test_a_fact_changed_in_the_database_breaks_the_record(
    day: Cli, statement: str, names: tuple[str, ...]
) -> None:
    tamper(day, *statement.split("; "))
    refused(day, *names)


def test_a_purchaser_deleted_with_its_chain_is_a_break(day: Cli) -> None:
    """Every event of BNC, its row, gone: verify knows it from the record of facts."""
    tamper(
        day,
        "DELETE FROM event WHERE purchaser_id = (SELECT id FROM purchaser WHERE slug = 'bnc-bach')",
        "DELETE FROM alert WHERE purchaser_id = (SELECT id FROM purchaser WHERE slug = 'bnc-bach')",
        "DELETE FROM purchaser WHERE slug = 'bnc-bach'",
    )
    refused(day, "bnc-bach", "deleted from the database")


def test_a_share_link_changed_in_the_database_is_a_break(day: Cli) -> None:
    made = day("share", "team", now=FRI.format("12:00"))
    assert made.code == 0, made.err
    holds(day)
    tamper(day, f"UPDATE share SET purchaser_id = {STONESTREET}")
    refused(day, "share link")


def test_an_unchanged_reload_and_verify_keep_the_digest(day: Cli, seed_path: Path) -> None:
    """Facts are recorded when written: verifying twice gives the same digest."""
    first = holds(day).splitlines()[1]
    assert day("init", str(seed_path), now=FRI.format("18:00")).code == 0
    assert holds(day).splitlines()[1] == first


def test_a_reload_over_a_changed_fact_is_refused(day: Cli, seed_path: Path) -> None:
    """A write would make the changed fact part of the record: it is refused (exit 8)."""
    tamper(day, "UPDATE purchaser SET purchase_price = '449950' WHERE slug = 'stonestreet'")
    reload = day("init", str(seed_path), now=FRI.format("18:00"))
    assert reload.code == ExitCode.RECORD
    assert "Schedule 1 stonestreet" in reload.err and "nothing recorded" in reload.err
    refused(day, "Schedule 1 stonestreet")


def test_a_deal_loaded_before_facts_were_kept_adopts_them_once(day: Cli) -> None:
    """Migration 0013 leaves one `@adopt` row per deal: the next verify records the facts as
    they stand; deleting the whole record of facts (no marker) is a break."""
    tamper(
        day,
        "DELETE FROM fact",
        "INSERT INTO fact (deal_id, seq, recorded_at, tbl, row_key) "
        "SELECT id, 0, updated_at, '@adopt', '' FROM deal",
    )
    holds(day)
    tamper(day, "UPDATE purchaser SET shares = 1 WHERE slug = 'bnc-bach'")
    refused(day, "bnc-bach")
    tamper(day, "DELETE FROM fact")
    refused(day, "added in the database")


# --- money ---------------------------------------------------------------------------------------


@pytest.fixture
def wired(cli: Cli, tmp_path: Path) -> Cli:
    copy = tmp_path / WIRES_DEAL.name
    shutil.copy(WIRES_DEAL, copy)
    loaded = load_wires_deal(cli, copy)
    return loaded


def test_a_verification_set_by_hand_is_a_broken_record_and_holds_the_wire(wired: Cli) -> None:
    """`UPDATE wire_instructions SET verified_by = 'bob' ...`: verify exit 8, and mark-wired,
    which would have trusted the flag, is refused (exit 8)."""
    tamper(
        wired,
        "UPDATE wire_instructions SET verified_by = 'bob', verified_event_id = event_id, "
        "verified_at = entered_at, callback_number = '+1 949 788 6700', spoke_with = 'x'",
    )
    refused(wired, "wire instructions version 1: changed")
    mark = wired("mark-wired", "stonestreet", now=FRI.format("16:00"))
    assert mark.code == ExitCode.RECORD, mark.err
    assert "wire instructions version 1" in mark.err and "nothing recorded" in mark.err


def test_a_fact_entry_rewritten_to_match_a_changed_row_still_holds_the_wire(wired: Cli) -> None:
    """The instructions changed and their fact entry's row hash rewritten to match (its own hash
    left as it was): a payment mark, which checks only the instructions' entries, still refuses
    (exit 8), naming the entry; verify, which walks the whole chain, too."""
    from closing.store.facts import current_facts, fact_table
    from tests.helpers import tampering

    tamper(wired, "UPDATE wire_instructions SET verified_by = 'bob', spoke_with = 'x'")
    with tampering(wired.database_url) as connection:
        deal_id = connection.value("SELECT id FROM deal")
        ((key, row),) = current_facts(connection, deal_id, fact_table("wire_instructions")).items()
        connection.execute(
            "UPDATE fact SET row_hash = ? WHERE tbl = 'wire_instructions' AND row_key = ?",
            (row, key[1]),
        )
    mark = wired("mark-wired", "stonestreet", now=FRI.format("16:00"))
    assert mark.code == ExitCode.RECORD, mark.err
    assert "(wire instructions version 1) was rewritten" in mark.err, mark.err
    refused(wired, "was rewritten")


def test_an_entry_rewritten_and_rehashed_in_place_still_holds_the_wire(wired: Cli) -> None:
    """A forged verification, and its fact entry's row hash and own hash recomputed to match
    (SHA-256 needs no secret): the next entry no longer links to it, so the payment mark, which
    walks the chain's links though it rehashes only the instructions' entries, refuses (exit 8)
    as verify does."""
    from closing.domain.facts import fact_hash
    from closing.store.facts import current_facts, fact_entries, fact_table
    from tests.helpers import tampering

    tamper(
        wired,
        "UPDATE wire_instructions SET verified_by = 'bob', verified_event_id = event_id, "
        "verified_at = entered_at, callback_number = '+1 949 788 6700', spoke_with = 'x'",
    )
    with tampering(wired.database_url) as connection:
        deal_id = connection.value("SELECT id FROM deal")
        slug = str(connection.value("SELECT slug FROM deal"))
        (row,) = current_facts(connection, deal_id, fact_table("wire_instructions")).values()
        (entry,) = [e for e in fact_entries(connection, deal_id) if e.table == "wire_instructions"]
        forged = fact_hash(
            slug, entry.seq, entry.recorded_at, entry.table, entry.key, row, entry.prev_hash or ""
        )
        connection.execute(
            "UPDATE fact SET row_hash = ?, hash = ? WHERE deal_id = ? AND seq = ?",
            (row, forged, deal_id, entry.seq),
        )
    mark = wired("mark-wired", "stonestreet", now=FRI.format("16:00"))
    assert mark.code == ExitCode.RECORD, mark.err
    assert f"entry #{entry.seq + 1} does not follow the one before it" in mark.err, mark.err
    refused(wired, "does not follow the one before it")


def test_bank_credits_are_facts(wired: Cli) -> None:
    """An imported credit's status, amount or a credit added by hand: a break."""
    run_all(wired, [(VERIFY_INSTRUCTIONS, "09:30")])
    imported = wired("wires", "import", str(BAI2), "--apply", now=FRI.format("16:35"))
    assert imported.code == 0, imported.err
    holds(wired)
    where = "WHERE bank_reference = '0607FW000123'"
    tamper(wired, f"UPDATE bank_credit SET status = 'left' {where}")
    refused(wired, "bank credit")
    tamper(wired, f"UPDATE bank_credit SET status = 'recorded' {where}")
    holds(wired)
    tamper(wired, "UPDATE bank_credit SET amount = '1' WHERE bank_reference = '0607FW000201'")
    refused(wired, "bank credit")
    again = wired("wires", "import", str(BAI2), "--apply", now=FRI.format("16:40"))
    assert again.code == ExitCode.RECORD, again.err


# --- reloads that would rewrite a judgement ---------------------------------------------------


def test_moving_a_passed_cutoff_after_a_late_wire_needs_accept_changes(
    seeded: Cli, seed_path: Path
) -> None:
    """BNC wired at 17:10, late against the 17:00 cutoff: a reload moving the cutoff to 23:00 is
    refused (exit 4) naming the deadline and the mark judged against it; --accept-changes makes
    it, and says so in the revision event."""
    assert seeded("mark-signed", "bnc", now=FRI.format("09:00")).code == 0
    assert seeded("mark-wired", "bnc", now=FRI.format("17:10")).code == 0
    seed_path.write_text(seed_path.read_text().replace('  time: "17:00"', '  time: "23:00"', 1))
    reload = seeded("init", str(seed_path), now=FRI.format("17:20"))
    assert reload.code == ExitCode.REFUSED, reload.err
    assert "BNC Bach International, Ltd.: wired due Fri 2002-06-07 17:00 PDT -> " in reload.err
    assert "(the mark of Fri 2002-06-07 17:10 PDT was judged against it)" in reload.err
    assert "Traceback" not in reload.err
    accepted = seeded("init", str(seed_path), "--accept-changes", now=FRI.format("17:20"))
    assert accepted.code == 0, accepted.err
    history = json.loads(seeded("history", "company", "--json", now=FRI.format("17:21")).out)
    assert (
        history[-1]["note"].startswith("accepted: ")
        and "judged against it" in (history[-1]["note"])
    )
    board = board_json(seeded, FRI.format("17:30"))
    wired = purchaser_row(board, "bnc-bach")["steps"]["wired"]
    assert wired["status"] == "done_late" and wired["late_by"] == 600, wired
    assert "late" in seeded("status", now=FRI.format("17:30")).out
    assert seeded("verify", now=FRI.format("17:31")).code == 0  # the judgement is a fact
    tamper(seeded, "UPDATE judgement SET deadline = '2002-06-08 06:00:00.000000'")
    refused(seeded, "judgement kept of event")


def test_a_broken_link_far_from_the_instructions_still_holds_the_wire(wired: Cli) -> None:
    """A payment mark checks the links of the whole fact chain (in the database, not by reading
    every entry), not only those next to the wire instructions' entries: an early entry whose
    link was changed holds the wire (exit 8), named as verify names it."""
    run_all(wired, [(VERIFY_INSTRUCTIONS, "09:30")])
    with tampering(wired.database_url) as connection:
        connection.execute("UPDATE fact SET prev_hash = ? WHERE seq = 3", ("0" * 64,))
    mark = wired("mark-wired", "stonestreet", now=FRI.format("16:00"))
    assert mark.code == ExitCode.RECORD, mark.err
    assert "entry #3 does not follow the one before it" in mark.err, mark.err
    refused(wired, "entry #3 does not follow the one before it")


@pytest.mark.parametrize("seq", ["last + 1", "0"])
def test_an_entry_without_a_hash_holds_an_import(wired: Cli, seq: str) -> None:
    """An entry without a hash added to the chain (after its head, or at seq 0 beside the marker
    of adoption) holds a bank file's import with a named break (exit 8), not an internal error
    when the import appends its own entries."""
    run_all(wired, [(VERIFY_INSTRUCTIONS, "09:30")])
    with tampering(wired.database_url) as connection:
        deal_id, last = connection.rows("SELECT deal_id, max(seq) FROM fact GROUP BY deal_id")[0]
        at = connection.value("SELECT recorded_at FROM fact WHERE seq = ?", (last,))
        connection.execute(
            "INSERT INTO fact (deal_id, seq, recorded_at, tbl, row_key, row_hash, prev_hash, hash) "
            "VALUES (?, ?, ?, 'purchaser', 'nobody', NULL, NULL, NULL)",
            (deal_id, int(last) + 1 if seq == "last + 1" else 0, at),
        )
    imported = wired("wires", "import", str(BAI2), "--apply", now=FRI.format("16:35"))
    assert imported.code == ExitCode.RECORD, (imported.code, imported.err)
    assert "does not follow the one before it" in imported.err, imported.err
    assert "Internal error" not in imported.err


# --- the web passkey rule ------------------------------------------------------------------------

RULE = "the web passkey rule of neotherapeutics-2002-06-07"


def test_the_web_passkey_rule_is_a_fact(day: Cli) -> None:
    """`closing team passkeys required` records the rule: turned off in the database (the web
    would stop asking for passkeys), deleted, or one added to a deal that has none, it is a
    break."""
    assert day("team", "passkeys", "required", now=FRI.format("12:00")).code == 0
    holds(day)
    tamper(day, "UPDATE web_deal_policy SET passkeys_required = false")
    refused(day, f"{RULE}: changed in the database")
    tamper(day, "DELETE FROM web_deal_policy")
    refused(day, f"{RULE}: deleted from the database")


def test_a_passkey_rule_added_by_hand_is_a_break(day: Cli) -> None:
    tamper(
        day,
        "INSERT INTO web_deal_policy (deal_id, passkeys_required, changed_at, changed_by) "
        "SELECT id, true, updated_at, 'mallory' FROM deal",
    )
    refused(day, f"{RULE}: added in the database")


def test_a_passkey_rule_set_before_it_was_a_fact_is_checked_against_its_event(
    day: Cli, seed_path: Path
) -> None:
    """A rule set by a closing that did not record it (its fact entry gone from the chain's
    end): it verifies as its team event says; turned off or deleted, it is a break; the next
    reload records it."""
    assert day("team", "passkeys", "required", now=FRI.format("12:00")).code == 0
    tamper(day, "DELETE FROM fact WHERE tbl = 'web_deal_policy'")
    holds(day)
    tamper(day, "UPDATE web_deal_policy SET passkeys_required = false")
    refused(day, f"{RULE}: changed in the database")
    tamper(day, "UPDATE web_deal_policy SET passkeys_required = true")
    holds(day)
    tamper(day, "UPDATE web_deal_policy SET changed_by = 'mallory'")
    refused(day, RULE)
    tamper(day, "UPDATE web_deal_policy SET changed_by = 'alice'")
    assert day("init", str(seed_path), now=FRI.format("18:00")).code == 0
    with tampering(day.database_url) as connection:
        assert connection.value("SELECT count(*) FROM fact WHERE tbl = 'web_deal_policy'") == 1
    tamper(day, "DELETE FROM web_deal_policy")
    refused(day, f"{RULE}: deleted from the database")
