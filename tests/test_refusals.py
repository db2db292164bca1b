"""Bad input: one line on stderr naming the way out, a documented exit code, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from closing.domain.errors import ExitCode
from tests.helpers import ROOT, Cli

FRI = "2002-06-07T{}:00-07:00"


def event_count(cli: Cli) -> int:
    result = cli("history", "--json", now=FRI.format("23:00"))
    assert result.code == 0, result.err
    return len(json.loads(result.out))


def assert_refused(cli: Cli, args: list[str], code: int, message: str, now: str) -> None:
    before = event_count(cli)
    result = cli(*args, now=now)
    assert (result.code, result.out, result.err) == (code, "", f"Error: {message}\n")
    assert event_count(cli) == before


def test_out_of_order_is_refused_with_what_is_missing(seeded: Cli) -> None:
    """The warrant cannot be faxed before the wire."""
    seeded("mark-signed", "stonestreet", now=FRI.format("09:00"))
    assert_refused(
        seeded,
        ["mark-faxed", "stonestreet"],
        ExitCode.REFUSED,
        "cannot mark warrant_faxed for Stonestreet Limited Partnership: wired is not done; "
        "to record it as it happened add --out-of-order --reason TEXT",
        FRI.format("10:00"),
    )


def test_marking_twice_names_the_first_mark(seeded: Cli) -> None:
    """A second mark of the same step says when and by whom it was marked, and how to fix it."""
    seeded("mark-signed", "stonestreet", now=FRI.format("09:00"))
    seeded("mark-wired", "stonestreet", "--at", FRI.format("13:00"), now=FRI.format("13:05"))
    assert_refused(
        seeded,
        ["mark-wired", "stonestreet", "--by", "bob"],
        ExitCode.REFUSED,
        "cannot mark wired for Stonestreet Limited Partnership: already marked wired at "
        "2002-06-07 13:00 PDT by alice; to correct it: closing undo stonestreet wired "
        "--reason TEXT",
        FRI.format("14:00"),
    )


@pytest.mark.parametrize(
    ("amount", "shown", "difference"),
    [
        ("449999.99", "$449,999.99", "-$0.01; for part of the price add --partial"),
        ("450000.01", "$450,000.01", "+$0.01"),
        ("$460,000", "$460,000.00", "+$10,000.00"),
    ],
)
def test_a_wire_off_by_a_cent_is_refused_with_the_difference(
    seeded: Cli, amount: str, shown: str, difference: str
) -> None:
    """Without a tolerance the amount must match the purchase price to the cent; a short one
    points to --partial (a typo must not become a partial wire)."""
    seeded("mark-signed", "stonestreet", now=FRI.format("09:00"))
    assert_refused(
        seeded,
        ["mark-wired", "stonestreet", "--amount", amount],
        ExitCode.REFUSED,
        f"cannot mark wired for Stonestreet Limited Partnership: amount {shown} differs from "
        f"the purchase price $450,000.00 by {difference}; to record it as it happened add "
        "--out-of-order --reason TEXT; nothing recorded",
        FRI.format("10:00"),
    )


@pytest.mark.parametrize("amount", ["450000.001", "-5", "0"])
def test_an_amount_that_is_not_whole_positive_cents_is_refused(seeded: Cli, amount: str) -> None:
    """Fractions of a cent, negative and zero amounts are refused as written."""
    seeded("mark-signed", "stonestreet", now=FRI.format("09:00"))
    assert_refused(
        seeded,
        ["mark-wired", "stonestreet", "--amount", amount],
        ExitCode.REFUSED,
        f"cannot mark wired for Stonestreet Limited Partnership: amount {amount} is not a "
        "positive amount in whole cents; write it like 450000.00",
        FRI.format("10:00"),
    )


def test_steps_can_be_named_by_their_board_label(seeded: Cli) -> None:
    """`closing mark bnc Signed` and `closing undo bnc signed` find the step by label or id."""
    assert seeded("mark", "bnc", "Signed", now=FRI.format("09:00")).code == 0
    undone = seeded("undo", "bnc", "SIGNED", "--reason", "wrong page", now=FRI.format("09:05"))
    assert undone.out.startswith("Undid signed for BNC Bach International, Ltd.")


def test_an_amount_that_is_not_money_is_refused(seeded: Cli) -> None:
    """Junk amounts say how to write one."""
    seeded("mark-signed", "stonestreet", now=FRI.format("09:00"))
    assert_refused(
        seeded,
        ["mark-wired", "stonestreet", "--amount", "lots"],
        ExitCode.REFUSED,
        "cannot mark wired for Stonestreet Limited Partnership: 'lots' is not an amount; write "
        "it like 450000.00",
        FRI.format("10:00"),
    )


def test_a_time_in_the_future_is_refused(seeded: Cli) -> None:
    """--at later than now cannot have happened."""
    assert_refused(
        seeded,
        ["mark-signed", "bnc", "--at", FRI.format("14:00")],
        ExitCode.REFUSED,
        "cannot mark signed for BNC Bach International, Ltd.: 2002-06-07 14:00 PDT is in the "
        "future (now is 2002-06-07 13:00 PDT); give --at a past time",
        FRI.format("13:00"),
    )


def test_a_time_before_the_deal_existed_is_refused(seeded: Cli) -> None:
    """--at before the agreement date is refused."""
    assert_refused(
        seeded,
        ["mark-signed", "bnc", "--at", "2002-06-06T16:00:00-07:00"],
        ExitCode.REFUSED,
        "cannot mark signed for BNC Bach International, Ltd.: 2002-06-06 16:00 PDT is before the "
        "deal existed (agreement date 2002-06-07); check --at, or "
        "to record it as it happened add --out-of-order --reason TEXT",
        FRI.format("13:00"),
    )


def test_a_step_cannot_be_dated_before_the_step_it_needs(seeded: Cli) -> None:
    """A fax at 10:00 cannot follow a wire received at 11:00."""
    seeded("mark-signed", "bnc", now=FRI.format("09:00"))
    seeded("mark-wired", "bnc", now=FRI.format("11:00"))
    assert_refused(
        seeded,
        ["mark-faxed", "bnc", "--at", FRI.format("10:00")],
        ExitCode.REFUSED,
        "cannot mark warrant_faxed for BNC Bach International, Ltd. at 2002-06-07 10:00 PDT: "
        "wired was only done at 2002-06-07 11:00 PDT; check --at, or "
        "to record it as it happened add --out-of-order --reason TEXT",
        FRI.format("12:00"),
    )


def test_a_time_that_is_not_a_time_is_a_usage_error(seeded: Cli) -> None:
    """`--at` takes a time of day, a date and time, or an instant; the message shows each."""
    assert_refused(
        seeded,
        ["mark-signed", "bnc", "--at", "nine-ish"],
        ExitCode.USAGE,
        "--at 'nine-ish' is not a time; write it like 08:30, 2002-06-07 08:30 or "
        "2002-06-07T08:30-07:00",
        FRI.format("13:00"),
    )


@pytest.mark.parametrize("at", ["08:30", "2002-06-07 08:30", "2002-06-07T08:30"])
def test_a_time_without_an_offset_is_read_in_the_deal_zone(seeded: Cli, at: str) -> None:
    """`--at 08:30` means 08:30 where the deal is (Irvine, PDT); the confirmation prints it in
    full with its zone."""
    result = seeded("mark-signed", "bnc", "--at", at, now=FRI.format("13:00"))
    assert result.code == 0, result.err
    assert "BNC Bach International, Ltd. at 2002-06-07 08:30 PDT by alice" in result.out


def test_a_one_letter_prefix_names_no_purchaser(seeded: Cli) -> None:
    """A purchaser is its slug or at least three letters of its name: `s` marks nobody."""
    assert_refused(
        seeded,
        ["mark-signed", "s"],
        ExitCode.NOT_FOUND,
        "purchaser 's' is too short to name a purchaser of neotherapeutics-2002-06-07: give its "
        "slug or at least 3 characters of its name",
        FRI.format("13:00"),
    )


def test_an_unknown_purchaser_lists_the_candidates(seeded: Cli) -> None:
    """A name that matches nobody lists who there is."""
    assert_refused(
        seeded,
        ["mark-signed", "acme"],
        ExitCode.NOT_FOUND,
        "no purchaser 'acme' in neotherapeutics-2002-06-07; the purchasers are: stonestreet, "
        "bnc-bach",
        FRI.format("13:00"),
    )


def test_an_ambiguous_purchaser_lists_the_matches(cli: Cli, seed_path: Path) -> None:
    """A prefix that matches two purchasers names both."""
    text = seed_path.read_text().replace("slug: bnc-bach", "slug: bnc-bach-2")
    text = text.replace(
        "  - name: BNC Bach International, Ltd.",
        "  - name: BNC Capital LLC\n    slug: bnc-capital\n    shares: 100\n"
        "    purchase_price: $23.25\n    warrant_shares: 10\n"
        "  - name: BNC Bach International, Ltd.",
    )
    seed_path.write_text(text)
    assert cli("init", str(seed_path), now=FRI.format("07:00")).code == 0
    assert_refused(
        cli,
        ["mark-signed", "bnc"],
        ExitCode.NOT_FOUND,
        "purchaser 'bnc' is ambiguous in neotherapeutics-2002-06-07: bnc-capital (BNC Capital "
        "LLC), bnc-bach-2 (BNC Bach International, Ltd.); give more of the name",
        FRI.format("13:00"),
    )
    assert cli("mark-signed", "BNC BACH", now=FRI.format("13:00")).code == 0


def test_an_unknown_step_lists_the_steps(seeded: Cli) -> None:
    """The generic mark names the deal's steps."""
    assert_refused(
        seeded,
        ["mark", "bnc", "funded"],
        ExitCode.NOT_FOUND,
        "deal neotherapeutics-2002-06-07 has no step 'funded'; its steps are signed (Signed), "
        "wired (Wired), warrant_faxed (Faxed), warrant_delivered (Original), dwac_credited (DWAC)",
        FRI.format("13:00"),
    )


def test_an_unknown_deal_lists_the_loaded_ones(seeded: Cli) -> None:
    """Naming a deal that is not loaded says which are."""
    result = seeded("status", "acme-2024", now=FRI.format("13:00"))
    assert (result.code, result.err) == (
        ExitCode.NOT_FOUND,
        "Error: no deal 'acme-2024'; loaded deals: neotherapeutics-2002-06-07\n",
    )


def test_no_deal_loaded_says_how_to_load_one(cli: Cli) -> None:
    """An empty database points at `closing init`."""
    assert cli("db", "upgrade").code == 0
    result = cli("status")
    assert (result.code, result.err) == (
        ExitCode.NOT_FOUND,
        "Error: no deal loaded yet; load one with: closing init FILE\n",
    )


def test_undo_needs_a_done_step(seeded: Cli) -> None:
    """Undoing what is not marked is refused."""
    assert_refused(
        seeded,
        ["undo", "bnc", "wired", "--reason", "typo"],
        ExitCode.REFUSED,
        "cannot undo wired for BNC Bach International, Ltd.: wired is not done",
        FRI.format("13:00"),
    )


def test_a_bad_closing_now_is_a_usage_error(seeded: Cli) -> None:
    """CLOSING_NOW must be ISO 8601 with an offset."""
    result = seeded("status", now="yesterday")
    assert result.code == ExitCode.USAGE
    assert result.err == (
        "Error: CLOSING_NOW 'yesterday' is not an ISO 8601 time; write it like "
        "2002-06-07T13:00-07:00\n"
    )


def test_an_invalid_deal_file_exits_3_and_writes_nothing(cli: Cli, seed_path: Path) -> None:
    """`closing init` of a bad file prints each problem as path:line and loads nothing."""
    seed_path.write_text(seed_path.read_text().replace('time: "17:00"', 'time: "27:00"'))
    result = cli("init", str(seed_path))
    assert result.code == ExitCode.DEAL_FILE
    assert result.err.startswith(f"{seed_path}:14: cutoff.time: '27:00' is not a valid time")
    listed = cli("deals", "--json")  # on SQLite not even the database file was made
    assert listed.out.strip() == "[]" or listed.err.startswith("Error: no database at ")


def test_errors_never_show_a_traceback_in_a_real_process(tmp_path: Path) -> None:
    """A real `python -m closing` run fails with one line and the exit code, no traceback."""
    env = {
        "CLOSING_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "CLOSING_NOW": "2002-06-07T13:00:00-07:00",
        "PATH": "/usr/bin:/bin",
    }
    run = subprocess.run(
        [sys.executable, "-m", "closing", "mark-wired", "stonestreet"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == ExitCode.DATABASE
    assert run.stderr == f"Error: no database at {tmp_path / 'x.db'}; run closing init FILE\n"
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "x.db").exists()  # a refused mark makes no database either


def test_a_database_that_cannot_be_reached_is_exit_6(tmp_path: Path) -> None:
    """An unreachable database is one line naming it (password hidden), exit 6."""
    env = {
        "CLOSING_DATABASE_URL": "postgresql+psycopg://closing:s3cret@127.0.0.1:1/nowhere",
        "CLOSING_NOW": "2002-06-07T13:00:00-07:00",
        "PATH": "/usr/bin:/bin",
    }
    run = subprocess.run(
        [sys.executable, "-m", "closing", "deals"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == ExitCode.DATABASE
    assert run.stderr.startswith(
        "Error: cannot open database postgresql+psycopg://closing:***@127.0.0.1:1/nowhere: "
    )
    assert "s3cret" not in run.stderr
    assert len(run.stderr.splitlines()) == 1


BAI2 = ROOT / "tests" / "fixtures" / "company-bank-2002-06-07.bai2"


@pytest.mark.parametrize(
    "args",
    [
        ("mark-signed", "stonestreet"),
        ("undo", "stonestreet", "signed", "--reason", "typo"),
        ("wires", "import", str(BAI2)),
        ("wires", "list"),
        ("wire-instructions",),
        ("report", "--format", "md"),
        ("export",),
        ("share", "--list"),
        ("alerts", "retry", "1"),
    ],
)
def test_a_command_on_a_missing_database_makes_none(
    cli: Cli, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Only `closing init` (and `db upgrade`) make a database: any other command on one that is
    not there says so (exit 6) and creates no file."""
    missing = tmp_path / "never-made.db"
    cli.monkeypatch.setenv("CLOSING_DATABASE_URL", f"sqlite:///{missing}")
    result = cli(*args)
    assert (result.code, result.err) == (
        ExitCode.DATABASE,
        f"Error: no database at {missing}; run closing init FILE\n",
    )
    assert not missing.exists()
