"""Delivering decided alerts: claim each delivery nobody is sending, send it, record the outcome
with retries (2s, 4s, 8s ... up to 5 minutes, given up after 8 tries), and say when to wake up
next; one wake-up (`run_pass`) decides, then delivers.

The scheduler only wakes this up; the truth (deadlines, what was sent) lives in the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from closing.domain.alert_plan import at_sending, is_deadline_rule
from closing.domain.deal import Deal
from closing.domain.events import Standing, replay
from closing.domain.machine import DONE, WAIVED, Refusal
from closing.services.alerts import parallel
from closing.services.alerts.channels import (
    LOG_CHANNEL,
    LOG_KEY,
    Channel,
    DeliveryFailed,
    Notifier,
    channels_for,
)
from closing.services.alerts.decide import Decided, decide
from closing.store import alerts as db
from closing.store import deals as deal_store
from closing.store import events as log
from closing.store.alerts import EVERY_DEAL, Claiming, LedgerCache
from closing.store.connection import Connection, Database

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=2)
LONGEST_RETRY = timedelta(minutes=5)
CLAIM_TIMEOUT = timedelta(minutes=2)  # a claim older than this was left by a killed sender


def backoff(attempts: int) -> timedelta:
    """2s, 4s, 8s, ... up to 5 minutes."""
    delay: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(delay, LONGEST_RETRY)


@dataclass(frozen=True)
class Delivered:
    alert_id: int
    channel: str
    status: str  # sent, retrying, failed
    title: str
    error: str | None = None


@dataclass
class Pass:
    """One wake-up's work."""

    decided: list[Decided]
    delivered: list[Delivered]
    next_at: datetime | None


def _claim(database: Database, ids: list[int], now: datetime, claiming: Claiming) -> set[int]:
    """Mark deliveries as being sent by this sender, an attempt each, before sending them; only
    those still claimable are taken, so two senders can never both send one."""
    with database.transaction() as connection:
        return db.claim(connection, ids, now, now - CLAIM_TIMEOUT, claiming)


def _record(
    database: Database,
    ids: list[int],
    attempts: int,
    error: str | None,
    gave_up: bool,
    now: datetime,
) -> str:
    """The outcome of an attempt; `now` is when the channel took it (or refused it)."""
    status = "sent" if error is None else ("failed" if gave_up else "retrying")
    delivered_at = now if error is None else None
    with database.transaction() as connection:
        db.record_attempt(
            connection, ids, status, attempts, error, delivered_at, now + backoff(attempts)
        )
    return status


class _Sending(NamedTuple):
    item: db.Claimable
    channel: Channel | None


def deliver(
    database: Database,
    notifier: Notifier,
    channels: Callable[[], dict[str, Channel]],
    now: datetime,
    clock: Callable[[], datetime] | None = None,
    claiming: Claiming = EVERY_DEAL,
) -> tuple[list[Delivered], datetime | None]:
    """Send every claimable delivery, oldest alert first; return the outcomes and when the next
    retry is due. The log channel goes in one batch; every other channel up to its limit of
    deliveries at once (`closing.services.alerts.parallel`), each claimed (an attempt, `sending`)
    just before it is sent, so a sender killed mid-send leaves only those in flight to be sent
    again. Each alert's time left (or late by) is worked out as it is sent, and it is `sent` at
    the moment its channel took it: both read `clock` (by default, `now` throughout). Senders
    sharing the deals send only their own deals' (`claiming`)."""
    at = clock or (lambda: now)
    with database.transaction(write=False) as connection:
        found = db.claimable(connection, now, now - CLAIM_TIMEOUT, claiming)
        deals = {deal.id: deal for deal in deal_store.deals(connection)} if found else {}
        zones = {deal_id: deal.terms.zone for deal_id, deal in deals.items()}
        settled = _settled(connection, deals, found)
    if settled:
        with database.transaction() as connection:
            db.dismiss_deliveries(connection, sorted(settled), SETTLED)
        found = [item for item in found if item.delivery_id not in settled]
    known = channels() if any(item.channel_key != LOG_KEY for item in found) else {}
    outcomes: list[Delivered] = []
    logged = [item for item in found if item.channel_key == LOG_KEY]
    claimed = _claim(database, [item.delivery_id for item in logged], now, claiming)
    sent_after: dict[int, list[int]] = {}  # attempts -> deliveries, for one update each
    for item in logged:
        if item.delivery_id in claimed:
            item = _at_sending(item, zones[item.deal_id], at())
            notifier.send(LOG_CHANNEL, item.title, item.body, json.loads(item.fields_json))
            outcomes.append(Delivered(item.alert_id, item.channel, "sent", item.title))
            sent_after.setdefault(item.attempts + 1, []).append(item.delivery_id)
    for tried, ids in sent_after.items():
        _record(database, ids, tried, None, False, at())

    def send(sending: _Sending) -> tuple[str | None, datetime, str]:
        """In a sending thread: the alert as of now, sent; the error (if any), when, its title."""
        item = _at_sending(sending.item, zones[sending.item.deal_id], at())
        if sending.channel is None:
            return "this channel is not configured in this alert sender", at(), item.title
        try:
            notifier.send(sending.channel, item.title, item.body, json.loads(item.fields_json))
        except DeliveryFailed as failure:
            return str(failure), at(), item.title
        return None, at(), item.title

    def claimed_now(item: db.Claimable) -> bool:
        return _claim(database, [item.delivery_id], now, claiming) != set()

    queue = [_Sending(item, known.get(item.channel_key)) for item in found]
    for sending, (error, when, title) in parallel.send_all(
        [s for s in queue if s.item.channel_key != LOG_KEY],
        lambda s: s.item.channel_key,
        lambda s: notifier.limits.of(None if s.channel is None else s.channel.url),
        lambda s: claimed_now(s.item),
        send,
        notifier.pool,
    ):
        item = sending.item
        tried = item.attempts + 1
        gave_up = tried >= MAX_ATTEMPTS or sending.channel is None  # an unknown one stays away
        status = _record(database, [item.delivery_id], tried, error, gave_up, when)
        outcomes.append(Delivered(item.alert_id, item.channel, status, title, error))
    with database.transaction(write=False) as connection:
        next_retry = db.next_attempt_at(connection)
    return outcomes, next_retry


def _at_sending(item: db.Claimable, zone: ZoneInfo, now: datetime) -> db.Claimable:
    """The alert's text with the time left (or late by) as of `now`, when it is sent."""
    return item._replace(
        title=at_sending(item.title, item.deadline, zone, now),
        body=at_sending(item.body, item.deadline, zone, now),
        fields_json=_fields_at_sending(item, zone, now),
    )


def _fields_at_sending(item: db.Claimable, zone: ZoneInfo, now: datetime) -> str:
    fields: dict[str, str] = json.loads(item.fields_json)
    if "title" in fields:
        fields["title"] = at_sending(fields["title"], item.deadline, zone, now)
    return json.dumps(fields)


SETTLED = "not sent: its step was done, or waived, before it could be"


def _settled(connection: Connection, deals: dict[int, Deal], found: list[db.Claimable]) -> set[int]:
    """The deliveries to try again (an attempt made, or left mid-send) whose alert chases a step
    now done or waived, or a purchaser since withdrawn: a retry must not say a done step is not
    done (a first try goes out in the pass that decided it)."""
    retried = [
        i for i in found if i.attempts > 0 and is_deadline_rule(i.rule) and i.deal_id in deals
    ]
    standing: dict[int, Standing] = {}
    settled: set[int] = set()
    for item in retried:
        if item.purchaser_id not in standing:
            deal = deals[item.deal_id]
            events = log.party_events(connection, item.purchaser_id)
            company = any(step.id == item.step for step in deal.terms.company_steps)
            machine = deal.company_machine if company else deal.machine
            try:
                standing[item.purchaser_id] = replay(machine, events)
            except Refusal:  # a log edited behind closing's back: the alert goes as decided
                standing[item.purchaser_id] = Standing()
        found_standing = standing[item.purchaser_id]
        if found_standing.states.get(item.step) in (DONE, WAIVED) or found_standing.withdrawn:
            settled.add(item.delivery_id)
    return settled


def run_pass(
    database: Database,
    notifier: Notifier,
    extra_urls: list[str],
    now: datetime,
    cache: LedgerCache | None = None,
    clock: Callable[[], datetime] | None = None,
    claiming: Claiming = EVERY_DEAL,
) -> Pass:
    """Decide, then deliver: one wake-up (`clock`: the time as each alert is sent; `claiming`:
    the deals of this sender, when senders share them)."""
    decided, next_alert = decide(database, now, extra_urls, cache, claiming.deals)
    delivered, next_retry = deliver(
        database,
        notifier,
        lambda: configured_channels(database, extra_urls),
        now,
        clock,
        claiming,
    )
    candidates = [t for t in (next_alert, next_retry) if t is not None]
    return Pass(decided, delivered, min(candidates) if candidates else None)


def configured_channels(database: Database, extra_urls: list[str]) -> dict[str, Channel]:
    """Every channel this sender can reach: each deal's URLs and the ones it was started with."""
    urls = list(extra_urls)
    with database.transaction(write=False) as connection:
        for deal in deal_store.deals(connection):
            urls += deal.terms.alerts.notify
            urls += [url for party in deal.terms.parties.values() for url in party.notify]
    return {channel.key: channel for channel in channels_for(urls)}
