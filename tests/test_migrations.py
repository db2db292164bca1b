"""Schema migrations: the models and the migrations agree, and an older database upgrades
without losing a single event."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import closing.store.schema  # noqa: F401  (the tables the models declare, for compare_metadata)
from closing.domain.dealfile.load import load_deal_file
from closing.domain.errors import ExitCode
from closing.services.board import board
from closing.store import schema
from closing.store.connection import HEAD, REVISIONS, Database
from tests.helpers import POSTGRES_URL, postgres_schema

PDT = timezone(timedelta(hours=-7))
AT_0700 = "2002-06-07 14:00:00.000000"  # UTC text, as the SQLite column keeps it
AT_0900 = "2002-06-07 16:00:00.000000"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "closing.store:migrations")
    return config


def test_the_revision_list_matches_the_migration_scripts() -> None:
    """connection.REVISIONS (read on every command) names the scripts, oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    assert [s.revision for s in reversed(list(scripts.walk_revisions()))] == REVISIONS
    assert scripts.get_current_head() == HEAD


def test_the_migrations_build_exactly_the_models(database_url: str) -> None:
    """After `upgrade head` Alembic finds nothing to add, drop or change (every table declared:
    the schema module imported, whatever ran before in this process)."""
    assert schema.SHARES.name == "share"
    Database(database_url).upgrade()
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def write_a_closing_day_as_of(revision: str, url: str, seed_path: Path) -> None:
    """A database at `revision` holding the seed deal, both purchasers and three events, written
    through that revision's tables with plain SQL, as the release of that revision did."""
    terms = load_deal_file(seed_path).terms.model_dump_json()
    sqlite = url.startswith("sqlite")
    # What each backend's column takes: UTC text and exact text on SQLite, timestamptz and
    # NUMERIC on PostgreSQL.
    at_0700: object = AT_0700 if sqlite else datetime(2002, 6, 7, 7, tzinfo=PDT)
    at_0900: object = AT_0900 if sqlite else datetime(2002, 6, 7, 9, tzinfo=PDT)
    snapshot = '{"years": [2002, 2003], "closures": {}}'  # the first releases' snapshot format
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.execute(
            text(
                "INSERT INTO deal (id, slug, title, terms_json, closures_json, source_path, "
                "source_sha256, created_at, updated_at) VALUES (1, 'neotherapeutics-2002-06-07', "
                "'NeoTherapeutics', :terms, :snapshot, :path, 'x', :at, :at)"
            ),
            {"terms": terms, "snapshot": snapshot, "path": str(seed_path), "at": at_0700},
        )
        for pid, slug, name, price in [
            (1, "stonestreet", "Stonestreet Limited Partnership", "450000"),
            (2, "bnc-bach", "BNC Bach International, Ltd.", "930000"),
        ]:
            connection.execute(
                text(
                    "INSERT INTO purchaser (id, deal_id, slug, name, position, shares, "
                    "purchase_price, warrant_shares, details_json, active) VALUES "
                    "(:id, 1, :slug, :name, :id, 1000, :price, 100, '{}', :active)"
                ),
                {
                    "id": pid,
                    "slug": slug,
                    "name": name,
                    "price": price if sqlite else Decimal(price),
                    "active": True,
                },
            )
        for seq, (pid, step, amount) in enumerate(
            [(1, "signed", None), (1, "wired", "450000"), (2, "signed", None)], start=1
        ):
            connection.execute(
                text(
                    "INSERT INTO event (deal_id, purchaser_id, seq, kind, step, occurred_at, "
                    "recorded_at, actor, host, amount) VALUES (1, :pid, :seq, 'mark', :step, :at, "
                    ":at, 'alice', 'h1', :amount)"
                ),
                {
                    "pid": pid,
                    "seq": seq if pid == 1 else 1,
                    "step": step,
                    "at": at_0900,
                    "amount": amount,
                },
            )
        if revision == REVISIONS[0]:  # the first release kept its version in closing_meta
            connection.execute(text("DROP TABLE alembic_version"))
            connection.execute(text("INSERT INTO closing_meta VALUES ('schema_version', '1')"))
    engine.dispose()


@pytest.mark.parametrize("revision", ["0001", "0002", "0007"])
def test_an_older_database_upgrades_and_keeps_its_events(
    empty_database_url: str, seed_path: Path, revision: str
) -> None:
    """A database of the first release (0001, no alembic_version) or of the release before
    this one (0002) is upgraded to head, on both backends; every event is still there and the
    board reads them."""
    url = empty_database_url
    write_a_closing_day_as_of(revision, url, seed_path)
    fresh = Database(url)
    assert fresh.schema_revision() == revision
    assert fresh.upgrade() == (revision, HEAD)
    with fresh.transaction(write=False) as connection:
        rows = connection.rows(
            "SELECT purchaser_id, seq, step, actor, amount FROM event ORDER BY id"
        )
        roles = [row[0] for row in connection.rows("SELECT DISTINCT role FROM purchaser")]
    assert [
        (p, seq, step, actor, amount and str(amount)) for p, seq, step, actor, amount in rows
    ] == [
        (1, 1, "signed", "alice", None),
        (1, 2, "wired", "alice", "450000"),
        (2, 1, "signed", "alice", None),
    ]
    assert roles == ["purchaser"]
    shown = board(fresh, None, datetime(2002, 6, 7, 10, tzinfo=PDT))
    assert [row.state for row in shown.purchasers] == ["wired", "signed"]
    assert shown.totals.amount_received == Decimal("450000")


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


@pytest.mark.skipif(not POSTGRES_URL, reason="set CLOSING_TEST_POSTGRES_URL to run on PostgreSQL")
def test_a_member_made_before_0016_gets_the_rights_of_every_deal_it_is_on() -> None:
    """A login made an operator of one deal and then a viewer of another under 0015's grants was
    left a viewer's rights; upgrading recomputes them from both deals, and takes away its reading
    of the web server's secrets."""
    import uuid

    login = f"m_{uuid.uuid4().hex[:8]}"
    with postgres_schema(upgrade=False) as url:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                config = alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "0015")
                for deal_id, roles in ((1, "operator"), (2, "viewer")):
                    connection.execute(
                        text(
                            "INSERT INTO deal (id, slug, title, terms_json, closures_json, "
                            "source_path, source_sha256, created_at, updated_at) VALUES (:id, "
                            "'deal-' || :id, 'A deal', '{}', '{}', 'x.yaml', 'x', now(), now())"
                        ),
                        {"id": deal_id},
                    )
                    connection.execute(
                        text(
                            "INSERT INTO team_member (deal_id, login, roles, changed_at) "
                            "VALUES (:id, :login, :roles, now())"
                        ),
                        {"id": deal_id, "login": login, "roles": roles},
                    )
                    connection.execute(
                        text("SELECT closing_team_grants(:login, :roles)"),
                        {"login": login, "roles": roles},
                    )

            def may(what: str) -> bool:
                with engine.connect() as connection:
                    return bool(connection.execute(text(f"SELECT {what}"), {"l": login}).scalar())

            appends = "has_table_privilege(:l, 'event', 'INSERT')"
            reads_secret = "has_table_privilege(:l, 'web_secret', 'SELECT')"
            assert not may(appends) and may(reads_secret)  # as 0015 left it
            Database(url).upgrade()
            assert may(appends) and not may(reads_secret)
            assert not may("has_column_privilege(:l, 'web_session', 'csrf', 'SELECT')")
            assert may("has_column_privilege(:l, 'web_session', 'login', 'SELECT')")
        finally:
            engine.dispose()
            admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                if connection.execute(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :l"), {"l": login}
                ).first():
                    connection.execute(text(f"DROP OWNED BY {login}"))
                    connection.execute(text(f"DROP ROLE {login}"))
            admin.dispose()
