"""Several terminals marking at once: nothing lost, nothing duplicated, one winner per race."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from closing.domain.errors import ExitCode
from tests.helpers import deal_with_purchasers

NOW = "2002-06-07T12:00:00-07:00"


def run_all(
    commands: list[list[str]], env: dict[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    """Start every command before waiting for any, so they really overlap."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "closing", *args],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for args in commands
    ]
    results = []
    for proc, args in zip(procs, commands, strict=True):
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return results


def test_processes_marking_at_once_lose_and_duplicate_nothing(
    database_url: str, tmp_path: Path
) -> None:
    """Four processes mark four purchasers while three more race on p01: four events, one per
    purchaser, and every loser is told who won."""
    env = {**os.environ, "CLOSING_DATABASE_URL": database_url, "CLOSING_NOW": NOW}
    deal = deal_with_purchasers(tmp_path / "race.yaml", 6)
    assert (
        subprocess.run(
            [sys.executable, "-m", "closing", "init", str(deal)], env=env, check=False
        ).returncode
        == 0
    )
    commands = [["mark-signed", f"p{n:02d}", "--by", f"op{n}"] for n in range(1, 5)]
    commands += [["mark-signed", "p01", "--by", f"racer{n}"] for n in range(3)]
    results = run_all(commands, env)

    accepted = [r for r in results if r.returncode == 0]
    refused = [r for r in results if r.returncode != 0]
    assert len(accepted) == 4, [r.stderr for r in results]
    assert len(refused) == 3
    for loser in refused:
        assert loser.returncode == ExitCode.REFUSED, loser.stderr
        assert loser.stderr.startswith(
            "Error: cannot mark signed for Purchaser 01: already marked signed at "
        )
    history = subprocess.run(
        [sys.executable, "-m", "closing", "history", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    events = [e for e in json.loads(history.stdout) if e["kind"] != "team"]  # the first admin
    assert sorted(e["purchaser"] for e in events) == [f"p{n:02d}" for n in range(1, 5)]
    assert all(e["seq"] == 1 for e in events)


def test_the_board_reads_while_a_writer_holds_the_database(sqlite_url: str, tmp_path: Path) -> None:
    """On SQLite a long write (an alert pass deciding thousands of alerts) does not hold up
    `closing status` or `closing history`; a second writer waits for it instead of failing."""
    import sqlite3
    import time

    env = {**os.environ, "CLOSING_DATABASE_URL": sqlite_url, "CLOSING_NOW": NOW}
    deal = deal_with_purchasers(tmp_path / "d.yaml", 2)
    subprocess.run([sys.executable, "-m", "closing", "init", str(deal)], env=env, check=True)
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        for command in (["status", "--json"], ["history", "--json"]):
            read = subprocess.run(
                [sys.executable, "-m", "closing", *command],
                env=env,
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
            assert read.returncode == 0, read.stderr
        assert time.monotonic() - started < 15  # the busy timeout is 30 s: nothing waited on it
        waiting = subprocess.Popen(
            [sys.executable, "-m", "closing", "mark-signed", "p01"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(1)  # the mark is now waiting for the write lock (not a deadline wait)
        assert waiting.poll() is None
    finally:
        writer.execute("COMMIT")
        writer.close()
    assert waiting.wait(timeout=30) == 0
