"""Signature pages in escrow after a release (review of the closing set): a release lets go the
pages received by then, and a page held after it waits for a release of its own in `documents`,
the board, `documents get`, the memo and the binder's index."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from closing.domain.errors import ExitCode
from tests.closing_files import closing_files, pdf
from tests.helpers import Cli
from tests.test_hostile_inputs import database_digest

FRI = "2002-06-07T{}:00-07:00"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return closing_files(tmp_path / "files")


def spa_row(cli: Cli, now: str) -> dict[str, Any]:
    listed = cli("documents", "--json", now=now)
    assert listed.code == 0, listed.err
    rows = json.loads(listed.out)["documents"]
    return next(r for r in rows if (r["document"], r["party"]) == ("spa", "stonestreet"))


def wired_spa(cli: Cli, files: dict[str, Path]) -> None:
    """Stonestreet's page and the countersignature held at 09:00, the wire in at 10:00."""
    for source, signatory in (
        (files["stonestreet_page"], "purchaser"),
        (files["stonestreet_counter"], "company"),
    ):
        done = cli(
            "attach",
            "stonestreet",
            "spa",
            str(source),
            "--signatory",
            signatory,
            "--hold",
            now=FRI.format("09:00"),
        )
        assert done.code == 0, done.err
    assert cli("mark-wired", "stonestreet", now=FRI.format("10:00")).code == 0


def released_spa(cli: Cli, files: dict[str, Path]) -> None:
    """`wired_spa`, released at 10:05."""
    wired_spa(cli, files)
    released = cli("release", "stonestreet", "--reason", "wire received", now=FRI.format("10:05"))
    assert released.code == 0, released.err


def test_a_page_held_after_a_release_waits_for_a_release_of_its_own(
    seeded: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    """The purchaser sends its page again after the release: the document is `received
    (held)` again, listed below the release it came after; `get` writes the held page saying
    so; the memo and the binder's index do not call it released; `release` lets it go."""
    cli = seeded
    released_spa(cli, files)
    again = pdf(tmp_path / "stonestreet-page-again.pdf", "Stonestreet signs again")
    sent = cli(
        "attach",
        "stonestreet",
        "spa",
        str(again),
        "--signatory",
        "purchaser",
        "--hold",
        now=FRI.format("10:30"),
    )
    assert sent.code == 0, sent.err
    at = FRI.format("10:40")
    row = spa_row(cli, at)
    assert row["state"] == "received (held)" and row["released"] is None
    assert [r["reason"] for r in row["releases"]] == ["wire received"]
    assert [(f["name"], f["held"], f["released_at"]) for f in row["files"]] == [
        ("stonestreet-signature-page.pdf", False, "2002-06-07T17:05:00+00:00"),
        ("spa-countersigned-stonestreet.pdf", False, "2002-06-07T17:05:00+00:00"),
        ("stonestreet-page-again.pdf", True, None),
    ]
    listed = cli("documents", now=at).out.split("\nspa - BNC")[0].splitlines()
    assert listed[0] == "spa - Stonestreet Limited Partnership: received (held) (form fax)"
    assert listed[5].startswith("  released 2002-06-07 10:05 PDT by alice, effective 2002-06-07")
    assert listed[6].startswith("  file stonestreet-page-again.pdf (application/pdf, ")
    assert ", fax, held) sha256" in listed[6]
    assert "Documents: 1 received (held), 7 pending" in cli("status", now=at).out

    out = tmp_path / "out.pdf"
    get = ("documents", "get", "stonestreet", "spa", "--signatory", "purchaser", "-o", str(out))
    held = cli(*get, now=at)
    assert held.code == 0, held.err
    assert held.out.rstrip().endswith(", held in escrow (not released)")
    assert out.read_bytes() == again.read_bytes()

    memo = cli("report", "--format", "md", now=at).out
    line = next(
        x
        for x in memo.splitlines()
        if x.startswith("| Securities Purchase Agreement") and "Stonestreet" in x
    )
    assert (
        "| received (held): stonestreet-page-again.pdf held; stonestreet-signature-page.pdf, "
        "spa-countersigned-stonestreet.pdf released 2002-06-07 10:05 PDT by alice, effective "
        "2002-06-07 |"
    ) in line
    binder = tmp_path / "set.zip"
    assert cli("binder", "--format", "zip", "-o", str(binder), now=at).code == 0
    with zipfile.ZipFile(binder) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode())))
    assert [(r["name"], r["released"]) for r in rows] == [
        ("stonestreet-signature-page.pdf", "2002-06-07"),
        ("spa-countersigned-stonestreet.pdf", "2002-06-07"),
        ("stonestreet-page-again.pdf", ""),
    ]

    second = cli("release", "stonestreet", "--reason", "page sent again", now=FRI.format("10:45"))
    assert second.code == 0, second.err
    assert "Released spa of Stonestreet Limited Partnership" in second.out
    after = FRI.format("10:50")
    assert spa_row(cli, after)["state"] == "released"
    assert cli("documents", now=after).out.splitlines()[7].startswith("  released 2002-06-07 10:45")
    assert cli(*get, "--force", now=after).code == 0
    nothing = cli("release", "stonestreet", "--reason", "again?", now=after)
    assert nothing.code == ExitCode.REFUSED and "nothing to release" in nothing.err


@pytest.mark.parametrize(
    ("effective", "says"),
    [
        ("1900-01-01", "is before the agreement date (2002-06-07)"),
        ("2002-06-06", "is before the agreement date (2002-06-07)"),
        ("2002-06-08", "is after today (2002-06-07 in the deal's zone)"),  # UTC's today already
        ("2099-01-01", "is after today (2002-06-07 in the deal's zone)"),
    ],
)
def test_a_release_takes_effect_from_the_agreement_date_to_today(
    seeded: Cli, files: dict[str, Path], effective: str, says: str
) -> None:
    """--effective before the agreement's date or after today in the deal's zone (23:30 PDT is
    the next day in UTC) is refused in one line, nothing recorded; today and the agreement's
    date are taken."""
    cli = seeded
    wired_spa(cli, files)
    late = FRI.format("23:30")
    before = database_digest(cli.database_url)
    refused = cli("release", "stonestreet", "--reason", "wired", "--effective", effective, now=late)
    assert refused.code == ExitCode.REFUSED and refused.out == ""
    assert refused.err == (
        f"Error: --effective {effective} {says}: a release takes effect on a day from 2002-06-07 "
        "to 2002-06-07; nothing released\n"
    )
    assert database_digest(cli.database_url) == before
    done = cli("release", "stonestreet", "--reason", "wired", "--effective", "2002-06-07", now=late)
    assert done.code == 0, done.err
    assert spa_row(cli, late)["released"]["effective"] == "2002-06-07"


def test_a_release_whose_wire_is_reversed_needs_attention(
    seeded: Cli, files: dict[str, Path]
) -> None:
    """The wire the agreement was released against goes back: `documents`, its JSON, the
    board's Documents line, `status --json` and the memo say so beside `released`; the wire
    in again, the flag goes."""
    cli = seeded
    released_spa(cli, files)
    monday = "2002-06-10T09:{}:00-07:00"
    reversed_ = cli(
        "reverse", "stonestreet", "wired", "--reason", "funds returned", now=monday.format("00")
    )
    assert reversed_.code == 0, reversed_.err
    at = monday.format("05")
    words = "released against wired, since reversed: funds returned"
    row = spa_row(cli, at)
    assert row["state"] == "released" and row["attention"] == [words]
    listed = cli("documents", now=at).out.split("\nspa - BNC")[0]
    assert listed.splitlines()[-1] == f"  ⚠ {words}"
    board = cli("status", now=at).out
    assert (
        "Documents: 1 released, 7 pending (closing documents)\n"
        f"⚠ spa of Stonestreet Limited Partnership: {words}\n"
    ) in board
    states = json.loads(cli("status", "--json", now=at).out)["documents"]
    assert next(d["attention"] for d in states if d["party"] == "stonestreet") == [words]
    memo = cli("report", "--format", "md", now=at).out
    line = next(x for x in memo.splitlines() if x.startswith("| Securities") and "Stonestreet" in x)
    assert f"effective 2002-06-07; ⚠ {words} |" in line

    assert cli("mark-wired", "stonestreet", now=monday.format("30")).code == 0
    later = monday.format("35")
    assert spa_row(cli, later)["attention"] == []
    assert "⚠ spa" not in cli("status", now=later).out


def test_get_to_standard_output_but_not_a_terminal(
    seeded: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    """`documents get -o -` writes the bytes to standard output when it is a pipe (as `closing
    report` does without -o) and refuses a terminal (exit 2, one line); no file named `-`."""
    cli = seeded
    source = files["prospectus"]
    assert cli("attach", "company", "prospectus_supplement", str(source)).code == 0
    args = [sys.executable, "-m", "closing", "documents", "get", "company", "prospectus_supplement"]
    env = {
        **os.environ,
        "CLOSING_DATABASE_URL": cli.database_url,
        "CLOSING_NOW": FRI.format("09:00"),
    }
    piped = subprocess.run(
        [*args, "-o", "-"], capture_output=True, cwd=tmp_path, env=env, check=False
    )
    assert (piped.returncode, piped.stderr) == (0, b"")
    assert piped.stdout == source.read_bytes()

    master, slave = pty.openpty()
    at_terminal = subprocess.run(
        [*args, "-o", "-"], stdout=slave, stderr=subprocess.PIPE, cwd=tmp_path, env=env, check=False
    )
    os.close(slave)
    os.close(master)
    assert at_terminal.returncode == ExitCode.USAGE
    assert at_terminal.stderr == (
        b"Error: a file of the closing set is not for the terminal: give -o FILE or redirect the "
        b"output\n"
    )
    assert not (tmp_path / "-").exists()


def test_report_and_export_take_a_dash_for_standard_output(seeded: Cli, tmp_path: Path) -> None:
    """`-o -` is standard output for the memo and the export too, as it is for `documents get`:
    the same bytes as without -o, and no file named `-`."""
    env = {
        **os.environ,
        "CLOSING_DATABASE_URL": seeded.database_url,
        "CLOSING_NOW": FRI.format("09:00"),
    }
    for args in (["report", "--format", "md"], ["export", "--format", "json"]):
        command = [sys.executable, "-m", "closing", *args]
        plain = subprocess.run(command, capture_output=True, cwd=tmp_path, env=env, check=False)
        dashed = subprocess.run(
            [*command, "-o", "-"], capture_output=True, cwd=tmp_path, env=env, check=False
        )
        assert (dashed.returncode, dashed.stderr) == (0, b""), dashed.stderr
        assert dashed.stdout == plain.stdout and dashed.stdout
        assert not (tmp_path / "-").exists()
