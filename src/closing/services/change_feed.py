"""Whether a web server can be told of changes as they happen: on PostgreSQL a listener on
migration 0011's `closing_change` notifications (started here, stopped by its caller); on
SQLite nothing (one machine: the pollers' short interval is the way)."""

from __future__ import annotations

from collections.abc import Callable

from closing.store.connection import Database
from closing.store.notify import ChangeListener as ChangeListener  # stopped by its caller


def listen_for_changes(database: Database, on_change: Callable[[], None]) -> ChangeListener | None:
    """A started listener calling `on_change` (from its own thread) at every change, or None."""
    if database.dialect != "postgresql":
        return None
    listener = ChangeListener(database, on_change)
    listener.start()
    return listener
