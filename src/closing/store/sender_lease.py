"""The one-sender lock's statements: the SQLite lease row (`alert_sender`) and, on PostgreSQL,
the advisory lock held on a connection of its own beside the same row. Whose lease is alive, and
when to take one over, is the policy of `closing.services.alerts.sender_lock`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from closing.domain.errors import DatabaseError
from closing.store.connection import Connection, Database, first_line


class Sender(NamedTuple):
    """Who sends alerts for this database: the lease row (SQLite), or the record kept next to the
    advisory lock (PostgreSQL)."""

    name: str
    holder: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


def sender(connection: Connection, name: str) -> Sender | None:
    found = connection.rows(
        f"SELECT {', '.join(Sender._fields)} FROM alert_sender WHERE name = ?", (name,)
    )
    if not found:
        return None
    name_, holder, host, pid, started_at, heartbeat_at = found[0]
    moment = connection.moment
    return Sender(name_, holder, host, int(pid), moment(started_at), moment(heartbeat_at))


def write_sender(connection: Connection, record: Sender, exists: bool) -> None:
    """The lock's row now says `record`: inserted, or the existing row of that name replaced."""
    bind = connection.bind_moment
    values = (record.holder, record.host, record.pid, bind(record.started_at))
    if exists:
        connection.execute(
            "UPDATE alert_sender SET holder = ?, host = ?, pid = ?, started_at = ?, "
            "heartbeat_at = ? WHERE name = ?",
            (*values, bind(record.heartbeat_at), record.name),
        )
    else:
        connection.execute(
            "INSERT INTO alert_sender (holder, host, pid, started_at, heartbeat_at, name) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (*values, bind(record.heartbeat_at), record.name),
        )


def renew_sender(connection: Connection, name: str, now: datetime) -> None:
    connection.execute(
        "UPDATE alert_sender SET heartbeat_at = ? WHERE name = ?",
        (connection.bind_moment(now), name),
    )


def delete_sender(connection: Connection, name: str) -> None:
    connection.execute("DELETE FROM alert_sender WHERE name = ?", (name,))


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock, held on a connection of its own (not the
    database's per-thread one) for as long as that connection lives: it goes when the process or
    the connection dies. The heartbeat checks it from another thread than the one that took it."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._driver: Any = None

    def try_take(self, key: int) -> bool:
        """Take the lock without waiting; False when another connection holds it. One sender
        per closing database, which is a schema: two schemas of one PostgreSQL database must not
        hold each other off."""
        import psycopg

        try:
            if self._driver is None:
                self._driver = psycopg.connect(
                    self._database.location.conninfo or "", connect_timeout=10, autocommit=True
                )
            got = self._driver.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (key,)
            ).fetchone()[0]
        except psycopg.Error as error:
            self.close()
            raise DatabaseError.failed(self._database.masked, first_line(error)) from None
        return bool(got)

    def alive(self) -> bool:
        """Whether the connection, and so the lock, is still there."""
        if self._driver is None:
            return False
        try:
            self._driver.execute("SELECT 1")
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Close the connection, which releases the lock."""
        if self._driver is not None:
            try:
                self._driver.close()
            finally:
                self._driver = None


# --- senders that share the deals (PostgreSQL): a lease row per deal ----------------------------

SHARED_PREFIX = "share "  # the `alert_sender` name of a sender that shares the deals


def live_shared_senders(connection: Connection, fresh_after: datetime) -> list[str]:
    """The holders of the sharing senders whose heartbeat is later than `fresh_after`."""
    rows = connection.rows(
        "SELECT holder FROM alert_sender WHERE name LIKE ? AND heartbeat_at > ? ORDER BY name",
        (SHARED_PREFIX + "%", connection.bind_moment(fresh_after)),
    )
    return [holder for (holder,) in rows]


def shared_senders(connection: Connection) -> list[Sender]:
    """Every sender's record (the single one's, and each sharing one's), by name."""
    rows = connection.rows(f"SELECT {', '.join(Sender._fields)} FROM alert_sender ORDER BY name")
    moment = connection.moment
    return [
        Sender(name, holder, host, int(pid), moment(started), moment(beat))
        for name, holder, host, pid, started, beat in rows
    ]


def take_deals(
    connection: Connection, holder: str, now: datetime, stale_before: datetime, senders: int
) -> list[int]:
    """In one transaction: a lease row for every deal; this sender's leases renewed; free or stale
    ones (their holder's heartbeat older than `stale_before`) taken, locked with `FOR UPDATE SKIP
    LOCKED` so two senders never take one, until it holds its share (the deals divided among
    `senders`, rounded up); more than its share handed back (the last ones). Returns the deals it
    holds, by id."""
    at, stale = connection.bind_moment(now), connection.bind_moment(stale_before)
    total = int(connection.value("SELECT count(*) FROM deal"))
    share = -(-total // max(senders, 1))
    connection.execute(
        "INSERT INTO alert_deal_lease (deal_id, holder, heartbeat_at) "
        "SELECT id, '', ? FROM deal WHERE id NOT IN (SELECT deal_id FROM alert_deal_lease) "
        "ON CONFLICT DO NOTHING",
        (stale,),
    )
    mine = sorted(
        int(deal)
        for (deal,) in connection.rows(
            "UPDATE alert_deal_lease SET heartbeat_at = ? WHERE holder = ? RETURNING deal_id",
            (at, holder),
        )
    )
    if len(mine) > share:
        extra = mine[share:]
        connection.execute(
            "UPDATE alert_deal_lease SET holder = '' "
            f"WHERE deal_id IN ({', '.join('?' * len(extra))}) AND holder = ?",
            (*extra, holder),
        )
        return mine[:share]
    wanted = share - len(mine)
    if wanted:
        sql = (
            "SELECT deal_id FROM alert_deal_lease WHERE (holder = '' OR heartbeat_at < ?) "
            "AND holder <> ? ORDER BY deal_id LIMIT ?"
        )
        free = connection.rows(
            sql if connection.sqlite else sql + " FOR UPDATE SKIP LOCKED", (stale, holder, wanted)
        )
        taken = [int(deal) for (deal,) in free]
        if taken:
            connection.execute(
                "UPDATE alert_deal_lease SET holder = ?, heartbeat_at = ? "
                f"WHERE deal_id IN ({', '.join('?' * len(taken))})",
                (holder, at, *taken),
            )
        mine = sorted(mine + taken)
    return mine


def release_deals(connection: Connection, holder: str) -> None:
    """This sender's leases, free for the others at once."""
    connection.execute("UPDATE alert_deal_lease SET holder = '' WHERE holder = ?", (holder,))


class DealLease(NamedTuple):
    deal: str
    holder: str
    heartbeat_at: datetime


def deal_leases(connection: Connection) -> list[DealLease]:
    """Each deal's lease (deals without one yet left out), by slug."""
    rows = connection.rows(
        "SELECT deal.slug, alert_deal_lease.holder, alert_deal_lease.heartbeat_at "
        "FROM alert_deal_lease JOIN deal ON deal.id = alert_deal_lease.deal_id ORDER BY deal.slug"
    )
    return [DealLease(slug, holder, connection.moment(beat)) for slug, holder, beat in rows]
