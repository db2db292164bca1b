"""Deciding alerts: every occurrence due at a moment recorded once in the alert ledger (its unique
key), with one pending delivery per channel, in one transaction per deal; and the wires an inbox
import recorded, as alerts of their own.

The plan is pure (`closing.domain.alert_plan`); this module reads what it needs through
`closing.store`, and writes the ledger rows and deliveries. Sending them is
`closing.services.alerts.deliver`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from closing.domain.alert_plan import (
    AlertText,
    DueAlert,
    Key,
    alert_text,
    at_sending,
    digest_groups,
    digest_text,
    plan_alerts,
)
from closing.domain.board import Board, build_board
from closing.domain.deal import Deal
from closing.domain.events import COMPANY_SLUG, Event, Purchaser
from closing.domain.money import format_money
from closing.domain.owners import owner_of
from closing.domain.seal import SEAL_STEP, seal_notices
from closing.domain.wire_instructions import company_missing
from closing.services.alerts.channels import LOG_CHANNEL, channels_for
from closing.services.wire_import import ImportResult
from closing.store import alerts as db
from closing.store import deals as deal_store
from closing.store import events as event_store
from closing.store.alerts import DIGEST_STEP, LedgerCache, NewAlert
from closing.store.connection import Connection, Database, UniqueViolation
from closing.store.wires import wire_status_of


@dataclass(frozen=True)
class Decided:
    deal: str
    purchaser: str
    step: str
    rule: str
    title: str
    due_at: datetime
    superseded: int


def board_summary(board: Board) -> str:
    """The board in one line: "1/2 closed · received $450,000.00 of $1,380,000.00"."""
    totals = board.totals
    return (
        f"{totals.closed}/{totals.purchasers} closed · received "
        f"{format_money(totals.amount_received)} of {format_money(totals.purchase_price)}"
    )


def decide(
    database: Database,
    now: datetime,
    extra_urls: list[str],
    cache: LedgerCache | None = None,
    deals: Sequence[int] | None = None,
) -> tuple[list[Decided], datetime | None]:
    """Record every alert due at `now` in the ledger with one delivery per channel; return them and
    the next time an alert falls due. One transaction per deal: all of its decision or none.

    Only `deals` (by id; None: every deal). With a `cache`, a deal is planned again only when it
    changed since its last plan (its change marker: a mark, a reloaded deal file) or an alert of
    it falls due."""
    decided: list[Decided] = []
    next_at: datetime | None = None
    with database.transaction(write=False) as connection:
        markers = deal_store.deal_markers(connection)
    wanted = list(markers) if deals is None else [d for d in markers if d in set(deals)]
    if cache is not None:
        cache.hold(wanted)
    for deal_id in wanted:
        if cache is not None:
            known, unchanged = cache.plan_of(deal_id, markers[deal_id], now)
            if unchanged:
                if known is not None and (next_at is None or known < next_at):
                    next_at = known
                continue
        for attempt in range(3):
            try:
                found, deal_next = _decide_deal(database, deal_id, now, extra_urls, cache)
                break
            except UniqueViolation:  # another sender got there first; its rows now count
                if cache is not None:
                    cache.forget()
                if attempt == 2:
                    raise
        if cache is not None:
            cache.planned(deal_id, markers[deal_id], deal_next)
        decided += found
        if deal_next is not None and (next_at is None or deal_next < next_at):
            next_at = deal_next
    return decided, next_at


def _decide_deal(
    database: Database,
    deal_id: int,
    now: datetime,
    extra_urls: list[str],
    cache: LedgerCache | None = None,
) -> tuple[list[Decided], datetime | None]:
    """One deal's decision in one transaction: read the deal, its purchasers, their events and the
    ledger, plan, then insert the ledger rows and their deliveries in bulk (a first wake-up on a
    large deal can decide thousands of alerts at once)."""
    found: list[Decided] = []
    with database.transaction() as connection:
        deal = deal_store.deal_by_id(connection, deal_id)
        purchasers, company = deal_store.parties(connection, deal.id)
        events = event_store.events_by_party(connection, deal.id)
        keys = (
            db.alert_keys(connection, deal.id) if cache is None else cache.keys(connection, deal.id)
        )
        plan = plan_alerts(deal, purchasers, events, now, keys, company)
        sealed = _seal_rows(deal, company, events, keys, now)
        if not plan.due and not sealed:
            return found, plan.next_at
        channels = channels_for([*deal.terms.alerts.notify, *extra_urls])
        wires = wire_status_of(connection, deal.id)
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
        inserted = db.insert_alerts(connection, ledger_rows)
        ids_of: dict[int, int] = {}  # id(alert) -> its ledger id
        alone: list[int] = []  # alerts that go to every channel on their own
        logged: list[int] = []  # alerts carried by a digest: the log only
        for row, owner in zip(inserted, owners, strict=True):
            if owner is not None:
                ids_of[id(owner)] = row.id
                (logged if id(owner) in in_digest else alone).append(row.id)
        every = [(channel.key, channel.name) for channel in channels]
        db.insert_deliveries(connection, alone, every, now)
        _to_owners(connection, deal, plan.due, ids_of, every, now)
        db.insert_deliveries(connection, logged, [(LOG_CHANNEL.key, LOG_CHANNEL.name)], now)
        for group in groups:
            text = digest_text(deal.terms, group, now, warning, missing, summary)
            digest_id = _insert_digest(connection, deal, company, group, ids_of, now, text)
            db.insert_deliveries(
                connection, [digest_id], [(channel.key, channel.name) for channel in outside], now
            )
        notices = db.insert_alerts(connection, sealed)
        db.insert_deliveries(connection, [notice.id for notice in notices], every, now)
        found += [
            Decided(deal.slug, COMPANY_SLUG, SEAL_STEP, row["rule"], row["title"], now, 0)
            for row in sealed
        ]
    if cache is not None:  # committed: the cache may now count these keys as sent
        cache.add(
            deal.id,
            [
                (r["purchaser_id"], r["step"], r["rule"], r["deadline"])
                for r in [*ledger_rows, *sealed]
            ],
        )
    return found, plan.next_at


def _seal_rows(
    deal: Deal,
    company: Purchaser | None,
    events: dict[int, list[Event]],
    keys: set[Key],
    now: datetime,
) -> list[NewAlert]:
    """With `alerts: {seals: true}`, the ledger row of each seal not yet in the ledger: a notice
    of its digest to every channel (not a deadline: its `deadline` is when it was sealed)."""
    if company is None or not deal.terms.alerts.seals:
        return []
    sent = {rule for _, step, rule, _ in keys if step == SEAL_STEP}
    return [
        {
            "deal_id": deal.id,
            "purchaser_id": company.id,
            "step": SEAL_STEP,
            "rule": rule,
            "deadline": event.logged_at,
            "due_at": now,
            "decided_at": now,
            "superseded": False,
            "title": text.title,
            "body": text.body,
            "key": text.key,
            "fields_json": json.dumps({"deal": deal.slug, "key": text.key, "title": text.title}),
        }
        for rule, event, text in seal_notices(deal.terms, events.get(company.id, []), sent)
    ]


def _to_owners(
    connection: Connection,
    deal: Deal,
    due: list[DueAlert],
    ids_of: dict[int, int],
    every: list[tuple[str, str]],
    now: datetime,
) -> None:
    """Each alert also goes to its step's owner's own channels (the party's `notify:`), on its
    own: an alert a digest carries on the deal's channels too (a digest covers every owner's
    alerts of its rule and moment, which are not all this party's to see)."""
    parties = deal.terms.parties
    if not any(party.notify for party in parties.values()):
        return
    sent = set(every)
    by_owner: dict[str, list[int]] = {}
    for alert in due:
        if id(alert) in ids_of:
            slug = None if alert.purchaser.is_company else alert.purchaser.slug
            by_owner.setdefault(owner_of(alert.step, slug), []).append(ids_of[id(alert)])
    for owner, ids in by_owner.items():
        party = parties.get(owner)
        if party is None or not party.notify:
            continue
        extra = [(c.key, c.name) for c in channels_for(party.notify)]
        db.insert_deliveries(connection, ids, [c for c in extra if c not in sent], now)


def _insert_digest(
    connection: Connection,
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
    return db.insert_alerts(connection, [row])[0].id


def record_notices(
    database: Database, result: ImportResult, now: datetime, extra_urls: list[str]
) -> int:
    """Each wire an inbox import recorded, as an alert of its own in the ledger (so it goes to
    every channel once, like a deadline alert): "BNC Bach International, Ltd. wired ..."."""
    deal = result.deal
    rows = [row for row in result.rows if row.status == "recorded" and row.purchaser]
    if not rows:
        return 0
    terms = deal.terms
    with database.transaction() as connection:
        wires = wire_status_of(connection, deal.id)
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
        inserted = db.insert_alerts(connection, ledger_rows)
        db.insert_deliveries(
            connection,
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
