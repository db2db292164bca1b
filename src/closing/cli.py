"""The `closing` command line: parses arguments, calls `operations`, renders, and is the one place
where a `ClosingError` becomes a line on stderr and an exit code.

Database and Rich imports happen inside the commands, so `closing --help` stays fast.
"""

from __future__ import annotations

import gc
import getpass
import json
import os
import socket
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from closing.clock import Clock, clock_from_env, parse_instant
from closing.commands import MARK_COMMANDS
from closing.errors import ClosingError, ExitCode, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from closing.operations import Recorded
    from closing.store import Store


class App:
    """What every command gets: the clock, the database, and the consoles."""

    def __init__(self, database: str | None, debug: bool) -> None:
        self.database = database
        self.debug = debug
        self._clock: Clock | None = None
        self._store: Store | None = None

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            self._clock = clock_from_env()
        return self._clock

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def store(self) -> Store:
        if self._store is None:
            from closing.store import Store, database_url

            self._store = Store(database_url(self.database))
        return self._store

    def console(self, stderr: bool = False) -> Console:
        from rich.console import Console

        return Console(stderr=stderr, highlight=False, soft_wrap=False)

    def out(self, text: str) -> None:
        click.echo(text)

    def print_json(self, data: Any) -> None:
        """Indented for a person at a terminal; compact (and several times faster to write) when
        piped to a program."""
        indent = 2 if sys.stdout.isatty() else None
        click.echo(json.dumps(data, indent=indent, ensure_ascii=False))


pass_app = click.make_pass_decorator(App)


def operator(by: str | None) -> str:
    if by:
        return by
    env = os.environ.get("CLOSING_OPERATOR", "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def instant(value: str | None, what: str) -> datetime | None:
    return None if value is None else parse_instant(value, what)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.option(
    "--database",
    metavar="URL",
    help="Database URL (default: CLOSING_DATABASE_URL, "
    "else a SQLite file under ~/.local/share/closing).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.version_option(package_name="closing")
@click.pass_context
def cli(ctx: click.Context, database: str | None, debug: bool) -> None:
    """Run the closing of a securities purchase agreement: who has signed, wired, been faxed and
    delivered the warrant, and been credited through DWAC, against the close-of-business cutoff."""
    ctx.obj = App(database, debug)
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


deal_option = click.option(
    "--deal",
    "deal_name",
    envvar="CLOSING_DEAL",
    metavar="SLUG",
    help="The deal (slug or prefix); needed when several are loaded. Env: CLOSING_DEAL.",
)


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@pass_app
def init(app: App, file: str) -> None:
    """Load or reload a deal file (lists what changed)."""
    from closing.operations import load_deal

    result = load_deal(app.store, file, app.now())
    if result.created:
        app.out(f"Loaded deal {result.slug} with {result.purchasers} purchasers.")
    elif result.changes:
        app.out(f"Updated deal {result.slug}:")
        for change in result.changes:
            app.out(f"  {change}")
    else:
        app.out(f"Deal {result.slug} is up to date; nothing changed.")


@cli.command()
@click.argument("deal", required=False)
@deal_option
@click.option(
    "--as-of",
    metavar="TIME",
    help="Show the board as it stood at TIME (ISO 8601 with offset), from the event log.",
)
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON.")
@click.option("--all", "show_all", is_flag=True, help="Every purchaser, however many.")
@pass_app
def status(
    app: App,
    deal: str | None,
    deal_name: str | None,
    as_of: str | None,
    as_json: bool,
    show_all: bool,
) -> None:
    """The board: each purchaser's steps, urgent first."""
    from closing.operations import board

    deal = deal or deal_name
    now = app.now()
    when = instant(as_of, "--as-of") or now
    if when > now:
        raise UsageError(f"--as-of {as_of} is in the future; the board can only show the past")
    result = board(app.store, deal, when)
    if as_json:
        from closing.export import board_json

        app.print_json(board_json(result))
        return
    from closing.render import board_view

    console = app.console()
    max_rows = None if show_all else max(10, (console.height or 24) - 14)
    if not console.is_terminal and not show_all:
        max_rows = 50
    label = "as of" if as_of else "now"
    console.print(board_view(result, max_rows, console.width, label))


def _mark_command(
    name: str,
    step: str | None,
    help_text: str,
    evidence: tuple[str, str, str] | None = None,
    amount: bool = False,
) -> Callable[..., None]:
    """A `mark-*` command; `evidence` is (option, kind, help)."""

    def command(
        app: App,
        purchaser: str,
        deal_name: str | None,
        at: str | None,
        by: str | None,
        note: str | None,
        **options: Any,
    ) -> None:
        from closing.operations import MarkRequest, mark

        step_id = options.pop("step", None) or step
        evidence_text = None
        if evidence is not None:
            evidence_text = options.get(evidence[0].lstrip("-").replace("-", "_"))
        kind = evidence[1] if evidence else None
        request = MarkRequest(
            purchaser=purchaser,
            step=step_id or "",
            at=instant(at, "--at"),
            actor=operator(by),
            host=socket.gethostname(),
            evidence_kind=kind,
            evidence=evidence_text,
            amount=options.get("amount"),
            note=note,
        )
        recorded = mark(app.store, deal_name, request, app.now())
        _say_recorded(app, "Marked", recorded)

    command.__doc__ = help_text
    params: list[Callable[[Any], Any]] = [
        click.argument("purchaser"),
        deal_option,
        click.option(
            "--at", metavar="TIME", help="When it happened (ISO 8601 with offset); default now."
        ),
        click.option(
            "--by",
            metavar="NAME",
            help="Who records it (default CLOSING_OPERATOR, else your user name).",
        ),
        click.option("--note", metavar="TEXT", help="A note kept with the event."),
    ]
    if step is None:
        params.insert(1, click.argument("step"))
    if evidence is not None:
        params.append(click.option(evidence[0], metavar="TEXT", help=evidence[2]))
    if amount:
        params.append(
            click.option(
                "--amount",
                metavar="AMOUNT",
                help="Amount received (default: the purchase price); must match it to the cent.",
            )
        )
    wrapped: Any = pass_app(command)
    for decorate in reversed(params):
        wrapped = decorate(wrapped)
    return cli.command(name, help=help_text)(wrapped)


def _say_recorded(app: App, verb: str, recorded: Recorded) -> None:
    from closing.timefmt import local

    event = recorded.event
    zone = recorded.deal.terms.zone
    extra = ""
    if event.amount is not None:
        from closing.money import format_money

        extra = f" ({format_money(event.amount)})"
    remaining = recorded.deal.machine.still_to_do(recorded.state)
    progress = (
        f"Still to do: {', '.join(remaining)}."
        if remaining
        else f"Every step is done: {recorded.purchaser.name} is closed."
    )
    app.out(
        f"{verb} {event.step} for {recorded.purchaser.name} at {local(event.occurred_at, zone)} "
        f"by {event.actor}{extra}. {progress}"
    )


_mark_command(
    "mark",
    None,
    "Mark any step of the deal as done for PURCHASER.",
    evidence=("--evidence", "evidence", "Evidence (a reference, a confirmation)."),
    amount=True,
)
_mark_command(
    MARK_COMMANDS["signed"],
    "signed",
    "The purchaser signed (a faxed page counts).",
    evidence=("--evidence", "evidence", "Where the signature page is."),
)
_mark_command(
    MARK_COMMANDS["wired"],
    "wired",
    "The purchase price was received.",
    evidence=("--reference", "reference", "The Fed reference of the wire."),
    amount=True,
)
_mark_command(
    MARK_COMMANDS["warrant_faxed"],
    "warrant_faxed",
    "The warrant was faxed to the purchaser.",
    evidence=("--confirmation", "confirmation", "The fax confirmation."),
)
_mark_command(
    MARK_COMMANDS["warrant_delivered"],
    "warrant_delivered",
    "The original warrant was delivered.",
    evidence=("--tracking", "tracking", "The courier's tracking number."),
)
_mark_command(
    MARK_COMMANDS["dwac_credited"],
    "dwac_credited",
    "The shares were credited through DWAC.",
    evidence=("--confirmation", "confirmation", "The DTC confirmation."),
)


@cli.command()
@click.argument("purchaser")
@click.argument("step")
@click.option("--reason", required=True, metavar="TEXT", help="Why the mark was wrong.")
@click.option("--by", metavar="NAME", help="Who records it.")
@deal_option
@pass_app
def undo(
    app: App, purchaser: str, step: str, reason: str, by: str | None, deal_name: str | None
) -> None:
    """Correct a mark: STEP is no longer done.

    The mark stays in the history; the correction is a new event."""
    from closing.operations import undo as undo_step

    recorded = undo_step(
        app.store, deal_name, purchaser, step, reason, operator(by), socket.gethostname(), app.now()
    )
    _say_recorded(app, "Undid", recorded)


@cli.command()
@click.argument("purchaser", required=False)
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@deal_option
@pass_app
def history(app: App, purchaser: str | None, as_json: bool, deal_name: str | None) -> None:
    """Every event of the deal, or of one purchaser, as recorded."""
    from closing.operations import history as read_history

    deal, entries = read_history(app.store, deal_name, purchaser)
    if as_json:
        from closing.export import history_json

        app.print_json(history_json(entries, deal.terms.zone))
        return
    from closing.render import history_view

    if not entries:
        app.out(f"No events yet in {deal.slug}.")
        return
    app.console().print(history_view(entries, deal.terms.zone))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@pass_app
def deals(app: App, as_json: bool) -> None:
    """The deals loaded in the database."""
    from closing.operations import deals as list_deals

    summaries = list_deals(app.store)
    if as_json:
        from closing.export import deals_json

        app.print_json(deals_json(summaries))
        return
    if not summaries:
        app.out("No deals yet; load one with: closing init FILE")
        return
    from closing.render import deals_view

    app.console().print(deals_view(summaries))


@cli.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@pass_app
def demo(app: App, file: str | None) -> None:
    """Replay the seed closing of June 7, 2002.

    Uses a scratch database of its own (or --database), never CLOSING_DATABASE_URL's."""
    from closing.demo import run_demo

    run_demo(app, file)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or bool(os.environ.get("CLOSING_DEBUG"))
    try:
        cli.main(args=args, prog_name="closing", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(ExitCode.USAGE if error.exit_code == 2 else error.exit_code)
    except ClosingError as error:
        if debug:
            traceback.print_exc()
        prefix = "" if error.exit_code == ExitCode.DEAL_FILE else "Error: "
        click.echo(f"{prefix}{error.message}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        if debug:
            traceback.print_exc()
        click.echo(
            f"Internal error: {type(error).__name__}; re-run with --debug for the traceback and "
            "report it",
            err=True,
        )
        sys.exit(ExitCode.INTERNAL)
    sys.exit(0)


# --- alerts ------------------------------------------------------------------------------------


@cli.group()
def alerts() -> None:
    """Deadline alerts: before each cutoff, at it, while overdue."""


notify_option = click.option(
    "--notify",
    "notify",
    multiple=True,
    metavar="URL",
    help="Also send alerts to this apprise URL (mailto://, json://, slack://...); repeatable. "
    "Env: CLOSING_NOTIFY.",
)


def _urls(notify: tuple[str, ...]) -> list[str]:
    """CLOSING_NOTIFY and --notify, each checked now rather than when the first alert is due."""
    from closing.notify import Notifier, channel_for, env_urls

    urls = [*env_urls(), *notify]
    notifier = Notifier()
    for url in urls:
        if "://" not in url:
            raise UsageError(
                f"notification URL {url!r} has no scheme; write one like "
                "mailto://smtp.example.com?to=ops@example.com or json://host/path"
            )
        notifier.check(channel_for(url))
    return urls


@alerts.command("run")
@notify_option
@click.option(
    "--standby",
    is_flag=True,
    help="If another sender holds the alerts, wait and take "
    "over when it stops instead of refusing.",
)
@click.option(
    "--safety",
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Also wake this often, to see new marks and changed deal files.",
)
@pass_app
def alerts_run(app: App, notify: tuple[str, ...], standby: bool, safety: float) -> None:
    """Send alerts as they fall due, until SIGINT or SIGTERM."""
    from closing.daemon import AlertDaemon, configure_logging

    configure_logging(app.debug)
    daemon = AlertDaemon(app.store, app.clock, _urls(notify), safety=safety)
    daemon.run_forever(standby=standby)


@alerts.command("check")
@notify_option
@pass_app
def alerts_check(app: App, notify: tuple[str, ...]) -> None:
    """Send what is due now, then exit (for cron)."""
    from closing.alerting import run_pass
    from closing.daemon import configure_logging
    from closing.lock import SenderLock
    from closing.notify import Notifier

    configure_logging(app.debug)
    now = app.now()
    lock = SenderLock(app.store)
    lock.acquire(now)
    try:
        result = run_pass(app.store, Notifier(), _urls(notify), now)
    finally:
        lock.release()
    sent = sum(1 for d in result.delivered if d.status == "sent")
    failing = sum(1 for d in result.delivered if d.status != "sent")
    app.out(
        f"{plural(len(result.decided), 'new alert')}; {plural(sent, 'delivery', 'deliveries')} "
        f"sent, {failing} failed."
    )
    if failing:
        raise_alerts_failing(failing)


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def raise_alerts_failing(count: int) -> None:
    from closing.errors import AlertsError

    raise AlertsError(
        f"{plural(count, 'delivery', 'deliveries')} failed; the next closing alerts check "
        "retries (see closing alerts list)"
    )


@alerts.command("list")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.option(
    "--all", "show_all", is_flag=True, help="Include occurrences collapsed into a later alert."
)
@pass_app
def alerts_list(app: App, as_json: bool, show_all: bool) -> None:
    """The alert ledger: every alert and each delivery."""
    from closing.alerting import ledger

    entries = ledger(app.store, include_superseded=show_all)
    if as_json:
        from closing.export import ledger_json

        app.print_json(ledger_json(entries))
        return
    if not entries:
        app.out("No alerts yet.")
        return
    from closing.render import ledger_view

    app.console().print(ledger_view(entries))


@cli.command()
@click.argument("deal", required=False)
@deal_option
@notify_option
@click.option(
    "--refresh",
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Redraw the board this often.",
)
@click.option("--no-alerts", is_flag=True, help="Only the board; leave alerts to another process.")
@pass_app
def watch(
    app: App,
    deal: str | None,
    deal_name: str | None,
    notify: tuple[str, ...],
    refresh: float,
    no_alerts: bool,
) -> None:
    """The live board, with the alert sender in the same process."""
    from closing.watch import run_watch

    run_watch(app, deal or deal_name, _urls(notify), refresh, alerts=not no_alerts)


# --- database ----------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """The database schema (migrations)."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Upgrade the schema to this closing (keeps every event).

    SQLite is upgraded automatically; a shared PostgreSQL database with this command."""
    from closing.store import masked_url

    before, after = app.store.upgrade()
    where = masked_url(app.store.url)
    if before == after:
        app.out(f"Database {where} is up to date (schema {after}).")
    else:
        app.out(f"Upgraded database {where} from schema {before or 'none'} to {after}.")


@db.command("version")
@pass_app
def db_version(app: App) -> None:
    """The database's schema and the one this closing needs."""
    from closing.store import HEAD

    app.out(f"database schema: {app.store.schema_revision() or 'none'}; closing needs: {HEAD}")


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
        if "closing.store" in sys.modules:
            sys.modules["closing.store"].dispose_engines()
        if "logging" in sys.modules:
            sys.modules["logging"].shutdown()
    finally:
        os._exit(code)
