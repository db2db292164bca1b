"""Bad input, table-driven: CLI arguments, deal files, the environment and database faults. Each one
ends with its documented exit code and one line on stderr (no traceback, no `Internal error`),
nothing on stdout, and nothing written: every table of the database hashes the same before and
after, and a database that was not there is still not there."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from closing.domain.errors import ExitCode
from tests.conftest import BACKENDS
from tests.helpers import POSTGRES_URL, SEED, as_owner, postgres_schema

NOW = "2002-06-07T13:00:00-07:00"
SEED_TEXT = SEED.read_text(encoding="utf-8")
USAGE, DEAL_FILE, NOT_FOUND, REFUSED, DATABASE, ALERTS = (
    ExitCode.USAGE,
    ExitCode.DEAL_FILE,
    ExitCode.NOT_FOUND,
    ExitCode.REFUSED,
    ExitCode.DATABASE,
    ExitCode.ALERTS,
)
LONG = "x" * 2001
HUGE = "a" * 100_000


# --- what the database holds -------------------------------------------------------------------


def database_digest(url: str) -> str:
    """A hash of every row of every table (`absent` when a SQLite file is not there; the file's
    bytes when it is not a database SQLite can read), as the tables' owner reads them (a member
    does not read the web server's secrets)."""
    from sqlalchemy import create_engine, inspect, text

    from closing.store.url import locate

    file = locate(url).file
    if file is not None:
        if not file.exists():
            return "absent"
        if file.is_dir():
            return "folder:" + ",".join(sorted(p.name for p in file.iterdir()))
        try:
            connection = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
            connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
            connection.close()
        except sqlite3.DatabaseError:
            return "bytes:" + hashlib.sha256(file.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    engine = create_engine(as_owner(url))  # every row, as the tables' owner reads them
    try:
        with engine.connect() as connection:
            for name in sorted(inspect(connection).get_table_names()):
                rows = connection.execute(text(f'SELECT * FROM "{name}"')).all()
                digest.update(name.encode())
                for row in sorted(repr(tuple(row)) for row in rows):
                    digest.update(row.encode())
    finally:
        engine.dispose()
    return digest.hexdigest()


# --- deal files ----------------------------------------------------------------------------------


def edited(*edits: tuple[str, str]) -> Callable[[], str]:
    """The seed deal file with each `(old, new)` replaced once."""

    def build() -> str:
        text = SEED_TEXT
        for old, new in edits:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        return text

    return build


def literal(text: str) -> Callable[[], str]:
    return lambda: text


def alias_bomb() -> str:
    """Nine levels of nine aliases: 387 million nodes if expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    return "\n".join(lines) + "\n"


def many_aliases() -> str:
    return "x: &x 1\nitems:\n" + "".join("  - *x\n" for _ in range(10_001))


def deeply_nested() -> str:
    return "title: " + "[" * 100 + "]" * 100 + "\n"


def name(value: str) -> Callable[[], str]:
    """The seed with Stonestreet's name replaced by a double-quoted YAML string."""
    return edited(
        ("  - name: Stonestreet Limited Partnership", f'  - name: "{value}"'),
    )


def notify(url: str) -> Callable[[], str]:
    return edited(("  notify: []", f'  notify: ["{url}"]'))


PRICE = "purchase_price: $450,000"


# --- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """One bad input: the command line (`{deal}` is the written deal file), the environment, and
    what must come back."""

    args: tuple[str, ...]
    code: int
    says: str  # a part of the one-line message
    env: dict[str, str] = field(default_factory=dict)
    deal: Callable[[], str] | None = None
    secret: str | None = None  # must appear nowhere in the output


def bad(*args: str, code: int, says: str, **extra: object) -> Bad:
    return Bad(tuple(args), code, says, **extra)  # type: ignore[arg-type]


def init(deal: Callable[[], str], says: str, secret: str | None = None) -> Bad:
    return Bad(("init", "{deal}"), DEAL_FILE, says, deal=deal, secret=secret)


WIRE = ("mark-wired", "stonestreet", "--amount")

SEEDED: dict[str, Bad] = {
    # amounts: only digits, an optional $, commas every three digits, up to two decimals
    "amount 1e28": bad(*WIRE, "1e28", code=REFUSED, says="'1e28' is not an amount"),
    "amount spaced commas": bad(*WIRE, "4,5,0,0,0,0", code=REFUSED, says="is not an amount"),
    "amount full-width": bad(*WIRE, "４５０,０００", code=REFUSED, says="is not an amount"),
    "amount exponent": bad(*WIRE, "4.5e5", code=REFUSED, says="is not an amount"),
    "amount trailing point": bad(*WIRE, "450,000.", code=REFUSED, says="is not an amount"),
    "amount negative": bad(*WIRE, "-5", code=REFUSED, says="not a positive amount"),
    "amount zero": bad(*WIRE, "0", code=REFUSED, says="not a positive amount"),
    "amount fraction of a cent": bad(*WIRE, "450000.001", code=REFUSED, says="whole cents"),
    "amount huge exponent": bad(*WIRE, "1e999999", code=REFUSED, says="is not an amount"),
    "amount NaN": bad(*WIRE, "NaN", code=REFUSED, says="is not an amount"),
    "amount Infinity": bad(*WIRE, "Infinity", code=REFUSED, says="is not an amount"),
    "amount hex": bad(*WIRE, "0x10", code=REFUSED, says="is not an amount"),
    "amount two dollars": bad(*WIRE, "$$450000", code=REFUSED, says="is not an amount"),
    "amount space inside": bad(*WIRE, "450 000", code=REFUSED, says="is not an amount"),
    "amount underscore": bad(*WIRE, "450_000", code=REFUSED, says="is not an amount"),
    "amount leading zero": bad(*WIRE, "0450000", code=REFUSED, says="is not an amount"),
    "amount a trillion": bad(*WIRE, "1,000,000,000,000", code=REFUSED, says="too large"),
    "amount empty": bad(*WIRE, "", code=REFUSED, says="is not an amount"),
    "amount escape": bad(*WIRE, "\x1b[2J", code=USAGE, says="--amount contains an escape"),
    "amount newline": bad(*WIRE, "450000\n1", code=USAGE, says="--amount contains a line"),
    "amount 101 chars": bad(*WIRE, "9" * 101, code=USAGE, says="--amount is 101 characters"),
    "amount on a step that is not a payment": bad(
        "mark", "bnc", "faxed", "--amount", "5", code=REFUSED, says="is not a payment"
    ),
    # times
    "--at year 1": bad(
        "mark-signed", "bnc", "--at", "0001-01-01T00:00+00:00", code=USAGE, says="out of range"
    ),
    "--at year 9999": bad(
        "mark-signed", "bnc", "--at", "9999-12-31T23:59-12:00", code=USAGE, says="out of range"
    ),
    "--at words": bad("mark-signed", "bnc", "--at", "yesterday", code=USAGE, says="not a time"),
    "--at 25:00": bad("mark-signed", "bnc", "--at", "25:00", code=USAGE, says="not a time"),
    "--at bad offset": bad(
        "mark-signed", "bnc", "--at", "2002-06-07T09:00+25:00", code=USAGE, says="not a time"
    ),
    "--at empty": bad("mark-signed", "bnc", "--at", "", code=USAGE, says="not a time"),
    "--at huge": bad("mark-signed", "bnc", "--at", HUGE, code=USAGE, says="100,000 characters"),
    "--at future": bad(
        "mark-wired", "stonestreet", "--at", "2002-06-07T14:00-07:00", code=REFUSED, says="future"
    ),
    "--at before the deal": bad(
        "mark-wired", "stonestreet", "--at", "2002-06-06T14:00-07:00", code=REFUSED, says="before"
    ),
    "--as-of year 1": bad(
        "status", "--as-of", "0001-01-01T00:00+00:00", code=USAGE, says="out of range"
    ),
    "--as-of future": bad(
        "status", "--as-of", "2002-06-08T00:00-07:00", code=USAGE, says="in the future"
    ),
    "--as-of words": bad("status", "--as-of", "noon", code=USAGE, says="not a time"),
    "share --url with markup": bad(
        "share",
        "bnc",
        "--url",
        'https://x.example/"><script>',
        code=USAGE,
        says="is not a plain web address",
    ),
    "choice argument missing": bad(
        "team",
        "passkeys",
        code=USAGE,
        says="Missing argument '{required|optional}'. Choose from: required, optional",
    ),
    "group without a command": bad(
        "team", code=USAGE, says="closing team needs a command: add, grant, invite, list"
    ),
    "--as-of skipped by DST": bad(
        "status",
        "--as-of",
        "2002-04-07 02:30",
        code=USAGE,
        says="2002-04-07 02:30 does not exist in America/Los_Angeles: the clocks skipped it for "
        "daylight saving time; give the time with its offset (like 2002-04-07T03:30-07:00)",
    ),
    "--as-of twice at DST": bad(
        "status",
        "--as-of",
        "2001-10-28 01:30",
        code=USAGE,
        says="2001-10-28 01:30 happens twice in America/Los_Angeles: the clocks went back; give "
        "the time with its offset: 2001-10-28T01:30-07:00 (the first) or 2001-10-28T01:30-08:00 "
        "(the second)",
    ),
    "--at skipped by DST": bad(
        "mark-signed", "stonestreet", "--at", "2002-04-07 02:00", code=USAGE, says="does not exist"
    ),
    "--as-of json year 9999": bad(
        "status", "--json", "--as-of", "9999-01-01T00:00Z", code=USAGE, says="out of range"
    ),
    # notes, operators, reasons, evidence: one line, at most 2,000 characters
    "--note newline": bad(
        "mark-wired", "stonestreet", "--note", "ok\n#9 forged", code=USAGE, says="line break"
    ),
    "--note escape": bad(
        "mark-wired", "stonestreet", "--note", "\x1b[2J", code=USAGE, says="escape character"
    ),
    "--note bidi override": bad(
        "mark-wired", "stonestreet", "--note", "abc\u202edef", code=USAGE, says="U+202E"
    ),
    "--note bidi isolate": bad(
        "mark-wired", "stonestreet", "--note", "\u2066x\u2069", code=USAGE, says="U+2066"
    ),
    "--note C1 CSI": bad("mark-wired", "stonestreet", "--note", "\x9b2J", code=USAGE, says="\\x9b"),
    "--note line separator": bad(
        "mark-wired", "stonestreet", "--note", "a\u2028b", code=USAGE, says="U+2028"
    ),
    "--note 2,001 chars": bad(
        "mark-wired", "stonestreet", "--note", LONG, code=USAGE, says="2,001 characters"
    ),
    "--by newline": bad(
        "mark-wired", "stonestreet", "--by", "bob\nlevel=INFO", code=USAGE, says="contains a line"
    ),
    "--by 2,001 chars": bad("mark-wired", "stonestreet", "--by", LONG, code=USAGE, says="2,001 ch"),
    "--reason newline": bad(
        "undo", "bnc", "wired", "--reason", "a\nb", code=USAGE, says="--reason contains"
    ),
    "--reason 2,001 chars": bad(
        "undo", "bnc", "wired", "--reason", LONG, code=USAGE, says="--reason is 2,001"
    ),
    "--reason blank": bad("undo", "bnc", "wired", "--reason", "  ", code=REFUSED, says="a reason"),
    "--reference newline": bad(
        "mark-wired", "stonestreet", "--reference", "FED\nREF", code=USAGE, says="--reference"
    ),
    "--confirmation 2,001 chars": bad(
        "mark-faxed", "bnc", "--confirmation", LONG, code=USAGE, says="--confirmation is"
    ),
    "--tracking C1": bad(
        "mark-delivered", "bnc", "--tracking", "\x85x", code=USAGE, says="--tracking contains"
    ),
    "--evidence separator": bad(
        "mark", "bnc", "faxed", "--evidence", "a\u2029b", code=USAGE, says="--evidence contains"
    ),
    # purchasers, steps, deals
    "purchaser 100 kB": bad("mark-signed", HUGE, code=USAGE, says="PURCHASER is 100,000"),
    "purchaser newline": bad("mark-signed", "bnc\nx", code=USAGE, says="PURCHASER contains"),
    "purchaser empty": bad("mark-signed", "", code=NOT_FOUND, says="no purchaser ''"),
    "purchaser percent": bad("mark-signed", "%", code=NOT_FOUND, says="purchaser '%' is too short"),
    "purchaser underscore": bad("mark-signed", "_", code=NOT_FOUND, says="'_' is too short"),
    "purchaser wildcards": bad("mark-signed", "%%%", code=NOT_FOUND, says="no purchaser '%%%'"),
    "purchaser unknown": bad("mark-signed", "acme", code=NOT_FOUND, says="no purchaser 'acme'"),
    "step unknown": bad("mark", "bnc", "funded", code=NOT_FOUND, says="has no step 'funded'"),
    "step 100 kB": bad("mark", "bnc", HUGE, code=USAGE, says="STEP is 100,000"),
    "--deal 100 kB": bad("status", "--deal", HUGE, code=USAGE, says="--deal is 100,000"),
    "--deal unknown": bad("status", "--deal", "acme", code=NOT_FOUND, says="no deal 'acme'"),
    "deal argument unknown": bad("status", "acme", code=NOT_FOUND, says="no deal 'acme'"),
    "deal argument escape": bad("status", "\x1b]0;x\x07", code=USAGE, says="DEAL contains"),
    "history purchaser unknown": bad("history", "acme", code=NOT_FOUND, says="no purchaser"),
    "history purchaser 100 kB": bad("history", HUGE, code=USAGE, says="PURCHASER is 100,000"),
    # refusals of the closing itself
    "already marked": bad("mark-signed", "bnc", code=REFUSED, says="already marked signed"),
    "out of order": bad("mark-faxed", "stonestreet", code=REFUSED, says="wired is not done"),
    "undo what is not done": bad(
        "undo", "stonestreet", "wired", "--reason", "x", code=REFUSED, says="wired is not done"
    ),
    # the command line itself
    "unknown command": bad("frobnicate", code=USAGE, says="No such command"),
    "unknown option": bad("status", "--colour", code=USAGE, says="No such option"),
    "missing argument": bad("mark-signed", code=USAGE, says="Missing argument 'PURCHASER'"),
    "undo without --reason": bad("undo", "bnc", "wired", code=USAGE, says="--reason"),
    "--refresh 0": bad("watch", "--refresh", "0", code=USAGE, says="--refresh"),
    "--refresh nan": bad("watch", "--refresh", "nan", code=USAGE, says="--refresh"),
    "--safety inf": bad("alerts", "run", "--safety", "inf", code=USAGE, says="--safety"),
    "--safety -1": bad("alerts", "run", "--safety", "-1", code=USAGE, says="--safety"),
    "option with escape": bad("status", "--\x1b[2J", code=USAGE, says="--\\x1b[2J"),
    "init a folder": bad("init", "/tmp", code=USAGE, says="is a directory"),
    "init no such file": bad("init", "/nonexistent/deal.yaml", code=DEAL_FILE, says="no such file"),
    "--database blank": bad("--database", " ", "status", code=USAGE, says="URL (--database or"),
    # the environment
    "CLOSING_NOW year 9999": bad(
        "status", env={"CLOSING_NOW": "9999-12-31T23:59-12:00"}, code=USAGE, says="out of range"
    ),
    "CLOSING_NOW year 1": bad(
        "status", env={"CLOSING_NOW": "0001-01-01T00:00+00:00"}, code=USAGE, says="out of range"
    ),
    "CLOSING_NOW words": bad("status", env={"CLOSING_NOW": "noon"}, code=USAGE, says="not an ISO"),
    "CLOSING_NOW naive": bad(
        "status", env={"CLOSING_NOW": "2002-06-07T13:00"}, code=USAGE, says="no UTC offset"
    ),
    "CLOSING_NOW @nan": bad(
        "status", env={"CLOSING_NOW": f"{NOW}@nan"}, code=USAGE, says="after @ comes"
    ),
    "CLOSING_NOW @inf": bad(
        "status", env={"CLOSING_NOW": f"{NOW}@inf"}, code=USAGE, says="after @ comes"
    ),
    "CLOSING_NOW @-5": bad("status", env={"CLOSING_NOW": f"{NOW}@-5"}, code=USAGE, says="after @"),
    "CLOSING_NOW @1e300": bad(
        "status", env={"CLOSING_NOW": f"{NOW}@1e300"}, code=USAGE, says="after @ comes"
    ),
    "CLOSING_NOW @1e3": bad(
        "status", env={"CLOSING_NOW": f"{NOW}@1e3"}, code=USAGE, says="whole seconds"
    ),
    "CLOSING_NOW @1.5": bad(
        "status", env={"CLOSING_NOW": f"{NOW}@1.5"}, code=USAGE, says="whole seconds"
    ),
    "CLOSING_NOW @ full-width digits": bad(
        "status", env={"CLOSING_NOW": f"{NOW}@１２３"}, code=USAGE, says="whole seconds"
    ),
    "CLOSING_NOW @ 12 digits": bad(
        "status", env={"CLOSING_NOW": f"{NOW}@999999999999"}, code=USAGE, says="whole seconds"
    ),
    "CLOSING_NOW running past 2199": bad(
        "status", env={"CLOSING_NOW": "2199-12-31T23:59-12:00@0"}, code=USAGE, says="out of range"
    ),
    "CLOSING_NOW running before 1900": bad(
        "status",
        env={"CLOSING_NOW": "1900-01-01T00:00+00:00@99999999999"},
        code=USAGE,
        says="out of range",
    ),
    "CLOSING_OPERATOR newline": bad(
        "mark-wired",
        "stonestreet",
        env={"CLOSING_OPERATOR": "eve\nlevel=INFO"},
        code=USAGE,
        says="CLOSING_OPERATOR) contains a line break",
    ),
    "CLOSING_OPERATOR 3,000 chars": bad(
        "mark-wired",
        "stonestreet",
        env={"CLOSING_OPERATOR": "x" * 3000},
        code=USAGE,
        says="CLOSING_OPERATOR) is 3,000",
    ),
    "CLOSING_DEAL unknown": bad(
        "status", env={"CLOSING_DEAL": "acme"}, code=NOT_FOUND, says="no deal 'acme'"
    ),
    "CLOSING_DEAL newline": bad(
        "status", env={"CLOSING_DEAL": "a\nb"}, code=USAGE, says="--deal contains"
    ),
    "CLOSING_NOTIFY without scheme": bad(
        "alerts",
        "check",
        env={"CLOSING_NOTIFY": "hunter2-token"},
        code=USAGE,
        says="has no scheme",
        secret="hunter2-token",
    ),
    "CLOSING_NOTIFY unknown service": bad(
        "alerts",
        "check",
        env={"CLOSING_NOTIFY": "bogus://host/path"},
        code=ALERTS,
        says="not one apprise understands",
    ),
    "CLOSING_NOTIFY unset variable": bad(
        "alerts",
        "check",
        env={"CLOSING_NOTIFY": "json://${NO_SUCH_VARIABLE_SET}@host/"},
        code=ALERTS,
        says="export NO_SUCH_VARIABLE_SET",
    ),
    "CLOSING_DATABASE_URL blank": bad(
        "status", env={"CLOSING_DATABASE_URL": " "}, code=USAGE, says="is blank"
    ),
    "CLOSING_DATABASE_URL spaced": bad(
        "status", env={"CLOSING_DATABASE_URL": " /tmp/x.db "}, code=USAGE, says="spaces around"
    ),
    "CLOSING_DATABASE_URL ?mode=ro": bad(
        "status",
        env={"CLOSING_DATABASE_URL": "sqlite:////tmp/closing-hostile.db?mode=ro"},
        code=DATABASE,
        says="SQLite options need the URI form",
    ),
    "CLOSING_DATABASE_URL uri=true without file:": bad(
        "status",
        env={"CLOSING_DATABASE_URL": "sqlite:////tmp/closing-hostile.db?mode=ro&uri=true"},
        code=DATABASE,
        says="must be a file: URI",
    ),
    "CLOSING_DATABASE_URL unknown driver": bad(
        "status", env={"CLOSING_DATABASE_URL": "nosuchdb://host/x"}, code=DATABASE, says="cannot"
    ),
    "CLOSING_DATABASE_URL unreachable": bad(
        "deals",
        env={"CLOSING_DATABASE_URL": "postgresql+psycopg://u:s3cretpw@127.0.0.1:1/x"},
        code=DATABASE,
        says="cannot open database postgresql+psycopg://u:***@127.0.0.1:1/x",
        secret="s3cretpw",
    ),
    # deal files: refused as path:line: message, nothing loaded
    "deal alias bomb": init(alias_bomb, ":7: more than 1,000,000 keys, values and items"),
    "deal 10,001 aliases": init(many_aliases, "more than 10,000 aliases"),
    "deal nested 100 deep": init(deeply_nested, ":1: nested more than 32 levels deep"),
    "deal over 5 MB": init(literal("# " + "x" * (5 * 1024 * 1024) + "\n"), "larger than 5 MB"),
    "deal NUL byte": init(
        edited(("governing_law: California", "governing_law: Calif\x00ornia")), "a NUL byte"
    ),
    "deal escape byte": init(edited(("title: NeoTherapeutics", "title: \x1b[2JNeo")), "escape"),
    "deal DEL byte": init(edited(("governing_law: California", "governing_law: Ca\x7f")), "\\x7f"),
    "deal not UTF-8": init(literal("title: caf\udce9\n"), "not UTF-8"),
    "deal two documents": init(literal(SEED_TEXT + "---\nslug: other\n"), "one document"),
    "deal undefined alias": init(literal("title: *nowhere\n"), "undefined alias"),
    "deal recursive alias": init(literal("title: &x [*x]\n"), "refers to a node that contains it"),
    "deal duplicate anchor": init(literal("a: &x 1\nb: &x 2\n"), "duplicate anchor"),
    "deal a list": init(literal("- a\n- b\n"), ":1: a deal file is a mapping"),
    "deal empty": init(literal(""), ":1: a deal file is a mapping"),
    "deal key is a mapping": init(literal("? {a: b}\n: c\n"), "a key must be plain text"),
    "deal key with newline": init(literal('"a\\nb": c\n'), "key contains a line break"),
    "deal not YAML": init(literal("title: [unclosed\n"), "not valid YAML"),
    "deal purchase price 1e999999": init(edited((PRICE, "purchase_price: 1e999999")), "price"),
    "deal purchase price spaced commas": init(
        edited((PRICE, "purchase_price: 4,5,0,0,0,0")), "is not a price"
    ),
    "deal purchase price full-width": init(
        edited((PRICE, "purchase_price: ４５０,０００")), "is not a price"
    ),
    "deal purchase price a trillion": init(
        edited((PRICE, "purchase_price: 1,000,000,000,000")), "under $1,000,000,000,000"
    ),
    "deal shares beyond a trillion": init(
        edited(("shares: 1,935,483", "shares: 99999999999999999999")), "is not a share count"
    ),
    "deal negative warrant shares": init(
        edited(("warrant_shares: 193,548", "warrant_shares: -1")), "is not a whole number"
    ),
    "deal price per share exponent": init(
        edited(('price_per_share: "0.2325"', 'price_per_share: "1e-999999"')), "is not a price"
    ),
    "deal lead time 99999999999h": init(
        edited(("before: [2h, 30m]", "before: [99999999999h]")), "longer than 31 days"
    ),
    "deal lead time 32d": init(
        edited(("before: [2h, 30m]", "before: [32d]")), "longer than 31 days"
    ),
    "deal lead time 10**20 digits": init(
        edited(("before: [2h, 30m]", "before: [" + "9" * 40 + "h]")), "is not a duration"
    ),
    "deal overdue every 999999h": init(
        edited(
            ("  at_deadline: true", "  at_deadline: true\n  overdue: {every: 999999h, times: 3}")
        ),
        "longer than 31 days",
    ),
    "deal overdue 1000 times": init(
        edited(("  at_deadline: true", "  at_deadline: true\n  overdue: {every: 1h, times: 1000}")),
        "less than or equal to 100",
    ),
    "deal closing date 9999-12-31": init(
        edited(("closing_date: 2002-06-07", "closing_date: 9999-12-31")),
        "outside the years 1900 to 2199",
    ),
    "deal agreement date 0001-01-01": init(
        edited(("agreement_date: 2002-06-07", "agreement_date: 0001-01-01")), "outside the years"
    ),
    "deal extra closure 9999-12-31": init(
        edited(("extra_closures: []", "extra_closures: [9999-12-31]")), "outside the years"
    ),
    "deal due after itself": init(
        edited(
            ("      after: closing\n      business_days: 1\n", "      after: warrant_delivered\n")
        ),
        "is due after itself",
    ),
    "deal due 99999999 business days": init(
        edited(("      business_days: 1\n", "      business_days: 99999999\n")),
        "less than or equal to 366",
    ),
    "deal warrant term 10**20 years": init(
        edited(("term_years: 5", "term_years: 99999999999999999999")), "less than or equal"
    ),
    "deal name with newline": init(name("Stone\\nlevel=INFO event=all-clear"), "line break"),
    "deal name with escape": init(name("\\e[2JStonestreet"), "escape character"),
    "deal name with bidi override": init(name("Stone\\u202Eteerts"), "U+202E"),
    "deal name 3,000 chars": init(name("x" * 3000), "3,000 characters long"),
    "purchaser name 201 chars": init(name("x" * 201), "at most 200 characters"),
    "purchaser name without a slug": init(
        edited(
            (
                "  - name: Stonestreet Limited Partnership\n    slug: stonestreet\n",
                '  - name: "\u682a\u5f0f\u4f1a\u793e"\n',
            )
        ),
        "no slug can be made of the name",
    ),
    "deal title block with lines": init(
        edited(
            (
                "title: NeoTherapeutics, Inc. Securities Purchase Agreement (shares and warrants)",
                "title: |\n  line one\n  line two",
            )
        ),
        "title: contains a line break",
    ),
    "deal slug 300 chars": init(
        edited(("slug: neotherapeutics-2002-06-07", "slug: " + "a" * 300)), "at most 100"
    ),
    "deal notify password": init(
        notify("json://u:hunter2pw@hooks.example.com/"), "has a password in it", "hunter2pw"
    ),
    "deal notify slack tokens": init(
        notify("slack://T000SECRET/B000SECRET/XXXXSECRET"), "tokens", "SECRET"
    ),
    "deal notify ?token=": init(
        notify("json://hooks.example.com/?token=abcsecret"), "?token=", "abcsecret"
    ),
    "deal notify ?pass=": init(
        notify("mailto://smtp.example.com?to=a@example.com&pass=pwsecret"), "?pass=", "pwsecret"
    ),
    "deal notify without scheme": init(notify("tokensecret"), "not a notification", "tokensecret"),
}


# --- families of bad input, generated (each a case of its own) --------------------------------

# Characters that must never reach a record as text: an escape, bidi overrides and isolates, a
# C1 control, a separator, a bell, DEL, an invisible mark, NEL.
UNSAFE = {
    "escape": "\x1b[31m",
    "bidi override": "a\u202eb",
    "bidi isolate": "\u2066x\u2069",
    "C1 CSI": "\x9b2J",
    "line separator": "a\u2028b",
    "bell": "a\x07",
    "DEL": "a\x7f",
    "left-to-right mark": "a\u200eb",
    "NEL": "a\x85b",
}
TEXT_OPTIONS = {
    "--note": ("mark-wired", "stonestreet", "--note"),
    "--by": ("mark-wired", "stonestreet", "--by"),
    "--reason": ("undo", "bnc", "wired", "--reason"),
    "--reference": ("mark-wired", "stonestreet", "--reference"),
    "--confirmation": ("mark-faxed", "bnc", "--confirmation"),
    "--tracking": ("mark-delivered", "bnc", "--tracking"),
    "--evidence": ("mark", "bnc", "faxed", "--evidence"),
    "PURCHASER": ("mark-signed",),
    "--deal": ("status", "--deal"),
}
SAID = {"--by": " (or CLOSING_OPERATOR)"}
for option, command in TEXT_OPTIONS.items():
    for what, value in UNSAFE.items():
        SEEDED.setdefault(
            f"{option} {what} (generated)",
            bad(*command, value, code=USAGE, says=f"{option}{SAID.get(option, '')} contains"),
        )
    SEEDED.setdefault(
        f"{option} 2,001 chars (generated)",
        bad(*command, LONG, code=USAGE, says=f"{option}{SAID.get(option, '')} is 2,001 characters"),
    )

for amount in (
    "1,00",
    "12,34,567",
    "$",
    ".5",
    "5.",
    "+5",
    "5-",
    "٤٥٠",
    "0.00",
    "1e3",
    "5..0",
    "$ 5",
    "5$",
    "USD 5",
    "450000 USD",
    "4.50.000",
    "0x1F",
    "½",
):
    SEEDED.setdefault(
        f"amount {amount!r} (generated)", bad(*WIRE, amount, code=REFUSED, says="amount")
    )

ROW_IDS = ("99999999999999999999", "0", "abc", "1e3", "9223372036854775808")
for row_id in ROW_IDS:
    SEEDED[f"alerts dismiss {row_id}"] = bad(
        "alerts", "dismiss", row_id, "--reason", "x", code=USAGE, says="Invalid value for 'ID'"
    )
    SEEDED[f"alerts retry {row_id}"] = bad(
        "alerts", "retry", row_id, code=USAGE, says="Invalid value for 'ID'"
    )
    SEEDED[f"share --revoke {row_id}"] = bad(
        "share", "--revoke", row_id, code=USAGE, says="Invalid value for '--revoke'"
    )
# What an outgoing wire sent: something (a wire of nothing is a typing error).
for zero in ("0", "$0.00"):
    SEEDED[f"mark-sent --amount {zero}"] = bad(
        "mark-sent",
        "pa_fee",
        "--imad",
        "20190628QMGFT001000123",
        "--amount",
        zero,
        code=USAGE,
        says="is not a positive amount",
    )
# An alert's dismissal reason: one line of plain text, not empty (it is recorded and echoed).
for label, reason, says in (
    ("a terminal's title sequence", "\x1b]0;pwned\x07", "--reason contains"),
    ("a line break", "called\ncounsel", "--reason contains"),
    ("5,000 characters", "x" * 5000, "--reason is 5,000 characters long"),
    ("nothing", "   ", "--reason is empty"),
):
    SEEDED[f"alerts dismiss --reason: {label}"] = bad(
        "alerts", "dismiss", "1", "--reason", reason, code=USAGE, says=says
    )
for port in ("70000", "65536", "99999999999999999999", "abc", "-1"):
    SEEDED[f"serve --port {port}"] = bad(
        "serve", "--port", port, code=USAGE, says="Invalid value for '--port'"
    )
for port in ("0", "70000", "abc"):
    SEEDED[f"share --port {port}"] = bad(
        "share", "team", "--port", port, code=USAGE, says="Invalid value for '--port'"
    )

NOTIFY_SECRETS = {
    "Slack web hook": ("https://hooks.slack.com/services/T00/B00/XXXXSECRET", "web hook"),
    "Discord web hook": ("https://discord.com/api/webhooks/123/XXXXSECRET", "web hook"),
    "Discord (old host)": ("https://discordapp.com/api/webhooks/123/XXXXSECRET", "web hook"),
    "Telegram bot": ("https://api.telegram.org/bot123:XXXXSECRET/sendMessage", "web hook"),
    "Teams web hook": ("https://acme.webhook.office.com/webhookb2/XXXXSECRET", "web hook"),
    "Zapier hook": ("https://hooks.zapier.com/hooks/catch/1/XXXXSECRET/", "web hook"),
    "json +Authorization": ("json://example.com/h?+Authorization=XXXXSECRET", "header parameter"),
    "json +X-Api-Key": ("json://example.com/h?+X-Api-Key=XXXXSECRET", "header parameter"),
    "xml +X-Auth-Token": ("xml://example.com/h?+X-Auth-Token=XXXXSECRET", "header parameter"),
    "form +Cookie": ("form://example.com/h?+Cookie=XXXXSECRET", "header parameter"),
    "slack:// tokens": ("slack://TXXXXSECRET/BXXXX/CXXXX", "tokens in it"),
    "password in URL": ("mailto://user:XXXXSECRET@example.com", "password in it"),
    "?token=": ("json://example.com/h?token=XXXXSECRET", "?token= parameter"),
}
for label, (url, says) in NOTIFY_SECRETS.items():
    SEEDED[f"deal notify {label}"] = init(notify(url), says, secret="XXXXSECRET")
SEEDED["deal of 2.4 million small items"] = init(
    literal("x: [" + ",".join(["1"] * 2_400_000) + "]\n"), "more than 1,000,000 keys"
)
SEEDED["wires import /dev/zero"] = bad(
    "wires", "import", "/dev/zero", code=DEAL_FILE, says="more than a bank file"
)


@pytest.fixture(scope="module", params=BACKENDS)
def hostile_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The seed deal on each backend, once per module: the prospectus supplement delivered,
    Stonestreet signed, BNC signed and wired.
    Every case writes nothing, so they can all share it (and each proves it)."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'closing.db'}"
        else:
            url = stack.enter_context(postgres_schema())
        seed_hostile_database(url)
        yield url


def seed_hostile_database(url: str) -> None:
    from closing.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLOSING_DATABASE_URL", url)
        patch.setenv("CLOSING_OPERATOR", "alice")
        for args, now in [
            (["init", str(SEED)], "2002-06-07T07:00:00-07:00"),
            (["mark", "company", "prospectus_delivered"], "2002-06-07T08:00:00-07:00"),
            (["mark-signed", "stonestreet"], "2002-06-07T09:00:00-07:00"),
            (["mark-signed", "bnc"], "2002-06-07T09:30:00-07:00"),
            (["mark-wired", "bnc"], "2002-06-07T10:00:00-07:00"),
        ]:
            patch.setenv("CLOSING_NOW", now)
            with pytest.raises(SystemExit) as stop:
                main(args)
            assert stop.value.code == 0


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def run_in_process(
    args: list[str],
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Outcome:
    from closing.cli import main

    for key in ("CLOSING_DEAL", "CLOSING_NOTIFY", "CLOSING_DEBUG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CLOSING_NOW", NOW)
    monkeypatch.setenv("CLOSING_OPERATOR", "alice")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(args)
    captured = capsys.readouterr()
    return Outcome(int(stop.value.code or 0), captured.out, captured.err)


def assert_one_line(outcome: Outcome, code: int, says: str, secret: str | None = None) -> None:
    assert outcome.code == code, outcome.err
    assert outcome.out == ""
    assert outcome.err.endswith("\n") and outcome.err.count("\n") == 1, outcome.err
    assert "Traceback" not in outcome.err and "Internal error" not in outcome.err
    assert says in outcome.err, outcome.err
    assert outcome.err.isprintable() or outcome.err[:-1].isprintable()
    if secret is not None:
        assert secret not in outcome.err + outcome.out


@pytest.mark.parametrize("case", list(SEEDED.values()), ids=list(SEEDED))
def test_bad_input_is_one_line_and_writes_nothing(
    case: Bad,
    hostile_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each bad input: its exit code, one line on stderr saying what is wrong, nothing on stdout,
    no traceback, no secret echoed, and every table of the database as it was."""
    args = list(case.args)
    if case.deal is not None:
        deal_file = tmp_path / "deal.yaml"
        text = case.deal()
        if "\udce9" in text:  # a byte that is not UTF-8
            deal_file.write_bytes(text.encode("utf-8", "surrogateescape"))
        else:
            deal_file.write_text(text, encoding="utf-8")
        args = [str(deal_file) if a == "{deal}" else a for a in args]
    env = {"CLOSING_DATABASE_URL": hostile_database, **case.env}
    before = database_digest(hostile_database)
    outcome = run_in_process(args, env, monkeypatch, capsys)
    assert_one_line(outcome, case.code, case.says, case.secret)
    assert database_digest(hostile_database) == before


# --- databases with something wrong with them -------------------------------------------------


def missing(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nothing-here.db'}"


def empty_file(tmp_path: Path) -> str:
    (tmp_path / "empty.db").touch()
    return f"sqlite:///{tmp_path / 'empty.db'}"


def folder(tmp_path: Path) -> str:
    (tmp_path / "deals").mkdir()
    return f"sqlite:///{tmp_path / 'deals'}"


def seeded_copy(tmp_path: Path, name: str) -> Path:
    from closing.cli import main

    path = tmp_path / name
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLOSING_DATABASE_URL", f"sqlite:///{path}")
        patch.setenv("CLOSING_NOW", "2002-06-07T07:00:00-07:00")
        with pytest.raises(SystemExit):
            main(["init", str(SEED)])
    from closing.store.connection import close_databases

    close_databases()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def corrupt(tmp_path: Path) -> str:
    path = seeded_copy(tmp_path, "corrupt.db")
    with path.open("r+b") as file:  # printf XXXXXXXXXXXXXXXX | dd of=x.db conv=notrunc
        file.write(b"X" * 16)
    return f"sqlite:///{path}"


def future(tmp_path: Path) -> str:
    path = seeded_copy(tmp_path, "future.db")
    connection = sqlite3.connect(path)
    connection.execute("UPDATE alembic_version SET version_num = '0099'")
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


FAULTS: dict[str, tuple[Callable[[Path], str], list[str], int, str]] = {
    "missing: status": (missing, ["status"], DATABASE, "no database at "),
    "missing: status --json": (missing, ["status", "--json"], DATABASE, "no database at "),
    "missing: history": (missing, ["history"], DATABASE, "no database at "),
    "missing: deals": (missing, ["deals"], DATABASE, "run closing init FILE"),
    "missing: alerts list": (missing, ["alerts", "list"], DATABASE, "no database at "),
    "missing: db version": (missing, ["db", "version"], DATABASE, "no database at "),
    "missing: watch": (missing, ["watch"], DATABASE, "no database at "),
    "empty file: status": (empty_file, ["status"], DATABASE, "no database at "),
    "empty file: history": (empty_file, ["history"], DATABASE, "no database at "),
    "folder: status": (folder, ["status"], DATABASE, "it is a folder; give a file in it"),
    "folder: mark": (folder, ["mark-signed", "bnc"], DATABASE, "it is a folder"),
    "folder: init": (folder, ["init", str(SEED)], DATABASE, "it is a folder"),
    "corrupt: status": (corrupt, ["status"], DATABASE, "file is not a database"),
    "corrupt: mark": (corrupt, ["mark-signed", "bnc"], DATABASE, "file is not a database"),
    "corrupt: init": (corrupt, ["init", str(SEED)], DATABASE, "file is not a database"),
    "corrupt: db upgrade": (corrupt, ["db", "upgrade"], DATABASE, "file is not a database"),
    "corrupt: db version": (corrupt, ["db", "version"], DATABASE, "file is not a database"),
    "corrupt: alerts check": (corrupt, ["alerts", "check"], DATABASE, "file is not a database"),
    "future schema: db upgrade": (future, ["db", "upgrade"], DATABASE, "newer than this closing"),
    "future schema: status": (future, ["status"], DATABASE, "schema 0099, newer"),
    "future schema: mark": (future, ["mark-signed", "bnc"], DATABASE, "upgrade closing"),
    "future schema: init": (future, ["init", str(SEED)], DATABASE, "upgrade closing"),
}


@pytest.mark.parametrize("case", list(FAULTS.values()), ids=list(FAULTS))
def test_a_database_fault_is_one_line_and_changes_nothing(
    case: tuple[Callable[[Path], str], list[str], int, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A database that is missing, empty, corrupt or from a newer closing: exit 6, one line, and
    the database (or its absence) as it was."""
    make, args, code, says = case
    url = make(tmp_path)
    before = database_digest(url)
    outcome = run_in_process(args, {"CLOSING_DATABASE_URL": url}, monkeypatch, capsys)
    assert_one_line(outcome, code, says)
    assert database_digest(url) == before


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="set CLOSING_TEST_POSTGRES_URL to run on PostgreSQL")
def test_db_version_of_a_missing_postgresql_database_is_exit_6(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`closing db version` against a database the server does not have: one line, exit 6."""
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_URL).set(database="closing_no_such_database")
    rendered = url.render_as_string(hide_password=False)
    outcome = run_in_process(
        ["db", "version"], {"CLOSING_DATABASE_URL": rendered}, monkeypatch, capsys
    )
    assert_one_line(outcome, DATABASE, 'database "closing_no_such_database" does not exist')


# --- faults only a real process has -------------------------------------------------------------


def closing_process(
    args: list[str], url: str, stdout: int | None = subprocess.PIPE, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    base.update(CLOSING_DATABASE_URL=url, CLOSING_NOW=NOW, CLOSING_OPERATOR="alice", **env)
    return subprocess.run(
        [sys.executable, "-m", "closing", *args],
        env=base,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [["status"], ["status", "--json"], ["history"], ["mark-wired", "stonestreet"]],
    ids=["status", "status --json", "history", "mark-wired"],
)
def test_closed_standard_output_is_refused_before_anything_is_done(
    args: list[str], tmp_path: Path
) -> None:
    """`closing status >&-` does not exit 0 with its output lost: exit 2, one line, no mark."""
    url = f"sqlite:///{seeded_copy(tmp_path, 'closed.db')}"
    before = database_digest(url)
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    base.update(CLOSING_DATABASE_URL=url, CLOSING_NOW=NOW, CLOSING_OPERATOR="alice")
    run = subprocess.run(  # as a shell runs `closing ARGS >&-`
        ["sh", "-c", 'exec "$0" -m closing "$@" >&-', sys.executable, *args],
        env=base,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == USAGE
    assert run.stderr == (
        "Error: standard output is closed, so nothing could be shown; nothing done (send the "
        "output to a file or /dev/null instead)\n"
    )
    assert database_digest(url) == before


def test_output_that_cannot_be_written_is_an_error_not_exit_0(tmp_path: Path) -> None:
    """`closing status > /dev/full`: the disk is full, so the board is lost: said, exit 2."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    url = f"sqlite:///{seeded_copy(tmp_path, 'full.db')}"
    with open("/dev/full", "w") as full:
        run = closing_process(["status"], url, stdout=full.fileno())
    assert run.returncode == USAGE
    assert run.stderr == "Error: cannot write the output: No space left on device\n"


def test_a_terminal_that_cannot_show_unicode_gets_escapes(tmp_path: Path) -> None:
    """`PYTHONIOENCODING=ascii closing status` draws the board with ASCII lines and `\\u2713`
    escapes, instead of `Internal error: UnicodeEncodeError`."""
    url = f"sqlite:///{seeded_copy(tmp_path, 'ascii.db')}"
    run = closing_process(["status"], url, PYTHONIOENCODING="ascii", COLUMNS="100")
    assert (run.returncode, run.stderr) == (0, "")
    assert "Stonestreet Limited Partnership" in run.stdout
    assert run.stdout.isascii()


@pytest.mark.parametrize("columns", ["0", "-5", "abc", "99999999999999999999"])
def test_a_nonsense_terminal_width_still_draws_the_board(tmp_path: Path, columns: str) -> None:
    """`COLUMNS=0` used to print nothing and exit 0; a width that is not a sane positive number is
    ignored or kept within 20-1,000 columns."""
    url = f"sqlite:///{seeded_copy(tmp_path, 'columns.db')}"
    for args in (["status"], ["history"], ["deals"]):
        run = closing_process(args, url, COLUMNS=columns, LINES=columns)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip(), args
        assert max(len(line) for line in run.stdout.splitlines()) <= 1000


def test_the_table_has_at_least_250_bad_inputs() -> None:
    """Issue 26 asks for at least 250, each on both backends; the tables here hold more."""
    assert len(SEEDED) + len(FAULTS) >= 250
