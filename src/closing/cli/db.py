"""`closing db upgrade|version`: the database schema (migrations)."""

from __future__ import annotations

import click

from closing.cli.app import App, pass_app


@click.group()
def db() -> None:
    """The database schema (migrations)."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Upgrade the schema to this closing (keeps every event).

    SQLite is upgraded automatically; a shared PostgreSQL database with this command."""
    from closing.store.database import masked_url

    before, after = app.store.upgrade()
    where = masked_url(app.store.url)
    if before == after:
        app.out(f"Database {where} is up to date (schema {after}).")
    else:
        app.out(f"Upgraded database {where} from schema {before or 'none'} to {after}.")


@db.command("version")
@pass_app
def db_version(app: App) -> None:
    """The database's schema and the one this closing needs."""
    from closing.store.database import HEAD

    revision = app.existing_store.schema_revision()
    app.out(f"database schema: {revision or 'none'}; closing needs: {HEAD}")


COMMANDS = [db]
