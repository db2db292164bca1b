"""The one way to the database: where a URL points, how a connection is opened, and how a
transaction runs, for SQLite (the standard library's sqlite3) and PostgreSQL (psycopg 3) alike.

`Database(url)` works out the URL once (`Location`); `Database.transaction(write=...)` checks the
schema (once per process), hands out a `Connection` inside one transaction, commits when the block
ends and rolls back when it raises. Every statement of the store runs on a `Connection`, written
with `?` placeholders; values are stored and read back by `closing.store.values`. SQLAlchemy is
not imported here: it declares the tables (`closing.store.schema`) and runs the migrations
(`closing.store.migrate`), nothing else.

On SQLite a writer begins with `BEGIN IMMEDIATE`, so two terminals marking at once are serialised
instead of one losing its write (with the default deferred BEGIN, two read-then-write processes
lost half of 600 updates). A driver error becomes one `DatabaseError` line; nothing is retried.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from closing.domain.errors import DatabaseError
from closing.domain.text import neutral
from closing.store.url import locate, read_only_options
from closing.store.values import moment_to_store, money_to_store, stored_moment

# The Alembic revisions, oldest first (closing/store/migrations/versions). Kept here so that
# checking the schema on every command imports neither Alembic nor SQLAlchemy; a test keeps the
# two in step.
REVISIONS = [f"{number:04d}" for number in range(1, 17)]  # "0001" ... "0016"
HEAD = REVISIONS[-1]

LOCK_WAIT = 30.0  # seconds a SQLite writer waits for another's lock before it is refused


class UniqueViolation(Exception):
    """A unique key refused a row (another writer recorded it first); the transaction is rolled
    back. Callers that expect the race catch it; anything else reports it as a failure."""


# --- a connection inside a transaction -----------------------------------------------------------


class Connection:
    """A driver connection inside one transaction, and the dialect that says how its values are
    written and come back: `sqlite` (UTC text dates, text money, 0/1 booleans, `?`) or
    `postgresql` (native types, `%s`)."""

    def __init__(self, driver: Any, dialect: str, authenticated: str | None = None) -> None:
        self.driver = driver
        self.dialect = dialect
        self.sqlite = dialect == "sqlite"
        self._moments: dict[Any, datetime] = {}
        self.authenticated = authenticated  # closing.store.identity.actor, once asked

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of `sql`, written with `?` placeholders."""
        with self._cursor() as cursor:
            cursor.execute(self._driver_sql(sql), tuple(params))
            return list(cursor.fetchall()) if cursor.description is not None else []

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of `sql` (None when there is no row)."""
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that returns no rows (`?` placeholders); the number of rows it
        changed."""
        with self._cursor() as cursor:
            cursor.execute(self._driver_sql(sql), tuple(params))
            return int(cursor.rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many rows, in the driver's own executemany."""
        if not rows:
            return
        with self._cursor() as cursor:
            cursor.executemany(self._driver_sql(sql), rows)

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor for one statement; a unique key that refuses a row is `UniqueViolation` at
        once (the statement's caller may expect the race), anything else the driver's own."""
        cursor = self.driver.cursor()
        try:
            yield cursor
        except Exception as error:
            if unique_key_refused(error):
                raise UniqueViolation(first_line(error)) from None
            raise
        finally:
            cursor.close()

    def _driver_sql(self, sql: str) -> str:
        return sql if self.sqlite else sql.replace("%", "%%").replace("?", "%s")

    def for_update(self, sql: str) -> str:
        """`sql` locking the rows it reads (PostgreSQL; SQLite's BEGIN IMMEDIATE holds the
        database lock already)."""
        return sql if self.sqlite else sql + " FOR UPDATE"

    def moment(self, value: Any) -> datetime:
        """A stored instant, UTC-aware (thousands of events share a few: each is read once)."""
        found = self._moments.get(value)
        if found is None:
            found = self._moments[value] = stored_moment(value)
        return found

    def bind_moment(self, value: datetime) -> Any:
        return moment_to_store(value, self.sqlite)

    def bind_money(self, value: Decimal | None) -> Any:
        return money_to_store(value, self.sqlite)

    def table_exists(self, name: str) -> bool:
        if self.sqlite:
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            sql = "SELECT 1 WHERE to_regclass(?) IS NOT NULL"
        return bool(self.rows(sql, (name,)))


# --- the database ---------------------------------------------------------------------------------


class Database:
    """One database, opened with its driver; creates the schema on first use unless
    `must_exist` (the commands that only read or record): then a database that is not there is
    an error (`no database at PATH`), never created. One connection per thread, kept open."""

    def __init__(self, url: str, must_exist: bool = False) -> None:
        self.location = locate(url)
        self.url = url
        self.must_exist = must_exist
        self._local = threading.local()
        self._ready = False
        # Every driver connection this Database opened, in any thread: closed when it is closed
        # or collected (a connection a dead frame still holds would keep SQLite's WAL open).
        self._drivers: list[Any] = []
        self._generation = 0
        weakref.finalize(self, _close_drivers, self._drivers)
        _OPEN.add(self)
        file = self.location.file
        if must_exist and file is not None and not file.exists():
            raise self._no_database()

    @property
    def dialect(self) -> str:
        return self.location.dialect

    @property
    def masked(self) -> str:
        return self.location.masked

    def _no_database(self) -> DatabaseError:
        file = self.location.file
        where = neutral(str(file)) if file is not None else self.masked
        return DatabaseError(f"no database at {where}; run closing init FILE")

    # --- connections

    def _driver(self) -> Any:
        driver = getattr(self._local, "driver", None)
        if driver is None or getattr(self._local, "generation", None) != self._generation:
            driver = self._local.driver = self._connect()
            self._local.generation = self._generation
            self._drivers.append(driver)
        return driver

    def _connect(self) -> Any:
        location = self.location
        if location.dialect == "postgresql":
            return self._connect_postgresql()
        file = location.file
        if file is not None and file.is_dir():
            raise DatabaseError(
                f"cannot open database {neutral(str(file))}: it is a folder; give a file in it, "
                f"such as {neutral(str(file / 'closing.db'))}"
            )
        options = dict(location.sqlite_options)
        if "mode" not in options:
            options["mode"] = "rw" if self.must_exist else "rwc"
            if self.must_exist and file is not None and file.is_file():
                options.update(read_only_options(file))
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in options.items())
        try:
            driver = sqlite3.connect(
                f"{location.sqlite_uri}?{query}",
                uri=True,
                timeout=LOCK_WAIT,
                isolation_level=None,
                check_same_thread=False,
            )
            driver.execute("PRAGMA foreign_keys=ON")
            driver.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT * 1000)}")
            if not self.must_exist and options["mode"] == "rwc" and file is not None:
                # Write-ahead logging: the board and the history read while a mark or an alert
                # pass writes, instead of waiting for it.
                driver.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as error:
            hint = ""
            if "unable to open" in str(error):
                hint = (
                    "; does its folder exist? (sqlite:///name.db is relative to this folder, "
                    "sqlite:////abs/path.db absolute; a plain path works too)"
                )
            raise DatabaseError(
                f"cannot open database {self.masked}: {first_line(error)}{hint}"
            ) from None
        return driver

    def _connect_postgresql(self) -> Any:
        try:
            import psycopg
        except ImportError as error:
            raise DatabaseError(
                f"cannot use database {self.masked}: its driver is missing ({error.name}); "
                "pip install 'closing[postgres]'"
            ) from None
        try:
            # Never prepared: PostgreSQL's generic plan of a prepared statement reads a small
            # deal's newest event through every newer deal's rows (35 ms behind 300,000).
            conninfo = self.location.conninfo or ""
            return psycopg.connect(conninfo, connect_timeout=10, prepare_threshold=None)
        except psycopg.Error as error:
            raise DatabaseError(
                f"cannot open database {self.masked}: {first_line(error)}"
            ) from None

    def close(self) -> None:
        """Close this thread's connection (the next transaction opens a new one)."""
        driver = getattr(self._local, "driver", None)
        self._local.driver = None
        if driver is not None:
            with suppress(ValueError):
                self._drivers.remove(driver)
            with suppress(Exception):
                driver.close()

    def close_all(self) -> None:
        """Close the connection of every thread (at exit, or when a test is done with it): a
        thread that goes on opens a new one."""
        self._generation += 1
        _close_drivers(self._drivers)

    # --- transactions

    @contextmanager
    def transaction(self, write: bool = True, snapshot: bool = False) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises. A reader
        does not wait for (or hold up) writers on SQLite. With `snapshot`, every read sees the
        database as of the transaction's first (REPEATABLE READ on PostgreSQL, whose statements
        otherwise each see what was committed before them; a SQLite transaction always does). A
        driver error is one `DatabaseError`; a unique key that refuses a row is
        `UniqueViolation`."""
        self.ensure_schema()
        with self._raw(write, snapshot=snapshot) as connection:
            yield connection

    @contextmanager
    def _raw(
        self, write: bool, opening: bool = False, snapshot: bool = False
    ) -> Iterator[Connection]:
        driver = self._driver()
        sqlite = self.dialect == "sqlite"
        try:
            if sqlite:
                driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            elif snapshot:
                driver.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            member = getattr(self._local, "member", None)  # closing.store.identity.acting_as
            connection = Connection(driver, self.dialect, member)
            if member is not None and not sqlite:  # SET LOCAL ROLE: the database checks it
                connection.execute("SELECT set_config('role', ?, true)", (member,))
            yield connection
            if sqlite:
                driver.execute("COMMIT")
            else:
                driver.commit()
        except BaseException as error:
            self._rollback(driver)
            translated = self._translate(error)
            if opening and isinstance(translated, DatabaseError):
                reason = first_line(error)
                translated = DatabaseError(f"cannot open database {self.masked}: {reason}")
            if translated is None:
                raise
            raise translated from None

    def _rollback(self, driver: Any) -> None:
        try:
            if self.dialect == "sqlite":
                if driver.in_transaction:
                    driver.execute("ROLLBACK")
            else:
                driver.rollback()
        except Exception:
            self.close()  # a connection that cannot roll back is not used again

    def _translate(self, error: BaseException) -> BaseException | None:
        """The one line a driver error becomes; None for errors that are not the driver's."""
        if unique_key_refused(error):
            return UniqueViolation(first_line(error))
        if isinstance(error, sqlite3.Error):
            return DatabaseError.failed(self.masked, first_line(error))
        if self.dialect == "postgresql":
            import psycopg

            if isinstance(error, psycopg.Error):
                if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
                    self.close()  # the server went away: reconnect next time
                return DatabaseError.failed(self.masked, first_line(error))
        return None

    # --- the schema

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at; `0001` for a database of the first release
        (which predates Alembic and kept its version in `closing_meta`); None when empty."""
        with self._raw(write=False, opening=True) as connection:
            if connection.table_exists("alembic_version"):
                found = connection.value("SELECT version_num FROM alembic_version")
                return None if found is None else str(found)
            if connection.table_exists("closing_meta"):
                return REVISIONS[0]
            return None

    def ensure_schema(self) -> None:
        """Check the schema once per process; SQLite is upgraded in place, PostgreSQL needs
        `closing db upgrade` (a team's database changes when someone decides it should)."""
        if self._ready:
            return
        revision = self.schema_revision()
        if revision == HEAD:
            self._ready = True
            return
        if revision is None and self.must_exist and self.dialect == "sqlite":
            raise self._no_database()
        self._check_known(revision)
        if self.dialect != "sqlite" or (self.must_exist and revision is None):
            raise DatabaseError(
                f"database {self.masked} is at schema {revision or 'none (empty)'}; this "
                f"closing needs {HEAD}: run closing db upgrade"
            )
        self.upgrade()

    def _check_known(self, revision: str | None) -> None:
        if revision is not None and revision not in REVISIONS:
            raise DatabaseError(
                f"database {self.masked} has schema {neutral(revision[:40])}, newer than this "
                f"closing knows ({HEAD}); upgrade closing"
            )

    def upgrade(self) -> tuple[str | None, str]:
        """Run the migrations up to head (Alembic, through SQLAlchemy: the one place it runs);
        returns (from, to)."""
        from closing.store.migrate import upgrade

        before = self.schema_revision()
        self._check_known(before)
        self.close()  # the migration runs on a connection of its own
        upgrade(self.url, self.masked, before)
        self._ready = True
        return before, HEAD

    def identity(self) -> tuple[object, ...] | None:
        """Which database this is, to notice it deleted or replaced under a long-running sender:
        `("file", device, inode)` for SQLite, `("missing",)` when that file is gone, and
        `("postgresql", oid)` for PostgreSQL (a database dropped and created again gets a new
        oid). None when it cannot be told just now (the server is unreachable)."""
        file = self.location.file
        if self.dialect == "sqlite":
            if file is None:
                return None
            try:
                stat = file.stat()
            except FileNotFoundError:
                return ("missing",)
            except OSError:
                return None
            return ("file", stat.st_dev, stat.st_ino)
        try:
            with self._raw(write=False) as connection:
                oid = connection.value(
                    "SELECT oid FROM pg_database WHERE datname = current_database()"
                )
        except DatabaseError:
            self.close()
            return None
        return ("postgresql", int(oid)) if oid is not None else ("missing",)


_OPEN: weakref.WeakSet[Database] = weakref.WeakSet()


def close_databases() -> None:
    """Close every connection of every Database (before a fast exit: PostgreSQL then sees the
    session end instead of a dropped connection, SQLite folds its write-ahead log back)."""
    for database in list(_OPEN):
        database.close_all()


def _close_drivers(drivers: list[Any]) -> None:
    while drivers:
        with suppress(Exception):
            drivers.pop().close()


def unique_key_refused(error: BaseException) -> bool:
    """Whether a driver error is a unique key refusing a row (sqlite3's IntegrityError naming
    UNIQUE, or SQLSTATE 23505 from psycopg)."""
    if isinstance(error, sqlite3.IntegrityError):
        return "UNIQUE" in str(error)
    return getattr(error, "sqlstate", None) == "23505"


def first_line(error: BaseException) -> str:
    """An error's first line, neutral and at most 300 characters."""
    text = str(error).strip()
    return neutral(text.splitlines()[0][:300]) if text else type(error).__name__
