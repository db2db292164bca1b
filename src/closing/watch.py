"""`closing watch`: the board, redrawn live, with the alert daemon in the same process and the
alerts it sends listed under the board."""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from closing.errors import AlertsError

RECENT = 6  # alerts listed under the board

if TYPE_CHECKING:
    from closing.alerting import Pass
    from closing.cli import App


def run_watch(app: App, deal: str | None, urls: list[str], refresh: float, alerts: bool) -> None:
    from rich.console import Group
    from rich.live import Live
    from rich.text import Text

    from closing.daemon import AlertDaemon, configure_logging
    from closing.operations import board
    from closing.render import board_view
    from closing.timefmt import local

    console = app.console()
    recent: deque[str] = deque(maxlen=RECENT)
    note = "alerts: off (--no-alerts)"
    daemon: AlertDaemon | None = None
    zone = board(app.store, deal, app.now()).terms.zone  # fails early on an unknown deal
    from closing.alerting import ledger

    for entry in ledger(app.store)[-RECENT:]:
        unsent = "" if entry.status == "sent" else f" ({entry.status})"
        recent.appendleft(f"{local(entry.decided_at, zone)}  {entry.title}{unsent}")

    def remember(result: Pass) -> None:
        for decided in result.decided:
            recent.appendleft(f"{local(app.now(), zone)}  {decided.title}")
        for outcome in result.delivered:
            if outcome.status != "sent":
                recent.appendleft(f"delivery {outcome.status}: {outcome.channel}: {outcome.error}")

    stop = threading.Event()

    def frame() -> Group:
        current = board(app.store, deal, app.now())
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
                daemon = AlertDaemon(app.store, app.clock, urls, on_pass=remember)
                try:
                    daemon.start()
                    note = f"alerts: sent from this process ({daemon.lock.holder})"
                except AlertsError as error:
                    note = f"alerts: not sent from here: {error.message}"
                    daemon = None
            while not stop.wait(refresh):
                live.update(frame())
    except KeyboardInterrupt:
        pass
    finally:
        if daemon is not None:
            daemon.stop()
