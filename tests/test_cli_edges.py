"""The command line's rough edges, each with its exact output: usage errors, the sender lock's
message, plurals, piped width, the words watch prints, and shell completion."""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from tests.helpers import Cli


@pytest.fixture
def sqlite_cli(
    sqlite_url: str,
    seed_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """The seeded CLI on SQLite only (the lease row of the sender lock is SQLite's)."""
    monkeypatch.setenv("CLOSING_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CLOSING_OPERATOR", "alice")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CLOSING_DEAL", raising=False)
    monkeypatch.delenv("CLOSING_DEBUG", raising=False)
    cli = Cli(sqlite_url, monkeypatch, capsys)
    assert cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00").code == 0
    return cli


def test_debug_shows_no_traceback_for_a_plain_usage_error(seeded: Cli) -> None:
    """--debug is for unexpected errors: a time that is not a time is one line, exit 2."""
    result = seeded("--debug", "mark-wired", "bnc", "--at", "nonsense")
    assert result.code == 2
    assert result.err == (
        "Error: --at 'nonsense' is not a time; write it like 08:30, 2002-06-07 08:30 or "
        "2002-06-07T08:30-07:00\n"
    )


def test_database_after_the_command_says_it_goes_before(seeded: Cli) -> None:
    """`status --database X` says where --database goes."""
    result = seeded("status", "--database", "x.db")
    assert result.code == 2
    assert result.err == (
        "Error: no such option --database after the command; --database goes before it: "
        "closing --database URL COMMAND ... (see closing status --help)\n"
    )


def test_one_failing_delivery_is_singular(seeded: Cli) -> None:
    """ "1 alert delivery failing", "2 alert deliveries failing"."""
    from closing.cli.app import App
    from closing.services.board import board
    from closing.views.board_text import board_view

    app = App(seeded.database_url, False)
    current = board(app.existing_database, None, datetime(2002, 6, 7, 16, tzinfo=UTC))
    console = Console(file=io.StringIO(), width=100, color_system=None)
    for count, said in [(1, "1 alert delivery failing"), (2, "2 alert deliveries failing")]:
        console.print(board_view(dataclasses.replace(current, failing_alerts=count), None, 100))
        assert f"\n{said}: see closing alerts list\n" in console.file.getvalue()  # type: ignore[attr-defined]


def test_the_lock_message_gives_the_holders_time_in_the_deals_zone(sqlite_cli: Cli) -> None:
    """Another sender running on this host since 16:40 PDT: `alerts check` names it, in PDT."""
    from closing.store.connection import Database

    with Database(sqlite_cli.database_url).transaction() as connection:
        since = connection.bind_moment(datetime(2002, 6, 7, 23, 40, tzinfo=UTC))
        connection.execute(
            "INSERT INTO alert_sender (name, holder, host, pid, started_at, heartbeat_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                "alerts",
                f"pid {os.getppid()} on {socket.gethostname()}",
                socket.gethostname(),
                os.getppid(),
                since,
                since,
            ),
        )
    result = sqlite_cli("alerts", "check", now="2002-06-07T16:45:00-07:00")
    assert result.code == 7
    assert result.err == (
        f"Error: alerts are already being sent by pid {os.getppid()} on {socket.gethostname()} "
        "(since 2002-06-07 16:40 PDT); stop it first, or start this one with --standby to take "
        "over when it stops\n"
    )


def test_undo_takes_at_and_note(seeded: Cli) -> None:
    """`undo --at --note`: the correction is dated and noted."""
    assert seeded("mark-signed", "stonestreet", now="2002-06-07T08:30:00-07:00").code == 0
    result = seeded(
        "undo",
        "stonestreet",
        "signed",
        "--reason",
        "signature page was for another deal",
        "--at",
        "08:40",
        "--note",
        "called Stonestreet's counsel",
        now="2002-06-07T09:00:00-07:00",
    )
    assert result.code == 0, result.err
    assert result.out == (
        "Undid signed for Stonestreet Limited Partnership at 2002-06-07 08:40 PDT by alice. "
        "Still to do: signed, wired, warrant_faxed, warrant_delivered, dwac_credited.\n"
    )
    history = seeded("history", "stonestreet").out
    assert "happened 2002-06-07 08:40 PDT" in history
    assert "called Stonestreet's counsel" in history


@pytest.mark.parametrize("columns", [None, "0", "abc"])
def test_piped_status_is_as_wide_as_its_data(
    seeded: Cli, monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    """Without COLUMNS (or with one that is not a width), a piped board is not cut at 80 columns:
    names, shares and price whole, and each Blocked: line on one line."""
    if columns is None:
        monkeypatch.delenv("COLUMNS")
    else:
        monkeypatch.setenv("COLUMNS", columns)
    out = seeded("status", now="2002-06-07T15:30:00-07:00").out
    lines = out.splitlines()
    assert lines[5].rstrip() == (
        "Purchaser                            Shares           Price   Signed    Wired             "
        "Faxed    Original   DWAC"
    )
    assert lines[7].startswith("Stonestreet Limited Partnership   1,935,483     $450,000.00")
    assert (
        "\nBlocked: BNC Bach International, Ltd.: Wired needs company wire instructions; Faxed "
        "needs notice facsimile number; Original needs notice address; DWAC needs DTC "
        "participant number, DWAC account number\n" in out
    )
    assert max(len(line) for line in lines) > 100


def test_watch_says_the_senders_log_in_words() -> None:
    """watch turns the sender's logfmt lines into words; `alerts run` keeps logfmt."""
    from closing.cli.watch import log_words

    assert log_words('event=start sender="pid 7 on vm"') == "sending alerts from this process"
    assert log_words("event=caught-up alerts=3 collapsed=1") == (
        "3 alerts sent late: no sender was running when due"
    )
    assert (
        log_words(
            'alert deal=neo purchaser=bnc title="BNC Bach International, Ltd.: Purchase price '
            'wired not done, cutoff in 15m"'
        )
        == "alert sent: BNC Bach International, Ltd.: Purchase price wired not done, cutoff in 15m"
    )
    assert (
        log_words(
            'event=delivery-retrying channel=mailto://smtp.example.com alert=4 error="failed"'
        )
        == "alert #4 to mailto://smtp.example.com failed; will retry: failed"
    )


def test_watch_keeps_ctrl_c_to_stop_on_the_screen() -> None:
    """A board 16 lines high on a 20-line terminal leaves room for two alert lines: one alert
    and how many more, then the note and "Ctrl-C to stop"."""
    from closing.cli.watch import watch_frame

    console = Console(file=io.StringIO(), width=100, height=20, color_system=None)
    board = Text("\n".join(f"board line {n}" for n in range(16)))
    recent = [f"16:{n:02d} alert {n}" for n in range(6)]
    console.print(watch_frame(console, board, "alerts: sent from this process", recent))
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 20
    assert lines[16:] == [
        "alerts: sent from this process",
        "16:00 alert 0",
        "... and 5 more (closing alerts list)",
        "Ctrl-C to stop",
    ]


def _complete(words: str, database: str, cwd: Path) -> list[str]:
    env = {
        **os.environ,
        "CLOSING_DATABASE_URL": database,
        "_CLOSING_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    code = "from closing.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert done.stderr == ""
    return done.stdout.split()


def test_shell_completion_of_commands_purchasers_and_steps(sqlite_cli: Cli, tmp_path: Path) -> None:
    """Tab completes commands, the deal's purchasers and steps, from the database."""
    database = sqlite_cli.database_url
    assert _complete("closing mark-w", database, tmp_path) == ["plain,mark-wired"]
    assert _complete("closing mark-wired ", database, tmp_path) == [
        "plain,company",
        "plain,stonestreet",
        "plain,bnc-bach",
    ]
    assert _complete("closing undo stonestreet w", database, tmp_path) == [
        "plain,wired",
        "plain,warrant_faxed",
        "plain,warrant_delivered",
    ]
    assert _complete("closing undo company p", database, tmp_path) == [
        "plain,prospectus_delivered",
        "plain,prospectus_filed",
    ]


def test_shell_completion_never_creates_a_database(tmp_path: Path) -> None:
    """Completing against a database that is not there offers nothing and creates nothing."""
    missing = tmp_path / "nowhere" / "closing.db"
    assert _complete("closing mark-wired s", f"sqlite:///{missing}", tmp_path) == []
    assert not missing.parent.exists()


def test_the_lazy_command_table_names_each_module_s_commands() -> None:
    """`closing`'s group imports a command's module only when it runs: its table of which
    module holds which command is exactly what those modules define."""
    import importlib

    from closing.cli import LAZY_COMMANDS

    defined = {
        command.name: module
        for module in set(LAZY_COMMANDS.values())
        for command in importlib.import_module(f"closing.cli.{module}").COMMANDS
    }
    assert defined == LAZY_COMMANDS


def test_help_imports_no_database_code(tmp_path: Path) -> None:
    """`closing --help` (the command a newcomer types first, and the one every shell Tab starts
    like) prints the commands without importing the store or any database library."""
    code = (
        "import sys\nfrom closing.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "database = ('closing.store', 'sqlite3', 'sqlalchemy', 'sqlmodel', 'psycopg')\n"
        "print(sorted(m for m in sys.modules if m.startswith(database)), file=sys.stderr)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert "Commands:" in done.stdout, done.stderr
    assert done.stderr == "[]\n"


def status_imports(url: str, cwd: Path) -> tuple[str, str]:
    """(the closing.cli modules, the SQLModel tables) a `closing status --json` process loads."""
    code = (
        "import sys\nfrom closing.cli import main\n"
        "try:\n    main(['status', '--json'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('closing.cli.')), file=sys.stderr)\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel')]\n"
        "if loaded:\n    from sqlmodel import SQLModel\n"
        "    print(sorted(SQLModel.metadata.tables), file=sys.stderr)\n"
        "else:\n    print('no SQLAlchemy', file=sys.stderr)"
    )
    env = {**os.environ, "CLOSING_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True
    )
    assert '"purchasers"' in done.stdout, done.stderr
    modules, tables = done.stderr.strip().splitlines()
    return modules, tables


def test_status_imports_no_other_command_s_module(sqlite_cli: Cli, tmp_path: Path) -> None:
    """`closing status` loads the board's code, not the marks', alerts' or wires' commands, and
    reads with the database's own driver: it never imports SQLAlchemy, whether the URL names the
    driver (`sqlite+pysqlite://`) or not."""
    modules, tables = status_imports(sqlite_cli.database_url, tmp_path)
    assert modules == "['closing.cli.app']"
    assert tables == "no SQLAlchemy"
    naming_the_driver = sqlite_cli.database_url.replace("sqlite://", "sqlite+pysqlite://", 1)
    modules, tables = status_imports(naming_the_driver, tmp_path)
    assert modules == "['closing.cli.app']"
    assert tables == "no SQLAlchemy"


def test_every_table_is_declared_for_alembic() -> None:
    """Importing the schema declares every table on SQLModel's metadata, which Alembic's
    environment reads, and each has its Core handle."""
    from sqlmodel import SQLModel

    from closing.store.schema import SHARES

    assert SHARES.name == "share"
    # 0011: six tables of the web sign-in; 0012: the senders' leases; 0013: facts, judgements
    assert len(SQLModel.metadata.tables) == 23


def test_shell_completion_imports_no_database_toolkit(sqlite_cli: Cli, tmp_path: Path) -> None:
    """A Tab reads the database through its own driver: SQLAlchemy and SQLModel stay unloaded."""
    env = {
        **os.environ,
        "CLOSING_DATABASE_URL": sqlite_cli.database_url,
        "_CLOSING_COMPLETE": "bash_complete",
        "COMP_WORDS": "closing mark-wired ",
        "COMP_CWORD": "2",
    }
    code = (
        "import sys\nfrom closing.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'sqlmodel'}),"
        " file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert "plain,stonestreet" in done.stdout.split()
    assert done.stderr == "[]\n"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("mark-wire", "mark-wired"), ("mark-sign", "mark-signed"), ("mark-fax", "mark-faxed")],
)
def test_a_mistyped_command_suggests_the_near_one(typed: str, meant: str, tmp_path: Path) -> None:
    """A typo of a command that lives in a lazily loaded module (the marks') suggests it, as
    `stauts` suggests `status`, without importing any command's module to find it."""
    code = (
        "import sys\nfrom closing.cli import main\n"
        f"try:\n    main([{typed!r}, 'bnc'])\nexcept SystemExit as stop:\n    code = stop.code\n"
        "print(code, sorted(m for m in sys.modules if m.startswith('closing.cli.')))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.stderr == (
        f"Error: No such command '{typed}'. Did you mean '{meant}'? (see closing --help)\n"
    )
    assert done.stdout == "2 ['closing.cli.app']\n"


def test_a_missing_file_reads_like_every_other_error(sqlite_cli: Cli, tmp_path: Path) -> None:
    """A deal or bank file that is not there is one `Error:` line (exit 3, as for a file with
    problems); a problem at a line of a file keeps the compiler's `path:line: message`."""
    missing = tmp_path / "missing.yaml"
    result = sqlite_cli("init", str(missing))
    assert (result.code, result.err) == (3, f"Error: {missing}: no such file; check the path\n")
    result = sqlite_cli("wires", "import", str(tmp_path / "missing.bai2"))
    assert (result.code, result.err) == (
        3,
        f"Error: {tmp_path / 'missing.bai2'}: no such file; check the path; nothing recorded\n",
    )
    located = tmp_path / "list.yaml"
    located.write_text("- a list\n")
    result = sqlite_cli("init", str(located))
    assert result.code == 3
    assert result.err.startswith(f"{located}:1: ")


def test_a_piped_demo_is_as_wide_as_its_data(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Piped without COLUMNS, the demo's boards are drawn as `closing status` draws them (not
    cut at 80 columns: shares and price shown, each Blocked: line whole), each rule as wide as
    its board; with COLUMNS they fit it."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("COLUMNS", raising=False)
    lines = Cli(sqlite_url, monkeypatch, capsys)("demo").out.splitlines()
    first = lines.index("now 2002-06-07 09:00 PDT · times in America/Los_Angeles")
    assert lines[first + 3] == (
        "Purchaser                            Shares           Price   Signed    Wired     "
        "Faxed    Original   DWAC"
    )
    blocked = (
        "Blocked: BNC Bach International, Ltd.: Wired needs company wire instructions; Faxed "
        "needs notice facsimile number; Original needs notice address; DWAC needs DTC "
        "participant number, DWAC account number"
    )
    assert blocked in lines
    rule, *board = lines[first - 3 : lines.index(blocked) + 2]
    assert "closing status   (at 2002-06-07 09:00 PDT)" in rule
    assert len(rule) == max(len(line) for line in board) > 200
    monkeypatch.setenv("COLUMNS", "80")
    lines = Cli(sqlite_url, monkeypatch, capsys)("demo").out.splitlines()
    assert max(len(line) for line in lines if not line.startswith(("$ ", "Error: "))) == 80
