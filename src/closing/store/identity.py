"""Who is writing, as the system authenticated them: on SQLite the process's OS account (from its
user id, never an environment variable: the boundary is the database file's permissions); on
PostgreSQL the server's `current_user`, which the database itself checks on every event appended
(migration 0008's trigger), so a changed client or a hand-written INSERT cannot record an event
as someone else."""

from __future__ import annotations

import functools
import os
import pwd

from closing.domain.events import on_behalf, who_text
from closing.store.connection import Connection


@functools.cache
def os_account() -> str:
    """The OS account this process runs as, from its effective user id (what the kernel
    authenticated; `USER`, `LOGNAME` and `CLOSING_OPERATOR` are only text)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a user id with no entry in the password database (a bare container)
        return f"uid:{os.geteuid()}"


def actor(connection: Connection) -> str:
    """The authenticated actor of `connection`'s transaction: no round trip on SQLite, one the
    first time a PostgreSQL transaction asks."""
    if connection.authenticated is None:
        connection.authenticated = (
            os_account() if connection.sqlite else str(connection.value("SELECT current_user"))
        )
    return connection.authenticated


def actor_shown(connection: Connection, typed: str | None) -> str:
    """`alice`, or `alice for Mary Jones` when `--by` named someone else: who a share link, a
    dismissal or a credit was made by, in words."""
    who = actor(connection)
    return who_text(who, on_behalf(who, typed))
