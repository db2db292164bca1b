"""The alert outbox on each backend, without a daemon: passes run at moments a stepped clock gives,
and a fake channel stands in for e-mail and webhooks (no subprocess, no network, no sleeping).

The seed deal is loaded; at 15:00 PDT on the closing day its two purchasers' signing alerts
("before-2h") fall due, and the next occurrence is at 16:30 ("before-30m").
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from closing.domain.marking import MarkRequest
from closing.services.alerts.channels import Channel, DeliveryFailed, Notifier
from closing.services.alerts.decide import decide
from closing.services.alerts.deliver import Pass, backoff, run_pass
from closing.services.alerts.ledger import ledger
from closing.services.alerts.parallel import Limits
from closing.services.load import load_deal
from closing.services.mark import mark
from closing.store import alerts as ledger_sql
from closing.store.alerts import LedgerCache
from closing.store.connection import Database, UniqueViolation
from tests.helpers import SEED, SteppedClock

PACIFIC = ZoneInfo("America/Los_Angeles")
LOADED = datetime(2002, 6, 7, 7, 0, tzinfo=PACIFIC)
DUE = datetime(2002, 6, 7, 15, 0, tzinfo=PACIFIC)  # both purchasers' before-2h
NEXT_ALERT = datetime(2002, 6, 7, 16, 30, tzinfo=PACIFIC)  # both purchasers' before-30m
FAKE_URL = "json://fake.invalid/hooks/closing"
FAKE = "json://fake.invalid/…"  # the channel as the ledger names it: no path, no secrets
PURCHASERS = ["stonestreet", "bnc-bach"]
UNREACHABLE = "did not accept the alert (unreachable, or refused it)"
CLAIM_TIMEOUT = timedelta(minutes=2)  # a claim this old was left by a sender that died


ONE = Limits(1, 1, 1)  # one delivery at a time per channel: the order is the ledger's


class SenderKilled(BaseException):
    """What a kill -9 looks like from inside a pass: nothing after it runs."""


class FakeChannels(Notifier):
    """Sends nowhere: records each alert key a channel was given, refuses it on the channels in
    `failing`, and kills the sender when it is about to send on a channel in `killing`."""

    def __init__(
        self, failing: Iterable[str] = (), killing: Iterable[str] = (), limits: Limits = ONE
    ) -> None:
        super().__init__(limits)
        self.failing = set(failing)
        self.killing = set(killing)
        self.sent: list[tuple[str, str]] = []

    def send(self, channel: Channel, title: str, body: str, fields: dict[str, str]) -> None:
        if channel.name in self.killing:
            raise SenderKilled(channel.name)
        if channel.name in self.failing:
            raise DeliveryFailed(UNREACHABLE)
        self.sent.append((channel.name, fields["key"]))

    def keys(self, channel: str) -> list[str]:
        return [key for name, key in self.sent if name == channel]


def key(purchaser: str, rule: str = "before-2h") -> str:
    return f"neotherapeutics-2002-06-07/{purchaser}/signed/{rule}/2002-06-08T00:00:00Z"


@pytest.fixture
def database(database_url: str) -> Database:
    """The seed deal, loaded at 07:00 on the closing day, the company's prospectus supplement
    delivered with it (its alerts are not the subject here)."""
    store = Database(database_url)
    load_deal(store, str(SEED), LOADED)
    delivered = MarkRequest("company", "prospectus_delivered", actor="alice", host="h")
    mark(store, None, delivered, LOADED)
    return Database(database_url)


def deliveries(database: Database, channel: str) -> list[dict[str, Any]]:
    """Each alert's delivery to `channel`, in the ledger's order (stonestreet, then bnc-bach)."""
    return [
        next(d for d in entry.deliveries if d["channel"] == channel) for entry in ledger(database)
    ]


def outcomes(result: Pass, channel: str) -> list[str]:
    return [d.status for d in result.delivered if d.channel == channel]


def fake_pass(database: Database, channels: FakeChannels, clock: SteppedClock) -> Pass:
    """One wake-up of a sender started with `--notify FAKE_URL`, at the clock's time."""
    return run_pass(database, channels, [FAKE_URL], clock.now())


# --- every alert once ----------------------------------------------------------------------------


def test_each_due_alert_goes_to_every_channel_once(database: Database) -> None:
    """The pass at 15:00 decides both signing alerts and sends each to the log and to the
    channel; a second pass at the same moment, or a minute later, sends nothing more."""
    channels = FakeChannels()
    clock = SteppedClock(DUE)

    first = fake_pass(database, channels, clock)

    assert [(d.purchaser, d.rule, d.superseded) for d in first.decided] == [
        ("stonestreet", "before-2h", 0),
        ("bnc-bach", "before-2h", 0),
    ]
    assert channels.keys("log") == [key(p) for p in PURCHASERS]
    assert channels.keys(FAKE) == [key(p) for p in PURCHASERS]
    assert first.next_at == NEXT_ALERT
    assert fake_pass(database, channels, clock).delivered == []
    clock.step(timedelta(minutes=1))
    assert fake_pass(database, channels, clock).delivered == []
    assert len(channels.sent) == 4
    assert [entry.status for entry in ledger(database)] == ["sent", "sent"]
    sent = {
        "channel": FAKE,
        "status": "sent",
        "attempts": 1,
        "delivered_at": DUE,
        "last_error": None,
    }
    assert deliveries(database, FAKE) == [sent, sent]


def test_deliveries_of_a_channel_go_in_parallel_up_to_its_limit(database: Database) -> None:
    """With two webhooks at once allowed, both alerts are in flight together: each send waits
    for the other at a barrier (with one at a time, the barrier would break)."""
    together = threading.Barrier(2, timeout=10)

    class Together(FakeChannels):
        def send(self, channel: Channel, title: str, body: str, fields: dict[str, str]) -> None:
            if channel.name == FAKE:
                together.wait()
            super().send(channel, title, body, fields)

    channels = Together(limits=Limits(webhook=2))
    result = fake_pass(database, channels, SteppedClock(DUE))
    assert sorted(outcomes(result, FAKE)) == ["sent", "sent"]
    assert sorted(channels.keys(FAKE)) == sorted(key(p) for p in PURCHASERS)
    assert not together.broken


def test_an_alert_is_sent_with_the_time_left_then_and_delivered_when_the_channel_took_it(
    database: Database,
) -> None:
    """The clock moves while a pass sends: each alert's time left is the one when it was sent,
    and its `delivered_at` the moment its channel took it, not the pass's start."""
    clock = SteppedClock(DUE)
    titles: list[str] = []

    class Slow(FakeChannels):
        def send(self, channel: Channel, title: str, body: str, fields: dict[str, str]) -> None:
            if channel.name == FAKE:
                clock.step(timedelta(seconds=30))
                titles.append(title)
            super().send(channel, title, body, fields)

    run_pass(database, Slow(), [FAKE_URL], clock.now(), clock=clock.now)
    left = [title.rsplit(", ", 1)[-1] for title in titles]
    assert left == ["cutoff in 2h 00m", "cutoff in 1h 59m"]
    assert [d["delivered_at"] for d in deliveries(database, FAKE)] == [
        DUE + timedelta(seconds=30),
        DUE + timedelta(seconds=60),
    ]


# --- retries -------------------------------------------------------------------------------------


def test_retries_wait_2s_then_twice_as_long_each_time_up_to_5_minutes() -> None:
    """The wait after the n-th failed try: 2 s, 4 s, 8 s, ... capped at 5 minutes."""
    assert [backoff(tries) for tries in range(1, 11)] == [
        timedelta(seconds=seconds) for seconds in (2, 4, 8, 16, 32, 64, 128, 256, 300, 300)
    ]


def retried_until_given_up(
    database: Database, channels: FakeChannels, clock: SteppedClock
) -> list[tuple[datetime, Pass]]:
    """Run a pass at 15:00, then one at each moment a pass says the next retry is due, until the
    channel is given up on (8 tries); check on the way that a pass a second early sends nothing.
    Returns each try's moment and pass."""
    tries = [(clock.now(), fake_pass(database, channels, clock))]
    while "retrying" in outcomes(tries[-1][1], FAKE):
        retry_at = tries[-1][1].next_at
        assert retry_at is not None
        clock.to(retry_at - timedelta(seconds=1))
        assert fake_pass(database, channels, clock).delivered == [], "tried before its time"
        clock.to(retry_at)
        tries.append((retry_at, fake_pass(database, channels, clock)))
    return tries


def test_a_failing_channel_is_retried_after_2s_4s_8s_and_so_on(database: Database) -> None:
    """A channel that refuses every alert is tried again 2 s after the first failure, then 4 s,
    8 s, ... 128 s after the one before (8 tries in all), never a second early; the log got each
    alert once, at once."""
    channels = FakeChannels(failing=[FAKE])

    tries = retried_until_given_up(database, channels, SteppedClock(DUE))

    moments = [at for at, _ in tries]
    waits = [later - earlier for earlier, later in pairwise(moments)]
    assert waits == [timedelta(seconds=s) for s in (2, 4, 8, 16, 32, 64, 128)]
    assert [outcomes(result, FAKE) for _, result in tries[:-1]] == [["retrying"] * 2] * 7
    assert channels.keys("log") == [key(p) for p in PURCHASERS]
    assert channels.keys(FAKE) == []


def test_a_delivery_is_failed_after_its_8th_try_and_not_tried_again(database: Database) -> None:
    """The 8th refusal marks the delivery failed, with the error and no delivery time; later
    passes leave it alone and wake only for the next alert, and the ledger lists it as failed."""
    channels = FakeChannels(failing=[FAKE])
    clock = SteppedClock(DUE)

    tries = retried_until_given_up(database, channels, clock)

    assert len(tries) == 8
    last = tries[-1][1]
    assert outcomes(last, FAKE) == ["failed", "failed"]
    assert [(d.status, d.error) for d in last.delivered] == [("failed", UNREACHABLE)] * 2
    assert last.next_at == NEXT_ALERT
    clock.step(timedelta(minutes=30))
    later = fake_pass(database, channels, clock)
    assert later.delivered == []
    assert later.next_at == NEXT_ALERT
    failed = {
        "channel": FAKE,
        "status": "failed",
        "attempts": 8,
        "delivered_at": None,
        "last_error": UNREACHABLE,
    }
    assert deliveries(database, FAKE) == [failed, failed]
    assert [entry.status for entry in ledger(database)] == ["failed", "failed"]


# --- a killed sender, a dropped channel ----------------------------------------------------------


def test_a_delivery_left_mid_send_is_sent_again_once_its_claim_is_older_than_the_timeout(
    database: Database,
) -> None:
    """A sender killed while sending Stonestreet's alert leaves it claimed: the next sender sends
    the alert nobody had claimed at once, but Stonestreet's only when the claim is 2 minutes old,
    and once."""
    clock = SteppedClock(DUE)
    with pytest.raises(SenderKilled):
        fake_pass(database, FakeChannels(killing=[FAKE]), clock)
    # The attempt was written before the send: the ledger knows it may have gone out.
    assert [(d["status"], d["attempts"]) for d in deliveries(database, FAKE)] == [
        ("sending", 1),
        ("pending", 0),
    ]

    restarted = FakeChannels()
    clock.step(timedelta(seconds=1))
    assert outcomes(fake_pass(database, restarted, clock), FAKE) == ["sent"]
    assert restarted.keys(FAKE) == [key("bnc-bach")]
    clock.to(DUE + CLAIM_TIMEOUT - timedelta(seconds=1))
    assert fake_pass(database, restarted, clock).delivered == []
    clock.to(DUE + CLAIM_TIMEOUT)
    assert outcomes(fake_pass(database, restarted, clock), FAKE) == ["sent"]
    assert restarted.keys(FAKE) == [key("bnc-bach"), key("stonestreet")]
    # Stonestreet's alert was sent twice, its first attempt cut off: the ledger says so.
    assert [(d["status"], d["attempts"]) for d in deliveries(database, FAKE)] == [
        ("sent", 2),
        ("sent", 1),
    ]
    clock.step(timedelta(minutes=5))
    assert fake_pass(database, restarted, clock).delivered == []


def test_a_channel_the_sender_no_longer_has_leaves_its_deliveries_failed(
    database: Database,
) -> None:
    """Alerts decided for a channel that the next sender is not configured with (started
    without that --notify URL) are failed at its first pass, after one try, saying why; the log
    still gets them."""
    decide(database, DUE, [FAKE_URL])  # a sender that had the channel decided, then went away
    channels = FakeChannels()
    result = run_pass(database, channels, [], DUE + timedelta(seconds=1))

    assert [(d.channel, d.status) for d in result.delivered] == [
        ("log", "sent"),
        ("log", "sent"),
        (FAKE, "failed"),
        (FAKE, "failed"),
    ]
    assert channels.sent == [("log", key(p)) for p in PURCHASERS]
    reason = "this channel is not configured in this alert sender"
    assert [(d["status"], d["attempts"], d["last_error"]) for d in deliveries(database, FAKE)] == [
        ("failed", 1, reason)
    ] * 2
    assert result.next_at == NEXT_ALERT


# --- two senders deciding ------------------------------------------------------------------------


def test_a_sender_whose_ledger_cache_is_stale_hits_the_unique_key_and_decides_nothing_twice(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another sender decided the 15:00 alerts after this one cached the (then empty) ledger:
    this one's insert fails on the ledger's unique key, it drops its cache, reads the ledger
    again and decides nothing; the ledger holds each alert, and each delivery, once."""
    cache = LedgerCache()
    assert decide(database, DUE - timedelta(hours=1), [FAKE_URL], cache) == ([], DUE)
    other, _ = decide(database, DUE, [FAKE_URL])  # the other sender, without this one's cache
    assert [d.purchaser for d in other] == PURCHASERS

    conflicts: list[str] = []
    insert_alerts = ledger_sql.insert_alerts

    def recording(*args: Any) -> Any:
        try:
            return insert_alerts(*args)
        except UniqueViolation:
            conflicts.append("unique key")
            raise

    monkeypatch.setattr(ledger_sql, "insert_alerts", recording)
    ours, next_at = decide(database, DUE, [FAKE_URL], cache)

    assert conflicts == ["unique key"]
    assert ours == []
    assert next_at == NEXT_ALERT
    entries = ledger(database, include_superseded=True)
    assert [(e.purchaser, e.rule) for e in entries] == [(p, "before-2h") for p in PURCHASERS]
    assert [sorted(d["channel"] for d in e.deliveries) for e in entries] == [[FAKE, "log"]] * 2
    assert decide(database, DUE, [FAKE_URL], cache) == ([], NEXT_ALERT)
    assert conflicts == ["unique key"], "the cache now knows the other sender's alerts"


def test_a_wake_up_plans_only_a_deal_that_changed_or_whose_alert_fell_due(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the sender's cache, a wake-up with nothing new plans nothing; a mark (the deal's
    change marker moves) or the next alert falling due plans the deal again."""
    import closing.services.alerts.decide as deciding

    planned: list[int] = []
    real = deciding._decide_deal

    def counted(*args: Any) -> Any:
        planned.append(args[1])
        return real(*args)

    monkeypatch.setattr(deciding, "_decide_deal", counted)
    cache = LedgerCache()
    morning = DUE - timedelta(hours=6)
    decided, first_due = decide(database, morning, [FAKE_URL], cache)
    assert decided == [] and first_due is not None and first_due > morning + timedelta(hours=2)
    assert len(planned) == 1
    assert decide(database, morning + timedelta(hours=1), [FAKE_URL], cache) == ([], first_due)
    assert len(planned) == 1  # nothing changed, nothing fell due: not planned again
    mark(database, None, MarkRequest("stone", "signed", actor="alice", host="h"), morning)
    decide(database, morning + timedelta(hours=2), [FAKE_URL], cache)
    assert len(planned) == 2  # a mark: planned again
    decide(database, first_due, [FAKE_URL], cache)
    assert len(planned) == 3  # an alert fell due: planned again
