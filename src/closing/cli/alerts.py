"""`closing alerts run|check|list` and the notification options they share with `watch`."""

from __future__ import annotations

import click

from closing.cli.app import App, pass_app, plural
from closing.errors import UsageError


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
    from closing.alerts.channels import Notifier, channel_for, env_urls

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
    "--safety",
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Also wake this often, to see new marks and changed deal files.",
)
@pass_app
def alerts_run(
    app: App, notify: tuple[str, ...], inbox: str | None, standby: bool, safety: float
) -> None:
    """Send alerts as they fall due, until SIGINT or SIGTERM."""
    from closing.alerts.daemon import AlertDaemon, configure_logging
    from closing.cli.app import operator

    configure_logging(app.debug)
    daemon = AlertDaemon(
        app.store,
        app.clock,
        notify_urls(notify),
        safety=safety,
        inbox=inbox,
        operator=operator(None),
    )
    daemon.run_forever(standby=standby)


@alerts.command("check")
@notify_option
@pass_app
def alerts_check(app: App, notify: tuple[str, ...]) -> None:
    """Send what is due now, then exit (for cron)."""
    from closing.alerts.channels import Notifier
    from closing.alerts.daemon import configure_logging
    from closing.alerts.outbox import run_pass
    from closing.alerts.sender_lock import SenderLock

    configure_logging(app.debug)
    now = app.now()
    lock = SenderLock(app.store)
    lock.acquire(now)
    try:
        result = run_pass(app.store, Notifier(), notify_urls(notify), now)
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
    from closing.alerts.outbox import ledger

    entries = ledger(app.store, include_superseded=show_all)
    if as_json:
        from closing.cli.json_views import ledger_json

        app.print_json(ledger_json(entries))
        return
    if not entries:
        app.out("No alerts yet.")
        return
    from closing.cli.text_views import ledger_view

    app.console().print(ledger_view(entries))
