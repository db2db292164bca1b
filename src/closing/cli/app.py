"""The application object every command gets (hatch's shape): the clock, the database, and the one
stdout and one stderr Console of the process, built once."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from closing.clock import Clock, LocalTime, clock_from_env, parse_instant, parse_local

if TYPE_CHECKING:
    from rich.console import Console

    from closing.db.store import Store


class App:
    """What every command gets: the clock, the database, and the consoles."""

    def __init__(self, database: str | None, debug: bool) -> None:
        self.database = database
        self.debug = debug
        self._clock: Clock | None = None
        self._store: Store | None = None
        self._consoles: dict[bool, Console] = {}

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            self._clock = clock_from_env()
        return self._clock

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def store(self) -> Store:
        if self._store is None:
            from closing.db.store import Store, database_url

            self._store = Store(database_url(self.database))
        return self._store

    def console(self, stderr: bool = False) -> Console:
        """The process's Console for stdout (or stderr), built on first use (Rich is imported
        only by commands that draw)."""
        if stderr not in self._consoles:
            from rich.console import Console

            self._consoles[stderr] = Console(stderr=stderr, highlight=False, soft_wrap=False)
        return self._consoles[stderr]

    def out(self, text: str) -> None:
        click.echo(text)

    def print_json(self, data: Any) -> None:
        """Indented for a person at a terminal; compact when piped to a program. orjson writes
        the 10,000-purchaser board in a tenth of the time `json` takes."""
        import orjson

        option = orjson.OPT_INDENT_2 if sys.stdout.isatty() else 0
        click.echo(orjson.dumps(data, option=option).decode())


pass_app = click.make_pass_decorator(App)

deal_option = click.option(
    "--deal",
    "deal_name",
    envvar="CLOSING_DEAL",
    show_envvar=True,
    metavar="SLUG",
    help="The deal (slug or prefix); needed when several are loaded.",
)


def operator(by: str | None) -> str:
    """--by, else CLOSING_OPERATOR, else the OS user."""
    if by:
        return by
    env = os.environ.get("CLOSING_OPERATOR", "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def instant(value: str | None, what: str) -> datetime | None:
    return None if value is None else parse_instant(value, what)


def local_time(value: str | None, what: str) -> LocalTime | None:
    """A time the operator typed, read in the deal's zone when it has no offset."""
    return None if value is None else parse_local(value, what)


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"
