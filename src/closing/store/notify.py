"""PostgreSQL's LISTEN/NOTIFY for the web servers: migration 0011's triggers send
`closing_change` whenever an event, alert, deal file revision or share link is written; a
listener (one thread and one connection per server) calls back on each, so that a mark made
through another server, or the CLI, reaches this server's streams at once. Polling stays the
fallback: a listener that loses its connection says so once and reconnects."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from closing.store.connection import Database

CHANNEL = "closing_change"
log = logging.getLogger("closing.web")


class ChangeListener:
    def __init__(self, database: Database, on_change: Callable[[], None]) -> None:
        self.conninfo = database.location.conninfo or ""
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="closing-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psycopg

        failing = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if failing:
                        log.warning("event=listen-back")
                        failing = False
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self.on_change()  # cheap: the poller reads the marker once
            except Exception as error:  # the pollers carry on; say so once
                if not failing:
                    log.error("event=listen-failing error=%r", f"{type(error).__name__}: {error}")
                    failing = True
                self._stop.wait(1.0)
