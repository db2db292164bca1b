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
    database = app.database
    before, after = database.upgrade()
    where = database.masked
    if before == after:
        click.echo(f"Database {where} is up to date (schema {after}).")
    else:
        click.echo(f"Upgraded database {where} from schema {before or 'none'} to {after}.")


@db.command("version")
@pass_app
def db_version(app: App) -> None:
    """The database's schema and the one this closing needs."""
    from closing.services.database import schema_versions

    revision, needed = schema_versions(app.existing_database)
    click.echo(f"database schema: {revision or 'none'}; closing needs: {needed}")


COMMANDS = [db]
