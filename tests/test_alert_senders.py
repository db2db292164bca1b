"""Alert senders that share the deals (`closing alerts run --share`, PostgreSQL): the deals split
between two senders, a stopped sender's deals handed over at once, a dead one's once its
heartbeat is `LEASE` old, and a delivery it left `sending` taken over with its deal as a second
attempt. Passes run at moments a stepped clock gives; no sleeping."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from closing.domain.errors import AlertsError
from closing.services.alerts.channels import Channel, Notifier
from closing.services.alerts.deal_share import LEASE, DealShare, senders
from closing.services.alerts.deliver import run_pass
from closing.services.alerts.ledger import ledger
from closing.services.alerts.parallel import Limits
from closing.services.alerts.sender_lock import SenderLock
from closing.services.load import load_deal
from closing.store.alerts import LedgerCache
from closing.store.connection import Database
from tests.helpers import NO_POSTGRES, POSTGRES_URL, SEED, Cli, SteppedClock, postgres_schema

PACIFIC = ZoneInfo("America/Los_Angeles")
LOADED = datetime(2002, 6, 7, 7, 0, tzinfo=PACIFIC)
DUE = datetime(2002, 6, 7, 15, 0, tzinfo=PACIFIC)  # the signing alerts' before-2h
HOOK = "json://fake.invalid/hooks/closing"
SLUGS = [f"deal-{n}" for n in range(4)]

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)


class Dies(BaseException):
    """A kill -9 as seen from inside a pass."""


class Recorder(Notifier):
    """Sends nowhere: records each (channel, key); dies before sending on `dying` deals."""

    def __init__(self, dying: tuple[str, ...] = ()) -> None:
        super().__init__(Limits(1, 1, 1))
        self.sent: list[tuple[str, str]] = []
        self.dying = dying

    def send(self, channel: Channel, title: str, body: str, fields: dict[str, str]) -> None:
        if not channel.is_log and fields["key"].split("/")[0] in self.dying:
            raise Dies(fields["key"])
        self.sent.append((channel.name, fields["key"]))

    def deals(self) -> set[str]:
        return {key.split("/")[0] for channel, key in self.sent if channel != "log"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    with postgres_schema() as url:
        store = Database(url)
        text = SEED.read_text()
        for slug in SLUGS:
            path = tmp_path / f"{slug}.yaml"
            path.write_text(re.sub(r"(?m)^slug: .*$", f"slug: {slug}", text, count=1))
            load_deal(store, str(path), LOADED)
        try:
            yield store
        finally:
            store.close_all()


def one_pass(database: Database, share: DealShare, notifier: Notifier, at: datetime) -> None:
    run_pass(database, notifier, [HOOK], at, LedgerCache(), claiming=share.claiming)


@needs_postgres
def test_two_senders_split_the_deals_and_a_dead_one_s_are_taken_over(database: Database) -> None:
    clock = SteppedClock(DUE - timedelta(seconds=2))
    first, second = DealShare(database, "sender-a"), DealShare(database, "sender-b")
    first.try_acquire(clock.now())
    assert first.claiming.deals is not None and len(first.claiming.deals) == 4  # alone: all

    second.try_acquire(clock.now())  # two alive: a share is 2; the first hands 2 back ...
    first.heartbeat(clock.step(timedelta(seconds=1)))
    second.heartbeat(clock.now())  # ... which the second takes
    mine, theirs = set(first.claiming.deals or ()), set(second.claiming.deals or ())
    assert len(mine) == len(theirs) == 2 and not mine & theirs
    shown = {s["sender"]: s["deals"] for s in senders(database, clock.now())}
    assert sorted(shown) == ["sender-a", "sender-b"]
    assert sorted([*shown["sender-a"], *shown["sender-b"]]) == SLUGS  # type: ignore[misc]

    # At 15:00 each sends its own deals' alerts; the first dies while sending one of its deals'.
    clock.to(DUE)
    dying = tuple(s for s in shown["sender-a"])  # type: ignore[union-attr]
    a, b = Recorder(dying[:1]), Recorder()
    with pytest.raises(Dies):
        one_pass(database, first, a, clock.now())
    one_pass(database, second, b, clock.now())
    assert b.deals() == set(shown["sender-b"])  # type: ignore[arg-type]
    stranded = [d for e in ledger(database) for d in e.deliveries if d["status"] == "sending"]
    assert [(d["attempts"]) for d in stranded] == [1]  # written before the send: known

    # The first sender is silent: once its heartbeat is LEASE old the second takes its deals,
    # and sends what it left, the stranded delivery as a second attempt.
    clock.step(LEASE - timedelta(seconds=1))
    second.heartbeat(clock.now())
    assert set(second.claiming.deals or ()) == theirs
    clock.step(timedelta(seconds=2))
    second.heartbeat(clock.now())
    assert second.deals_changed()
    assert len(second.claiming.deals or ()) == 4
    survivor = Recorder()
    one_pass(database, second, survivor, clock.now())
    assert survivor.deals() == set(shown["sender-a"])  # type: ignore[arg-type]
    statuses = {
        (e.deal, e.purchaser): [
            (d["status"], d["attempts"]) for d in e.deliveries if d["channel"] != "log"
        ]
        for e in ledger(database)
    }
    assert all(status[0][0] == "sent" for status in statuses.values())
    twice = [key for key, status in statuses.items() if status[0][1] == 2]
    assert len(twice) == 1 and twice[0][0] == dying[0]
    assert [s["sender"] for s in senders(database, clock.now()) if s["alive"]] == ["sender-b"]


@needs_postgres
def test_a_sender_that_stops_hands_its_deals_over_at_once(database: Database) -> None:
    clock = SteppedClock(DUE - timedelta(minutes=1))
    first, second = DealShare(database, "sender-a"), DealShare(database, "sender-b")
    first.try_acquire(clock.now())
    second.try_acquire(clock.now())
    first.heartbeat(clock.now())
    second.heartbeat(clock.now())
    assert len(second.claiming.deals or ()) == 2
    first.release()
    second.heartbeat(clock.step(timedelta(seconds=1)))  # the first's record is gone: one alive
    assert len(second.claiming.deals or ()) == 4


def test_on_sqlite_senders_do_not_share(tmp_path: Path) -> None:
    with pytest.raises(AlertsError, match="only on PostgreSQL"):
        DealShare(Database(f"sqlite:///{tmp_path}/closing.db"))


def test_alerts_senders_says_who_holds_which_deals(cli: Cli, database_url: str) -> None:
    """`closing alerts senders`: nobody at first; a single sender holds every deal; on
    PostgreSQL a sharing sender holds its share (`--json` for a program)."""
    assert cli("init", str(SEED), now=LOADED.isoformat()).code == 0
    none = cli("alerts", "senders")
    assert (none.code, none.out) == (0, "No alert sender is running.\n")
    database = Database(database_url)
    now = DUE - timedelta(minutes=1)
    if database.dialect == "postgresql":
        DealShare(database, "sender-a").try_acquire(now)
        wanted = ("sender-a", "share")
    else:
        SenderLock(database).acquire(now)
        wanted = (SenderLock(database).holder, "single")
    listed = cli("alerts", "senders", "--json", now=now.isoformat())
    assert listed.code == 0, listed.err
    [sender] = json.loads(listed.out)
    assert (sender["sender"], sender["mode"], sender["alive"]) == (*wanted, True)
    assert sender["deals"] == ["neotherapeutics-2002-06-07"]
    shown = cli("alerts", "senders", now=now.isoformat())
    assert shown.out == f"{wanted[0]} ({wanted[1]}, alive): 1 deal: neotherapeutics-2002-06-07\n"
    database.close_all()
