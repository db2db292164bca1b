"""The record as JSON: the event history (`closing history --json`), the deal list (`closing
deals --json`) and the alert ledger (`closing alerts list --json`); times as ISO 8601 with the
deal's offset, amounts as exact strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from closing.views.status_document import iso

if TYPE_CHECKING:
    from closing.domain.alert_ledger import LedgerEntry
    from closing.domain.history import DealSummary, HistoryEntry


def history_json(entries: list[HistoryEntry], zone: ZoneInfo) -> list[dict[str, Any]]:
    return [
        {
            "number": entry.number,  # in the deal, as `closing history` shows it
            "id": entry.event.id,  # the database's, across deals
            "purchaser": entry.purchaser.slug,
            "seq": entry.event.seq,
            "kind": entry.event.kind,
            "step": entry.event.step,
            "occurred_at": iso(entry.event.occurred_at, zone),
            "recorded_at": iso(entry.event.recorded_at, zone),  # the machine's clock
            "rehearsal": entry.event.rehearsal_at is not None,  # recorded under CLOSING_NOW
            "rehearsal_at": None
            if entry.event.rehearsal_at is None
            else iso(entry.event.rehearsal_at, zone),
            "actor": entry.event.actor,
            "done_by": entry.event.actor,  # authenticated, unless actor_declared
            "on_behalf_of": entry.event.on_behalf_of,
            "actor_declared": entry.event.actor_declared,
            "host": entry.event.host,
            "evidence_kind": entry.event.evidence_kind,
            "evidence": entry.event.evidence,
            "amount": None if entry.event.amount is None else str(entry.event.amount),
            "note": entry.event.note,
        }
        for entry in entries
    ]


def deals_json(summaries: list[DealSummary]) -> list[dict[str, Any]]:
    return [
        {
            "slug": s.slug,
            "title": s.title,
            "closing_date": s.closing_date.isoformat(),
            "cutoff": s.cutoff.isoformat(),
            "purchasers": s.purchasers,
            "events": s.events,
        }
        for s in summaries
    ]


def ledger_json(entries: list[LedgerEntry]) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "key": e.key,
            "deal": e.deal,
            "purchaser": e.purchaser,
            "step": e.step,
            "rule": e.rule,
            "deadline": iso(e.deadline, e.zone),
            "due_at": iso(e.due_at, e.zone),
            "decided_at": iso(e.decided_at, e.zone),
            "title": e.title,
            "status": e.status,
            "deliveries": [
                {
                    **d,
                    "delivered_at": iso(d["delivered_at"], e.zone)  # type: ignore[arg-type]
                    if d["delivered_at"]
                    else None,
                }
                for d in e.deliveries
            ],
        }
        for e in entries
    ]
