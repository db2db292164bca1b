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

from sqlalchemy import func, or_
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from closing.alerts.channels import (
    LOG_CHANNEL,
    LOG_KEY,
    Channel,
    DeliveryFailed,
    Notifier,
    channels_for,
)
from closing.alerts.plan import AlertText, DueAlert, Key, alert_text, plan_alerts
from closing.board import company_missing
from closing.db.queries import (
    company_of,
    deal_by_id,
    deals_where,
    events_by_purchaser,
    purchasers_of,
)
from closing.db.schema import AlertRow, DealRow, DeliveryRow, PurchaserRow
from closing.db.store import Store
from closing.db.wires import versions
from closing.deadlines import Deal
from closing.wire_instructions import wire_status
from closing.wire_operations import ImportResult

ALERTS: Any = AlertRow.__table__  # type: ignore[attr-defined]
DELIVERIES: Any = DeliveryRow.__table__  # type: ignore[attr-defined]
BATCH = 500  # ids per statement (SQLite allows a limited number of bound parameters)
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


def _ledger(session: Session, deal_id: int) -> set[Key]:
    columns = ALERTS.c
    query = core_select(columns.purchaser_id, columns.step, columns.rule, columns.deadline)
    return {(p, s, r, d) for p, s, r, d in session.execute(query.where(columns.deal_id == deal_id))}


class LedgerCache:
    """Each deal's ledger keys, kept by the sender between wake-ups. Only the sender holding the
    lock writes the ledger, so it reads it once and adds what it inserts; the unique key in the
    database still decides, and a conflict drops the cache."""

    def __init__(self) -> None:
        self._keys: dict[int, set[Key]] = {}

    def keys(self, session: Session, deal_id: int) -> set[Key]:
        if deal_id not in self._keys:
            self._keys[deal_id] = _ledger(session, deal_id)
        return self._keys[deal_id]

    def add(self, deal_id: int, keys: list[Key]) -> None:
        if deal_id in self._keys:
            self._keys[deal_id].update(keys)

    def forget(self) -> None:
        self._keys.clear()


def plan_deal(
    session: Session, deal: Deal, now: datetime, ledger: set[Key] | None = None
) -> tuple[list[DueAlert], datetime | None]:
    purchasers = purchasers_of(session, deal.id)
    company = company_of(session, deal.id)
    events = events_by_purchaser(session, deal.id)
    keys = _ledger(session, deal.id) if ledger is None else ledger
    plan = plan_alerts(deal, purchasers, events, now, keys, company)
    return plan.due, plan.next_at


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
    """One deal's decision in one transaction: its ledger rows and their deliveries, inserted in
    bulk (a first wake-up on a large deal can decide thousands of alerts at once)."""
    found: list[Decided] = []
    with store.session() as session:
        deal = deal_by_id(session, deal_id)
        ledger = cache.keys(session, deal.id) if cache is not None else None
        due, next_at = plan_deal(session, deal, now, ledger)
        if not due:
            return found, next_at
        channels = channels_for([*deal.terms.alerts.notify, *extra_urls])
        wires = wire_status(versions(session, deal.id))
        warning, missing = wires.warning(), company_missing(wires)
        ledger_rows: list[dict[str, Any]] = []
        for alert in due:
            text = alert_text(deal.terms, alert, now, warning, missing)
            for missed in alert.superseded:
                ledger_rows.append(
                    _ledger_values(deal, alert, missed.rule, missed.fire_at, now, text)
                )
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
            found.append(
                Decided(
                    deal.slug,
                    alert.purchaser.slug,
                    alert.step.id,
                    alert.rule,
                    text.title,
                    alert.due_at,
                    len(alert.superseded),
                )
            )
        inserted = session.execute(
            ALERTS.insert().returning(
                ALERTS.c.id, ALERTS.c.superseded, sort_by_parameter_order=True
            ),
            ledger_rows,
        )
        sent_ids = [alert_id for alert_id, superseded in inserted if not superseded]
        session.execute(
            DELIVERIES.insert(),
            [
                {
                    "alert_id": alert_id,
                    "channel_key": channel.key,
                    "channel": channel.name,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for alert_id in sent_ids
                for channel in channels
            ],
        )
    if cache is not None:  # committed: the cache may now count these keys as sent
        cache.add(
            deal_id,
            [(r["purchaser_id"], r["step"], r["rule"], r["deadline"]) for r in ledger_rows],
        )
    return found, next_at


def record_notices(store: Store, result: ImportResult, now: datetime, extra_urls: list[str]) -> int:
    """Each wire an inbox import recorded, as an alert of its own in the ledger (so it goes to
    every channel once, like a deadline alert): "BNC Bach International, Ltd. wired ..."."""
    deal = result.deal
    rows = [row for row in result.rows if row.status == "recorded" and row.purchaser]
    if not rows:
        return 0
    terms = deal.terms
    with store.session() as session:
        wires = wire_status(versions(session, deal.id))
        warning = wires.warning()
        channels = channels_for([*terms.alerts.notify, *extra_urls])
        ledger_rows = []
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
        inserted = session.execute(
            ALERTS.insert().returning(ALERTS.c.id, sort_by_parameter_order=True), ledger_rows
        )
        ids = [alert_id for (alert_id,) in inserted]
        if channels:
            session.execute(
                DELIVERIES.insert(),
                [
                    {
                        "alert_id": alert_id,
                        "channel_key": channel.key,
                        "channel": channel.name,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                    for alert_id in ids
                    for channel in channels
                ],
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
) -> dict[str, Any]:
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


def _claimable(now: datetime) -> Any:
    """Deliveries nobody is sending: new, due for a retry, or left mid-send by a killed sender."""
    return or_(
        DELIVERIES.c.status.in_(["pending", "retrying"]) & (DELIVERIES.c.next_attempt_at <= now),
        (DELIVERIES.c.status == "sending") & (DELIVERIES.c.claimed_at <= now - CLAIM_TIMEOUT),
    )


def _claim(store: Store, ids: list[int], now: datetime) -> set[int]:
    """Mark deliveries as being sent by this sender; only those still claimable are taken, so two
    senders can never both send one."""
    claimed: set[int] = set()
    with store.session() as session:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            result = session.execute(
                DELIVERIES.update()
                .where(DELIVERIES.c.id.in_(chunk), _claimable(now))
                .values(status="sending", claimed_at=now)
                .returning(DELIVERIES.c.id)
            )
            claimed.update(row[0] for row in result)
    return claimed


def _record(
    store: Store, ids: list[int], attempts: int, error: str | None, gave_up: bool, now: datetime
) -> str:
    status = "sent" if error is None else ("failed" if gave_up else "retrying")
    with store.session() as session:
        for start in range(0, len(ids), BATCH):
            session.execute(
                DELIVERIES.update()
                .where(DELIVERIES.c.id.in_(ids[start : start + BATCH]))
                .values(
                    status=status,
                    attempts=attempts,
                    last_error=error,
                    delivered_at=now if error is None else None,
                    next_attempt_at=now + backoff(attempts),
                )
            )
    return status


def deliver(
    store: Store, notifier: Notifier, channels: Callable[[], dict[str, Channel]], now: datetime
) -> tuple[list[Delivered], datetime | None]:
    """Send every claimable delivery, oldest alert first; return the outcomes and when the next
    retry is due. The log channel goes in one batch; every other channel one delivery at a time,
    so a sender killed mid-send leaves only that one to be re-sent after CLAIM_TIMEOUT."""
    with store.session() as session:
        work = list(
            session.execute(
                core_select(
                    DELIVERIES.c.id,
                    DELIVERIES.c.channel_key,
                    DELIVERIES.c.channel,
                    DELIVERIES.c.attempts,
                    ALERTS.c.id,
                    ALERTS.c.title,
                    ALERTS.c.body,
                    ALERTS.c.fields_json,
                )
                .select_from(DELIVERIES.join(ALERTS))
                .where(_claimable(now))
                .order_by(ALERTS.c.due_at, DELIVERIES.c.id)
            )
        )
    known = channels()
    outcomes: list[Delivered] = []
    logged = [item for item in work if item[1] == LOG_KEY]
    claimed = _claim(store, [item[0] for item in logged], now)
    sent_after: dict[int, list[int]] = {}  # attempts -> deliveries, for one update each
    for delivery_id, _, name, attempts, alert_id, title, body, fields in logged:
        if delivery_id in claimed:
            notifier.send(LOG_CHANNEL, title, body, json.loads(fields))
            outcomes.append(Delivered(alert_id, name, "sent", title))
            sent_after.setdefault(attempts + 1, []).append(delivery_id)
    for tried, ids in sent_after.items():
        _record(store, ids, tried, None, False, now)
    for delivery_id, key, name, attempts, alert_id, title, body, fields in work:
        if key == LOG_KEY or not _claim(store, [delivery_id], now):
            continue
        channel = known.get(key)
        error: str | None = None
        if channel is None:
            error = "this channel is not configured in this alert sender"
        else:
            try:
                notifier.send(channel, title, body, json.loads(fields))
            except DeliveryFailed as failure:
                error = str(failure)
        tried = attempts + 1
        gave_up = tried >= MAX_ATTEMPTS or channel is None  # an unknown channel will not appear
        status = _record(store, [delivery_id], tried, error, gave_up, now)
        outcomes.append(Delivered(alert_id, name, status, title, error))
    with store.session() as session:
        next_retry = session.execute(
            core_select(func.min(DELIVERIES.c.next_attempt_at)).where(
                DELIVERIES.c.status.in_(["pending", "retrying"])
            )
        ).scalar_one_or_none()
    return outcomes, next_retry


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


# --- reading the ledger ------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    deal: str
    purchaser: str
    step: str
    rule: str
    deadline: datetime
    due_at: datetime
    decided_at: datetime
    title: str
    key: str
    superseded: bool
    deliveries: list[dict[str, object]]
    zone: ZoneInfo

    @property
    def status(self) -> str:
        states = {str(d["status"]) for d in self.deliveries}
        if self.superseded:
            return "superseded"
        for state in ("failed", "retrying", "sending", "pending"):
            if state in states:
                return state
        return "sent"


def ledger(store: Store, include_superseded: bool = False) -> list[LedgerEntry]:
    with store.session(read_only=True) as session:
        query = (
            select(AlertRow, DealRow.slug, PurchaserRow.slug)
            .join(DealRow, col(DealRow.id) == AlertRow.deal_id)
            .join(PurchaserRow, col(PurchaserRow.id) == AlertRow.purchaser_id)
            .order_by(col(AlertRow.due_at), col(AlertRow.id))
        )
        if not include_superseded:
            query = query.where(col(AlertRow.superseded).is_(False))
        alerts = list(session.exec(query))
        zones = {deal.slug: deal.terms.zone for deal in deals_where(session)}
        deliveries: dict[int, list[dict[str, object]]] = {}
        for d in session.exec(select(DeliveryRow).order_by(col(DeliveryRow.id))):
            deliveries.setdefault(d.alert_id, []).append(
                {
                    "channel": d.channel,
                    "status": d.status,
                    "attempts": d.attempts,
                    "delivered_at": d.delivered_at,
                    "last_error": d.last_error,
                }
            )
    return [
        LedgerEntry(
            a.id or 0,
            deal,
            purchaser,
            a.step,
            a.rule,
            a.deadline,
            a.due_at,
            a.decided_at,
            a.title,
            a.key,
            a.superseded,
            deliveries.get(a.id or 0, []),
            zones[deal],
        )
        for a, deal, purchaser in alerts
    ]
