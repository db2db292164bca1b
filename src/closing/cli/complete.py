"""Shell completion of purchasers and steps from the database (click's `shell_complete`).

Completion runs on every Tab: it reads, cheaply, from a database that already exists, never
creates one (nor a data folder), never migrates, and says nothing on any error (a shell prompt is
no place for a traceback).
"""

from __future__ import annotations

import json
import os
from typing import Any

import click
from click.shell_completion import CompletionItem


def _rows(ctx: click.Context, sql: str) -> list[Any]:
    """The rows of `sql` on the database the command would use, opened read-only; none when it
    is a SQLite file that is not there."""
    from closing.services.database import peek_database

    database = peek_database(ctx.find_root().params.get("database"))
    if database is None:
        return []
    try:
        with database.transaction(write=False) as connection:
            return connection.rows(sql)
    finally:
        database.close()


def _deal_name(ctx: click.Context) -> str:
    return str(ctx.params.get("deal_name") or os.environ.get("CLOSING_DEAL") or "")


def purchasers(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Purchaser slugs (and `company`) of the deal named, or of every deal."""
    try:
        deal = _deal_name(ctx)
        rows = _rows(
            ctx,
            "SELECT d.slug, p.slug, p.name, p.role FROM purchaser p "
            "JOIN deal d ON d.id = p.deal_id ORDER BY d.slug, p.position",
        )
        found: dict[str, str] = {}
        for deal_slug, slug, name, role in rows:
            if deal and not deal_slug.startswith(deal):
                continue
            value = "company" if role == "company" else slug
            found.setdefault(value, name)
        return [
            CompletionItem(value, help=name)
            for value, name in found.items()
            if value.startswith(incomplete)
        ]
    except Exception:
        return []


def steps(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Step ids of the deal named (or every deal): the company's after `company`, else the
    purchasers'."""
    try:
        deal = _deal_name(ctx)
        party = "company" if ctx.params.get("purchaser") == "company" else "purchaser"
        found: dict[str, str] = {}
        for deal_slug, terms in _rows(ctx, "SELECT slug, terms_json FROM deal ORDER BY slug"):
            if deal and not deal_slug.startswith(deal):
                continue
            for step in json.loads(terms).get("steps", []):
                if step.get("party", "purchaser") == party:
                    found.setdefault(str(step["id"]), str(step.get("title") or ""))
        return [
            CompletionItem(value, help=title)
            for value, title in found.items()
            if value.startswith(incomplete)
        ]
    except Exception:
        return []
