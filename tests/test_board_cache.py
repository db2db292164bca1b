"""`closing status --json` keeps the document it printed (closing.store.board_cache) and prints it
again, with `as_of` the moment asked, while the database's files are as they were and the board
still holds; a write of any kind, a moment past the board's next turn or a record dated after the
moment makes it afresh, and what is printed is always what the board made afresh says. Nothing
is kept from files written in the last second, with CLOSING_BOARD_CACHE=off, or on PostgreSQL."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from closing.store import board_cache
from tests.helpers import NO_POSTGRES, POSTGRES_URL, Cli, postgres_schema

AT = "2002-06-07T{}-07:00"
NAME = b'"Stonestreet Limited Partnership"'


def folder() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "closing" / "boards"


def kept_files() -> list[Path]:
    return sorted(folder().glob("*.json")) if folder().exists() else []


def settle(cli: Cli) -> None:
    """The database's files as if last written ten seconds ago (`board_cache.SETTLED`)."""
    file = Path(cli.database_url.removeprefix("sqlite:///")).resolve()
    for path in (file, Path(f"{file}-wal")):
        if path.exists():
            then = time.time() - 10
            os.utime(path, (then, then))


def status(cli: Cli, at: str, monkeypatch: pytest.MonkeyPatch, kept: bool = True) -> str:
    """`status --json` at `at`: kept as closing keeps it, or made afresh."""
    if kept:
        monkeypatch.delenv("CLOSING_BOARD_CACHE", raising=False)
    else:
        monkeypatch.setenv("CLOSING_BOARD_CACHE", "off")
    result = cli("status", "--json", now=AT.format(at))
    monkeypatch.delenv("CLOSING_BOARD_CACHE", raising=False)
    assert result.code == 0, result.err
    return result.out


def header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as kept:
        found: dict[str, Any] = json.loads(kept.readline())
    return found


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """This module's databases: SQLite files (PostgreSQL has no files to keep a board by:
    `test_nothing_is_kept_on_postgresql`)."""
    return f"sqlite:///{tmp_path / 'closing.db'}"


@pytest.fixture
def on_file(seeded: Cli) -> Cli:
    return seeded


def test_the_kept_document_is_printed_again_with_the_moment_asked(
    on_file: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept at 10:00, printed at 10:05 from the kept bytes (a byte changed in them shows),
    with `as_of` 10:05; a mark makes it afresh."""
    cli = on_file
    settle(cli)
    first = status(cli, "10:00:00", monkeypatch)
    [path] = kept_files()
    assert header(path)["since"] == AT.format("10:00:00")
    assert path.stat().st_mode & 0o777 == 0o600
    assert (folder().stat().st_mode & 0o777) == 0o700
    # The kept bytes are printed: a byte changed in them (and their checksum with it) shows.
    head, body = path.read_bytes().split(b"\n", 1)
    changed = body.replace(NAME, NAME[:-2] + b'X"')
    meta = json.loads(head)
    meta["crc32"] = zlib.crc32(changed)
    path.write_bytes(json.dumps(meta).encode() + b"\n" + changed)
    again = json.loads(status(cli, "10:05:00", monkeypatch))
    assert again["as_of"] == AT.format("10:05:00")
    assert again["purchasers"][0]["name"] == "Stonestreet Limited PartnershiX"
    assert {**again, "as_of": None, "purchasers": None} == {
        **json.loads(first),
        "as_of": None,
        "purchasers": None,
    }
    # Changed without its checksum (a torn write): made afresh.
    path.write_bytes(head + b"\n" + changed)
    assert status(cli, "10:06:00", monkeypatch) == status(cli, "10:06:00", monkeypatch, False)
    assert cli("mark-signed", "stonestreet", now=AT.format("10:10:00")).code == 0
    after = json.loads(status(cli, "10:15:00", monkeypatch))
    row = after["purchasers"][0]
    assert row["name"] == "Stonestreet Limited Partnership"
    assert row["steps"]["signed"]["status"] == "done"


# (moment, whether the board kept at the moment before still holds): at 13:00 the wire is due
# soon (two hours before Fedwire's 15:00 Pacific), just after 15:00 overdue, just after 17:00 (the
# agreement's cutoff) every open step is, at 21:00 a new day begins in New York (Fedwire's words
# say when a wire sent now arrives), at midnight in the deal's zone, and Monday 17:00 is the
# original warrant's deadline (due soon from 15:00). A board made at a turn holds until a
# microsecond after it.
MOMENTS = [
    ("07T10:00:00", False),
    ("07T12:59:59.999999", True),
    ("07T13:00:00.000001", False),
    ("07T14:59:59", True),
    ("07T15:00:00", False),
    ("07T15:00:00.000001", False),
    ("07T16:59:59", True),
    ("07T17:00:00.000001", False),
    ("07T20:59:59", True),
    ("07T21:00:00.000001", False),
    ("07T23:59:59.999999", True),
    ("08T00:00:00", False),
    ("10T14:59:59", False),
    ("10T15:00:00", False),
]


def test_what_is_printed_is_what_the_board_made_afresh_says(
    on_file: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = on_file
    assert cli("mark-signed", "bnc", now=AT.format("09:00:00")).code == 0
    settle(cli)
    since = None
    for moment, holds in MOMENTS:
        at = f"2002-06-{moment}-07:00"
        kept = cli("status", "--json", now=at).out
        monkeypatch.setenv("CLOSING_BOARD_CACHE", "off")
        afresh = cli("status", "--json", now=at).out
        monkeypatch.delenv("CLOSING_BOARD_CACHE")
        assert kept == afresh, moment
        [path] = kept_files()
        made = header(path)["since"]
        assert (made == since) is holds, moment
        since = made


def test_a_record_dated_after_the_moment_counts_from_its_own(
    on_file: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed at 11:00; the board asked at 10:00 does not show it, and the document kept then
    stops holding at 11:00."""
    cli = on_file
    assert cli("mark-signed", "stonestreet", now=AT.format("11:00:00")).code == 0
    settle(cli)
    before = json.loads(status(cli, "10:00:00", monkeypatch))
    assert before["purchasers"][0]["steps"]["signed"]["status"] == "pending"
    [path] = kept_files()
    assert header(path)["until"] <= "2002-06-07T18:00:00+00:00"  # 11:00 Pacific
    later = json.loads(status(cli, "11:30:00", monkeypatch))
    assert later["purchasers"][0]["steps"]["signed"]["status"] == "done"


def test_a_change_made_with_sqlite3_is_shown(on_file: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = on_file
    settle(cli)
    status(cli, "10:00:00", monkeypatch)
    assert kept_files()
    file = cli.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(file) as db:
        db.execute("UPDATE purchaser SET name = 'Stonestreet Limited PartnershiQ' WHERE id = 2")
    db.close()
    settle(cli)
    shown = json.loads(status(cli, "10:01:00", monkeypatch))
    assert "Stonestreet Limited PartnershiQ" in {p["name"] for p in shown["purchasers"]}


def test_nothing_is_kept_from_files_written_in_the_last_second(
    on_file: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = on_file
    assert cli("mark-signed", "stonestreet", now=AT.format("10:00:00")).code == 0
    status(cli, "10:00:00", monkeypatch)
    assert kept_files() == []


@pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)
def test_nothing_is_kept_on_postgresql(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], seed_path: Path
) -> None:
    with postgres_schema() as url:
        monkeypatch.setenv("CLOSING_DATABASE_URL", url)
        cli = Cli(url, monkeypatch, capsys)
        assert cli("init", str(seed_path), now=AT.format("07:00:00")).code == 0
        first = status(cli, "10:00:00", monkeypatch)
        assert json.loads(first)["deal"]["slug"] == "neotherapeutics-2002-06-07"
        assert not folder().exists()
        assert first == status(cli, "10:00:00", monkeypatch, kept=False)


def test_only_the_newest_documents_are_kept(on_file: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    folder().mkdir(parents=True)
    old = time.time() - 100
    for n in range(board_cache.KEPT + 2):
        other = folder() / f"{n:064x}.json"
        other.write_text("{}\n")
        os.utime(other, (old + n, old + n))
    leftover = folder() / ".board-dead"
    leftover.write_text("half")
    os.utime(leftover, (old - 3600, old - 3600))
    settle(on_file)
    status(on_file, "10:00:00", monkeypatch)
    left = kept_files()
    assert len(left) == board_cache.KEPT
    assert folder() / f"{0:064x}.json" not in left  # the oldest went
    assert not leftover.exists()
    assert any(header(path).get("since") == AT.format("10:00:00") for path in left)


@pytest.mark.parametrize(
    "content",
    [b"null\n", b"[]\n", b'"x"\n', b"[" * 60_000 + b"\n", b"", b"garbage", b'{"key": 1}\n'],
)
def test_a_damaged_kept_document_is_made_afresh(
    on_file: Cli, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    cli = on_file
    settle(cli)
    status(cli, "10:00:00", monkeypatch)
    [path] = kept_files()
    path.write_bytes(content)
    assert status(cli, "10:01:00", monkeypatch) == status(cli, "10:01:00", monkeypatch, False)


def test_a_link_to_the_database_sees_the_marks_in_its_log(
    on_file: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Through a symbolic link to the file, with another connection holding the write-ahead log
    open (`closing watch`, `serve`, a sqlite3 shell): a mark goes to the log beside the file
    linked to, and is shown."""
    cli = on_file
    real = Path(cli.database_url.removeprefix("sqlite:///"))
    link = tmp_path / "link.db"
    link.symlink_to(real)
    monkeypatch.setenv("CLOSING_DATABASE_URL", f"sqlite:///{link}")
    holder = sqlite3.connect(real)
    try:
        holder.execute("SELECT count(*) FROM event").fetchall()
        settle(cli)
        status(cli, "10:00:00", monkeypatch)
        assert kept_files()
        assert cli("mark-signed", "stonestreet", now=AT.format("10:01:00")).code == 0
        log = Path(f"{real}-wal")
        assert log.stat().st_size > 0  # the mark is in the log; the file itself is as it was
        then = time.time() - 10
        os.utime(log, (then, then))
        shown = json.loads(status(cli, "10:02:00", monkeypatch))
        assert shown["purchasers"][0]["steps"]["signed"]["status"] == "done"
    finally:
        holder.close()


def test_nothing_is_kept_for_a_url_with_options(
    on_file: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`?mode=ro&immutable=1` reads the file without its log: what it shows is not kept for
    the plain URL (nor for itself)."""
    file = on_file.database_url.removeprefix("sqlite:///")
    monkeypatch.setenv(
        "CLOSING_DATABASE_URL", f"sqlite:///file:{file}?mode=ro&immutable=1&uri=true"
    )
    settle(on_file)
    status(on_file, "10:00:00", monkeypatch)
    assert not folder().exists()


@pytest.mark.parametrize("value", ["off", "OFF", "0", "no", "false"])
def test_nothing_is_kept_when_turned_off(
    on_file: Cli, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    settle(on_file)
    monkeypatch.setenv("CLOSING_BOARD_CACHE", value)
    assert on_file("status", "--json", now=AT.format("10:00:00")).code == 0
    assert not folder().exists()


def test_a_cache_folder_others_may_write_in_is_not_used(
    on_file: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = on_file
    settle(cli)
    status(cli, "10:00:00", monkeypatch)
    [path] = kept_files()
    path.write_bytes(path.read_bytes().replace(NAME, NAME[:-2] + b'X"'))
    folder().chmod(0o777)
    shown = status(cli, "10:01:00", monkeypatch)
    assert "PartnershiX" not in shown
    assert kept_files() == [path] and "PartnershiX" in path.read_text()  # nor written in
