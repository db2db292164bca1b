"""What shell completion offers (click's `shell_complete` on every Tab): the purchasers and the
steps of the deal named, or of every deal, read cheaply from a database that already exists,
opened read-only (`peek_database`): never created, never migrated, nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

from closing.services.database import peek_database
from closing.store import deals as stored_deals
from closing.store.connection import Connection

T = TypeVar("T")


def _read(option: str | None, read: Callable[[Connection], list[T]]) -> list[T]:
    database = peek_database(option)
    if database is None:
        return []
    try:
        with database.transaction(write=False) as connection:
            return read(connection)
    finally:
        database.close()


def party_choices(option: str | None, deal_prefix: str) -> dict[str, str]:
    """Each purchaser's slug (and `company`) with its name, of the deals whose slug starts with
    `deal_prefix` (every deal when it is empty), in Schedule 1 order."""
    found: dict[str, str] = {}
    for deal_slug, slug, name, role in _read(option, stored_deals.party_names):
        if deal_slug.startswith(deal_prefix):
            found.setdefault("company" if role == "company" else slug, name)
    return found


def step_choices(option: str | None, deal_prefix: str, company: bool) -> dict[str, str]:
    """Each step id with its title: the company's steps, or the purchasers'."""
    party = "company" if company else "purchaser"
    found: dict[str, str] = {}
    for deal_slug, terms in _read(option, stored_deals.deal_terms):
        if not deal_slug.startswith(deal_prefix):
            continue
        for step in json.loads(terms).get("steps", []):
            if step.get("party", "purchaser") == party:
                found.setdefault(str(step["id"]), str(step.get("title") or ""))
    return found
