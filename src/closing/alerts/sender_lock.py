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
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import select

from closing.db.schema import SenderLockRow
from closing.db.store import Store
from closing.errors import AlertsError
from closing.timefmt import local

LOCK_NAME = "alerts"
STANDBY_ADVICE = "stop it first, or start this one with --standby to take over when it stops"
LEASE = timedelta(seconds=15)
ADVISORY_KEY = 0x636C6F73  # "clos"


class SenderLock:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.holder = f"pid {self.pid} on {self.host}"
        self._connection: Any = None
        self.held = False

    @property
    def advisory(self) -> bool:
        return self.store.dialect == "postgresql"

    def try_acquire(self, now: datetime) -> str | None:
        """Take the lock; None when taken, else who holds it."""
        self.store.ensure_schema()
        if self.advisory:
            if self._connection is None:
                self._connection = self.store.engine.connect()
            # One sender per closing database, which is a schema: two schemas of one PostgreSQL
            # database must not hold each other off.
            got = self._connection.execute(
                text("SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"),
                {"key": ADVISORY_KEY},
            ).scalar_one()
            self._connection.commit()
            if not got:
                return self._current_holder()
            self._record(now, force=True)
            self.held = True
            return None
        with self.store.session() as session:
            row = session.get(SenderLockRow, LOCK_NAME)
            if row is not None and not self._is_ours(row) and self._alive(row, now):
                return f"{row.holder} (since {self._since(session, row.started_at)})"
            self._write(session, row, now)
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
            try:
                self._connection.execute(text("SELECT 1"))
                self._connection.commit()
            except Exception:
                self.held = False
                return False
            self._record(now, force=True)
            return True
        with self.store.session() as session:
            row = session.get(SenderLockRow, LOCK_NAME)
            if row is None or not self._is_ours(row):
                self.held = False
                return False
            row.heartbeat_at = now
            session.add(row)
        return True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            with self.store.session() as session:
                row = session.get(SenderLockRow, LOCK_NAME)
                if row is not None and self._is_ours(row):
                    session.delete(row)
        finally:
            if self._connection is not None:
                self._connection.close()  # also releases the advisory lock
                self._connection = None

    # --- internals

    def _is_ours(self, row: SenderLockRow) -> bool:
        return row.host == self.host and row.pid == self.pid

    def _alive(self, row: SenderLockRow, now: datetime) -> bool:
        """On this host the process table decides (a long pass may delay a heartbeat, but a
        running sender is never taken over); across hosts, a heartbeat within the lease."""
        if row.host == self.host:
            return _pid_running(row.pid)
        return now - row.heartbeat_at < LEASE

    def _write(self, session: Any, row: SenderLockRow | None, now: datetime) -> None:
        if row is None:
            row = SenderLockRow(
                name=LOCK_NAME,
                holder=self.holder,
                host=self.host,
                pid=self.pid,
                started_at=now,
                heartbeat_at=now,
            )
        else:
            row.holder, row.host, row.pid = self.holder, self.host, self.pid
            row.started_at = now
            row.heartbeat_at = now
        session.add(row)

    def _record(self, now: datetime, force: bool) -> None:
        with self.store.session() as session:
            row = session.get(SenderLockRow, LOCK_NAME)
            if row is not None and self._is_ours(row):
                row.heartbeat_at = now
                session.add(row)
            elif force:
                self._write(session, row, now)

    def _current_holder(self) -> str:
        with self.store.session() as session:
            row = session.exec(select(SenderLockRow)).first()
            if row is None:
                return "another process"
            return f"{row.holder} (since {self._since(session, row.started_at)})"

    def _since(self, session: Any, started_at: datetime) -> str:
        """When the holder started, in the deals' zone (UTC when deals of several zones, or none,
        are loaded)."""
        from closing.db.queries import deals_where

        zones = {deal.terms.zone for deal in deals_where(session)}
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
