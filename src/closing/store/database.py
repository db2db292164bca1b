"""The one place that opens engines and transactions.

SQLite is the embedded default; PostgreSQL is for a team. On SQLite every transaction starts with
`BEGIN IMMEDIATE`, so two terminals marking at once are serialised instead of losing writes
(LIBRARY-NOTES.md). The tables are in `closing.store.schema`, the statements in
`closing.store.queries`
and `closing.store.alerts`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SAWarning, SQLAlchemyError
from sqlmodel import (
    Session,  # until every statement is Core (db.queries)
    create_engine,
)

from closing.domain.errors import DatabaseError
from closing.domain.text import neutral
from closing.store.connection import HEAD, REVISIONS
from closing.store.url import database_url, default_database_url

__all__ = ["HEAD", "REVISIONS", "Store", "database_url", "default_database_url"]


# --- engines ---------------------------------------------------------------------------------


def sqlite_file(url: str) -> Path | None:
    """The file SQLite will open for `url` (None for other databases and in-memory ones): worked
    out as the driver does, `file:` URIs (`uri=true`) included."""
    if not url.startswith(("sqlite://", "sqlite+pysqlite://")):
        return None
    from urllib.parse import unquote, urlsplit

    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
    from sqlalchemy.engine import make_url

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # engine_for reports a URL's ignored options
            args, options = SQLiteDialect_pysqlite().create_connect_args(make_url(url))
    except Exception:
        return None
    name = str(args[0]) if args else ""
    if not name or name == ":memory:":
        return None
    if options.get("uri") and name.startswith("file:"):
        parts = urlsplit(name)
        if "mode=memory" in parts.query or not parts.path:
            return None
        return Path(unquote(parts.path))
    return Path(name)


def masked_url(url: str) -> str:
    """The URL with any password replaced, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return f"{url.split('://')[0]}://… (not a database URL like sqlite:///closing.db)"


_engines: dict[str, Engine] = {}


def engine_for(url: str, create: bool = True) -> Engine:
    """The engine for `url`, one per process. With `create=False` (commands that only read) a
    SQLite connection leaves the file as it is: no switch to write-ahead logging, which would
    write to an empty or old file (one closing made is in that mode already)."""
    key = url if create else f"{url} (reading)"
    if key in _engines:
        return _engines[key]
    if url.startswith("sqlite") and "uri=true" in url and "///file:" not in url:
        # SQLite would take the whole `path?mode=ro` as a file name and create that file.
        raise DatabaseError(
            f"cannot use database {masked_url(url)}: with uri=true the path must be a file: URI, "
            "like sqlite:///file:/path/closing.db?mode=ro&uri=true"
        )
    try:
        # A URL option the driver ignores (`?mode=ro` without `uri=true`) is a mistake that would
        # silently not apply: say so in one line instead of a multi-line SAWarning.
        with warnings.catch_warnings():
            warnings.simplefilter("error", SAWarning)
            if url.startswith("sqlite"):
                engine = _sqlite_engine(url, wal=create)
            else:
                engine = create_engine(url, pool_pre_ping=True)
    except Warning as warning:
        reason = _first_line(warning).split("; ")[0].split(" (Background")[0]
        hint = ""
        if url.startswith("sqlite"):
            hint = "; SQLite options need the URI form, like sqlite:///file:/path/closing.db?mode=ro&uri=true"
        raise DatabaseError(f"cannot use database {masked_url(url)}: {reason}{hint}") from None
    except ImportError as error:
        hint = "pip install 'closing[postgres]'" if "psycopg" in str(error) else "install it"
        raise DatabaseError(
            f"cannot use database {masked_url(url)}: its driver is missing ({error.name}); {hint}"
        ) from None
    except (SQLAlchemyError, ValueError) as error:
        raise DatabaseError(
            f"cannot use database {masked_url(url)}: {_first_line(error)}; check "
            "CLOSING_DATABASE_URL or --database"
        ) from None
    _engines[key] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (before a fast exit)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def _sqlite_engine(url: str, wal: bool = True) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event decide how transactions start (SQLAlchemy SQLite docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Write-ahead logging: the board and the history read while a mark or an alert pass
        # writes, instead of waiting for it.
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Writers take the write lock when they begin, so that two read-then-write transactions
        # are serialised instead of one failing; readers begin without it.
        reading = connection.get_execution_options().get("closing_read_only", False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return neutral(text.splitlines()[0][:300]) if text else type(error).__name__


def _database_failure(error: BaseException) -> bool:
    """A driver error that says the database cannot be used (locked, unreachable, not a database,
    a missing table), as opposed to a unique key refusing a row, which callers handle."""
    return isinstance(error, DBAPIError) and not isinstance(error, IntegrityError)


class Store:
    """Opens transactions on one database; creates the schema on first use, unless `must_exist`
    (read-only commands): then a database that is not there is an error, never created."""

    def __init__(self, url: str, must_exist: bool = False) -> None:
        self.url = url
        self.must_exist = must_exist
        self.engine = engine_for(url, create=not must_exist)  # a bad URL first: it says more
        file = sqlite_file(url)
        if must_exist and file is not None and not file.exists():
            raise DatabaseError(f"no database at {neutral(str(file))}; run closing init FILE")
        self._ready = False

    def _no_database(self) -> DatabaseError:
        file = sqlite_file(self.url)
        where = neutral(str(file)) if file is not None else masked_url(self.url)
        return DatabaseError(f"no database at {where}; run closing init FILE")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def identity(self) -> tuple[object, ...] | None:
        """Which database this is, to notice it deleted or replaced under a long-running sender:
        `("file", device, inode)` for SQLite, `("missing",)` when that file is gone, and
        `("postgresql", oid)` for PostgreSQL (a database dropped and created again gets a new
        oid). None when it cannot be told just now (the server is unreachable)."""
        file = sqlite_file(self.url)
        if file is not None:
            try:
                stat = file.stat()
            except FileNotFoundError:
                return ("missing",)
            except OSError:
                return None
            return ("file", stat.st_dev, stat.st_ino)
        if self.dialect != "postgresql":
            return None
        try:
            with self.engine.connect() as connection:
                oid = connection.exec_driver_sql(
                    "SELECT oid FROM pg_database WHERE datname = current_database()"
                ).scalar()
                connection.rollback()
        except SQLAlchemyError:
            return None
        return ("postgresql", int(oid)) if oid is not None else ("missing",)

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at; `0001` for a database of the first release
        (which predates Alembic and kept its version in `closing_meta`); None when empty."""
        reader = self.engine.execution_options(closing_read_only=True)
        try:
            with reader.connect() as connection:
                dialect = self.engine.dialect
                revision = None
                if dialect.has_table(connection, "alembic_version"):
                    row = connection.exec_driver_sql(
                        "SELECT version_num FROM alembic_version"
                    ).first()
                    revision = row[0] if row else None
                elif dialect.has_table(connection, "closing_meta"):
                    revision = REVISIONS[0]
                connection.rollback()
        except SQLAlchemyError as error:
            if not _database_failure(error):
                raise
            hint = ""
            file = sqlite_file(self.url) if self.dialect == "sqlite" else None
            if file is not None and file.is_dir():
                raise DatabaseError(
                    f"cannot open database {neutral(str(file))}: it is a folder; give a file "
                    f"in it, such as {neutral(str(file / 'closing.db'))}"
                ) from None
            if self.dialect == "sqlite" and "unable to open" in str(error):
                hint = (
                    "; does its folder exist? (sqlite:///name.db is relative to this folder, "
                    "sqlite:////abs/path.db absolute; a plain path works too)"
                )
            raise DatabaseError(
                f"cannot open database {masked_url(self.url)}: {_first_line(error)}{hint}"
            ) from None
        return None if revision is None else str(revision)

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
        if self.dialect != "sqlite":
            raise DatabaseError(
                f"database {masked_url(self.url)} is at schema {revision or 'none (empty)'}; this "
                f"closing needs {HEAD}: run closing db upgrade"
            )
        self.upgrade()

    def _check_known(self, revision: str | None) -> None:
        if revision is not None and revision not in REVISIONS:
            raise DatabaseError(
                f"database {masked_url(self.url)} has schema {neutral(revision[:40])}, newer than "
                f"this closing knows ({HEAD}); upgrade closing"
            )

    def upgrade(self) -> tuple[str | None, str]:
        """Run the Alembic migrations up to head; returns (from, to)."""
        from alembic import command
        from alembic.config import Config

        before = self.schema_revision()
        self._check_known(before)
        config = Config()
        config.set_main_option("script_location", "closing.store:migrations")
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                if before is not None and not self.engine.dialect.has_table(
                    connection, "alembic_version"
                ):
                    command.stamp(config, before)  # a first-release database: record where it is
                command.upgrade(config, "head")
        except SQLAlchemyError as error:
            if not _database_failure(error):
                raise
            raise DatabaseError(
                f"cannot upgrade database {masked_url(self.url)}: {_first_line(error)}"
            ) from None
        self._ready = True
        return before, HEAD

    @contextmanager
    def session(self, read_only: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises. A read-only
        one does not wait for (or hold up) writers on SQLite."""
        self.ensure_schema()
        bind = self.engine.execution_options(closing_read_only=True) if read_only else self.engine
        try:
            with Session(bind, expire_on_commit=False) as session:
                yield session
                session.commit()
        except SQLAlchemyError as error:
            if not _database_failure(error):
                raise
            raise DatabaseError.failed(masked_url(self.url), _first_line(error)) from None
