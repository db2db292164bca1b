"""Data is shown as text, never acted on: a purchaser name, a deal title, a step label, a note, an
operator and a reference full of Rich markup, escape sequences, C1 controls, bidi overrides and
newlines are stored in the database (as an older closing or another writer could have stored
them), then the real CLI draws the board, the history, a mark confirmation, the deal list, the
alert ledger, the live board and an alert (log line and webhook) on a real terminal (a pty 250
columns wide) with colour forced on. None of it may be live in the output bytes."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.alert_receivers import HttpReceiver, http_receiver
from tests.helpers import INTERRUPTIBLE_CLOSING, SEED, wait_until

# Everything a terminal or a log reader could act on, in one value.
HOSTILE = (
    "[bold red]Stone[/] [link=file:///etc/passwd]street[/link] \x1b[2J\x1b]0;pwned\x07 "
    "\x1b[1A\x1b[2K \x9b31m \u202eevil\u202c \u2066iso\u2069 \u2028 \nlevel=INFO event=all-clear"
)
MARKUP = "[bold red]Stone[/] [link=file:///etc/passwd]street[/link]"
FORGED = "level=INFO event=all-clear"
SGR = re.compile(r"\x1b\[[0-9;]*m")
BIDI_AND_SEPARATORS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\u061c]")
C1 = re.compile("[\x80-\x9f]")


def terminal_env(database_url: str, now: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLOSING_") and k not in ("NO_COLOR", "COLUMNS", "LINES")
    }
    env.update(
        CLOSING_DATABASE_URL=database_url,
        CLOSING_NOW=now,
        CLOSING_OPERATOR="alice",
        FORCE_COLOR="1",
        TERM="xterm-256color",
    )
    return env


def in_terminal(
    args: list[str], env: dict[str, str], interrupt_after: float | None = None
) -> tuple[int, str]:
    """Run `closing ARGS` on a pty 250 columns by 60 lines (stdout and stderr both); with
    `interrupt_after`, send SIGINT after that many seconds (the live board). Returns the exit
    code and everything the terminal received, as text (line ends as the program wrote them)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 250, 0, 0))
    proc = subprocess.Popen(
        [*INTERRUPTIBLE_CLOSING, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    started = time.monotonic()
    interrupted = False
    while True:
        late = interrupt_after is not None and time.monotonic() - started > interrupt_after
        if late and not interrupted:
            proc.send_signal(signal.SIGINT)
            interrupted = True
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif time.monotonic() - started > 60:
            proc.kill()
            break
    code = proc.wait(30)
    os.close(master)
    return code, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def assert_nothing_live(output: str, live_board: bool = False, coloured: bool = True) -> str:
    """No hostile byte reached the terminal; returns the text without Rich's own colours."""
    assert "\x1b]" not in output, "an OSC sequence (hyperlink or window title) got through"
    assert "\x1b[2J" not in output and "\x1b[1A\x1b[2K " not in output
    assert not C1.search(output), "a C1 control got through"
    assert not BIDI_AND_SEPARATORS.search(output), "a bidi or separator character got through"
    assert "\x07" not in output
    plain = SGR.sub("", output)
    if not live_board:  # the live board moves the cursor itself; other commands only colour
        assert "\x1b" not in plain, "an escape sequence other than a colour got through"
    assert not re.search(rf"(?m)^{re.escape(FORGED)}", plain), "a forged line got through"
    if coloured:
        assert SGR.search(output), "colour was not on: the test would prove nothing"
    return plain


@pytest.fixture
def hostile_deal(tmp_path: Path, sqlite_url: str) -> tuple[str, HttpReceiver]:
    """The seed deal, alerting a webhook, loaded; BNC signed with a note; then the stored
    purchaser name, deal title, a step label, the note, the operator and a reference rewritten
    to the hostile value."""
    with http_receiver() as webhook:
        text = SEED.read_text().replace("  notify: []", f'  notify: ["{webhook.url()}"]')
        deal_file = tmp_path / "deal.yaml"
        deal_file.write_text(text)
        env = terminal_env(sqlite_url, "2002-06-07T07:00:00-07:00")
        for args, now in [
            (["init", str(deal_file)], "2002-06-07T07:00:00-07:00"),
            (["mark", "company", "prospectus_delivered"], "2002-06-07T08:00:00-07:00"),
            (["mark-signed", "bnc", "--note", "[red]fine[/red]"], "2002-06-07T09:00:00-07:00"),
            (["mark-wired", "bnc", "--reference", "FED"], "2002-06-07T10:00:00-07:00"),
        ]:
            env["CLOSING_NOW"] = now
            done = subprocess.run(
                [sys.executable, "-m", "closing", *args], env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr
        database = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
        database.execute("UPDATE purchaser SET name = ? WHERE slug = 'bnc-bach'", (HOSTILE,))
        database.execute(
            "UPDATE event SET note = ?, actor = ? WHERE step = 'signed'", (HOSTILE,) * 2
        )
        database.execute("UPDATE event SET evidence = ? WHERE step = 'wired'", (HOSTILE,))
        (terms_json,) = database.execute("SELECT terms_json FROM deal").fetchone()
        terms = json.loads(terms_json)
        terms["title"] = HOSTILE
        for step in terms["steps"]:
            if step["id"] == "warrant_faxed":
                step["label"] = "\x1b[5mFax\u202e"
        database.execute("UPDATE deal SET terms_json = ?, title = ?", (json.dumps(terms), HOSTILE))
        database.commit()
        database.close()
        yield sqlite_url, webhook


def test_board_history_and_lists_show_hostile_data_as_text(
    hostile_deal: tuple[str, HttpReceiver],
) -> None:
    """`status`, `history`, `deals` and `alerts list` on a colour terminal: the markup is drawn
    as written, every escape and override shown as `\\x1b`, `\\u202e`, and the newline as `\\n`."""
    url, _ = hostile_deal
    env = terminal_env(url, "2002-06-07T13:00:00-07:00")
    for args in (["status"], ["status", "--all"], ["history"], ["history", "bnc"], ["deals"]):
        code, output = in_terminal(args, env)
        assert code == 0, output
        plain = assert_nothing_live(output)
        assert MARKUP in plain or MARKUP[:20] in plain, args
        assert "\\x1b[2J" in plain and "\\u202e" in plain, args
    code, output = in_terminal(["history"], env)
    plain = assert_nothing_live(output)
    assert f"\\n{FORGED}" in plain  # the note's newline, shown, not obeyed


def test_a_mark_confirmation_shows_the_stored_name_as_text(
    hostile_deal: tuple[str, HttpReceiver],
) -> None:
    """`Marked ... for <name>` prints the name from the database neutrally."""
    url, _ = hostile_deal
    env = terminal_env(url, "2002-06-07T13:00:00-07:00")
    code, output = in_terminal(["mark-dwac", "bnc", "--confirmation", "DTC 1"], env)
    assert code == 0, output
    assert output.startswith(f"Marked dwac_credited for {MARKUP} \\x1b[2J\\x1b]0;pwned\\x07")
    assert_nothing_live(output, coloured=False)  # a plain line: click, not Rich


def test_an_alert_in_the_log_and_on_the_webhook_is_neutral(
    hostile_deal: tuple[str, HttpReceiver],
) -> None:
    """The sender's log line (quoted logfmt) and the webhook's title and message carry the name
    with every escape visible; nothing in them starts a line of its own."""
    url, webhook = hostile_deal
    env = terminal_env(url, "2002-06-07T16:45:00-07:00")
    code, output = in_terminal(["alerts", "check"], env)
    assert code == 0, output
    plain = assert_nothing_live(output, coloured=False)  # log lines are not coloured
    alert_lines = [line for line in plain.splitlines() if " alert " in line]
    assert alert_lines and all(line.startswith("time=") for line in alert_lines)
    assert any("\\\\x1b[2J" in line or "\\x1b[2J" in line for line in alert_lines)
    hooks = wait_until(webhook.received, 10, "the webhook")
    for hook in hooks:
        title, message = hook.payload["title"], hook.payload["message"]
        for text in (title, message):
            assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
            assert not BIDI_AND_SEPARATORS.search(text)
        assert "\n" not in title
        assert not re.search(rf"(?m)^{re.escape(FORGED)}", message)
    assert any("\\x1b[2J" in hook.payload["message"] for hook in hooks)


def test_the_alert_ledger_and_the_live_board_are_neutral(
    hostile_deal: tuple[str, HttpReceiver],
) -> None:
    """`alerts list` after a pass, and `watch` (the live board redrawn on the terminal): no
    hostile sequence reaches the terminal; the board's own cursor movements are all there is."""
    url, _ = hostile_deal
    env = terminal_env(url, "2002-06-07T16:45:00-07:00")
    assert in_terminal(["alerts", "check"], env)[0] == 0
    code, output = in_terminal(["alerts", "list"], env)
    assert code == 0, output
    assert_nothing_live(output)
    code, output = in_terminal(["watch", "--no-alerts"], env, interrupt_after=3)
    plain = assert_nothing_live(output, live_board=True)
    assert "\\x1b[2J" in plain


def test_the_live_board_says_where_alerts_go_from_its_first_frame(
    hostile_deal: tuple[str, HttpReceiver],
) -> None:
    """`watch` with its own sender never claims `--no-alerts`, not even before the sender has
    started: its first frames say the sender is starting, then that it sends from this process."""
    url, _ = hostile_deal
    env = terminal_env(url, "2002-06-07T16:45:00-07:00")
    _, output = in_terminal(["watch"], env, interrupt_after=4)
    plain = assert_nothing_live(output, live_board=True)
    assert "alerts: off (--no-alerts)" not in plain
    assert "alerts: sent from this process" in plain
    _, output = in_terminal(["watch", "--no-alerts"], env, interrupt_after=2)
    assert "alerts: off (--no-alerts)" in assert_nothing_live(output, live_board=True)
