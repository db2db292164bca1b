"""The `closing` command line: the group, the board and history commands, and `main`, the one place
where a `ClosingError` becomes a line on stderr and an exit code.

The mark commands are in `cli.marks`, the alert commands in `cli.alerts`, `watch`, `demo` and `db`
in their own modules; what they print is in `closing.views`.

Database and Rich imports happen inside the commands, so `closing --help` stays fast.
"""

from __future__ import annotations

import errno
import gc
import importlib
import io
import os
import sys
from dataclasses import asdict
from typing import Any

import click
from click.core import ParameterSource

from closing.cli.app import (
    App,
    by_option,
    checked,
    complete_purchasers,
    deal_option,
    for_whom,
    local_time,
    mine_option,
    owner_option,
    pass_app,
)
from closing.domain.errors import ClosingError, DealFileError, ExitCode, UsageError
from closing.domain.text import neutral, neutral_lines, plural


class LazyGroup(click.Group):
    """The group, with the commands of other modules (marks, alerts, wires, ...) imported only when
    one of them runs or is listed: `closing status` does not pay for every command's imports."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy  # command name -> the module (in closing.cli) whose COMMANDS hold it

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.load(self.lazy[cmd_name])
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """An unknown command name is refused with the nearest of every command's names, the
        lazily loaded ones too (click's own suggestion knows only the commands imported so far):
        `closing mark-wire` suggests `mark-wired` without importing a command module."""
        name = args[0]
        if ctx.resilient_parsing or name.startswith("-") or self.get_command(ctx, name):
            return super().resolve_command(ctx, args)
        from difflib import get_close_matches

        message = f"No such command {name!r}."
        for nearest in get_close_matches(name, self.list_commands(ctx), n=1):
            message += f" Did you mean {nearest!r}?"
        raise click.UsageError(message, ctx)

    def load(self, module_name: str) -> None:
        module = importlib.import_module(f"closing.cli.{module_name}")
        for command in module.COMMANDS:
            self.add_command(command)


MARKS = ("mark", "mark-signed", "mark-wired", "mark-faxed", "mark-delivered", "mark-dwac")
# Each command defined outside this module, by the module that defines it, written out rather than
# read from closing.domain.mark_commands' table so that no command pays to import it
# (tests/test_cli_edges checks the list against the modules' COMMANDS).
LAZY_COMMANDS = {
    **dict.fromkeys((*MARKS, "undo", "reverse", "waive", "withdraw"), "marks"),
    "alerts": "alerts",
    "watch": "watch",
    "db": "db",
    "demo": "demo",
    "share": "web",
    "serve": "web",
    "wire-instructions": "wires",
    "wires": "wires",
    **dict.fromkeys(("funds-flow", "mark-sent", "beneficiary"), "funds"),
    **dict.fromkeys(("report", "export"), "report"),
    "seal": "seals",
    "verify": "seals",
    "team": "team",
    "details": "details",
    **dict.fromkeys(("attach", "binder", "documents", "release"), "documents"),
}


@click.group(
    cls=LazyGroup,
    lazy=LAZY_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.option(
    "--database",
    metavar="URL",
    envvar="CLOSING_DATABASE_URL",
    show_envvar=True,
    help="Database URL or SQLite path (default: a SQLite file under ~/.local/share/closing).",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="CLOSING_DEBUG",
    show_envvar=True,
    help="Show tracebacks for unexpected errors.",
)
@click.version_option(package_name="closing")
@click.pass_context
def cli(ctx: click.Context, database: str | None, debug: bool) -> None:
    """Run the closing of a securities purchase agreement: who has signed, wired, been faxed and
    delivered the warrant, and been credited through DWAC, against the close-of-business cutoff."""
    ctx.obj = App(database, debug)
    # Given on the command line, not taken from CLOSING_DATABASE_URL (the demo's own database
    # gives way only to the former).
    ctx.obj.database_given = ctx.get_parameter_source("database") is ParameterSource.COMMANDLINE
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False), callback=checked("FILE", 4096))
@click.option(
    "--json", "as_json", is_flag=True, help="The result, or the file's problems, as JSON."
)
@click.option(
    "--accept-changes",
    is_flag=True,
    help="Make a reload that would lose sight of recorded facts (a removed purchaser with "
    "events, a price changed after a wire); recorded in the deal's history.",
)
@by_option
@pass_app
def init(app: App, file: str, as_json: bool, accept_changes: bool, by: str | None) -> None:
    """Load or reload a deal file (lists what changed)."""
    import socket

    from closing.services.load import load_deal

    try:
        result = load_deal(
            app.database,
            file,
            app.now(),
            accept_changes=accept_changes,
            on_behalf_of=for_whom(by),
            host=socket.gethostname(),
        )
    except DealFileError as error:
        if as_json:
            app.print_json({"problems": [asdict(problem) for problem in error.problems]})
        raise
    slug = neutral(result.slug)
    if as_json:
        app.print_json(
            {
                "deal": result.slug,
                "created": result.created,
                "purchasers": result.purchasers,
                "changes": result.changes,
                "wire_instructions": result.wire_instructions,
                "notes": result.notes,
            }
        )
    elif result.created:
        click.echo(f"Loaded deal {slug} with {plural(result.purchasers, 'purchaser')}.")
        for line in result.wire_instructions:
            click.echo(neutral(line) + ".")
        for line in result.notes:
            click.echo(f"Note: {neutral(line)}.")
    elif result.changes or result.wire_instructions:
        click.echo(f"Updated deal {slug}:")
        for change in [*result.changes, *result.wire_instructions]:
            click.echo(f"  {neutral(change)}")
    else:
        click.echo(f"Deal {slug} is up to date; nothing changed.")


@cli.command()
@click.argument("deal", required=False, callback=checked("DEAL"))
@deal_option
@click.option(
    "--as-of",
    metavar="TIME",
    help="Show the board as it stood at TIME (08:30, 2002-06-07 08:30 in the deal's zone, or ISO "
    "8601 with an offset), from the event log.",
)
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON.")
@click.option("--all", "show_all", is_flag=True, help="Every purchaser, however many.")
@owner_option
@mine_option
@pass_app
def status(
    app: App,
    deal: str | None,
    deal_name: str | None,
    as_of: str | None,
    as_json: bool,
    show_all: bool,
    owner: str | None,
    mine: bool,
) -> None:
    """The board: each purchaser's steps, urgent first."""
    from closing.services.board import board

    when = local_time(as_of, "--as-of")
    if as_json and when is None and owner is None and not mine and not sys.stdout.isatty():
        app.print_status_json(deal or deal_name)  # the whole board, to a program: kept
        return
    result = board(app.existing_database, deal or deal_name, app.now(), when, owner, mine)
    if as_json:
        from closing.views.status_document import board_json

        app.print_json(board_json(result))
        return
    from closing.views.board_text import board_view

    console = app.console()
    max_rows = None if show_all else max(10, (console.height or 24) - 14)
    if not console.is_terminal and not show_all:
        max_rows = 50
    label = "as of" if as_of else "now"
    console.print(app.fitted(lambda width: board_view(result, max_rows, width, label)))


@cli.command("history")
@click.argument(
    "purchaser", required=False, callback=checked("PURCHASER"), shell_complete=complete_purchasers
)
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@deal_option
@pass_app
def history_command(app: App, purchaser: str | None, as_json: bool, deal_name: str | None) -> None:
    """Every event of the deal, or of one purchaser, as recorded."""
    from closing.services.board import history as read_history

    found = read_history(app.existing_database, deal_name, purchaser)
    deal, entries = found.deal, found.entries
    if as_json:
        from closing.views.record_documents import history_json

        app.print_json(history_json(entries, deal.terms.zone))
        return
    from closing.views.record_text import history_view

    if not entries:
        click.echo(f"No events yet in {neutral(deal.slug)}.")
    else:
        console = app.console()
        console.print(history_view(entries, deal.terms.zone, console.width), soft_wrap=True)
    if found.warning:
        click.echo(f"Warning: {neutral(found.warning)}", err=True)


@cli.command("deals")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@pass_app
def deals_command(app: App, as_json: bool) -> None:
    """The deals loaded in the database."""
    from closing.services.deals import deal_summaries

    summaries = deal_summaries(app.existing_database)
    if as_json:
        from closing.views.record_documents import deals_json

        app.print_json(deals_json(summaries))
        return
    if not summaries:
        click.echo("No deals yet; load one with: closing init FILE")
        return
    from closing.views.record_text import deals_view

    app.console().print(deals_view(summaries))


GROUP_OPTIONS = ("--database", "--debug")  # the group's: they go before the command
# Errors writing the output: the command's result could not be shown.
_OUTPUT_ERRORS = {errno.ENOSPC, errno.EIO, errno.EBADF, errno.EDQUOT, errno.EFBIG}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or bool(os.environ.get("CLOSING_DEBUG"))
    stdout_closed = _standard_streams()
    try:
        if stdout_closed and not _writes_only_logs(args):
            raise UsageError(
                "standard output is closed, so nothing could be shown; nothing done (send the "
                "output to a file or /dev/null instead)"
            )
        try:
            # click's own main turns a broken pipe into exit 1: invoked here, it stays an error
            # of ours (141, as the README says).
            cli._main_shell_completion({}, "closing")  # `_CLOSING_COMPLETE`: completes, exits
            with cli.make_context("closing", list(args)) as context:
                cli.invoke(context)
        except click.exceptions.Exit as done:  # --help, --version
            if done.exit_code:
                sys.exit(done.exit_code)
        if sys.stdout is not None:
            sys.stdout.flush()
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.UsageError as error:
        where = f" (see {error.ctx.command_path} --help)" if error.ctx is not None else ""
        if isinstance(error, click.NoSuchOption) and error.option_name in GROUP_OPTIONS:
            name = error.option_name
            value = " URL" if name == "--database" else ""
            message = (
                f"no such option {name} after the command; {name} goes before it: "
                f"closing {name}{value} COMMAND ..."
            )
            click.echo(f"Error: {message}{where}", err=True)
            sys.exit(ExitCode.USAGE)
        if isinstance(error, click.exceptions.NoArgsIsHelpError) and error.ctx is not None:
            # `closing team` alone: which commands it takes, in one line (not its help, folded)
            group = error.ctx.command
            names = group.list_commands(error.ctx) if isinstance(group, click.Group) else []
            message = f"{error.ctx.command_path} needs a command: {', '.join(names)}"
            click.echo(f"Error: {message}{where}", err=True)
            sys.exit(ExitCode.USAGE)
        # click's own messages may run over lines ("Choose from:\n\trequired,\n\toptional"): one
        message = " ".join(error.format_message().split())
        click.echo(f"Error: {neutral(message)}{where}", err=True)
        sys.exit(ExitCode.USAGE)
    except click.ClickException as error:
        click.echo(f"Error: {neutral(error.format_message())}", err=True)
        sys.exit(ExitCode.USAGE if error.exit_code == 2 else error.exit_code)
    except ClosingError as error:
        # An expected failure (a usage error, a refused mark): its message says it all, with or
        # without --debug; tracebacks are for what nobody expected.
        # Problems at a line of a file (a deal file, a bank file) are `path:line: message`, as a
        # compiler prints them; one with the whole file (missing, unreadable) is an error like
        # any other: `Error: path: message`. A message keeps its own line breaks (a refused
        # reload lists what would change); every line of it is shown neutrally.
        if isinstance(error, DealFileError):
            text = "\n".join(
                ("Error: " if problem.line is None and problem.cell is None else "")
                + neutral(problem)
                for problem in error.problems
            )
        else:
            located = error.exit_code == ExitCode.DEAL_FILE and _located(error)
            text = ("" if located else "Error: ") + neutral_lines(error.message)
        click.echo(text, err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError as error:
        # The reader of the output went away (`closing history | head`): stop quietly, as a
        # process killed by SIGPIPE would, with its exit code (saying so if it recorded).
        _silence_stdout()
        _said_recorded(error)
        sys.exit(ExitCode.BROKEN_PIPE)
    except OSError as error:
        if error.errno not in _OUTPUT_ERRORS:
            _internal(error, debug)
        _silence_stdout()
        if not _said_recorded(error):
            click.echo(
                f"Error: cannot write the output: {neutral(error.strerror or str(error))}",
                err=True,
            )
        sys.exit(ExitCode.USAGE)
    except Exception as error:
        _internal(error, debug)
    sys.exit(0)


def _said_recorded(error: OSError) -> bool:
    """A write whose confirmation could not be printed says it was recorded all the same."""
    from closing.cli.app import RECORDED

    if not RECORDED:
        return False
    click.echo(
        f"Error: recorded {RECORDED[-1]}, but could not print the confirmation: "
        f"{neutral(error.strerror or str(error))}",
        err=True,
    )
    return True


def _located(error: ClosingError) -> bool:
    from closing.domain.bankfiles import BankFileError  # imported when a file is refused only

    return not isinstance(error, BankFileError) or error.line is not None


def _internal(error: Exception, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()
    click.echo(
        f"Internal error: {type(error).__name__}; re-run with --debug for the traceback and "
        "report it",
        err=True,
    )
    sys.exit(ExitCode.INTERNAL)


def _standard_streams() -> bool:
    """Make the standard streams safe to use; returns True when standard output was closed.

    A closed descriptor 0, 1 or 2 is opened on /dev/null, so that no file the command opens (the
    SQLite database) can take its number and receive what was meant for the terminal. Output that
    the terminal's encoding cannot show (`PYTHONIOENCODING=ascii`) is written as `\\u2713`
    escapes rather than failing."""
    closed = sys.stdout is None
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed = closed or fd == 1
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    for stream in (sys.stdout, sys.stderr):
        # "strict" by default; "surrogateescape" under the C locale (LC_ALL=C PYTHONUTF8=0),
        # where it still fails on a check mark: either way, escapes instead of an error.
        if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", "surrogateescape"):
            stream.reconfigure(errors="backslashreplace")
    return closed


def _silence_stdout() -> None:
    """After a failed write: nothing more goes to the broken output (not even at exit)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except OSError:
        pass


def _writes_only_logs(args: list[str]) -> bool:
    """`closing alerts run` writes only its log, to stderr: it may run with stdout closed."""
    words = [a for a in args if not a.startswith("-")]
    if "--database" in args:  # its value is not a command word
        index = args.index("--database")
        if index + 1 < len(args) and args[index + 1] in words:
            words.remove(args[index + 1])
    return words[:2] == ["alerts", "run"]


def run() -> None:
    """The console script: `main`, then leave without the interpreter's teardown.

    Tearing down the thousand-odd modules of SQLAlchemy, pydantic and Rich takes longer than most
    commands themselves (about 150 ms measured, see benchmarks/); everything worth keeping is
    already committed, so flush the output, close the database connections and exit.
    """
    # A command lives for a fraction of a second: the cyclic garbage collector would only scan
    # the tens of thousands of objects a large board builds (long-running commands turn it back
    # on, see daemon.py).
    gc.disable()
    code: int = 0
    try:
        main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        if "closing.store.connection" in sys.modules:
            sys.modules["closing.store.connection"].close_databases()
        if "logging" in sys.modules:
            sys.modules["logging"].shutdown()
    finally:
        os._exit(code)
