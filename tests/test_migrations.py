"""Schema migrations: the models and the migrations agree, and an older database upgrades
without losing a single event."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

from closing.db.store import HEAD, REVISIONS, Store
from closing.errors import ExitCode
from closing.operations import MarkRequest, load_deal, mark
from tests.helpers import POSTGRES_URL, postgres_schema

PDT = timezone(timedelta(hours=-7))


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "closing:migrations")
    return config


def test_the_revision_list_matches_the_migration_scripts() -> None:
    """store.REVISIONS (read on every command) names the scripts, oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    assert [s.revision for s in reversed(list(scripts.walk_revisions()))] == REVISIONS
    assert scripts.get_current_head() == HEAD


def test_the_migrations_build_exactly_the_models(database_url: str) -> None:
    """After `upgrade head` Alembic finds nothing to add, drop or change."""
    store = Store(database_url)
    store.upgrade()
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_a_first_release_database_upgrades_and_keeps_its_events(
    tmp_path: Path, seed_path: Path
) -> None:
    """A database made by the first release (schema 0001, no alembic_version, only
    closing_meta) is stamped, upgraded to head, and every event is still there."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("INSERT INTO closing_meta VALUES ('schema_version', '1')"))
    engine.dispose()
    # Write into it through the 0001 tables only, as the first release did.
    old = Store(url)
    old._ready = True  # the first release did not know Alembic
    loaded = datetime(2002, 6, 7, 7, tzinfo=PDT)
    load_deal(old, str(seed_path), loaded)
    for minute, step in enumerate(["signed", "wired"]):
        when = loaded + timedelta(hours=2, minutes=minute)
        mark(old, None, MarkRequest("stonestreet", step, actor="alice", host="h1"), when)
    old.engine.dispose()
    from closing.db import store as store_module

    store_module._engines.clear()

    fresh = Store(url)
    assert fresh.schema_revision() == "0001"
    assert fresh.upgrade() == ("0001", HEAD)
    with fresh.engine.connect() as connection:
        rows = connection.execute(text("SELECT seq, step, actor, amount FROM event")).all()
        assert connection.execute(text("SELECT count(*) FROM alert")).scalar_one() == 0
    assert rows == [(1, "signed", "alice", None), (2, "wired", "alice", "450000")]


@pytest.mark.skipif(not POSTGRES_URL, reason="set CLOSING_TEST_POSTGRES_URL to run on PostgreSQL")
def test_postgresql_is_upgraded_only_when_asked(tmp_path: Path) -> None:
    """A PostgreSQL database is not migrated behind a team's back: commands say to run
    `closing db upgrade` (exit 6) until someone does."""
    with postgres_schema(upgrade=False) as url:
        env = {**os.environ, "CLOSING_DATABASE_URL": url}

        def closing(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "closing", *args],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )

        refused = closing("deals")
        assert refused.returncode == ExitCode.DATABASE
        assert refused.stderr.endswith(
            f"is at schema none (empty); this closing needs {HEAD}: run closing db upgrade\n"
        )
        upgraded = closing("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
        assert upgraded.stdout.endswith(f"from schema none to {HEAD}.\n")
        assert closing("deals").stdout == "No deals yet; load one with: closing init FILE\n"
