"""`closing watch`: the board, redrawn live, with the alert daemon in the same process and the
alerts it sends listed under the board."""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

import click

from closing.cli.alerts import notify_option, notify_urls
from closing.cli.app import App, Seconds, checked, deal_option, pass_app
from closing.errors import AlertsError

RECENT = 6  # alerts listed under the board

if TYPE_CHECKING:
    from closing.alerts.outbox import Pass


def run_watch(app: App, deal: str | None, urls: list[str], refresh: float, alerts: bool) -> None:
    from rich.console import Group
    from rich.live import Live
    from rich.text import Text

    from closing.alerts.daemon import AlertDaemon, configure_logging
    from closing.cli.text_views import board_view
    from closing.operations import board
    from closing.text import neutral
    from closing.timefmt import local

    console = app.console()
    recent: deque[str] = deque(maxlen=RECENT)
    note = "alerts: off (--no-alerts)"
    daemon: AlertDaemon | None = None
    store = app.existing_store
    zone = board(store, deal, app.now()).terms.zone  # fails early on an unknown deal
    from closing.alerts.outbox import ledger

    for entry in ledger(store)[-RECENT:]:
        unsent = "" if entry.status == "sent" else f" ({entry.status})"
        recent.appendleft(f"{local(entry.decided_at, zone)}  {neutral(entry.title)}{unsent}")

    def remember(result: Pass) -> None:
        for decided in result.decided:
            recent.appendleft(f"{local(app.now(), zone)}  {neutral(decided.title)}")
        for outcome in result.delivered:
            if outcome.status != "sent":
                recent.appendleft(
                    neutral(f"delivery {outcome.status}: {outcome.channel}: {outcome.error}")
                )

    stop = threading.Event()

    def frame() -> Group:
        current = board(store, deal, app.now())
        rows = max(5, (console.height or 24) - 16 - len(recent))
        lines = Text("\n".join(recent) if recent else "no alerts yet", style="yellow")
        return Group(
            board_view(current, rows, console.width),
            Text(note, style="dim"),
            lines,
            Text("Ctrl-C to stop", style="dim"),
        )

    try:
        with Live(frame(), console=console, refresh_per_second=4, screen=False) as live:
            if alerts:
                # Set up inside Live: the sender's log lines (one per alert) print above the board.
                configure_logging(app.debug)
                daemon = AlertDaemon(store, app.clock, urls, on_pass=remember)
                try:
                    daemon.start()
                    note = f"alerts: sent from this process ({daemon.lock.holder})"
                except AlertsError as error:
                    note = f"alerts: not sent from here: {neutral(error.message)}"
                    daemon = None
            while not stop.wait(refresh):
                live.update(frame())
    except KeyboardInterrupt:
        pass
    finally:
        if daemon is not None:
            daemon.stop()


@click.command()
@click.argument("deal", required=False, callback=checked("DEAL"))
@deal_option
@notify_option
@click.option(
    "--refresh",
    default=1.0,
    show_default=True,
    type=Seconds(0.1, 3600),
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
    run_watch(app, deal or deal_name, notify_urls(notify), refresh, alerts=not no_alerts)
