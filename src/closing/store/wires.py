"""Every statement on the versions of the company's wire instructions and on the credits imported
from bank files, in SQLAlchemy Core against the typed tables of `closing.store.schema`. Records are
built from the columns named by the record's own fields."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closing.domain.wire_instructions import Proposed, Version, WireStatus
from closing.store import direct, schema
from closing.store.queries import reader
from closing.store.schema import WIRE_INSTRUCTIONS

# --- wire instructions -------------------------------------------------------------------------


def versions(session: Session, deal_id: int) -> list[Version]:
    """Every version of the deal's wire instructions, oldest first."""
    return direct.wire_versions(reader(session), deal_id)


def status_of(session: Session, deal_id: int, as_of: datetime | None = None) -> WireStatus:
    """Where the deal's wire instructions stand (at `as_of`: verifications recorded later do
    not count)."""
    return direct.wire_status_of(reader(session), deal_id, as_of)


def insert_version(
    session: Session,
    deal_id: int,
    number: int,
    event_id: int,
    proposed: Proposed,
    entered_by: str,
    entered_at: datetime,
) -> None:
    session.execute(
        WIRE_INSTRUCTIONS.insert().values(
            deal_id=deal_id,
            version=number,
            event_id=event_id,
            fingerprint=proposed.fingerprint,
            bank=proposed.bank,
            aba=proposed.aba,
            account_masked=proposed.account_masked,
            account_name=proposed.account_name,
            swift=proposed.swift,
            reference=proposed.reference,
            callback_numbers=json.dumps(list(proposed.callback_numbers)),
            entered_by=entered_by,
            entered_at=entered_at,
        )
    )


def record_verification(
    session: Session,
    deal_id: int,
    number: int,
    event_id: int,
    verified_by: str,
    verified_at: datetime,
    callback_number: str,
    spoke_with: str,
) -> None:
    session.execute(
        WIRE_INSTRUCTIONS.update()
        .where(WIRE_INSTRUCTIONS.c.deal_id == deal_id, WIRE_INSTRUCTIONS.c.version == number)
        .values(
            verified_event_id=event_id,
            verified_by=verified_by,
            verified_at=verified_at,
            callback_number=callback_number,
            spoke_with=spoke_with,
        )
    )


# --- bank credits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCredit:
    """An imported credit as `closing wires list` shows it."""

    id: int
    bank_reference: str
    file_name: str
    file_sha256: str
    file_format: str
    line: int
    amount: Decimal
    currency: str
    value_date: str | None
    ordering_customer: str | None
    imad: str | None
    details: str
    account_masked: str
    imported_at: datetime
    imported_by: str
    status: str
    reason: str
    purchaser_id: int | None
    event_id: int | None


_CREDIT_NAMES = [f.name for f in fields(StoredCredit)]


def _credit_columns() -> list[Any]:
    """The credit ledger's columns (its table is defined on first use, see db.schema)."""
    return [schema.BANK_CREDITS.c[name] for name in _CREDIT_NAMES]


def _credit(row: Any) -> StoredCredit:
    return StoredCredit(**dict(zip(_CREDIT_NAMES, row, strict=True)))


def known_references(session: Session, deal_id: int, references: Iterable[str]) -> set[str]:
    """Which of these bank references were imported before."""
    return direct.known_references(reader(session), deal_id, references)


def insert_credits(session: Session, deal_id: int, rows: Sequence[dict[str, Any]]) -> None:
    direct.insert_credits(reader(session), deal_id, rows)


def credits_of(session: Session, deal_id: int) -> list[StoredCredit]:
    query = (
        select(*_credit_columns())
        .where(schema.BANK_CREDITS.c.deal_id == deal_id)
        .order_by(schema.BANK_CREDITS.c.id)
    )
    return [_credit(row) for row in session.execute(query)]


def credit_by_reference(session: Session, deal_id: int, reference: str) -> StoredCredit | None:
    query = select(*_credit_columns()).where(
        schema.BANK_CREDITS.c.deal_id == deal_id, schema.BANK_CREDITS.c.bank_reference == reference
    )
    row = session.execute(query.with_for_update()).first()
    return None if row is None else _credit(row)


def update_credit(session: Session, credit_id: int, **values: Any) -> None:
    session.execute(
        schema.BANK_CREDITS.update().where(schema.BANK_CREDITS.c.id == credit_id).values(**values)
    )


def lock_deal_purchasers(session: Session, deal_id: int) -> dict[int, str]:
    """Serialise an import with every mark on the deal; each party's chain head."""
    return direct.lock_deal_parties(reader(session), deal_id)
