"""The binder export's rows: every event of the record (then every load of the deal file, then
the record of facts) with all its fields, money as exact strings, times ISO 8601 with the deal's
offset, account numbers in evidence and notes masked.
"""

from __future__ import annotations

from decimal import Decimal

from closing.domain.money import money_text
from closing.domain.record import DealRecord
from closing.domain.redaction import Masker, account_numbers

EXPORT_FIELDS = (
    "id",
    "record",
    "party",
    "party_name",
    "seq",
    "kind",
    "step",
    "occurred_at",
    "recorded_at",
    "rehearsal_at",
    "actor",
    "on_behalf_of",
    "actor_declared",
    "host",
    "evidence_kind",
    "evidence",
    "amount",
    "note",
    "prev_hash",
    "hash",
)


def _exact(amount: Decimal) -> str:
    """Cents always shown, nothing rounded: `450000.00`."""
    return money_text(amount) if amount == amount.quantize(Decimal("0.01")) else str(amount)


def export_rows(record: DealRecord) -> list[dict[str, str | int | None]]:
    """Every event (then every deal-file load) with all its fields: money as exact strings,
    times as ISO 8601 with the deal's offset, evidence and notes with account numbers masked."""
    deal = record.deal
    zone = deal.terms.zone
    mask = Masker(account_numbers(deal, {e.party.id: e.party for e in record.entries}.values()))
    rows: list[dict[str, str | int | None]] = []
    for entry in record.entries:
        event = entry.event
        rows.append(
            {
                "id": event.id,
                "record": "event",
                "party": entry.party.slug.lstrip("@"),  # `company`, as closing verify prints it
                "party_name": entry.party.name,
                "seq": event.seq,
                "kind": event.kind,
                "step": event.step or None,
                "occurred_at": event.occurred_at.astimezone(zone).isoformat(),
                "recorded_at": event.recorded_at.astimezone(zone).isoformat(),
                "rehearsal_at": None
                if event.rehearsal_at is None
                else event.rehearsal_at.astimezone(zone).isoformat(),
                "actor": event.actor,
                "on_behalf_of": event.on_behalf_of,
                "actor_declared": event.actor_declared,
                "host": event.host,
                "evidence_kind": event.evidence_kind,
                "evidence": mask(event.evidence) if event.evidence else event.evidence,
                "amount": None if event.amount is None else _exact(event.amount),
                "note": mask(event.note) if event.note else event.note,
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
            }
        )
    for number, revision in enumerate(record.revisions, start=1):
        loaded = revision.loaded_at.astimezone(zone).isoformat()
        rows.append(
            dict.fromkeys(EXPORT_FIELDS)
            | {
                "id": number,
                "record": "deal_revision",
                "party": "deal",
                "party_name": deal.terms.title,
                "kind": "deal_file_loaded",
                "occurred_at": loaded,
                "recorded_at": loaded,
                "evidence_kind": "sha256",
                "evidence": revision.source_sha256,
                "note": "; ".join(revision.changes),
            }
        )
    for fact in record.facts:  # the record of facts: each stored fact's hash as written
        if fact.hash is None:
            continue
        at = fact.recorded_at.astimezone(zone).isoformat()
        rows.append(
            dict.fromkeys(EXPORT_FIELDS)
            | {
                "id": fact.seq,
                "record": "fact",
                "party": "facts",
                "party_name": "Record of facts",
                "seq": fact.seq,
                "kind": fact.table,
                "step": fact.key,
                "occurred_at": at,
                "recorded_at": at,
                "evidence_kind": "sha256",
                "evidence": fact.row_hash,
                "prev_hash": fact.prev_hash,
                "hash": fact.hash,
            }
        )
    return rows
