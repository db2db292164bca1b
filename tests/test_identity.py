"""Who did it is who the system authenticated: on SQLite the process's OS account (from its user
id), never USER, LOGNAME or CLOSING_OPERATOR; `--by` (or CLOSING_OPERATOR) is kept beside it as
on-behalf-of, shown `by alice for Mary Jones`. Events recorded before keep their typed actor,
marked self-declared."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from closing.store.connection import Database
from tests.helpers import SEED, Cli
from tests.test_migrations import write_a_closing_day_as_of

ACCOUNT = pwd.getpwuid(os.geteuid()).pw_name


def closing(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`closing ARGS` in a process of its own (the real OS account), at 09:00 on closing day."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    environ.update(
        CLOSING_DATABASE_URL=f"sqlite:///{tmp_path / 'closing.db'}",
        CLOSING_NOW="2002-06-07T09:00-07:00",
        NO_COLOR="1",
        COLUMNS="100",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "closing", *args], env=environ, capture_output=True, text=True
    )


def test_the_actor_is_the_os_account_whatever_the_environment_says(tmp_path: Path) -> None:
    """With USER, LOGNAME and CLOSING_OPERATOR all saying mallory, the mark is by the account
    the process runs as, for mallory; `--by` is on-behalf-of too; the status and the history
    documents say both."""
    assert closing(tmp_path, "init", str(SEED)).returncode == 0
    posing = {"USER": "mallory", "LOGNAME": "mallory", "CLOSING_OPERATOR": "mallory"}
    done = closing(tmp_path, "mark-signed", "stonestreet", **posing)
    assert done.returncode == 0, done.stderr
    assert f"by {ACCOUNT} for mallory." in done.stdout
    done = closing(tmp_path, "mark-signed", "bnc", "--by", "Mary Jones", USER="mallory")
    assert f"by {ACCOUNT} for Mary Jones." in done.stdout
    plain = closing(tmp_path, "mark", "company", "prospectus_delivered", USER="mallory")
    assert plain.stdout.count(f"by {ACCOUNT}.") == 1  # no --by: nobody else named

    status = json.loads(closing(tmp_path, "status", "--json").stdout)
    signed = {p["slug"]: p["steps"]["signed"] for p in status["purchasers"]}
    assert signed["stonestreet"]["done_by"] == ACCOUNT
    assert signed["stonestreet"]["on_behalf_of"] == "mallory"
    assert signed["bnc-bach"]["on_behalf_of"] == "Mary Jones"
    history = json.loads(closing(tmp_path, "history", "--json").stdout)
    assert {e["done_by"] for e in history} == {ACCOUNT}
    assert [e["on_behalf_of"] for e in history if e["kind"] == "mark"] == [
        "mallory",
        "Mary Jones",
        None,
    ]
    assert "mallory" not in {e["actor"] for e in history}
    text = closing(tmp_path, "history").stdout
    assert f"by {ACCOUNT}@" in text and "for Mary Jones" in text
    assert closing(tmp_path, "verify").returncode == 0  # on-behalf-of is in the chain


def test_by_never_passes_the_two_person_rule(tmp_path: Path) -> None:
    """On one OS account, `--by bob` or CLOSING_OPERATOR=bob cannot verify wire instructions the
    same account entered."""
    fixture = Path(__file__).parent / "fixtures" / "neotherapeutics-wires.yaml"
    assert closing(tmp_path, "init", str(fixture)).returncode == 0
    assert closing(tmp_path, "team", "grant", ACCOUNT, "verifier").returncode == 0
    verify = ["wire-instructions", "verify", "--callback-number", "+1 949 788 6700"]
    for posing in ({"CLOSING_OPERATOR": "bob"}, {"USER": "bob", "LOGNAME": "bob"}):
        done = closing(tmp_path, *verify, "--spoke-with", "CFO", **posing)
        assert done.returncode == 5
        assert f"{ACCOUNT} entered this change" in done.stderr
    done = closing(tmp_path, *verify, "--spoke-with", "CFO", "--by", "bob")
    assert done.returncode == 5 and "two-person rule" in done.stderr


def test_events_recorded_before_keep_their_actor_marked_self_declared(
    empty_database_url: str,
    seed_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A database of an older release upgrades: its events keep the actor typed then, and
    `history` and the memo say it was self-declared; the chain still verifies, and a new mark
    is by the authenticated actor."""
    url = empty_database_url
    write_a_closing_day_as_of("0002", url, seed_path)
    Database(url).upgrade()
    monkeypatch.setenv("CLOSING_DATABASE_URL", url)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("CLOSING_OPERATOR", raising=False)
    sqlite = url.startswith("sqlite")  # on PostgreSQL: as the schema's owner, who upgraded it
    cli = Cli(url, monkeypatch, capsys, now="2002-06-07T10:00:00-07:00", accounts=sqlite)
    shown = cli("history", "--json")
    assert shown.code == 0, shown.err
    history = json.loads(shown.out)
    assert {(e["actor"], e["actor_declared"]) for e in history} == {("alice", True)}
    assert "by alice@h1 (self-declared)" in cli("history").out
    assert cli("verify").code == 0
    memo = tmp_path / "memo.md"
    assert cli("report", "-o", str(memo)).code == 0
    assert "alice (self-declared)" in memo.read_text()
    if sqlite:  # on PostgreSQL the actor is the server's current_user
        done = cli(
            "@carol", "undo", "bnc", "signed", "--reason", "wrong copy", "--by", "Mary Jones"
        )
        assert "by carol for Mary Jones" in done.out, done.err
        assert cli("verify").code == 0
