"""Generated deals for the benchmarks: the terms and steps of the seed (or of another deal file,
such as the 60-step example checklist) with many purchasers, and bulk progress written straight
into the event table (consistent with what `closing mark` writes)."""

from __future__ import annotations

import compileall
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "workflows" / "neotherapeutics-2002-06-07.yaml"
SEED_SLUG = "neotherapeutics-2002-06-07"
CHECKLIST = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"
BIG = 10_000
# The server the test suite uses when it names one (CLOSING_TEST_POSTGRES_URL), else the usual.
POSTGRES = os.environ.get(
    "CLOSING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SMOKE_BIG = 24  # the generated deals' size under --smoke: every code path, in seconds
_script = Path(sys.executable).with_name("closing")
CLOSING = [str(_script)] if _script.exists() else [sys.executable, "-m", "closing"]


def compile_bytecode() -> None:
    """Write closing's bytecode before timing it, as `pip install` does for every installed
    package (the import floor's included): with PYTHONDONTWRITEBYTECODE set, as on our CI
    machines, an editable checkout would otherwise be compiled from source on every run."""
    compileall.compile_dir(ROOT / "src" / "closing", quiet=1)


compile_bytecode()


# --- the internals this module calls (one place to update when the store's API moves) -----------


@contextmanager
def store_transaction(url: str) -> Iterator[Any]:
    """One write transaction on `url` (a `closing.store.connection.Connection`: `rows`,
    `executemany`, `bind_moment`, `bind_money`, `?` placeholders on both backends)."""
    from closing.store.connection import Database

    database = Database(url, must_exist=True)
    try:
        with database.transaction(write=True) as connection:
            yield connection
    finally:
        database.close()


def seed_head(slug: str, alerts: str | None = None, source: Path = SEED) -> str:
    """A deal file (the seed unless `source` names another) up to its purchasers, renamed to
    `slug`, with an `alerts:` section."""
    head = source.read_text(encoding="utf-8").split("\npurchasers:", 1)[0]
    head = re.sub(r"(?m)^slug: .*$", f"slug: {slug}", head, count=1)
    if alerts:
        head = _without_section(head, "alerts").rstrip("\n") + "\n\n" + alerts.strip("\n") + "\n"
    return head


def _without_section(text: str, key: str) -> str:
    """The YAML text without its top-level `key:` block (the key line and its indented lines)."""
    kept, inside = [], False
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            inside = True
            continue
        if inside and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        inside = False
        kept.append(line)
    return "\n".join(kept) + "\n"


def purchaser_slug(n: int) -> str:
    return f"purchaser-{n:05d}-llc"


def generate_deal(
    path: Path,
    count: int,
    slug: str = "generated-10k",
    alerts: str | None = None,
    source: Path = SEED,
) -> None:
    """The terms and steps of `source` (the seed by default) with `count` purchasers that pass
    its Schedule 1 checks, every notice and DWAC detail filled (so no step is blocked)."""
    from closing.domain.dealfile.load import load_deal_file

    securities = load_deal_file(source).terms.securities
    price_per_share = securities.common_stock.price_per_share
    coverage = securities.warrant.coverage
    lines = [seed_head(slug, alerts, source), "purchasers:"]
    for n in range(1, count + 1):
        shares = 100_000 + 37 * n
        price = (shares * price_per_share).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
        warrants = int((shares * coverage).to_integral_value(rounding=ROUND_FLOOR))
        lines += [
            f"  - name: Purchaser {n:05d} LLC",
            f"    shares: {shares:,}",
            f"    purchase_price: ${price:,}",
            f"    warrant_shares: {warrants:,}",
            f"    notices: {{attention: Treasurer {n}, address: '{n} Main Street, New York NY',"
            f" facsimile: '(212) 555-{n % 10_000:04d}'}}",
            f"    dwac: {{dtc_number: '{n % 9000 + 100:04d}', account_number: 'A{n:07d}',"
            f" reference: R{n}}}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def step_ids(source: Path, party: str) -> list[str]:
    """The ids of `source`'s steps of `party` (`company` or `purchaser`), in the file's order
    (which the example files keep in an order `requires` allows)."""
    from closing.domain.dealfile.load import load_deal_file

    return [s.id for s in load_deal_file(source).terms.steps if s.party == party]


def seed_with_alerts(path: Path, alerts: str, slug: str = SEED_SLUG) -> None:
    """The seed deal file (its two purchasers, details blank) with an `alerts:` section."""
    text = SEED.read_text(encoding="utf-8")
    tail = text.split("\npurchasers:", 1)[1]
    path.write_text(seed_head(slug, alerts) + "\npurchasers:" + tail, encoding="utf-8")


def record_progress(
    url: str,
    steps_for: Callable[[int], list[str]] | None = None,
    base: str = "2002-06-07T08:00:00-07:00",
    spacing: timedelta = timedelta(hours=2),
    company_steps: tuple[str, ...] = ("prospectus_delivered",),
) -> str:
    """Bulk-insert marks for every purchaser of the (only) deal in `url`.

    `steps_for(position)` names the steps done by the purchaser at that 0-based position, in
    order, `spacing` apart from `base` plus position % 3600 seconds; by default `signed` for
    everyone and `wired` for every other one (even positions). The company has done
    `company_steps`, in order, at `base` (by default the seed's prospectus supplement, which came
    with the agreement). Returns the slug of the purchaser in the middle, at an odd position
    (5001 of 10,000: signed, not wired, under the default)."""
    from closing.domain.chain import GENESIS, event_hash
    from closing.domain.events import Event
    from closing.store.identity import actor
    from closing.store.values import money

    def default(position: int) -> list[str]:
        return ["signed", "wired"] if position % 2 == 0 else ["signed"]

    pick = steps_for or default
    signed_at = datetime.fromisoformat(base)
    with store_transaction(url) as connection:
        ((deal_slug,),) = connection.rows("SELECT slug FROM deal")
        parties = connection.rows(
            "SELECT id, deal_id, slug, purchase_price, position, role, head_seq, head_hash "
            "FROM purchaser"
        )
        middle = (sum(1 for *_, role, _seq, _head in parties if role != "company") // 2) | 1
        who = actor(connection)  # who is signed in: PostgreSQL refuses any other actor
        rows: list[tuple[object, ...]] = []
        heads: list[tuple[object, ...]] = []
        target = ""
        for pid, deal_id, slug, price, position, role, head_seq, head_hash in parties:
            if role == "company":
                steps = [(step, signed_at) for step in company_steps]
            else:
                at = signed_at + timedelta(seconds=position % 3600)
                steps = [(step, at + spacing * n) for n, step in enumerate(pick(position))]
            previous = head_hash or GENESIS  # after what the deal's load recorded (its admin)
            for seq, (step, when) in enumerate(steps, start=head_seq + 1):
                amount = money(price) if step == "wired" else None
                event = Event(0, pid, seq, "mark", step, when, when, who, "bench", amount=amount)
                digest = event_hash(deal_slug, slug, event, previous)
                stored = event._replace(
                    occurred_at=connection.bind_moment(when),
                    recorded_at=connection.bind_moment(when),
                    amount=connection.bind_money(amount),
                )
                rows.append((*stored[1:], deal_id, previous, digest))
                previous = digest
            if steps:
                heads.append((head_seq + len(steps), previous, pid))
            if position == middle and role != "company":
                target = slug
        columns = ", ".join(Event._fields[1:])
        marks = ", ".join("?" * (len(Event._fields) + 2))
        insert = f"INSERT INTO event ({columns}, deal_id, prev_hash, hash) VALUES ({marks})"
        connection.executemany(insert, rows)
        move = "UPDATE purchaser SET head_seq = ?, head_hash = ? WHERE id = ?"
        connection.executemany(move, heads)
        # as an append does: the record of facts learns of each chain's start
        from closing.store.facts import fact_table, record_facts

        for (deal_id,) in connection.rows("SELECT id FROM deal"):
            record_facts(connection, int(deal_id), signed_at, fact_table("event"))
    return target


def cli_env(url: str, now: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    env.update(CLOSING_DATABASE_URL=url, CLOSING_NOW=now, CLOSING_OPERATOR="bench", **extra)
    return env


def closing(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI; its stdout. A failure stops the benchmark."""
    done = subprocess.run([*CLOSING, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): closing {' '.join(args)}\n{done.stderr[-2000:]}")
    return done.stdout


def closing_as(account: str, args: list[str], env: dict[str, str]) -> str:
    """`closing` run as if by the OS account `account` on SQLite (a second person for the
    two-person rule, on a machine with one account): the identity is patched in that process,
    as only someone who can write the database file anyway could."""
    patch = (
        "import sys, closing.store.identity as i; i.os_account = lambda: sys.argv[1]; "
        "from closing.cli import main; main(sys.argv[2:])"
    )
    done = subprocess.run(
        [sys.executable, "-c", patch, account, *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): closing {' '.join(args)}\n{done.stderr[-2000:]}")
    return done.stdout


def postgres_available(url: str = POSTGRES) -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(_libpq(url), connect_timeout=3):
            return None
    except Exception as error:  # any failure to connect means: skip PostgreSQL
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def postgres_schema(prefix: str, url: str = POSTGRES) -> Iterator[str]:
    """A private schema, created now and dropped afterwards; yields the database URL that uses it
    (already upgraded with `closing db upgrade`)."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    scoped = f"{url}?options=-csearch_path%3D{name}"
    try:
        closing(["db", "upgrade"], cli_env(scoped, "2002-06-07T07:00:00-07:00"))
        yield scoped
    finally:
        with psycopg.connect(_libpq(url), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{name}" CASCADE')
