"""Which database a command uses, opened: `--database`, else CLOSING_DATABASE_URL, else a SQLite
file in the user's data folder (`closing.store.url`), as the `Database` every service reaches the
tables through (`closing.store.connection`); and the schema it is at against the one this
closing needs (`closing db version`)."""

from __future__ import annotations

from urllib.parse import quote

from closing.store.connection import HEAD, Database
from closing.store.url import database_url, locate

# `Database` is what every service takes: the CLI names the type from here, not from the store.
__all__ = ["Database", "open_database", "peek_database", "schema_versions"]


def open_database(option: str | None, create: bool) -> Database:
    """The database `option` (or the environment, or the default) names; with `create` it is
    made (with its schema, and the data folder) if it is not there, else a database that is not
    there is an error (`no database at PATH`)."""
    return Database(database_url(option, create_folder=create), must_exist=not create)


def peek_database(option: str | None) -> Database | None:
    """The database, opened read-only for a quick look (shell completion): None when it is a
    SQLite file that is not there; never creates, never writes."""
    url = database_url(option, create_folder=False)
    location = locate(url)
    if location.dialect == "sqlite":
        if location.file is None or not location.file.is_file():
            return None
        url = f"sqlite:///file:{quote(str(location.file))}?mode=ro&uri=true"
    return Database(url, must_exist=True)


def schema_versions(database: Database) -> tuple[str | None, str]:
    """(the revision the database is at or None when empty, the one this closing needs)."""
    return database.schema_revision(), HEAD
