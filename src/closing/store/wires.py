"""Every statement on the versions of the company's wire instructions and on the credits imported
from bank files, in SQLAlchemy Core against the typed tables of `closing.store.schema`. Records are
built from the columns named by the record's own fields."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closing.domain.wire_instructions import Proposed, Version, WireStatus, wire_status
from closing.store import direct, schema
from closing.store.connection import Connection
from closing.store.queries import reader
from closing.store.schema import WIRE_INSTRUCTIONS

_VERSION_COLUMNS = [
    "version",
    "fingerprint",
    "bank",
    "aba",
    "account_masked",
    "account_name",
    "swift",
    "reference",
    "callback_numbers",
    "entered_by",
    "entered_at",
    "verified_by",
    "verified_at",
    "callback_number",
    "spoke_with",
]

# --- wire instructions -------------------------------------------------------------------------


def wire_versions(reader: Connection, deal_id: int) -> list[Version]:
    """Every version of the deal's wire instructions, oldest first."""
    sql = (
        f"SELECT {', '.join(_VERSION_COLUMNS)} FROM wire_instructions WHERE deal_id = ? "
        "ORDER BY version"
    )
    found = []
    for row in reader.rows(sql, (deal_id,)):
        values = dict(zip(_VERSION_COLUMNS, row, strict=True))
        values["number"] = values.pop("version")
        values["callback_numbers"] = tuple(json.loads(values["callback_numbers"]))
        values["entered_at"] = reader.moment(values["entered_at"])
        if values["verified_at"] is not None:
            values["verified_at"] = reader.moment(values["verified_at"])
        found.append(Version(**values))
    return found


def wire_status_of(reader: Connection, deal_id: int, as_of: datetime | None = None) -> WireStatus:
    """Where the deal's wire instructions stand (at `as_of`: verifications recorded later do not
    count)."""
    return wire_status(wire_versions(reader, deal_id), as_of=as_of)


def versions(session: Session, deal_id: int) -> list[Version]:
    """Every version of the deal's wire instructions, oldest first."""
    return wire_versions(reader(session), deal_id)


def status_of(session: Session, deal_id: int, as_of: datetime | None = None) -> WireStatus:
    """Where the deal's wire instructions stand (at `as_of`: verifications recorded later do
    not count)."""
    return wire_status_of(reader(session), deal_id, as_of)


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


# --- bank credits --------------------------------------------------------------------------------

BATCH = 500  # values per IN (...) (SQLite allows a limited number of bound parameters)


def known_references(reader: Connection, deal_id: int, references: Iterable[str]) -> set[str]:
    """Which of these bank references were imported before."""
    wanted = sorted(set(references))
    known: set[str] = set()
    for start in range(0, len(wanted), BATCH):
        some = wanted[start : start + BATCH]
        sql = (
            "SELECT bank_reference FROM bank_credit WHERE deal_id = ? AND bank_reference IN "
            f"({', '.join('?' * len(some))})"
        )
        known.update(row[0] for row in reader.rows(sql, (deal_id, *some)))
    return known


def insert_credits(reader: Connection, deal_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """New rows of the credit ledger (each a dict of its columns, `amount` a Decimal and
    `imported_at` an aware datetime)."""
    if not rows:
        return
    names = list(rows[0])
    money_at, moment_at = names.index("amount"), names.index("imported_at")
    columns, bind_money, bind_moment = itemgetter(*names), reader.bind_money, reader.bind_moment
    values = []
    for row in rows:
        found = list(columns(row))
        found[money_at] = bind_money(found[money_at])
        found[moment_at] = bind_moment(found[moment_at])
        values.append((deal_id, *found))
    reader.executemany(
        f"INSERT INTO bank_credit (deal_id, {', '.join(names)}) "
        f"VALUES ({', '.join('?' * (len(names) + 1))})",
        values,
    )
