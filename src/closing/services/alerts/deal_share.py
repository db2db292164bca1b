"""Alert senders that share the deals (`closing alerts run --share`, PostgreSQL).

Each sender records itself (an `alert_sender` row named `share HOLDER`, renewed every second) and
holds a lease row per deal it sends for. At each heartbeat it renews its leases and takes free or
stale ones (`FOR UPDATE SKIP LOCKED`) up to its share, the deals divided among the senders alive,
and hands back any beyond it, so two or more senders split the deals and a crashed one's deals
are taken over once its heartbeat is `LEASE` old. A delivery a dead sender left `sending` is taken
over with its deal, as a second attempt. It has the interface of `SenderLock`, which the daemon
uses for a single sender.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta

from closing.domain.errors import AlertsError
from closing.services.alerts.sender_lock import LEASE as SINGLE_LEASE
from closing.store import deals as deal_store
from closing.store import sender_lease as db
from closing.store.alerts import Claiming
from closing.store.connection import Database
from closing.store.sender_lease import SHARED_PREFIX, Sender

LEASE = timedelta(seconds=3)  # a sharing sender silent this long (three heartbeats) is dead
HEARTBEAT = 1.0  # seconds between a sharing sender's heartbeats


class DealShare:
    def __init__(self, database: Database, holder: str | None = None) -> None:
        if database.dialect != "postgresql":
            raise AlertsError(
                "alert senders share the deals only on PostgreSQL; on SQLite one sender sends "
                "(start a second one with --standby to take over when it stops)"
            )
        self.database = database
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.holder = holder or f"pid {self.pid} on {self.host}"
        self.name = SHARED_PREFIX + self.holder
        self.held = False
        self.claiming = Claiming((), (), self.holder)
        self._changed = threading.Event()

    def try_acquire(self, now: datetime) -> str | None:
        """Join the senders and take a share of the deals (never refused)."""
        self.database.ensure_schema()
        with self.database.transaction() as connection:
            exists = db.sender(connection, self.name) is not None
            db.write_sender(
                connection, Sender(self.name, self.holder, self.host, self.pid, now, now), exists
            )
        self.held = True
        self.heartbeat(now)
        return None

    def acquire(self, now: datetime, advice: str = "") -> None:
        self.try_acquire(now)

    def heartbeat(self, now: datetime) -> bool:
        """Renew this sender's record and leases and take its share; False if its record is gone
        (it was stopped)."""
        if not self.held:
            return False
        with self.database.transaction() as connection:
            if db.sender(connection, self.name) is None:
                self.held = False
                return False
            db.renew_sender(connection, self.name, now)
            live = db.live_shared_senders(connection, now - LEASE)
            deals = db.take_deals(connection, self.holder, now, now - LEASE, len(live))
        if tuple(deals) != tuple(self.claiming.deals or ()) or list(live) != list(
            self.claiming.live or ()
        ):
            if tuple(deals) != tuple(self.claiming.deals or ()):
                self._changed.set()
            self.claiming = Claiming(tuple(deals), tuple(live), self.holder)
        return True

    def deals_changed(self) -> bool:
        """Whether the deals held changed since last asked (the daemon then plans at once)."""
        changed = self._changed.is_set()
        self._changed.clear()
        return changed

    def release(self) -> None:
        """Leave: this sender's deals free for the others at once."""
        if not self.held:
            return
        self.held = False
        with self.database.transaction() as connection:
            db.release_deals(connection, self.holder)
            db.delete_sender(connection, self.name)
        self.claiming = Claiming((), (), self.holder)


def senders(database: Database, now: datetime) -> list[dict[str, object]]:
    """`closing alerts senders`: each sender recorded (a single one, or each sharing one), when it
    started and was last heard of, whether it is alive, and the deals it holds (a single sender:
    every deal)."""
    with database.transaction(write=False) as connection:
        records = db.shared_senders(connection)
        leases = db.deal_leases(connection)
        every = deal_store.deal_slugs(connection, 1_000_000)
    shown: list[dict[str, object]] = []
    for record in records:
        sharing = record.name.startswith(SHARED_PREFIX)
        alive = now - record.heartbeat_at < (LEASE if sharing else SINGLE_LEASE)
        deals = (
            [lease.deal for lease in leases if lease.holder == record.holder] if sharing else every
        )
        shown.append(
            {
                "sender": record.holder,
                "mode": "share" if sharing else "single",
                "started_at": record.started_at,
                "heartbeat_at": record.heartbeat_at,
                "alive": alive,
                "deals": deals if alive else [],
            }
        )
    return shown
