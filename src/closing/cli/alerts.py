"""`closing alerts run|check|list` and the notification options they share with `watch`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import click

from closing.cli.app import ROW_ID, App, Seconds, pass_app, reason_option
from closing.domain.errors import DatabaseError, UsageError
from closing.domain.text import plural

log = logging.getLogger("closing.services.alerts.watch")


@click.group()
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


def notify_urls(notify: tuple[str, ...]) -> list[str]:
    """CLOSING_NOTIFY and --notify, each checked now rather than when the first alert is due."""
    from closing.services.alerts.channels import Notifier, channel_for, env_urls

    urls = [*env_urls(), *notify]
    notifier = Notifier()
    for url in urls:
        if "://" not in url:
            # Not echoed: it may be a token pasted in the wrong place.
            raise UsageError(
                "a notification URL (--notify or CLOSING_NOTIFY) has no scheme; write one like "
                "mailto://smtp.example.com?to=ops@example.com or json://host/path"
            )
        if len(url) > 4096:
            raise UsageError("a notification URL is longer than 4,096 characters")
        notifier.check(channel_for(url))
    return urls


@alerts.command("run")
@notify_option
@click.option(
    "--inbox",
    metavar="FOLDER",
    type=click.Path(file_okay=False),
    help="Import bank files dropped in FOLDER (as closing wires import --apply) into the only "
    "deal; each moves to done/ or rejected/ beside it. Deal files may name one too "
    "(alerts.inbox).",
)
@click.option(
    "--standby",
    is_flag=True,
    help="If another sender holds the alerts, wait and take "
    "over when it stops instead of refusing.",
)
@click.option(
    "--share",
    is_flag=True,
    help="Share the deals with the other senders started with --share (PostgreSQL): each takes "
    "its share and takes over a stopped one's within seconds.",
)
@click.option(
    "--safety",
    default=30.0,
    show_default=True,
    type=Seconds(0.1, 86400),
    metavar="SECONDS",
    help="Also wake this often, to see new marks and changed deal files.",
)
@pass_app
def alerts_run(
    app: App, notify: tuple[str, ...], inbox: str | None, standby: bool, share: bool, safety: float
) -> None:
    """Send alerts as they fall due, until SIGINT or SIGTERM."""
    from closing.cli.app import for_whom
    from closing.services.alerts.daemon import AlertDaemon, configure_logging
    from closing.services.database import open_database

    configure_logging(app.debug)
    app.database.ensure_schema()  # made, with its schema, if it is not there yet; and then
    database = open_database(app.database_option, create=False)  # never made again under it
    daemon = AlertDaemon(
        database,
        app.clock,
        notify_urls(notify),
        safety=safety,
        inbox=inbox,
        operator=for_whom(None),
        share=share,
    )
    watch = DatabaseWatch(database.identity, database.masked, daemon.stopped)
    watch.start()
    try:
        daemon.run_forever(standby=standby)
    finally:
        watch.stop()
    if watch.lost:
        raise DatabaseError(
            f"database {database.masked} was {watch.lost} while the alert sender ran; it "
            "stopped. Start it again once the database is where it should be"
        )


class DatabaseWatch:
    """Notices the database deleted or replaced under a running sender (a SQLite file removed, or
    another file moved over it; a PostgreSQL database dropped and created again). A sender left
    running on a deleted file would record alerts nobody can see, and a second sender would start
    on the new one: it logs one line, stops the sender, and `alerts run` exits 6."""

    def __init__(
        self,
        identity: Callable[[], tuple[object, ...] | None],
        masked: str,
        stopped: threading.Event,
        every: float = 1.0,
    ) -> None:
        self.identity = identity  # Database.identity: which database this is, now
        self.masked = masked  # its URL, password hidden
        self.stopped = stopped
        self.every = every
        self.lost: str | None = None
        self._first: tuple[object, ...] | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="closing-database-watch")
        self._thread.daemon = True

    def start(self) -> None:
        """Note which database this is now (before the sender starts), then watch it."""
        self._first = self._known(self.identity())
        self._thread.start()

    @staticmethod
    def _known(identity: tuple[object, ...] | None) -> tuple[object, ...] | None:
        return None if identity == ("missing",) else identity

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        from closing.services.alerts.channels import logfmt

        while not self._done.wait(self.every):
            current = self.identity()
            if current is None:
                continue
            if self._first is None:  # not there yet when the sender started: it is now
                self._first = self._known(current)
                continue
            if current == self._first:
                continue
            self.lost = "deleted" if current == ("missing",) else "replaced"
            log.error(
                "event=database-%s database=%s: stopping",
                self.lost,
                logfmt(self.masked),
            )
            self.stopped.set()
            return


@alerts.command("check")
@notify_option
@pass_app
def alerts_check(app: App, notify: tuple[str, ...]) -> None:
    """Send what is due now, then exit (for cron)."""
    from closing.services.alerts.channels import Notifier
    from closing.services.alerts.daemon import configure_logging
    from closing.services.alerts.deliver import run_pass
    from closing.services.alerts.sender_lock import SenderLock

    configure_logging(app.debug)
    now = app.now()
    urls = notify_urls(notify)  # a bad URL is refused before the lock is taken: nothing written
    lock = SenderLock(app.database)
    lock.acquire(now)
    try:
        result = run_pass(app.database, Notifier(), urls, now, clock=app.clock.now)
    finally:
        lock.release()
    sent = sum(1 for d in result.delivered if d.status == "sent")
    failing = sum(1 for d in result.delivered if d.status != "sent")
    click.echo(
        f"{plural(len(result.decided), 'new alert')}; {plural(sent, 'delivery', 'deliveries')} "
        f"sent, {failing} failed."
    )
    if failing:
        raise_alerts_failing(failing)


def raise_alerts_failing(count: int) -> None:
    from closing.domain.errors import AlertsError

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
    from closing.services.alerts.ledger import ledger

    entries = ledger(app.existing_database, include_superseded=show_all)
    if as_json:
        from closing.views.record_documents import ledger_json

        app.print_json(ledger_json(entries))
        return
    if not entries:
        click.echo("No alerts yet.")
        return
    from closing.views.record_text import ledger_view

    app.console().print(ledger_view(entries))


@alerts.command("senders")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@pass_app
def alerts_senders(app: App, as_json: bool) -> None:
    """Who sends alerts, and which deals each holds."""
    from closing.domain.timefmt import utc_text
    from closing.services.alerts.deal_share import senders

    found = senders(app.existing_database, app.now())
    if as_json:
        app.print_json(
            [
                {
                    **sender,
                    "started_at": utc_text(sender["started_at"]),
                    "heartbeat_at": utc_text(sender["heartbeat_at"]),
                }
                for sender in found
            ]
        )
        return
    if not found:
        click.echo("No alert sender is running.")
        return
    for sender in found:
        deals = sender["deals"]
        assert isinstance(deals, list)
        state = "alive" if sender["alive"] else "silent (stopped or dead)"
        listed = ", ".join(deals[:10]) + (
            f" and {len(deals) - 10:,} more" if len(deals) > 10 else ""
        )
        click.echo(
            f"{sender['sender']} ({sender['mode']}, {state}): "
            f"{plural(len(deals), 'deal')}{': ' + listed if deals else ''}"
        )


@alerts.command("dismiss")
@click.argument("alert_id", metavar="ID", type=ROW_ID)
@reason_option("What was done instead.")
@click.option("--by", metavar="NAME", envvar="CLOSING_OPERATOR", help="Who dismisses it.")
@pass_app
def alerts_dismiss(app: App, alert_id: int, reason: str, by: str | None) -> None:
    """Stop trying an alert whose delivery failed (it stops counting on the board)."""
    from closing.cli.app import for_whom
    from closing.services.alerts.ledger import dismiss

    if not reason.strip():
        raise UsageError("--reason is empty; say what was done instead of the alert")

    channels = dismiss(app.existing_database, alert_id, reason, for_whom(by), app.now())
    click.echo(f"Dismissed alert #{alert_id} on {', '.join(channels)}: {reason}")


@alerts.command("retry")
@click.argument("alert_id", metavar="ID", type=ROW_ID)
@pass_app
def alerts_retry(app: App, alert_id: int) -> None:
    """Send an alert again where its delivery failed or was dismissed."""
    from closing.services.alerts.ledger import retry

    channels = retry(app.existing_database, alert_id, app.now())
    click.echo(
        f"Alert #{alert_id} will be sent again on {', '.join(channels)} by the alert sender's "
        "next wake-up (or now: closing alerts check)."
    )


COMMANDS = [alerts]
