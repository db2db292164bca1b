"""Shared fixtures: a fresh database per test (SQLite always, PostgreSQL when
CLOSING_TEST_POSTGRES_URL names a server), the seed deal, and a way to run the CLI in-process."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "workflows" / "neotherapeutics-2002-06-07.yaml"
POSTGRES_URL = os.environ.get("CLOSING_TEST_POSTGRES_URL", "")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not POSTGRES_URL,
            reason="set CLOSING_TEST_POSTGRES_URL=postgresql+psycopg://... to run on PostgreSQL",
        ),
    ),
]


@pytest.fixture
def seed_path(tmp_path: Path) -> Path:
    """A private copy of the seed deal file, so tests may edit it."""
    copy = tmp_path / SEED.name
    shutil.copy(SEED, copy)
    return copy


def _postgres_schema_url(upgrade: bool = True) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    try:
        from closing.db.store import Store

        if upgrade:  # PostgreSQL is upgraded explicitly, as `closing db upgrade` does
            Store(url).upgrade()
        yield url
    finally:
        from closing.db import store

        for url, engine in list(store._engines.items()):
            if schema in url:
                engine.dispose()
                del store._engines[url]
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'closing.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all on each backend (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'closing.db'}"
    else:
        yield from _postgres_schema_url(upgrade=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'closing.db'}"


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Cli:
    """Runs `closing` in this process with a frozen clock, as a terminal 100 columns wide."""

    database_url: str
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    now: str = "2002-06-07T08:00:00-07:00"

    def __call__(self, *args: str, now: str | None = None) -> Result:
        from closing.cli import main

        self.monkeypatch.setenv("CLOSING_NOW", now or self.now)
        self.capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    monkeypatch.setenv("CLOSING_DATABASE_URL", database_url)
    monkeypatch.setenv("CLOSING_OPERATOR", "alice")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LINES", "40")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CLOSING_DEAL", raising=False)
    monkeypatch.delenv("CLOSING_DEBUG", raising=False)
    return Cli(database_url, monkeypatch, capsys)


@pytest.fixture
def seeded(cli: Cli, seed_path: Path) -> Cli:
    """The CLI with the seed deal loaded at 07:00 PDT on the closing date, and the company's
    prospectus supplement (a condition of every wire) delivered at 07:30."""
    result = cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00")
    assert result.code == 0, result.err
    delivered = cli("mark", "company", "prospectus_delivered", now="2002-06-07T07:30:00-07:00")
    assert delivered.code == 0, delivered.err
    return cli
