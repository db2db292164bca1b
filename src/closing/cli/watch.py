"""`closing watch`: the board, redrawn live, with the alert daemon in the same process (standing
by while another sender holds the lock, taking over when it stops) and the latest alerts of the
ledger, whoever sent them, listed under the board."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING

import click

from closing.cli.alerts import notify_option, notify_urls
from closing.cli.app import App, Seconds, checked, deal_option, long_running, pass_app

RECENT = 6  # alerts listed under the board

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from rich.console import Console, RenderableType

    from closing.domain.alert_ledger import LedgerEntry
    from closing.services.alerts.daemon import AlertDaemon


def log_words(message: str) -> str:
    """One of the sender's logfmt lines (`event=caught-up alerts=2 collapsed=1`) said in words,
    for a person watching the board; `closing alerts run` keeps the logfmt for programs."""
    import shlex

    try:
        tokens = shlex.split(message)
    except ValueError:
        return message
    words = [token for token in tokens if "=" not in token]
    fields = dict(token.split("=", 1) for token in tokens if "=" in token)
    event = fields.pop("event", "")
    if words[:1] == ["alert"]:
        return f"alert sent: {fields.get('title', '')}"
    said = {
        "start": "sending alerts from this process",
        "stop": "stopped sending alerts",
        "standby": f"waiting: alerts are being sent by {fields.get('holder', 'another process')}",
        "lost-lock": "another process took over sending alerts; stopped sending from here",
        "pass-failed": f"could not check alerts: {fields.get('error', '')}",
        "deal-reloaded": f"reloaded the deal file of {fields.get('deal', '')}: "
        f"{fields.get('changes', '')}",
        "deal-file-invalid": f"the deal file of {fields.get('deal', '')} has problems; the old "
        f"terms stay: {fields.get('problems', '')}",
        "inbox-rejected": f"bank file refused: {fields.get('file', '')}: {fields.get('error', '')}",
        "inbox-imported": f"bank file imported: {fields.get('file', '')}",
    }
    if event == "caught-up":
        count = int(fields.get("alerts", "0") or 0)
        if not count:
            return "no alert was missed while no sender was running"
        return f"{count} alert{'s' if count != 1 else ''} sent late: no sender was running when due"
    if event.startswith("delivery-"):
        status = event.removeprefix("delivery-")
        verb = "failed" if status == "failed" else "failed; will retry"
        return (
            f"alert #{fields.get('alert', '?')} to {fields.get('channel', '')} {verb}: "
            f"{fields.get('error', '')}"
        )
    if event in said:
        return said[event]
    return " ".join([*words, event, *(f"{k} {v}" for k, v in fields.items())]).strip()


def words_logging(now: Callable[[], datetime], zone: ZoneInfo, debug: bool = False) -> None:
    """The sender's log lines as `16:40:05 PDT  alert sent: ...` in the deal's zone, for watch."""
    import logging

    from closing.services.alerts.daemon import configure_logging

    class Words(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"{now().astimezone(zone):%H:%M:%S %Z}  {log_words(record.getMessage())}"

    configure_logging(debug)
    for handler in logging.getLogger("closing").handlers:
        handler.setFormatter(Words())


def alert_lines(recent: list[str], room: int) -> list[str]:
    """The recent alerts that fit in `room` lines (at least one), the last saying how many more
    there are, so that the lines under the board never push it off the screen."""
    if not recent:
        return ["no alerts yet"]
    room = max(room, 1)
    if len(recent) <= room:
        return recent
    shown = recent[: room - 1]
    return [*shown, f"... and {len(recent) - len(shown)} more (closing alerts list)"]


def watch_frame(
    console: Console, board: RenderableType, note: str, recent: list[str]
) -> RenderableType:
    """The board, the alert note, as many recent alerts as fit the terminal, and the line that
    says how to stop, always visible."""
    from rich.console import Group
    from rich.text import Text

    height = console.height or 24
    board_lines = len(console.render_lines(board, console.options, pad=False))
    room = height - board_lines - 2  # the note and "Ctrl-C to stop"
    lines = alert_lines(recent, room)
    return Group(
        board,
        Text(note, style="dim"),
        Text("\n".join(lines), style="yellow"),
        Text("Ctrl-C to stop", style="dim"),
    )


def ledger_lines(entries: list[LedgerEntry], zone: ZoneInfo) -> list[str]:
    """The latest alerts of the ledger (read again at every redraw), newest first, whoever sent
    them (this process or another sender), each with its delivery status unless sent."""
    from closing.domain.text import neutral
    from closing.domain.timefmt import local

    lines = []
    for entry in reversed(entries[-RECENT:]):
        unsent = "" if entry.status == "sent" else f" ({entry.status})"
        lines.append(f"{local(entry.decided_at, zone)}  {neutral(entry.title)}{unsent}")
    return lines


def sender_note(daemon: AlertDaemon | None) -> str:
    """What the line under the board says of the alert sender in this process."""
    from closing.domain.text import neutral

    if daemon is None:
        return "alerts: off (--no-alerts)"
    if daemon.lock.held:
        return f"alerts: sent from this process ({daemon.lock.holder})"
    if daemon.waiting_for is not None:
        return (
            f"alerts: sent by {neutral(daemon.waiting_for)}; this process takes over when it stops"
        )
    return "alerts: starting the sender..."


def run_watch(app: App, deal: str | None, urls: list[str], refresh: float, alerts: bool) -> None:
    from rich.live import Live

    from closing.services.alerts.daemon import AlertDaemon
    from closing.services.alerts.ledger import ledger
    from closing.services.board import board
    from closing.views.board_text import board_view

    console = app.console()
    database = app.existing_database
    zone = board(database, deal, app.now()).terms.zone  # fails early on an unknown deal
    # Another sender may hold the lock: this one stands by, as `alerts run --standby` does, and
    # takes over when it stops (the board lists that sender's alerts meanwhile).
    daemon = AlertDaemon(database, app.clock, urls) if alerts else None
    stop = threading.Event()

    def frame() -> RenderableType:
        current = board(database, deal, app.now())
        recent = ledger_lines(ledger(database), zone)
        rows = max(5, (console.height or 24) - 16 - min(len(recent), 3))
        board_text = board_view(current, rows, console.width)
        return watch_frame(console, board_text, sender_note(daemon), recent)

    # SIGTERM stops it as Ctrl-C does: the sender hands its lock back and the terminal gets its
    # cursor back (the default would kill the process mid-frame).
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if on_main else None
    long_running()
    try:
        with Live(frame(), console=console, refresh_per_second=4, screen=False) as live:
            if daemon is not None:
                # Set up inside Live: the sender's log lines (one per alert) print above the board.
                words_logging(app.now, zone, app.debug)
                daemon.start_in_background()
            while not stop.wait(refresh):
                live.update(frame())
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
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


COMMANDS = [watch]
