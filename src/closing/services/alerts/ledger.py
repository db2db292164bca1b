"""The alert ledger as people read it and act on it: `closing alerts list` (each alert with its
deliveries, a digest's counting for the alerts it carries), `dismiss` (a person saw to a failed
one) and `retry` (send it again).
"""

from __future__ import annotations

import json
from datetime import datetime

from closing.domain.alert_ledger import LedgerEntry
from closing.domain.alert_plan import at_sending
from closing.domain.errors import NotFoundError, RefusedError
from closing.store import alerts as db
from closing.store import deals as deal_store
from closing.store.alerts import DIGEST_STEP
from closing.store.connection import Connection, Database
from closing.store.identity import actor_shown


def _sent_at(deliveries: list[dict[str, object]] | None, alert: db.ListedAlert) -> datetime:
    """When an alert went out (its first delivery), else when it was decided."""
    times = [d["delivered_at"] for d in deliveries or [] if isinstance(d["delivered_at"], datetime)]
    return min(times) if times else alert.decided_at


# --- reading the ledger ------------------------------------------------------------------------


def ledger(database: Database, include_superseded: bool = False) -> list[LedgerEntry]:
    with database.transaction(write=False) as connection:
        alerts = db.listed_alerts(connection, include_superseded)
        zones = {deal.slug: deal.terms.zone for deal in deal_store.deals(connection)}
        deliveries: dict[int, list[dict[str, object]]] = {}
        for d in db.listed_deliveries(connection):
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


def _deliveries_of(connection: Connection, alert_id: int) -> list[db.AlertDelivery]:
    found = db.deliveries_of(connection, alert_id)
    if not found and not db.alert_exists(connection, alert_id):
        raise NotFoundError(f"no alert #{alert_id}; closing alerts list shows their numbers")
    return found


def dismiss(
    database: Database, alert_id: int, reason: str, on_behalf_of: str | None, now: datetime
) -> list[str]:
    """A person has seen to an alert whose delivery failed (called the purchaser, say): its
    deliveries not sent are `dismissed`, with who and why, and stop counting on the board.
    Returns the channels dismissed."""
    with database.transaction() as connection:
        unsent = [
            d
            for d in _deliveries_of(connection, alert_id)
            if d.status in ("failed", "retrying", "pending")
        ]
        if not unsent:
            raise RefusedError(
                f"alert #{alert_id} has no delivery that failed or waits; nothing to dismiss"
            )
        db.dismiss_deliveries(
            connection,
            [d.id for d in unsent],
            f"dismissed by {actor_shown(connection, on_behalf_of)} at {now.isoformat()}: {reason}",
        )
    return [d.channel for d in unsent]


def retry(database: Database, alert_id: int, now: datetime) -> list[str]:
    """Send an alert again where it did not go out (failed, given up, or dismissed): those
    deliveries start over, due now, for the alert sender's next wake-up. Returns the channels."""
    with database.transaction() as connection:
        again = [
            d
            for d in _deliveries_of(connection, alert_id)
            if d.status in ("failed", "retrying", "dismissed")
        ]
        if not again:
            raise RefusedError(
                f"alert #{alert_id} has no failed or dismissed delivery; nothing to retry"
            )
        db.restart_deliveries(connection, [d.id for d in again], now)
    return [d.channel for d in again]
