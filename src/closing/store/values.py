"""How values are stored and read back, on both backends: UTC-aware instants (UTC text on SQLite,
`timestamptz` on PostgreSQL) and exact Decimal money (text on SQLite, whose NUMERIC is a float;
NUMERIC on PostgreSQL). The connection and the column types of `closing.store.schema` both call
these, so that a row written one way reads back the same the other."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from closing.domain.timefmt import utc_text


def stored_moment(value: Any) -> datetime:
    """A stored instant, UTC-aware: UTC text on SQLite, a datetime from PostgreSQL."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:
            # A year before 1000 is written unpadded (`utc_text`, as strftime writes it)
            year, dash, rest = value.partition("-")
            if not (dash and year.isdigit() and len(year) < 4):
                raise
            return datetime.fromisoformat(f"{year.zfill(4)}-{rest}+00:00")
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def moment_to_store(value: datetime, sqlite: bool) -> Any:
    """An aware instant as it is stored: UTC text on SQLite (in the format SQLAlchemy's DATETIME
    writes, which sorts as text), UTC on PostgreSQL. A naive datetime is refused."""
    if value.tzinfo is None:
        raise ValueError("refusing to store a naive datetime")
    return utc_text(value, " ") if sqlite else value.astimezone(UTC)


def money_to_store(value: Decimal | None, sqlite: bool) -> Any:
    """Money as it is stored: exact text on SQLite (whose NUMERIC is a float), the Decimal on
    PostgreSQL. Anything but a Decimal is refused."""
    if value is None:
        return None
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(value).__name__}")
    return str(value) if sqlite else value


def money(value: Any) -> Decimal | None:
    """Stored money: NaN for text that is not a number (edited behind closing's back; replay
    refuses it)."""
    if value is None or isinstance(value, Decimal):
        return value
    try:
        return Decimal(value if isinstance(value, str) else str(value))
    except InvalidOperation:
        return Decimal("NaN")
