"""The alert ledger in the database: decide what is due (once, by its unique key), deliver it to
each channel with retries, and say when to wake up next.

The scheduler only wakes this up; the truth (deadlines, what was sent) lives in these tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from closing.domain.alert_ledger import LedgerEntry
from closing.domain.alert_plan import (
    AlertText,
    DueAlert,
    alert_text,
    at_sending,
    digest_groups,
    digest_text,
    plan_alerts,
)
from closing.domain.board import Board, build_board, company_missing
from closing.domain.deal import Deal
from closing.domain.errors import NotFoundError, RefusedError
from closing.domain.events import Purchaser
from closing.domain.money import format_money
from closing.services.alerts.channels import (
    LOG_CHANNEL,
    LOG_KEY,
    Channel,
    DeliveryFailed,
    Notifier,
    channels_for,
)
from closing.services.wire_import import ImportResult
from closing.store import alerts as db
from closing.store.alerts import DIGEST_STEP, LedgerCache, NewAlert
from closing.store.database import Store
from closing.store.queries import deal_by_id, deals_where, events_by_purchaser, parties_of
from closing.store.wires import status_of

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=2)
LONGEST_RETRY = timedelta(minutes=5)
CLAIM_TIMEOUT = timedelta(minutes=2)  # a claim older than this was left by a killed sender


def backoff(attempts: int) -> timedelta:
    """2s, 4s, 8s, ... up to 5 minutes."""
    delay: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(delay, LONGEST_RETRY)


@dataclass(frozen=True)
class Decided:
    deal: str
    purchaser: str
    step: str
    rule: str
    title: str
    due_at: datetime
    superseded: int


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


def board_summary(board: Board) -> str:
    """The board in one line: "1/2 closed · received $450,000.00 of $1,380,000.00"."""
    totals = board.totals
    return (
        f"{totals.closed}/{totals.purchasers} closed · received "
        f"{format_money(totals.amount_received)} of {format_money(totals.purchase_price)}"
    )


def decide(
    store: Store, now: datetime, extra_urls: list[str], cache: LedgerCache | None = None
) -> tuple[list[Decided], datetime | None]:
    """Record every alert due at `now` in the ledger with one delivery per channel; return them and
    the next time an alert falls due. One transaction per deal: all of its decision or none."""
    decided: list[Decided] = []
    next_at: datetime | None = None
    with store.session() as session:
        deal_ids = [deal.id for deal in deals_where(session)]
    for deal_id in deal_ids:
        for attempt in range(3):
            try:
                found, deal_next = _decide_deal(store, deal_id, now, extra_urls, cache)
                break
            except IntegrityError:  # another sender got there first; its rows now count
                if cache is not None:
                    cache.forget()
                if attempt == 2:
                    raise
        decided += found
        if deal_next is not None and (next_at is None or deal_next < next_at):
            next_at = deal_next
    return decided, next_at


def _decide_deal(
    store: Store,
    deal_id: int,
    now: datetime,
    extra_urls: list[str],
    cache: LedgerCache | None = None,
) -> tuple[list[Decided], datetime | None]:
    """One deal's decision in one transaction: read the deal, its purchasers, their events and the
    ledger, plan, then insert the ledger rows and their deliveries in bulk (a first wake-up on a
    large deal can decide thousands of alerts at once)."""
    found: list[Decided] = []
    with store.session() as session:
        deal = deal_by_id(session, deal_id)
        purchasers, company = parties_of(session, deal.id)
        events = events_by_purchaser(session, deal.id)
        keys = db.alert_keys(session, deal.id) if cache is None else cache.keys(session, deal.id)
        plan = plan_alerts(deal, purchasers, events, now, keys, company)
        if not plan.due:
            return found, plan.next_at
        channels = channels_for([*deal.terms.alerts.notify, *extra_urls])
        wires = status_of(session, deal.id)
        warning, missing = wires.warning(), company_missing(wires)
        summary = board_summary(build_board(deal, purchasers, events, now, 0, company, wires))
        zone = deal.terms.zone
        # Many alerts of one rule and moment go out as one digest on each channel but the log.
        outside = [channel for channel in channels if not channel.is_log]
        groups = digest_groups(deal.terms.alerts, plan.due) if outside else []
        in_digest = {id(alert) for group in groups for alert in group}
        ledger_rows: list[NewAlert] = []
        owners: list[DueAlert | None] = []  # the alert of each ledger row; None: superseded
        for alert in plan.due:
            text = alert_text(deal.terms, alert, now, warning, missing, summary)
            for missed in alert.superseded:
                ledger_rows.append(
                    _ledger_values(deal, alert, missed.rule, missed.fire_at, now, text)
                )
                owners.append(None)
            fields = {
                "deal": deal.slug,
                "purchaser": alert.purchaser.slug,
                "step": alert.step.id,
                "rule": alert.rule,
                "deadline": alert.deadline.astimezone(deal.terms.zone).isoformat(),
                "key": text.key,
                "title": text.title,
            }
            ledger_rows.append(
                _ledger_values(deal, alert, alert.rule, alert.due_at, now, text, fields)
            )
            owners.append(alert)
            found.append(
                Decided(
                    deal.slug,
                    alert.purchaser.slug,
                    alert.step.id,
                    alert.rule,
                    at_sending(text.title, alert.deadline, zone, now),
                    alert.due_at,
                    len(alert.superseded),
                )
            )
        inserted = db.insert_alerts(session, ledger_rows)
        ids_of: dict[int, int] = {}  # id(alert) -> its ledger id
        alone: list[int] = []  # alerts that go to every channel on their own
        logged: list[int] = []  # alerts carried by a digest: the log only
        for row, owner in zip(inserted, owners, strict=True):
            if owner is not None:
                ids_of[id(owner)] = row.id
                (logged if id(owner) in in_digest else alone).append(row.id)
        every = [(channel.key, channel.name) for channel in channels]
        db.insert_deliveries(session, alone, every, now)
        db.insert_deliveries(session, logged, [(LOG_CHANNEL.key, LOG_CHANNEL.name)], now)
        for group in groups:
            text = digest_text(deal.terms, group, now, warning, missing, summary)
            digest_id = _insert_digest(session, deal, company, group, ids_of, now, text)
            db.insert_deliveries(
                session, [digest_id], [(channel.key, channel.name) for channel in outside], now
            )
    if cache is not None:  # committed: the cache may now count these keys as sent
        cache.add(
            deal_id,
            [(r["purchaser_id"], r["step"], r["rule"], r["deadline"]) for r in ledger_rows],
        )
    return found, plan.next_at


def _insert_digest(
    session: Any,
    deal: Deal,
    company: Purchaser | None,
    group: list[DueAlert],
    ids_of: dict[int, int],
    now: datetime,
    text: AlertText,
) -> int:
    """The digest's own ledger row: it records the alerts it carries (`alerts` in its fields);
    its deliveries stand for theirs outside the log."""
    first = group[0]
    fields = {
        "deal": deal.slug,
        "digest": str(len(group)),
        "rule": first.rule,
        "deadline": first.deadline.astimezone(deal.terms.zone).isoformat(),
        "key": text.key,
        "title": text.title,
        "alerts": ",".join(str(ids_of[id(alert)]) for alert in group),
    }
    row: NewAlert = {
        "deal_id": deal.id,
        "purchaser_id": company.id if company is not None else first.purchaser.id,
        "step": DIGEST_STEP,
        "rule": first.rule,
        "deadline": first.deadline,
        "due_at": max(alert.due_at for alert in group),
        "decided_at": now,
        "superseded": False,
        "title": text.title,
        "body": text.body,
        "key": text.key,
        "fields_json": json.dumps(fields),
    }
    return db.insert_alerts(session, [row])[0].id


def record_notices(store: Store, result: ImportResult, now: datetime, extra_urls: list[str]) -> int:
    """Each wire an inbox import recorded, as an alert of its own in the ledger (so it goes to
    every channel once, like a deadline alert): "BNC Bach International, Ltd. wired ..."."""
    deal = result.deal
    rows = [row for row in result.rows if row.status == "recorded" and row.purchaser]
    if not rows:
        return 0
    terms = deal.terms
    with store.session() as session:
        wires = status_of(session, deal.id)
        warning = wires.warning()
        channels = channels_for([*terms.alerts.notify, *extra_urls])
        ledger_rows: list[NewAlert] = []
        for row, notice in zip(rows, result.notices, strict=True):
            assert row.purchaser is not None
            key = f"{terms.slug}/{row.purchaser.slug}/wire-received/{row.entry.bank_reference}"
            lines = [warning] if warning else []
            lines += [
                f"Deal: {terms.slug} ({terms.title})",
                f"Purchaser: {row.purchaser.name}",
                f"Received: {notice}",
                f"Why: {row.reason}",
                f"From: {result.file.format} {result.file.name}:{row.entry.line}",
                f"Alert: {key}",
            ]
            ledger_rows.append(
                {
                    "deal_id": deal.id,
                    "purchaser_id": row.purchaser.id,
                    "step": row.event.step if row.event else "wired",
                    "rule": f"wire-received:{row.entry.bank_reference}",
                    "deadline": now,
                    "due_at": now,
                    "decided_at": now,
                    "superseded": False,
                    "title": notice.split(", IMAD")[0].split(", bank ref")[0],
                    "body": "\n".join(lines),
                    "key": key,
                    "fields_json": json.dumps(
                        {"deal": terms.slug, "purchaser": row.purchaser.slug, "key": key}
                    ),
                }
            )
        inserted = db.insert_alerts(session, ledger_rows)
        db.insert_deliveries(
            session,
            [alert.id for alert in inserted],
            [(channel.key, channel.name) for channel in channels],
            now,
        )
    return len(rows)


def _ledger_values(
    deal: Deal,
    alert: DueAlert,
    rule: str,
    due_at: datetime,
    now: datetime,
    text: AlertText,
    fields: dict[str, str] | None = None,
) -> NewAlert:
    """The ledger row of one occurrence; without `fields` it is one superseded by `alert`."""
    return {
        "deal_id": deal.id,
        "purchaser_id": alert.purchaser.id,
        "step": alert.step.id,
        "rule": rule,
        "deadline": alert.deadline,
        "due_at": due_at,
        "decided_at": now,
        "superseded": fields is None,
        "title": text.title,
        "body": text.body if fields is not None else "",
        "key": text.key,
        "fields_json": json.dumps(fields or {}),
    }


def _claim(store: Store, ids: list[int], now: datetime) -> set[int]:
    """Mark deliveries as being sent by this sender; only those still claimable are taken, so two
    senders can never both send one."""
    with store.session() as session:
        return db.claim(session, ids, now, now - CLAIM_TIMEOUT)


def _record(
    store: Store, ids: list[int], attempts: int, error: str | None, gave_up: bool, now: datetime
) -> str:
    status = "sent" if error is None else ("failed" if gave_up else "retrying")
    delivered_at = now if error is None else None
    with store.session() as session:
        db.record_attempt(
            session, ids, status, attempts, error, delivered_at, now + backoff(attempts)
        )
    return status


def deliver(
    store: Store, notifier: Notifier, channels: Callable[[], dict[str, Channel]], now: datetime
) -> tuple[list[Delivered], datetime | None]:
    """Send every claimable delivery, oldest alert first; return the outcomes and when the next
    retry is due. The log channel goes in one batch; every other channel one delivery at a time,
    so a sender killed mid-send leaves only that one to be re-sent after CLAIM_TIMEOUT."""
    with store.session() as session:
        found = db.claimable(session, now, now - CLAIM_TIMEOUT)
        zones = {deal.id: deal.terms.zone for deal in deals_where(session)} if found else {}
    # The time left (or late by) as of this sending, not as of the decision.
    work = [
        item._replace(
            title=at_sending(item.title, item.deadline, zones[item.deal_id], now),
            body=at_sending(item.body, item.deadline, zones[item.deal_id], now),
            fields_json=_fields_at_sending(item, zones[item.deal_id], now),
        )
        for item in found
    ]
    known = channels()
    outcomes: list[Delivered] = []
    logged = [item for item in work if item.channel_key == LOG_KEY]
    claimed = _claim(store, [item.delivery_id for item in logged], now)
    sent_after: dict[int, list[int]] = {}  # attempts -> deliveries, for one update each
    for item in logged:
        if item.delivery_id in claimed:
            notifier.send(LOG_CHANNEL, item.title, item.body, json.loads(item.fields_json))
            outcomes.append(Delivered(item.alert_id, item.channel, "sent", item.title))
            sent_after.setdefault(item.attempts + 1, []).append(item.delivery_id)
    for tried, ids in sent_after.items():
        _record(store, ids, tried, None, False, now)
    for item in work:
        if item.channel_key == LOG_KEY or not _claim(store, [item.delivery_id], now):
            continue
        channel = known.get(item.channel_key)
        error: str | None = None
        if channel is None:
            error = "this channel is not configured in this alert sender"
        else:
            try:
                notifier.send(channel, item.title, item.body, json.loads(item.fields_json))
            except DeliveryFailed as failure:
                error = str(failure)
        tried = item.attempts + 1
        gave_up = tried >= MAX_ATTEMPTS or channel is None  # an unknown channel will not appear
        status = _record(store, [item.delivery_id], tried, error, gave_up, now)
        outcomes.append(Delivered(item.alert_id, item.channel, status, item.title, error))
    with store.session() as session:
        next_retry = db.next_attempt_at(session)
    return outcomes, next_retry


def _fields_at_sending(item: db.Claimable, zone: ZoneInfo, now: datetime) -> str:
    fields: dict[str, str] = json.loads(item.fields_json)
    if "title" in fields:
        fields["title"] = at_sending(fields["title"], item.deadline, zone, now)
    return json.dumps(fields)


def run_pass(
    store: Store,
    notifier: Notifier,
    extra_urls: list[str],
    now: datetime,
    cache: LedgerCache | None = None,
) -> Pass:
    """Decide, then deliver: one wake-up."""
    decided, next_alert = decide(store, now, extra_urls, cache)
    delivered, next_retry = deliver(
        store, notifier, lambda: configured_channels(store, extra_urls), now
    )
    candidates = [t for t in (next_alert, next_retry) if t is not None]
    return Pass(decided, delivered, min(candidates) if candidates else None)


def configured_channels(store: Store, extra_urls: list[str]) -> dict[str, Channel]:
    """Every channel this sender can reach: each deal's URLs and the ones it was started with."""
    urls = list(extra_urls)
    with store.session() as session:
        for deal in deals_where(session):
            urls += deal.terms.alerts.notify
    return {channel.key: channel for channel in channels_for(urls)}


def _sent_at(deliveries: list[dict[str, object]] | None, alert: db.ListedAlert) -> datetime:
    """When an alert went out (its first delivery), else when it was decided."""
    times = [d["delivered_at"] for d in deliveries or [] if isinstance(d["delivered_at"], datetime)]
    return min(times) if times else alert.decided_at


# --- reading the ledger ------------------------------------------------------------------------


def ledger(store: Store, include_superseded: bool = False) -> list[LedgerEntry]:
    with store.session(read_only=True) as session:
        alerts = db.listed_alerts(session, include_superseded)
        zones = {deal.slug: deal.terms.zone for deal in deals_where(session)}
        deliveries: dict[int, list[dict[str, object]]] = {}
        for d in db.listed_deliveries(session):
            deliveries.setdefault(d.alert_id, []).append(
                {
                    "channel": d.channel,
                    "status": d.status,
                    "attempts": d.attempts,
                    "delivered_at": d.delivered_at,
                    "last_error": d.last_error,
                }
            )
    # An alert carried by a digest went out where the digest went: its deliveries count for it.
    for a in alerts:
        if a.step == DIGEST_STEP:
            for member in filter(None, json.loads(a.fields_json).get("alerts", "").split(",")):
                deliveries.setdefault(int(member), []).extend(
                    {**d, "digest": a.id} for d in deliveries.get(a.id, [])
                )
    return [
        LedgerEntry(
            a.id,
            a.deal,
            a.purchaser,
            a.step,
            a.rule,
            a.deadline,
            a.due_at,
            a.decided_at,
            at_sending(a.title, a.deadline, zones[a.deal], _sent_at(deliveries.get(a.id), a)),
            a.key,
            a.superseded,
            deliveries.get(a.id, []),
            zones[a.deal],
        )
        for a in alerts
    ]


# --- a person's word on a failed delivery ------------------------------------------------------


def _deliveries_of(session: Any, alert_id: int) -> list[db.AlertDelivery]:
    found = db.deliveries_of(session, alert_id)
    if not found and not db.alert_exists(session, alert_id):
        raise NotFoundError(f"no alert #{alert_id}; closing alerts list shows their numbers")
    return found


def dismiss(store: Store, alert_id: int, reason: str, actor: str, now: datetime) -> list[str]:
    """A person has seen to an alert whose delivery failed (called the purchaser, say): its
    deliveries not sent are `dismissed`, with who and why, and stop counting on the board.
    Returns the channels dismissed."""
    with store.session() as session:
        unsent = [
            d
            for d in _deliveries_of(session, alert_id)
            if d.status in ("failed", "retrying", "pending")
        ]
        if not unsent:
            raise RefusedError(
                f"alert #{alert_id} has no delivery that failed or waits; nothing to dismiss"
            )
        db.dismiss_deliveries(
            session,
            [d.id for d in unsent],
            f"dismissed by {actor} at {now.isoformat()}: {reason}",
        )
    return [d.channel for d in unsent]


def retry(store: Store, alert_id: int, now: datetime) -> list[str]:
    """Send an alert again where it did not go out (failed, given up, or dismissed): those
    deliveries start over, due now, for the alert sender's next wake-up. Returns the channels."""
    with store.session() as session:
        again = [
            d
            for d in _deliveries_of(session, alert_id)
            if d.status in ("failed", "retrying", "dismissed")
        ]
        if not again:
            raise RefusedError(
                f"alert #{alert_id} has no failed or dismissed delivery; nothing to retry"
            )
        db.restart_deliveries(session, [d.id for d in again], now)
    return [d.channel for d in again]
