"""Every statement on the versions of the company's wire instructions and on the credits imported
from bank files, as SQL on `closing.store.connection.Connection`. Records are built from the
columns named by the record's own fields. No SQLAlchemy here: the board and the marks read
`wire_status_of` through this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from closing.domain.wire_instructions import Proposed, Version, WireStatus, wire_status
from closing.store.connection import Connection
from closing.store.values import money

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


def wire_versions(connection: Connection, deal_id: int) -> list[Version]:
    """Every version of the deal's wire instructions, oldest first."""
    sql = (
        f"SELECT {', '.join(_VERSION_COLUMNS)} FROM wire_instructions WHERE deal_id = ? "
        "ORDER BY version"
    )
    found = []
    for row in connection.rows(sql, (deal_id,)):
        values = dict(zip(_VERSION_COLUMNS, row, strict=True))
        values["number"] = values.pop("version")
        values["callback_numbers"] = tuple(json.loads(values["callback_numbers"]))
        values["entered_at"] = connection.moment(values["entered_at"])
        if values["verified_at"] is not None:
            values["verified_at"] = connection.moment(values["verified_at"])
        found.append(Version(**values))
    return found


def wire_status_of(
    connection: Connection, deal_id: int, as_of: datetime | None = None
) -> WireStatus:
    """Where the deal's wire instructions stand (at `as_of`: verifications recorded later do not
    count)."""
    return wire_status(wire_versions(connection, deal_id), as_of=as_of)


def insert_version(
    connection: Connection,
    deal_id: int,
    number: int,
    event_id: int,
    proposed: Proposed,
    entered_by: str,
    entered_at: datetime,
) -> None:
    """A new version of the instructions, written with the `instructions` event `event_id`."""
    connection.execute(
        "INSERT INTO wire_instructions (deal_id, version, event_id, fingerprint, bank, aba, "
        "account_masked, account_name, swift, reference, callback_numbers, entered_by, "
        "entered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            deal_id,
            number,
            event_id,
            proposed.fingerprint,
            proposed.bank,
            proposed.aba,
            proposed.account_masked,
            proposed.account_name,
            proposed.swift,
            proposed.reference,
            json.dumps(list(proposed.callback_numbers)),
            entered_by,
            connection.bind_moment(entered_at),
        ),
    )


def verify_version(
    connection: Connection,
    deal_id: int,
    number: int,
    event_id: int,
    verified_by: str,
    verified_at: datetime,
    callback_number: str,
    spoke_with: str,
) -> None:
    """Version `number` verified by a second person's callback (the `instructions_verified`
    event `event_id`)."""
    connection.execute(
        "UPDATE wire_instructions SET verified_event_id = ?, verified_by = ?, verified_at = ?, "
        "callback_number = ?, spoke_with = ? WHERE deal_id = ? AND version = ?",
        (
            event_id,
            verified_by,
            connection.bind_moment(verified_at),
            callback_number,
            spoke_with,
            deal_id,
            number,
        ),
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
_SELECT_CREDITS = f"SELECT {', '.join(_CREDIT_NAMES)} FROM bank_credit"


def _credit(connection: Connection, row: Sequence[Any]) -> StoredCredit:
    values = dict(zip(_CREDIT_NAMES, row, strict=True))
    values["amount"] = money(values["amount"])
    values["imported_at"] = connection.moment(values["imported_at"])
    return StoredCredit(**values)


def credits_of(connection: Connection, deal_id: int) -> list[StoredCredit]:
    rows = connection.rows(f"{_SELECT_CREDITS} WHERE deal_id = ? ORDER BY id", (deal_id,))
    return [_credit(connection, row) for row in rows]


def credit_by_reference(
    connection: Connection, deal_id: int, reference: str
) -> StoredCredit | None:
    """The credit with this bank reference, locked for this transaction (PostgreSQL)."""
    sql = connection.for_update(f"{_SELECT_CREDITS} WHERE deal_id = ? AND bank_reference = ?")
    found = connection.rows(sql, (deal_id, reference))
    return _credit(connection, found[0]) if found else None


def record_credit(
    connection: Connection, credit_id: int, reason: str, purchaser_id: int, event_id: int
) -> None:
    """A credit left for a person is now `recorded`: the purchaser's event `event_id`."""
    connection.execute(
        "UPDATE bank_credit SET status = 'recorded', reason = ?, purchaser_id = ?, event_id = ? "
        "WHERE id = ?",
        (reason, purchaser_id, event_id, credit_id),
    )


BATCH = 500  # values per IN (...) (SQLite allows a limited number of bound parameters)


def known_credits(
    connection: Connection, deal_id: int, references: Iterable[str], column: str = "bank_reference"
) -> dict[str, StoredCredit]:
    """The credits imported before under these bank references (or, with `column="imad"`,
    these Fedwire IMADs: one wire, whatever file reported it), by that value."""
    assert column in ("bank_reference", "imad")
    wanted = sorted(set(references))
    known: dict[str, StoredCredit] = {}
    for start in range(0, len(wanted), BATCH):
        some = wanted[start : start + BATCH]
        for row in connection.rows(credits_by(column, len(some)), (deal_id, *some)):
            credit = _credit(connection, row)
            known.setdefault(getattr(credit, column) or "", credit)
    return known


def credits_by(column: str, count: int) -> str:
    """The statement reading a deal's credits by `count` values of `column` (indexed: the bank
    reference is unique per deal, the IMAD has an index of its own)."""
    return f"{_SELECT_CREDITS} WHERE deal_id = ? AND {column} IN ({', '.join('?' * count)})"


def insert_credits(connection: Connection, deal_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """New rows of the credit ledger (each a dict of its columns, `amount` a Decimal and
    `imported_at` an aware datetime)."""
    if not rows:
        return
    names = list(rows[0])
    money_at, moment_at = names.index("amount"), names.index("imported_at")
    columns, bind_money, bind_moment = (
        itemgetter(*names),
        connection.bind_money,
        connection.bind_moment,
    )
    values = []
    for row in rows:
        found = list(columns(row))
        found[money_at] = bind_money(found[money_at])
        found[moment_at] = bind_moment(found[moment_at])
        values.append((deal_id, *found))
    connection.executemany(
        f"INSERT INTO bank_credit (deal_id, {', '.join(names)}) "
        f"VALUES ({', '.join('?' * (len(names) + 1))})",
        values,
    )
