"""Where the database is: --database, else CLOSING_DATABASE_URL, else a SQLite file in the user's
data folder (a plain path means a SQLite file); and what a database URL points to (`locate`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from closing.domain.errors import DatabaseError, UsageError
from closing.domain.redaction import masked_url
from closing.domain.text import neutral, shortened


def default_database_url(create_folder: bool = True) -> str:
    """A SQLite file in the user's data folder (platformdirs: $XDG_DATA_HOME/closing, else
    ~/.local/share/closing on Linux), the folder made on first use (not by commands that only
    read: `create_folder=False`)."""
    from platformdirs import user_data_path

    folder = user_data_path("closing", appauthor=False, ensure_exists=create_folder)
    return f"sqlite:///{folder / 'closing.db'}"


def database_url(explicit: str | None = None, create_folder: bool = True) -> str:
    """--database, else CLOSING_DATABASE_URL, else the default; a plain path means SQLite. A
    value of only spaces is refused rather than taken as a file name."""
    given = explicit if explicit is not None else os.environ.get("CLOSING_DATABASE_URL")
    where = "the database URL (--database or CLOSING_DATABASE_URL)"
    if given is not None and given != "" and not given.strip():
        raise UsageError(f"{where} is blank; give a database URL or path, or leave it unset")
    if given and given != given.strip():
        raise UsageError(f"{where} '{shortened(given)}' has spaces around it; remove them")
    if given and len(given) > 4096:
        raise UsageError(f"{where} is {len(given):,} characters long; at most 4,096")
    url = given or default_database_url(create_folder)
    if "://" not in url:
        try:
            url = f"sqlite:///{Path(url).expanduser().resolve()}"
        except (RuntimeError, OSError) as error:  # a symlink loop, a name too long
            raise DatabaseError(f"cannot open database {neutral(url)}: {error}") from None
    return url


def read_only_options(file: Path) -> dict[str, str]:
    """SQLite's URI options for a file we cannot write, or in a folder we cannot write (a
    read-only mount, where SQLite could not make its -wal and -shm files): read as it is, a write
    refused in one line."""
    if not os.access(file.parent, os.W_OK):
        return {"mode": "ro", "immutable": "1"}
    return {} if os.access(file, os.W_OK) else {"mode": "ro"}


_URI_HINT = "like sqlite:///file:/path/closing.db?mode=ro&uri=true"


# --- where a URL points --------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """What a database URL names: the dialect, and for SQLite the file (None in memory) and the
    URI sqlite3 opens, for PostgreSQL the libpq connection string."""

    url: str
    dialect: str  # "sqlite" or "postgresql"
    masked: str  # the URL with any password hidden, for messages
    file: Path | None = None
    sqlite_uri: str | None = None  # the file: URI sqlite3 opens (before any mode is added)
    sqlite_options: tuple[tuple[str, str], ...] = ()
    conninfo: str | None = None


def locate(url: str) -> Location:
    """Where `url` points: `sqlite:///PATH` (relative to this folder; `sqlite:////abs` absolute),
    `sqlite:///file:PATH?mode=ro&uri=true` (SQLite's own URI options), `sqlite://` (in memory),
    or `postgresql+psycopg://USER@HOST/DB` (libpq's options, such as `?options=...`)."""
    masked = masked_url(url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise DatabaseError(f"cannot use database {masked}: not a database URL; {_KNOWN_URLS}")
    if scheme in ("sqlite", "sqlite+pysqlite"):
        return _sqlite_location(url, masked, rest)
    if scheme in ("postgresql", "postgresql+psycopg", "postgres"):
        return Location(url, "postgresql", masked, conninfo=f"postgresql://{rest}")
    if scheme.startswith("postgresql+"):
        raise DatabaseError(
            f"cannot use database {masked}: closing talks to PostgreSQL through psycopg 3; "
            "write postgresql+psycopg://USER@HOST/DB"
        )
    raise DatabaseError(
        f"cannot use database {masked}: {neutral(scheme[:40])} is not a database closing "
        f"knows; {_KNOWN_URLS}"
    )


_KNOWN_URLS = (
    "give sqlite:///PATH or postgresql+psycopg://USER@HOST/DB in CLOSING_DATABASE_URL or --database"
)


def _sqlite_location(url: str, masked: str, rest: str) -> Location:
    path, _, query = rest.partition("?")
    options = parse_qsl(query, keep_blank_values=True)
    uri = dict(options).get("uri", "").lower() in ("true", "1")
    if path.startswith("/"):
        path = path[1:]
    if not path or path == ":memory:":
        return Location(url, "sqlite", masked, sqlite_uri="file::memory:")
    if uri:
        if not path.startswith("file:"):
            # SQLite would take the whole `path?mode=ro` as a file name and create that file.
            raise DatabaseError(
                f"cannot use database {masked}: with uri=true the path must be a file: URI, "
                f"{_URI_HINT}"
            )
        parts = urlsplit(path)
        kept = tuple((k, v) for k, v in options if k != "uri")
        inner = tuple(parse_qsl(parts.query, keep_blank_values=True))
        everything = inner + kept
        if dict(everything).get("mode") == "memory" or not parts.path:
            return Location(url, "sqlite", masked, sqlite_uri=f"file:{quote(parts.path)}")
        file = Path(unquote(parts.path))
        return Location(
            url, "sqlite", masked, file, f"file:{quote(str(file))}", sqlite_options=everything
        )
    if options:
        # An option sqlite3 would silently not apply (`?mode=ro` without `uri=true`).
        names = ", ".join(sorted({neutral(k[:40]) for k, _ in options}))
        raise DatabaseError(
            f"cannot use database {masked}: option {names} is not applied; SQLite options need "
            f"the URI form, {_URI_HINT}"
        )
    file = Path(unquote(path))
    return Location(url, "sqlite", masked, file, f"file:{quote(str(file))}")
