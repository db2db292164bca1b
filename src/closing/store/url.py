"""Where the database is: --database, else CLOSING_DATABASE_URL, else a SQLite file in the user's
data folder. A plain path means a SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

from closing.domain.errors import DatabaseError, UsageError
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
