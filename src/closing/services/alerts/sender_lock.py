"""One alert sender per database.

PostgreSQL: a session-level advisory lock, held on a connection of its own for the sender's life;
it goes when the process or its connection dies, so a standby takes over within a poll. SQLite: a
lease row renewed by a heartbeat; a lease whose heartbeat is stale, or whose holder on this host no
longer runs, may be taken over. Either way the holder is recorded so that a refusal can say who.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from closing.domain.errors import AlertsError
from closing.domain.timefmt import local
from closing.store import deals as deal_store
from closing.store import sender_lease as db
from closing.store.connection import Connection, Database
from closing.store.sender_lease import AdvisoryLock, Sender

LOCK_NAME = "alerts"
STANDBY_ADVICE = "stop it first, or start this one with --standby to take over when it stops"
LEASE = timedelta(seconds=15)
ADVISORY_KEY = 0x636C6F73  # "clos"


class SenderLock:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.holder = f"pid {self.pid} on {self.host}"
        self._advisory_lock: AdvisoryLock | None = None
        self.held = False

    @property
    def advisory(self) -> bool:
        return self.database.dialect == "postgresql"

    def try_acquire(self, now: datetime) -> str | None:
        """Take the lock; None when taken, else who holds it."""
        self.database.ensure_schema()
        if self.advisory:
            if self._advisory_lock is None:
                self._advisory_lock = AdvisoryLock(self.database)
            if not self._advisory_lock.try_take(ADVISORY_KEY):
                return self._current_holder()
            self._record(now, force=True)
            self.held = True
            return None
        with self.database.transaction() as connection:
            row = db.sender(connection, LOCK_NAME)
            if row is not None and not self._is_ours(row) and self._alive(row, now):
                return f"{row.holder} (since {self._since(connection, row.started_at)})"
            db.write_sender(connection, self._ours(now), exists=row is not None)
        self.held = True
        return None

    def acquire(self, now: datetime, advice: str = STANDBY_ADVICE) -> None:
        """Take the lock or refuse, saying who holds it and `advice` (what the command that
        asked can do about it)."""
        holder = self.try_acquire(now)
        if holder is not None:
            raise AlertsError(f"alerts are already being sent by {holder}; {advice}")

    def heartbeat(self, now: datetime) -> bool:
        """Renew the lease; False if it was lost (another sender took over)."""
        if not self.held:
            return False
        if self.advisory:
            if self._advisory_lock is None or not self._advisory_lock.alive():
                self.held = False
                return False
            self._record(now, force=True)
            return True
        with self.database.transaction() as connection:
            row = db.sender(connection, LOCK_NAME)
            if row is None or not self._is_ours(row):
                self.held = False
                return False
            db.renew_sender(connection, LOCK_NAME, now)
        return True

    def release(self) -> None:
        if not self.held:
            self._close_advisory()  # a lost advisory lock's connection, if any
            return
        self.held = False
        try:
            with self.database.transaction() as connection:
                row = db.sender(connection, LOCK_NAME)
                if row is not None and self._is_ours(row):
                    db.delete_sender(connection, LOCK_NAME)
        finally:
            self._close_advisory()

    def _close_advisory(self) -> None:
        if self._advisory_lock is not None:
            self._advisory_lock.close()  # also releases the advisory lock
            self._advisory_lock = None

    # --- internals

    def _is_ours(self, row: Sender) -> bool:
        return row.host == self.host and row.pid == self.pid

    def _alive(self, row: Sender, now: datetime) -> bool:
        """On this host the process table decides (a long pass may delay a heartbeat, but a
        running sender is never taken over); across hosts, a heartbeat within the lease."""
        if row.host == self.host:
            return _pid_running(row.pid)
        return now - row.heartbeat_at < LEASE

    def _ours(self, now: datetime) -> Sender:
        """The lock's record with this process as holder, from `now`."""
        return Sender(LOCK_NAME, self.holder, self.host, self.pid, now, now)

    def _record(self, now: datetime, force: bool) -> None:
        with self.database.transaction() as connection:
            row = db.sender(connection, LOCK_NAME)
            if row is not None and self._is_ours(row):
                db.renew_sender(connection, LOCK_NAME, now)
            elif force:
                db.write_sender(connection, self._ours(now), exists=row is not None)

    def _current_holder(self) -> str:
        with self.database.transaction() as connection:
            row = db.sender(connection, LOCK_NAME)
            if row is None:
                return "another process"
            return f"{row.holder} (since {self._since(connection, row.started_at)})"

    def _since(self, connection: Connection, started_at: datetime) -> str:
        """When the holder started, in the deals' zone (UTC when deals of several zones, or none,
        are loaded)."""
        zones = {deal.terms.zone for deal in deal_store.deals(connection)}
        zone = zones.pop() if len(zones) == 1 else ZoneInfo("UTC")
        return local(started_at, zone)


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
