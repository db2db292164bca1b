"""The statements on deals, their parties (purchasers and the company's row) and the revisions of
their deal files, in SQL on a `closing.store.connection.Connection` (`?` placeholders, both
backends). Records are built from the columns named by the record's own fields."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, cast

from closing.domain.deal import Deal
from closing.domain.events import Purchaser
from closing.store.connection import Connection
from closing.store.values import money

_PURCHASER_NAMES = [f.name for f in fields(Purchaser)]
_PURCHASERS = ", ".join(_PURCHASER_NAMES)
_DEAL = "SELECT id, slug, terms_json, closures_json, created_at FROM deal"
# The columns a load of a deal file writes; nothing else is set through `update_*`.
_DEAL_COLUMNS = frozenset(
    {"title", "terms_json", "closures_json", "source_path", "source_sha256", "updated_at"}
)
_PURCHASER_COLUMNS = frozenset(
    {"slug", "name", "position", "shares", "purchase_price", "warrant_shares", "details_json"}
    | {"active", "role"}
)


def _bound(connection: Connection, value: Any) -> Any:
    """A value as the connection stores it (instants and money have stored forms)."""
    if isinstance(value, datetime):
        return connection.bind_moment(value)
    if isinstance(value, Decimal):
        return connection.bind_money(value)
    return value


# --- deals ---------------------------------------------------------------------------------------


def deals(
    connection: Connection,
    slug: str | None = None,
    slug_prefix: str | None = None,
    limit: int | None = None,
) -> list[Deal]:
    """The deals with this slug, or whose slug starts with this prefix (any case), or all; by
    slug."""
    sql = _DEAL
    params: list[Any] = []
    if slug is not None:
        sql += " WHERE slug = ?"
        params.append(slug)
    elif slug_prefix is not None:
        sql += " WHERE lower(slug) LIKE ? ESCAPE '\\'"
        params.append(like_prefix(slug_prefix))
    sql += " ORDER BY slug"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = connection.rows(sql, params)
    judged = _judged(connection, [row[0] for row in rows])
    return [
        Deal.from_stored(id_, slug_, terms, closures, connection.moment(created), judged.get(id_))
        for id_, slug_, terms, closures, created in rows
    ]


def deal_by_id(connection: Connection, deal_id: int) -> Deal:
    ((id_, slug, terms, closures, created),) = connection.rows(_DEAL + " WHERE id = ?", (deal_id,))
    judged = _judged(connection, [id_]).get(id_)
    return Deal.from_stored(id_, slug, terms, closures, connection.moment(created), judged)


def _judged(connection: Connection, deal_ids: list[int]) -> dict[int, dict[int, datetime]]:
    """Each deal's marks judged against a deadline a reload has since moved: event id -> the
    deadline they were judged against."""
    if not deal_ids:
        return {}
    marks = ", ".join("?" * len(deal_ids))
    found: dict[int, dict[int, datetime]] = {}
    for deal_id, event_id, deadline in connection.rows(
        f"SELECT deal_id, event_id, deadline FROM judgement WHERE deal_id IN ({marks})", deal_ids
    ):
        found.setdefault(deal_id, {})[int(event_id)] = connection.moment(deadline)
    return found


def keep_judgements(
    connection: Connection, deal_id: int, marks: list[tuple[int, datetime]], now: datetime
) -> None:
    """A reload accepted over marks judged against the deadlines it moves: each mark keeps the
    deadline it was judged against (the first one, when moved again)."""
    kept = set(_judged(connection, [deal_id]).get(deal_id, {}))
    connection.executemany(
        "INSERT INTO judgement (deal_id, event_id, deadline, recorded_at) VALUES (?, ?, ?, ?)",
        [
            (deal_id, event_id, connection.bind_moment(deadline), connection.bind_moment(now))
            for event_id, deadline in marks
            if event_id not in kept
        ],
    )


def deal_count(connection: Connection) -> int:
    return int(connection.value("SELECT count(*) FROM deal"))


def deal_slugs(connection: Connection, limit: int) -> list[str]:
    sql = f"SELECT slug FROM deal ORDER BY slug LIMIT {int(limit)}"
    return [row[0] for row in connection.rows(sql)]


def like_prefix(text: str) -> str:
    """A LIKE pattern matching what starts with `text`, in lower case, wildcards escaped."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


@dataclass(frozen=True)
class DealSource:
    """A deal's row as `closing init` compares it with the file it loads."""

    id: int
    title: str
    terms_json: str
    source_path: str
    source_sha256: str


_SOURCE = ", ".join(f.name for f in fields(DealSource))


def deal_source(connection: Connection, slug: str) -> DealSource | None:
    found = connection.rows(f"SELECT {_SOURCE} FROM deal WHERE slug = ?", (slug,))
    return DealSource(*found[0]) if found else None


def insert_deal(
    connection: Connection,
    slug: str,
    title: str,
    terms_json: str,
    closures_json: str,
    source_path: str,
    source_sha256: str,
    now: datetime,
) -> int:
    """A new deal's row (created and updated `now`); its id."""
    at = connection.bind_moment(now)
    ((deal_id,),) = connection.rows(
        "INSERT INTO deal (slug, title, terms_json, closures_json, source_path, source_sha256, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (slug, title, terms_json, closures_json, source_path, source_sha256, at, at),
    )
    return int(deal_id)


def update_deal(connection: Connection, deal_id: int, **values: Any) -> None:
    """Set these columns of the deal (those a load of its file writes)."""
    _update(connection, "deal", _DEAL_COLUMNS, deal_id, values)


def _update(
    connection: Connection, table: str, allowed: frozenset[str], row_id: int, values: Any
) -> None:
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"not a column {table} updates: {', '.join(sorted(unknown))}")
    names = sorted(values)
    setting = ", ".join(f"{name} = ?" for name in names)
    params = [_bound(connection, values[name]) for name in names]
    connection.execute(f"UPDATE {table} SET {setting} WHERE id = ?", (*params, row_id))


def insert_revision(
    connection: Connection, deal_id: int, loaded_at: datetime, source_sha256: str, changes: str
) -> None:
    connection.execute(
        "INSERT INTO deal_revision (deal_id, loaded_at, source_sha256, changes) "
        "VALUES (?, ?, ?, ?)",
        (deal_id, connection.bind_moment(loaded_at), source_sha256, changes),
    )


@dataclass(frozen=True)
class DealFileLoad:
    """A load of the deal file that changed the deal: when, the file's SHA-256, and the changes
    as a JSON list."""

    loaded_at: datetime
    source_sha256: str
    changes: str


def deal_revisions(connection: Connection, deal_id: int) -> list[DealFileLoad]:
    """Each load of the deal's file that changed it, oldest first."""
    sql = (
        "SELECT loaded_at, source_sha256, changes FROM deal_revision WHERE deal_id = ? ORDER BY id"
    )
    return [
        DealFileLoad(connection.moment(at), sha256, changes)
        for at, sha256, changes in connection.rows(sql, (deal_id,))
    ]


def counts_by_deal(connection: Connection) -> tuple[dict[int, int], dict[int, int]]:
    """Active purchasers and events, per deal id."""
    purchasers = connection.rows(
        "SELECT deal_id, count(*) FROM purchaser WHERE active AND role = 'purchaser' "
        "GROUP BY deal_id"
    )
    events = connection.rows("SELECT deal_id, count(*) FROM event GROUP BY deal_id")
    return (
        {int(deal_id): int(count) for deal_id, count in purchasers},
        {int(deal_id): int(count) for deal_id, count in events},
    )


# --- parties -------------------------------------------------------------------------------------


def parties(
    connection: Connection, deal_id: int, active_only: bool = True
) -> tuple[list[Purchaser], Purchaser | None]:
    """The deal's purchasers in Schedule 1 order (the active ones unless `active_only` is False)
    and the company's row, in one statement."""
    sql = f"SELECT {_PURCHASERS} FROM purchaser WHERE deal_id = ?"
    if active_only:
        sql += " AND (active OR role = 'company')"
    purchasers, company = [], None
    for row in connection.rows(sql + " ORDER BY position", (deal_id,)):
        party = _party(row)
        if party.role == "company":
            company = party
        else:
            purchasers.append(party)
    return purchasers, company


def _party(row: Sequence[Any]) -> Purchaser:
    # Unpacked at once (a board reads 10,000); the columns are Purchaser's fields, in order.
    id_, slug, name, position, shares, price, warrant_shares, details, active, role = row
    price = cast(Decimal, money(price))  # NOT NULL
    return Purchaser(
        id_, slug, name, position, shares, price, warrant_shares, details, bool(active), role
    )


def party_where(connection: Connection, deal_id: int, slug: str | None = None) -> Purchaser | None:
    """The deal's party with this slug, or its company row (slug None): the row that holds the
    deal's own steps and their events."""
    sql = f"SELECT {_PURCHASERS} FROM purchaser WHERE deal_id = ? AND "
    if slug is None:
        found = connection.rows(sql + "role = 'company'", (deal_id,))
    else:
        found = connection.rows(sql + "slug = ?", (deal_id, slug))
    return _party(found[0]) if found else None


def purchasers_by_prefix(
    connection: Connection, deal_id: int, prefix: str, limit: int
) -> list[Purchaser]:
    """Purchasers whose slug or name starts with `prefix` (any case), in Schedule 1 order."""
    pattern = like_prefix(prefix)
    sql = (
        f"SELECT {_PURCHASERS} FROM purchaser WHERE deal_id = ? AND role = 'purchaser' AND "
        "(lower(slug) LIKE ? ESCAPE '\\' OR lower(name) LIKE ? ESCAPE '\\') "
        f"ORDER BY position LIMIT {int(limit)}"
    )
    return [_party(row) for row in connection.rows(sql, (deal_id, pattern, pattern))]


def active_purchaser_slugs(connection: Connection, deal_id: int, limit: int) -> list[str]:
    sql = (
        "SELECT slug FROM purchaser WHERE deal_id = ? AND active AND role = 'purchaser' "
        f"ORDER BY position LIMIT {int(limit)}"
    )
    return [row[0] for row in connection.rows(sql, (deal_id,))]


def insert_purchasers(
    connection: Connection, deal_id: int, rows: Sequence[Mapping[str, Any]]
) -> None:
    """New party rows of the deal, each given by its columns (those of the deal file)."""
    if not rows:
        return
    names = sorted(rows[0])
    unknown = set(names) - _PURCHASER_COLUMNS
    if unknown:
        raise ValueError(f"not a purchaser column: {', '.join(sorted(unknown))}")
    sql = (
        f"INSERT INTO purchaser (deal_id, {', '.join(names)}) "
        f"VALUES ({', '.join('?' * (len(names) + 1))})"
    )
    connection.executemany(
        sql, [(deal_id, *(_bound(connection, row[name]) for name in names)) for row in rows]
    )


def update_purchaser(connection: Connection, purchaser_id: int, **values: Any) -> None:
    """Set these columns of a party (those of the deal file)."""
    _update(connection, "purchaser", _PURCHASER_COLUMNS, purchaser_id, values)


class WatchedDealFile(NamedTuple):
    """A deal's file and the digest of the text it was last loaded from (the sender reloads a
    file that changed)."""

    slug: str
    source_path: str
    source_sha256: str


def watched_deal_files(connection: Connection) -> list[WatchedDealFile]:
    """Each deal's file and the digest of the text it was last loaded from."""
    rows = connection.rows(f"SELECT {', '.join(WatchedDealFile._fields)} FROM deal ORDER BY slug")
    return [WatchedDealFile(*row) for row in rows]


def party_names(connection: Connection) -> list[tuple[str, str, str, str]]:
    """(deal slug, party slug, name, role) of every party of every deal, in Schedule 1 order."""
    rows = connection.rows(
        "SELECT d.slug, p.slug, p.name, p.role FROM purchaser p "
        "JOIN deal d ON d.id = p.deal_id ORDER BY d.slug, p.position"
    )
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]


def deal_terms(connection: Connection) -> list[tuple[str, str]]:
    """(slug, the stored terms as JSON) of every deal, by slug."""
    return [
        (str(a), str(b))
        for a, b in connection.rows("SELECT slug, terms_json FROM deal ORDER BY slug")
    ]


def deal_markers(connection: Connection) -> dict[int, tuple[str, int, int, str]]:
    """Each deal's slug and change marker for planning alerts (by slug): its newest event, its
    newest deal file revision and when its terms last changed (an index probe each)."""
    rows = connection.rows(
        "SELECT deal.id, deal.slug, "
        "(SELECT coalesce(max(id), 0) FROM event WHERE event.deal_id = deal.id), "
        "(SELECT coalesce(max(id), 0) FROM deal_revision WHERE deal_revision.deal_id = deal.id), "
        "deal.updated_at FROM deal ORDER BY deal.slug"
    )
    return {
        int(deal): (slug, int(event), int(revision), str(at))
        for deal, slug, event, revision, at in rows
    }


def schedule_files(connection: Connection) -> list[tuple[str, tuple[str, str]]]:
    """(slug, (path, SHA-256)) of each deal whose Schedule 1 is a spreadsheet, as last loaded."""
    found = []
    for slug, text in deal_terms(connection):
        sheet = json.loads(text).get("schedule_1")
        if isinstance(sheet, dict):
            found.append((slug, (str(sheet["file"]), str(sheet["sha256"]))))
    return found
