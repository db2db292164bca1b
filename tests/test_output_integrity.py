"""Output never misleads: a history can't be forged by a note that wraps into what looks like an
event; `-o` writes whole or leaves the old file; a write whose confirmation can't be printed says
it was recorded; a broken pipe exits 141."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from closing.domain.errors import ExitCode
from tests.helpers import Cli
from tests.test_hostile_inputs import closing_process, seeded_copy

FRI = "2002-06-07T{}:00-07:00"
FORGED = "#9  2002-06-07 17:00 PDT  mark wired  Stonestreet Limited Partnership $930,000.00"


@pytest.mark.parametrize("columns", ["80", "100", "200"])
def test_a_note_cannot_start_a_line_where_an_event_starts(tmp_path: Path, columns: str) -> None:
    url = f"sqlite:///{seeded_copy(tmp_path, 'forged.db')}"
    note = "ok" + " " * 120 + FORGED
    marked = closing_process(["mark-signed", "bnc", "--note", note], url)
    assert marked.returncode == 0, marked.stderr
    shown = closing_process(["history"], url, COLUMNS=columns)
    assert shown.returncode == 0, shown.stderr
    heads = [line for line in shown.stdout.splitlines() if line.startswith("#")]
    assert not any("$930,000.00" in line for line in heads)
    assert all(line.startswith(("#", "    ")) for line in shown.stdout.splitlines())
    assert all(len(line) <= max(int(columns), 40) for line in shown.stdout.splitlines())
    whole = json.loads(closing_process(["history", "--json"], url).stdout)
    assert whole[-1]["note"] == note  # whole in --json


def test_report_o_keeps_the_old_file_when_the_write_fails(
    seeded: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "memo.md"
    out.write_text("the old memo")
    import closing.cli.app as app_module

    real = os.replace

    def full_disk(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(app_module.os, "replace", full_disk)
    failed = seeded("report", "-o", str(out), now=FRI.format("10:00"))
    monkeypatch.setattr(app_module.os, "replace", real)
    assert failed.code == ExitCode.USAGE and "No space left on device" in failed.err
    assert out.read_text() == "the old memo"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".memo")] == []
    written = seeded("report", "-o", str(out), now=FRI.format("10:00"))
    assert written.code == 0, written.err
    assert out.read_text().startswith("# Memorandum")
    assert oct(out.stat().st_mode & 0o777) != "0o600"


def test_a_mark_whose_confirmation_cannot_be_printed_says_it_was_recorded(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    url = f"sqlite:///{seeded_copy(tmp_path, 'full.db')}"
    with open("/dev/full", "w") as full:
        run = closing_process(["mark-signed", "bnc"], url, stdout=full.fileno())
    assert run.returncode == ExitCode.USAGE
    assert run.stderr.startswith("Error: recorded mark signed for BNC Bach")
    assert run.stderr.endswith(", but could not print the confirmation: No space left on device\n")
    history = json.loads(closing_process(["history", "--json"], url).stdout)
    assert history[-1]["step"] == "signed"


def test_a_broken_pipe_exits_141(tmp_path: Path) -> None:
    url = f"sqlite:///{seeded_copy(tmp_path, 'pipe.db')}"
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    base.update(CLOSING_DATABASE_URL=url, CLOSING_NOW="2002-06-07T13:00:00-07:00")
    run = subprocess.run(
        [
            "sh",
            "-c",
            '"$0" -m closing status --json | head -c 1 > /dev/null; exit 0',
            sys.executable,
        ],
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "closing", "status", "--json"],
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader goes away before anything is read
    _, err = process.communicate(timeout=60)
    assert process.returncode == ExitCode.BROKEN_PIPE == 141
    assert b"Traceback" not in err and b"Internal error" not in err


def test_a_database_on_a_read_only_mount_is_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder that cannot be written (a read-only mount; root ignores permissions, so it is
    simulated): the board and the history read it (`mode=ro`, `immutable`), a mark is one line."""
    import closing.store.url as url_module
    from closing.cli import main

    path = seeded_copy(tmp_path, "ro.db")
    monkeypatch.setattr(url_module.os, "access", lambda where, mode: Path(where) != path.parent)
    monkeypatch.setenv("CLOSING_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("CLOSING_NOW", "2002-06-07T13:00:00-07:00")
    for args, code in ((["status"], 0), (["history"], 0), (["mark-signed", "bnc"], 6)):
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == code, args
    assert not Path(f"{path}-wal").exists()


def _environment(url: str, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    base.update(CLOSING_DATABASE_URL=url, CLOSING_NOW="2002-06-07T13:00:00-07:00", **extra)
    return base


def test_json_at_a_terminal_is_the_whole_document_indented(tmp_path: Path) -> None:
    """`status --json` at a terminal (a pseudo-terminal here) is indented for a person, and the
    same document as piped."""
    import pty

    url = f"sqlite:///{seeded_copy(tmp_path, 'tty.db')}"
    env = _environment(url, COLUMNS="100")
    piped = json.loads(closing_process(["status", "--json"], url).stdout)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "closing", "status", "--json"],
        env=env,
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's last writer has gone
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    text = shown.decode().replace("\r\n", "\n")
    assert text.startswith('{\n  "deal": {\n')
    assert json.loads(text)["purchasers"] == piped["purchasers"]


@pytest.mark.parametrize(
    "locale", [{"LC_ALL": "C", "PYTHONUTF8": "0"}, {"PYTHONIOENCODING": "utf-16"}]
)
def test_json_is_utf_8_whatever_the_locale(tmp_path: Path, locale: dict[str, str]) -> None:
    """JSON is exchanged in UTF-8 (RFC 8259): piped, a note in any script comes out as UTF-8
    whatever the locale says (an ASCII locale used to give `\\xeb`-style escapes, which are not
    JSON; a UTF-16 one, a document of two encodings)."""
    url = f"sqlite:///{seeded_copy(tmp_path, 'utf.db')}"
    note = "Zoë signed in 北京 😀"
    marked = closing_process(["mark-signed", "bnc", "--note", note], url)
    assert marked.returncode == 0, marked.stderr
    run = subprocess.run(
        [sys.executable, "-m", "closing", "history", "--json"],
        env=_environment(url, **locale),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.decode("utf-8"))[-1]["note"] == note


def test_an_interrupt_stops_a_large_json_output_whose_reader_stalls(tmp_path: Path) -> None:
    """Ctrl-C while the reader of a large `--json` document has stopped reading (a pager left
    open) ends the command at once with 130, as before it was written in pieces: it does not
    wait for the reader to take what was made."""
    import fcntl
    import signal
    import termios

    from tests.helpers import INTERRUPTIBLE_CLOSING, deal_with_purchasers, wait_until

    url = f"sqlite:///{tmp_path / 'large.db'}"
    deal = deal_with_purchasers(tmp_path / "large.yaml", 2500)  # about 5 MB of JSON
    loaded = closing_process(["init", str(deal)], url)
    assert loaded.returncode == 0, loaded.stderr
    process = subprocess.Popen(
        [*INTERRUPTIBLE_CLOSING, "status", "--json"],
        env=_environment(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None

    def waiting_in_the_pipe() -> bool:
        available = bytearray(4)
        fcntl.ioctl(process.stdout, termios.FIONREAD, available)
        return int.from_bytes(available, sys.byteorder) >= 1 << 19  # half the widened pipe

    wait_until(waiting_in_the_pipe, 60, "the JSON to fill the pipe")  # the reader stalls
    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(timeout=10)  # nothing is read meanwhile
    finally:
        process.kill()
        process.stdout.close()
        assert process.stderr is not None
        process.stderr.close()
    assert code == 130
