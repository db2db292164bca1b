"""The one place that opens engines and transactions.

SQLite is the embedded default; PostgreSQL is for a team. On SQLite every transaction starts with
`BEGIN IMMEDIATE`, so two terminals marking at once are serialised instead of losing writes
(LIBRARY-NOTES.md). The tables are in `closing.db.schema`, the statements in `closing.db.queries`
and `closing.db.ledger`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import (
    Session,  # until every statement is Core (db.queries)
    create_engine,
)

from closing.errors import DatabaseError

# The Alembic revisions, oldest first (closing/migrations/versions). Kept here so that checking
# the schema on every command does not import Alembic; a test keeps the two in step.
REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006"]
HEAD = REVISIONS[-1]


# --- engines ---------------------------------------------------------------------------------


def default_database_url() -> str:
    """A SQLite file in the user's data folder (platformdirs: $XDG_DATA_HOME/closing, else
    ~/.local/share/closing on Linux), the folder made on first use."""
    from platformdirs import user_data_path

    folder = user_data_path("closing", appauthor=False, ensure_exists=True)
    return f"sqlite:///{folder / 'closing.db'}"


def database_url(explicit: str | None = None) -> str:
    """--database, else CLOSING_DATABASE_URL, else the default; a plain path means SQLite."""
    url = explicit or os.environ.get("CLOSING_DATABASE_URL") or default_database_url()
    if "://" not in url:
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def masked_url(url: str) -> str:
    """The URL with any password replaced, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return f"{url.split('://')[0]}://… (not a database URL like sqlite:///closing.db)"


_engines: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    if url in _engines:
        return _engines[url]
    try:
        if url.startswith("sqlite"):
            engine = _sqlite_engine(url)
        else:
            engine = create_engine(url, pool_pre_ping=True)
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
    _engines[url] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (before a fast exit)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def _sqlite_engine(url: str) -> Engine:
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
    return text.splitlines()[0] if text else type(error).__name__


class Store:
    """Opens transactions on one database; creates the schema on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)
        self._ready = False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at; `0001` for a database of the first release
        (which predates Alembic and kept its version in `closing_meta`); None when empty."""
        reader = self.engine.execution_options(closing_read_only=True)
        with reader.connect() as connection:
            dialect = self.engine.dialect
            revision = None
            if dialect.has_table(connection, "alembic_version"):
                row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
                revision = row[0] if row else None
            elif dialect.has_table(connection, "closing_meta"):
                revision = REVISIONS[0]
            connection.rollback()
        return revision

    def ensure_schema(self) -> None:
        """Check the schema once per process; SQLite is upgraded in place, PostgreSQL needs
        `closing db upgrade` (a team's database changes when someone decides it should)."""
        if self._ready:
            return
        try:
            revision = self.schema_revision()
        except OperationalError as error:
            hint = ""
            if self.dialect == "sqlite" and "unable to open" in str(error):
                hint = (
                    "; does its folder exist? (sqlite:///name.db is relative to this folder, "
                    "sqlite:////abs/path.db absolute; a plain path works too)"
                )
            raise DatabaseError(
                f"cannot open database {masked_url(self.url)}: {_first_line(error)}{hint}"
            ) from None
        if revision == HEAD:
            self._ready = True
            return
        if revision is not None and revision not in REVISIONS:
            raise DatabaseError(
                f"database {masked_url(self.url)} has schema {revision}, newer than this closing "
                f"knows ({HEAD}); upgrade closing"
            )
        if self.dialect != "sqlite":
            raise DatabaseError(
                f"database {masked_url(self.url)} is at schema {revision or 'none (empty)'}; this "
                f"closing needs {HEAD}: run closing db upgrade"
            )
        self.upgrade()

    def upgrade(self) -> tuple[str | None, str]:
        """Run the Alembic migrations up to head; returns (from, to)."""
        from alembic import command
        from alembic.config import Config

        before = self.schema_revision()
        config = Config()
        config.set_main_option("script_location", "closing:migrations")
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                if before is not None and not self.engine.dialect.has_table(
                    connection, "alembic_version"
                ):
                    command.stamp(config, before)  # a first-release database: record where it is
                command.upgrade(config, "head")
        except OperationalError as error:
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
        except OperationalError as error:
            raise DatabaseError(
                f"database {masked_url(self.url)} failed: {_first_line(error)}; try again"
            ) from None
