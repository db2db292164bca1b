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

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "workflows" / "neotherapeutics-2002-06-07.yaml"
SEED_SLUG = "neotherapeutics-2002-06-07"
CHECKLIST = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"
BIG = 10_000
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_script = Path(sys.executable).with_name("closing")
CLOSING = [str(_script)] if _script.exists() else [sys.executable, "-m", "closing"]


def compile_bytecode() -> None:
    """Write closing's bytecode before timing it, as `pip install` does for every installed
    package (the import floor's included): with PYTHONDONTWRITEBYTECODE set, as on our CI
    machines, an editable checkout would otherwise be compiled from source on every run."""
    compileall.compile_dir(ROOT / "src" / "closing", quiet=1)


compile_bytecode()


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
    from closing.domain.dealfile import load_deal_file

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
            f"    dwac: {{dtc_number: '{n % 9000 + 100}', account_number: 'A{n:07d}',"
            f" reference: R{n}}}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def step_ids(source: Path, party: str) -> list[str]:
    """The ids of `source`'s steps of `party` (`company` or `purchaser`), in the file's order
    (which the example files keep in an order `requires` allows)."""
    from closing.domain.dealfile import load_deal_file

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
    with the agreement). Returns the slug of the purchaser at position 5001 (signed, not wired,
    under the default)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from closing.domain.chain import GENESIS, event_hash
    from closing.domain.events import Event
    from closing.store.schema import DEALS, EVENTS, PURCHASERS

    def default(position: int) -> list[str]:
        return ["signed", "wired"] if position % 2 == 0 else ["signed"]

    pick = steps_for or default
    engine = create_engine(url)
    signed_at = datetime.fromisoformat(base)
    rows: list[dict[str, object]] = []
    heads: list[dict[str, object]] = []
    target = ""
    with Session(engine) as session, session.begin():
        deal_slug = session.execute(select(DEALS.c.slug)).scalar_one()
        query = select(
            PURCHASERS.c.id,
            PURCHASERS.c.deal_id,
            PURCHASERS.c.slug,
            PURCHASERS.c.purchase_price,
            PURCHASERS.c.position,
            PURCHASERS.c.role,
        )
        for pid, deal_id, slug, price, position, role in session.execute(query):
            if role == "company":
                steps = [(step, signed_at) for step in company_steps]
            else:
                at = signed_at + timedelta(seconds=position % 3600)
                steps = [(step, at + spacing * n) for n, step in enumerate(pick(position))]
            previous = GENESIS
            for seq, (step, when) in enumerate(steps, start=1):
                amount = price if step == "wired" else None
                event = Event(
                    0, pid, seq, "mark", step, when, when, "bench", "bench", amount=amount
                )
                digest = event_hash(deal_slug, slug, event, previous)
                values = event._asdict()
                del values["id"]
                rows.append(values | dict(deal_id=deal_id, prev_hash=previous, hash=digest))
                previous = digest
            if steps:
                heads.append(dict(pid=pid, seq=len(steps), hash=previous))
            if position == BIG // 2 + 1:
                target = slug
        session.execute(EVENTS.insert(), rows)
        from sqlalchemy import bindparam

        session.execute(
            PURCHASERS.update()
            .where(PURCHASERS.c.id == bindparam("pid"))
            .values(head_seq=bindparam("seq"), head_hash=bindparam("hash")),
            heads,
        )
    engine.dispose()
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
        from closing.store.connection import close_databases

        close_databases()
        with psycopg.connect(_libpq(url), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{name}" CASCADE')
