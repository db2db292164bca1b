"""The results of `closing verify`: each a row the board reads its red line from, and those the
record of facts keeps (every failed one, and the first good one after a failure), so that a
failure's row deleted or changed in the database does not take the red line away unnoticed: the
board reads the last result the facts keep, and says so when its row no longer stands."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from closing.store.connection import Connection
from closing.store.facts import append_fact, current_facts, fact_table
from closing.store.values import stored_moment

(_KEPT,) = fact_table("verification")


@dataclass(frozen=True)
class LastVerification:
    """When a `closing verify` ran, whether the log held, and its first break; `stands` False
    when its row is not as the record of facts keeps it (deleted or changed: `ok` and `detail`
    are then unknown)."""

    at: datetime
    ok: bool
    detail: str
    stands: bool = True


def record_result(
    connection: Connection, deal_id: int, at: datetime, ok: bool, events: int, detail: str
) -> tuple[int, str] | None:
    """Keep a verify's result; a failure, or the first good result after the last failure the
    facts keep, joins the record of facts too: the entry's seq and hash (None: no entry)."""
    ((row_id,),) = connection.rows(
        "INSERT INTO verification (deal_id, verified_at, ok, events, detail) "
        "VALUES (?, ?, ?, ?, ?) RETURNING id",
        (deal_id, connection.bind_moment(at), ok, events, detail),
    )
    kept = last_kept(connection, deal_id)
    if ok and (kept is None or (kept.ok and kept.stands)):
        return None
    row = _row_hash(connection, deal_id, int(row_id))
    assert row is not None
    return append_fact(connection, deal_id, at, _KEPT.table, str(row_id), row)


def last_verification(connection: Connection, deal_id: int) -> LastVerification | None:
    """The last result kept as a row."""
    found = connection.rows(
        "SELECT verified_at, ok, detail FROM verification WHERE deal_id = ? "
        "ORDER BY id DESC LIMIT 1",
        (deal_id,),
    )
    if not found:
        return None
    at, ok, detail = found[0]
    return LastVerification(connection.moment(at), bool(ok), detail)


def last_kept(connection: Connection, deal_id: int) -> LastVerification | None:
    """The last result the record of facts keeps, read from its row when that stands as kept
    (None: none kept, every verify having held)."""
    # The last entry by the (deal, table, key) index (`seq + 0`: not the (deal, seq) index, which
    # would walk the deal's whole chain backwards, 20,000 entries on a board of 10,000)
    found = connection.rows(
        "SELECT row_key, row_hash, recorded_at FROM fact WHERE deal_id = ? AND tbl = ? AND seq = "
        "(SELECT max(seq + 0) FROM fact WHERE deal_id = ? AND tbl = ?)",
        (deal_id, _KEPT.table, deal_id, _KEPT.table),
    )
    if not found:
        return None
    key, kept, recorded_at = found[0]
    row_id = int(key) if str(key).isdigit() else None
    if row_id is None or kept is None or _row_hash(connection, deal_id, row_id) != kept:
        return LastVerification(stored_moment(recorded_at), False, "", stands=False)
    at, ok, detail = connection.rows(
        "SELECT verified_at, ok, detail FROM verification WHERE id = ?", (row_id,)
    )[0]
    return LastVerification(connection.moment(at), bool(ok), detail)


def _row_hash(connection: Connection, deal_id: int, row_id: int) -> str | None:
    """The hash of the deal's verification row `row_id` as the record of facts reads it."""
    one = replace(_KEPT, where=f"id = {int(row_id)}")
    return current_facts(connection, deal_id, (one,)).get((_KEPT.table, str(row_id)))
