"""Who is writing, as the system authenticated them: on SQLite the process's OS account (from its
user id, never an environment variable: the boundary is the database file's permissions); on
PostgreSQL the server's `current_user`, which the database itself checks on every event appended
(migration 0008's trigger), so a changed client or a hand-written INSERT cannot record an event
as someone else."""

from __future__ import annotations

import functools
import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager

from closing.domain.events import on_behalf, who_text
from closing.store.connection import Connection, Database


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


@contextmanager
def acting_as(database: Database, login: str) -> Iterator[None]:
    """This thread's transactions on `database` inside the block are `login`'s, as the web
    server authenticated them: on SQLite the connection's actor; on PostgreSQL each transaction
    runs as the member's role (`SET LOCAL ROLE`; the server's role is a member of it), so the
    database's own identity and role checks hold for the web too."""
    local = database._local
    before = getattr(local, "member", None)
    local.member = login
    try:
        yield
    finally:
        local.member = before
