"""What the tests share: where things are, a private PostgreSQL schema, the CLI run in-process,
deal files, a stepped clock, and waiting for something to happen.

Fixtures live in conftest.py and are built from these; test modules import shared code from here,
never from one another or from conftest.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from closing.store.connection import Connection

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "workflows" / "neotherapeutics-2002-06-07.yaml"
WIRES_DEAL = ROOT / "tests" / "fixtures" / "neotherapeutics-wires.yaml"  # with wire instructions
POSTGRES_URL = os.environ.get("CLOSING_TEST_POSTGRES_URL", "")
NO_POSTGRES = "set CLOSING_TEST_POSTGRES_URL=postgresql+psycopg://... to run on PostgreSQL"


# --- databases -----------------------------------------------------------------------------------


@contextmanager
def postgres_schema(upgrade: bool = True) -> Iterator[str]:
    """A URL for a new schema of the PostgreSQL test server, dropped afterwards; with `upgrade`
    its tables are made first, as `closing db upgrade` makes them."""
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    try:
        if upgrade:
            from closing.store.connection import Database

            Database(url).upgrade()
            with admin.begin() as connection:  # alice and bob may do anything the owner may
                for role in TEST_ROLES:
                    connection.execute(text(f"GRANT ALL ON SCHEMA {schema} TO {role}"))
                    for things in ("TABLES", "SEQUENCES", "FUNCTIONS"):
                        connection.execute(
                            text(f"GRANT ALL ON ALL {things} IN SCHEMA {schema} TO {role}")
                        )
            url = as_account(url, "alice")
        yield url
    finally:
        from closing.store.connection import close_databases

        close_databases()  # a connection left open would hold the schema's tables
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# --- the CLI in this process ---------------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Cli:
    """Runs `closing` in this process with a frozen clock, as a terminal 100 columns wide."""

    database_url: str
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    now: str = "2002-06-07T08:00:00-07:00"
    accounts: bool = True  # False: connect as CLOSING_DATABASE_URL says, nobody stood in for

    def __call__(self, *args: str, now: str | None = None) -> Result:
        """`closing ARGS` by alice, or by the account a first word `@bob` names (the OS account
        on SQLite, the database role on PostgreSQL: `as_account`)."""
        from closing.cli import main

        account = "alice"
        if args and args[0].startswith("@"):
            account, args = args[0][1:], args[1:]
        self.monkeypatch.setenv("CLOSING_NOW", now or self.now)
        url = os.environ.get("CLOSING_DATABASE_URL", self.database_url)  # as the test set it
        if self.accounts:
            self.monkeypatch.setenv("CLOSING_DATABASE_URL", as_account(url, account))
        self.monkeypatch.setattr("closing.store.identity.os_account", lambda: account)
        self.capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        finally:
            self.monkeypatch.setenv("CLOSING_DATABASE_URL", url)
            self.monkeypatch.setattr("closing.store.identity.os_account", lambda: "alice")
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


TEST_ROLES = ("alice", "bob")  # the accounts tests act as; on PostgreSQL roles of that name


def as_owner(url: str) -> str:
    """The URL of the same schema as its owner (the test server's superuser): for a test that
    tampers with the record, which on PostgreSQL starts with `SET session_replication_role =
    replica` (the append-only triggers do not fire)."""
    for account in TEST_ROLES:
        url = url.replace(f"-crole%3D{account}%20", "")
    return url


def as_account(url: str, account: str) -> str:
    """The URL a test's `account` connects with: on SQLite the same (the account is the OS
    account, patched in this process); on PostgreSQL the test's schema with `role=account` (the
    server's `current_user`, which the database records), alice's unless said otherwise."""
    if url.startswith("sqlite") or "csearch_path" not in url:
        return url
    return as_owner(url).replace(
        "options=-csearch_path", f"options=-crole%3D{account}%20-csearch_path"
    )


# --- deal files ----------------------------------------------------------------------------------


def deal_with_purchasers(path: Path, count: int) -> Path:
    """The seed deal with `count` small purchasers p01..pNN instead of Schedule 1."""
    text = SEED.read_text()
    head = text[: text.index("purchasers:")]
    rows = "".join(
        f"  - name: Purchaser {n:02d}\n    slug: p{n:02d}\n    shares: 1,000\n"
        f"    purchase_price: $232.50\n    warrant_shares: 100\n"
        for n in range(1, count + 1)
    )
    path.write_text(head + "purchasers:\n" + rows)
    return path


# --- time ----------------------------------------------------------------------------------------


class SteppedClock:
    """A `closing.domain.clock.Clock` that stands still until a test moves it (never backwards)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def step(self, delta: timedelta) -> datetime:
        return self.to(self.at + delta)

    def to(self, at: datetime) -> datetime:
        assert at >= self.at, f"the clock would go back from {self.at} to {at}"
        self.at = at
        return at


# `closing` in a process of its own that Ctrl-C (SIGINT) stops, whatever the test process
# inherited: a shell runs a background job with SIGINT ignored, and a process started with it
# ignored never installs Python's handler (pytest run with `&` would make these tests hang).
INTERRUPTIBLE_CLOSING = [
    sys.executable,
    "-c",
    "import runpy, signal\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "runpy.run_module('closing', run_name='__main__', alter_sys=True)\n",
]


def accepted_events(
    deal: Any, party: Any, start: datetime, wanted: list[tuple[str, str, int]]
) -> list[Any]:
    """The events of `wanted` (kind, step, minutes after `start`) the party's machine accepts,
    in order, as its log: a `receipt` is on the wire, a `withdraw` names no step, a wire marked
    or received brings $100.00."""
    from decimal import Decimal

    from closing.domain.events import Event, replay
    from closing.domain.machine import Refusal

    events: list[Event] = []
    for kind, step, minutes in wanted:
        at = start + timedelta(minutes=minutes)
        paid = kind == "receipt" or (kind, step) == ("mark", "wired")
        step = "wired" if kind == "receipt" else ("" if kind == "withdraw" else step)
        candidate = Event(
            0,
            party.id,
            len(events) + 1,
            kind,
            step,
            at,
            at,
            "alice",
            "vm",
            amount=Decimal("100.00") if paid else None,
        )
        try:
            replay(deal.machine, [*events, candidate])
        except Refusal:
            continue
        events.append(candidate)
    return events


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy (returned) or `timeout` seconds pass
    (AssertionError naming `what` and the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.1f}s waiting for {what}; last: {value!r}"
            )
        time.sleep(every)


# --- the seed closing with the company's wire instructions ---------------------------------------

FRIDAY = "2002-06-07T{}:00-07:00"


def run_all(cli: Cli, steps: list[tuple[tuple[str, ...], str]]) -> Cli:
    """Each command at its time on the closing day (`"09:10"`); each must succeed."""
    for args, at in steps:
        result = cli(*args, now=FRIDAY.format(at))
        assert result.code == 0, (args, result.err)
    return cli


def load_wires_deal(cli: Cli, path: Path) -> Cli:
    """The deal at `path` (a copy of WIRES_DEAL) loaded by alice at 07:00, bob on the team as its
    verifier; the prospectus
    supplement delivered, both purchasers signed; the wire instructions not verified yet."""
    return run_all(
        cli,
        [
            (("init", str(path)), "07:00"),
            (("team", "add", "bob", "--role", "verifier"), "07:00"),
            (("mark", "company", "prospectus_delivered"), "07:45"),
            (("mark-signed", "stonestreet", "--at", "08:30"), "09:10"),
            (("mark-signed", "bnc"), "09:10"),
        ],
    )


AS_ALICE = "import closing.store.identity as _identity; _identity.os_account = lambda: 'alice'\n"
"""The first line of a `python -c` test process that acts as alice, as the in-process Cli does
(the OS account is patched in that process: on SQLite, who can run it can write the file)."""

VERIFY_INSTRUCTIONS = (
    "@bob",
    "wire-instructions",
    "verify",
    "--callback-number",
    "+1 949 788 6700",
    "--spoke-with",
    "Samuel Gulko",
)
"""bob's callback to the number the deal file gives: the second person's verification."""


@contextmanager
def tampering(database_url: str) -> Iterator[Connection]:
    """A transaction of someone who can write the database behind closing's back: on PostgreSQL
    the schema's owner with the append-only triggers off (a superuser's `session_replication_role
    = replica`); on SQLite whoever can write the file."""
    from closing.store.connection import Database

    with Database(as_owner(database_url)).transaction() as connection:
        if not connection.sqlite:
            connection.execute("SET LOCAL session_replication_role = replica")
        yield connection


# --- the board as JSON ---------------------------------------------------------------------------


def board_json(cli: Cli, now: str, *extra: str) -> dict[str, Any]:
    """`closing status --json` at `now` (exit 0 asserted), parsed."""
    import json

    result = cli("status", "--json", *extra, now=now)
    assert result.code == 0, result.err
    document: dict[str, Any] = json.loads(result.out)
    return document


def purchaser_row(document: dict[str, Any], slug: str) -> dict[str, Any]:
    """One purchaser's row of a board document."""
    found: dict[str, Any] = next(p for p in document["purchasers"] if p["slug"] == slug)
    return found


def statuses(document: dict[str, Any], slug: str) -> dict[str, str]:
    """Each step's status of one purchaser of a board document."""
    return {step: s["status"] for step, s in purchaser_row(document, slug)["steps"].items()}
