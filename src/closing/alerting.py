"""The alert ledger in the database: decide what is due (once, by its unique key), deliver it to
each channel with retries, and say when to wake up next.

The scheduler only wakes this up; the truth (deadlines, what was sent) lives in these tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from closing.alerts import AlertText, DueAlert, Key, alert_text, plan_alerts
from closing.notify import Channel, DeliveryFailed, Notifier, channels_for
from closing.operations import Deal, deal_from_row, events_by_purchaser, purchasers_of
from closing.store import AlertRow, DealRow, DeliveryRow, PurchaserRow, Store

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
    query = select(AlertRow.purchaser_id, AlertRow.step, AlertRow.rule, AlertRow.deadline).where(
        AlertRow.deal_id == deal_id
    )
    return {(p, s, r, d) for p, s, r, d in session.exec(query)}


def _deals(session: Session) -> list[Deal]:
    return [deal_from_row(row) for row in session.exec(select(DealRow).order_by(col(DealRow.id)))]


def plan_deal(
    session: Session, deal: Deal, now: datetime
) -> tuple[list[DueAlert], datetime | None]:
    purchasers = purchasers_of(session, deal)
    events = events_by_purchaser(session, deal.id)
    plan = plan_alerts(
        deal.terms, deal.calendar, deal.machine, purchasers, events, now, _ledger(session, deal.id)
    )
    return plan.due, plan.next_at


def decide(
    store: Store, now: datetime, extra_urls: list[str]
) -> tuple[list[Decided], datetime | None]:
    """Record every alert due at `now` in the ledger with one delivery per channel; return them and
    the next time an alert falls due. One transaction per deal: all of its decision or none."""
    decided: list[Decided] = []
    next_at: datetime | None = None
    with store.session() as session:
        deal_ids = [deal.id for deal in _deals(session)]
    for deal_id in deal_ids:
        for attempt in range(3):
            try:
                found, deal_next = _decide_deal(store, deal_id, now, extra_urls)
                break
            except IntegrityError:  # another sender got there first; its rows now count
                if attempt == 2:
                    raise
        decided += found
        if deal_next is not None and (next_at is None or deal_next < next_at):
            next_at = deal_next
    return decided, next_at


def _decide_deal(
    store: Store, deal_id: int, now: datetime, extra_urls: list[str]
) -> tuple[list[Decided], datetime | None]:
    found: list[Decided] = []
    with store.session() as session:
        row = session.get(DealRow, deal_id)
        assert row is not None
        deal = deal_from_row(row)
        due, next_at = plan_deal(session, deal, now)
        channels = channels_for([*deal.terms.alerts.notify, *extra_urls])
        for alert in due:
            text = alert_text(deal.terms, alert, now)
            for missed in alert.superseded:
                session.add(_ledger_row(deal, alert, missed.rule, missed.fire_at, now, text))
            fields = {
                "deal": deal.slug,
                "purchaser": alert.purchaser.slug,
                "step": alert.step.id,
                "rule": alert.rule,
                "deadline": alert.deadline.astimezone(deal.terms.zone).isoformat(),
                "key": text.key,
                "title": text.title,
            }
            ledger_row = _ledger_row(deal, alert, alert.rule, alert.due_at, now, text, fields)
            session.add(ledger_row)
            session.flush()
            assert ledger_row.id is not None
            for channel in channels:
                session.add(
                    DeliveryRow(
                        alert_id=ledger_row.id,
                        channel_key=channel.key,
                        channel=channel.name,
                        status="pending",
                        next_attempt_at=now,
                    )
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
    return found, next_at


def _ledger_row(
    deal: Deal,
    alert: DueAlert,
    rule: str,
    due_at: datetime,
    now: datetime,
    text: AlertText,
    fields: dict[str, str] | None = None,
) -> AlertRow:
    """The ledger row of one occurrence; without `fields` it is one superseded by `alert`."""
    return AlertRow(
        deal_id=deal.id,
        purchaser_id=alert.purchaser.id,
        step=alert.step.id,
        rule=rule,
        deadline=alert.deadline,
        due_at=due_at,
        decided_at=now,
        superseded=fields is None,
        title=text.title,
        body=text.body if fields is not None else "",
        key=text.key,
        fields_json=json.dumps(fields or {}),
    )


def deliver(
    store: Store, notifier: Notifier, channels: Callable[[], dict[str, Channel]], now: datetime
) -> tuple[list[Delivered], datetime | None]:
    """Send every delivery that is due (new, or due for a retry, or left mid-send by a killed
    sender); return the outcomes and when the next retry is due."""
    with store.session() as session:
        claimable = or_(
            col(DeliveryRow.status).in_(["pending", "retrying"])
            & (col(DeliveryRow.next_attempt_at) <= now),
            (col(DeliveryRow.status) == "sending")
            & (col(DeliveryRow.claimed_at) <= now - CLAIM_TIMEOUT),
        )
        rows = list(
            session.exec(
                select(DeliveryRow, AlertRow)
                .join(AlertRow, col(AlertRow.id) == DeliveryRow.alert_id)
                .where(claimable)
                .order_by(col(AlertRow.due_at), col(DeliveryRow.id))
            )
        )
        work = [
            (
                d.id,
                d.channel_key,
                d.channel,
                d.attempts,
                a.id,
                a.title,
                a.body,
                json.loads(a.fields_json),
            )
            for d, a in rows
        ]
    known = channels()
    outcomes: list[Delivered] = []
    for delivery_id, key, name, attempts, alert_id, title, body, fields in work:
        # Claimed one at a time: a sender killed mid-send leaves only this one in "sending".
        with store.session() as session:
            claimed = session.get(DeliveryRow, delivery_id)
            assert claimed is not None
            claimed.status = "sending"
            claimed.claimed_at = now
            session.add(claimed)
        channel = known.get(key)
        error: str | None = None
        if channel is None:
            error = "this channel is not configured in this alert sender"
        else:
            try:
                notifier.send(channel, title, body, fields)
            except DeliveryFailed as failure:
                error = str(failure)
        tried = attempts + 1
        gave_up = tried >= MAX_ATTEMPTS or channel is None  # an unknown channel will not appear
        status = "sent" if error is None else ("failed" if gave_up else "retrying")
        with store.session() as session:
            row = session.get(DeliveryRow, delivery_id)
            assert row is not None
            row.attempts = tried
            row.status = status
            row.last_error = error
            row.delivered_at = now if error is None else None
            row.next_attempt_at = now + backoff(tried)
            session.add(row)
        outcomes.append(Delivered(alert_id or 0, name, status, title, error))
    with store.session() as session:
        next_retry = session.exec(
            select(func.min(DeliveryRow.next_attempt_at)).where(
                col(DeliveryRow.status).in_(["pending", "retrying"])
            )
        ).first()
    return outcomes, next_retry


def run_pass(store: Store, notifier: Notifier, extra_urls: list[str], now: datetime) -> Pass:
    """Decide, then deliver: one wake-up."""
    decided, next_alert = decide(store, now, extra_urls)
    delivered, next_retry = deliver(
        store, notifier, lambda: configured_channels(store, extra_urls), now
    )
    candidates = [t for t in (next_alert, next_retry) if t is not None]
    return Pass(decided, delivered, min(candidates) if candidates else None)


def configured_channels(store: Store, extra_urls: list[str]) -> dict[str, Channel]:
    """Every channel this sender can reach: each deal's URLs and the ones it was started with."""
    urls = list(extra_urls)
    with store.session() as session:
        for deal in _deals(session):
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
    with store.session() as session:
        query = (
            select(AlertRow, DealRow.slug, PurchaserRow.slug)
            .join(DealRow, col(DealRow.id) == AlertRow.deal_id)
            .join(PurchaserRow, col(PurchaserRow.id) == AlertRow.purchaser_id)
            .order_by(col(AlertRow.due_at), col(AlertRow.id))
        )
        if not include_superseded:
            query = query.where(col(AlertRow.superseded).is_(False))
        alerts = list(session.exec(query))
        zones = {deal.slug: deal.terms.zone for deal in _deals(session)}
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
