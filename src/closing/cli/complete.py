"""Shell completion of purchasers and steps from the database (click's `shell_complete`).

Completion runs on every Tab: it reads, cheaply, from a database that already exists, never
creates one (nor a data folder), never migrates, and says nothing on any error (a shell prompt is
no place for a traceback).
"""

from __future__ import annotations

import os

import click
from click.shell_completion import CompletionItem


def _database_option(ctx: click.Context) -> str | None:
    option = ctx.find_root().params.get("database")
    return None if option is None else str(option)


def _deal_name(ctx: click.Context) -> str:
    return str(ctx.params.get("deal_name") or os.environ.get("CLOSING_DEAL") or "")


def purchasers(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Purchaser slugs (and `company`) of the deal named, or of every deal."""
    try:
        from closing.services.completion import party_choices

        found = party_choices(_database_option(ctx), _deal_name(ctx))
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
        from closing.services.completion import step_choices

        company = ctx.params.get("purchaser") == "company"
        found = step_choices(_database_option(ctx), _deal_name(ctx), company)
        return [
            CompletionItem(value, help=title)
            for value, title in found.items()
            if value.startswith(incomplete)
        ]
    except Exception:
        return []
