"""Shared fixtures: a fresh database per test (SQLite always, PostgreSQL when
CLOSING_TEST_POSTGRES_URL names a server), the seed deal, and the CLI run in-process. What they
are built from is in tests/helpers.py."""

from __future__ import annotations

import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.helpers import NO_POSTGRES, POSTGRES_URL, SEED, TEST_ROLES, Cli, postgres_schema

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)),
]


def _wants_postgres(report: pytest.TestReport) -> bool:
    return isinstance(report.longrepr, tuple) and "CLOSING_TEST_POSTGRES_URL" in report.longrepr[2]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Generator[None]:
    """One line for the tests skipped for want of PostgreSQL (how many, and how to run them),
    in place of `-ra`'s line for every place one is skipped; other skips are listed as ever.
    Around the terminal reporter's own summary (tryfirst: the outer wrapper), and the skips put
    back before the final count."""
    skipped = terminalreporter.stats.get("skipped", [])
    waiting = [report for report in skipped if _wants_postgres(report)]
    if waiting:
        terminalreporter.stats["skipped"] = [r for r in skipped if not _wants_postgres(r)]
    try:
        return (yield)
    finally:
        if waiting:
            terminalreporter.stats["skipped"] = skipped
            tests = "test" if len(waiting) == 1 else "tests"
            terminalreporter.write_line(
                f"SKIPPED {len(waiting)} {tests} for want of PostgreSQL: set "
                "CLOSING_TEST_POSTGRES_URL=postgresql+psycopg://USER@HOST/DB to run them too"
            )


@pytest.fixture(autouse=True)
def _own_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's own cache folder ($XDG_CACHE_HOME: the boards `status --json` keeps), for
    the CLI it runs in-process and the processes it starts."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def seed_path(tmp_path: Path) -> Path:
    """A private copy of the seed deal file, so tests may edit it."""
    copy = tmp_path / SEED.name
    shutil.copy(SEED, copy)
    return copy


_MADE_ROLES: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """On PostgreSQL the roles alice and bob (tests.helpers.TEST_ROLES), made for this run when
    missing (roles are cluster-wide). Made once, by the process that runs the session (with
    pytest-xdist the controller, never a worker: two workers would race to create them, and one
    dropping them would pull them from under the other)."""
    if not POSTGRES_URL or hasattr(config, "workerinput"):
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for role in TEST_ROLES:
            exists = connection.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
            ).first()
            if not exists:
                connection.execute(text(f"CREATE ROLE {role} NOLOGIN"))
                _MADE_ROLES.append(role)
    engine.dispose()


# The system catalogs every test schema's tables, triggers and functions leave dead rows in when
# it is dropped. A server without autovacuum (this project's CI machine runs one) keeps them: a
# few thousand schemas later, creating one takes seconds. Vacuumed before and after each run.
_CATALOGS = (
    "pg_attribute",
    "pg_class",
    "pg_depend",
    "pg_type",
    "pg_constraint",
    "pg_trigger",
    "pg_proc",
    "pg_index",
    "pg_attrdef",
    "pg_namespace",
    "pg_description",
    "pg_shdepend",
    "pg_auth_members",
    "pg_authid",
)


def _vacuum_catalogs() -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("VACUUM " + ", ".join(f"pg_catalog.{t}" for t in _CATALOGS)))
    except Exception:  # not the catalogs' owner (a superuser): the run goes on as it is
        pass
    finally:
        engine.dispose()


def pytest_sessionstart(session: pytest.Session) -> None:
    if POSTGRES_URL and not hasattr(session.config, "workerinput"):
        _vacuum_catalogs()


def pytest_unconfigure(config: pytest.Config) -> None:
    """The roles this run made, dropped after it (and after every worker); then the catalogs
    vacuumed of what the run's schemas left."""
    if not POSTGRES_URL or hasattr(config, "workerinput"):
        return
    from sqlalchemy import create_engine, text

    if _MADE_ROLES:
        engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for role in _MADE_ROLES:
                try:
                    connection.execute(text(f"DROP OWNED BY {role}"))
                    connection.execute(text(f"DROP ROLE {role}"))
                except Exception:  # still used by another run's schema: left for that run
                    pass
        engine.dispose()
    _vacuum_catalogs()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'closing.db'}"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all on each backend (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'closing.db'}"
    else:
        with postgres_schema(upgrade=False) as url:
            yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'closing.db'}"


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    # The operator is alice: on SQLite the OS account, which a test in this process sets (Cli;
    # tests/test_identity.py shows the real one in a process of its own), on PostgreSQL the
    # database role alice (tests.helpers.as_account).
    monkeypatch.setenv("CLOSING_DATABASE_URL", database_url)
    monkeypatch.setattr("closing.store.identity.os_account", lambda: "alice")
    monkeypatch.delenv("CLOSING_OPERATOR", raising=False)
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
