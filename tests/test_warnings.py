"""The test run's own output: a dependency's deprecation warning is filtered where it comes from
(pyproject.toml's `filterwarnings`), and only there; the tests skipped for want of PostgreSQL are
one line (conftest.py's `pytest_terminal_summary`)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from tests.helpers import ROOT

IMGHDR = "'imghdr' is deprecated and slated for removal in Python 3.13"


def shown(module: str) -> list[str]:
    """The warnings the test run shows of the imghdr deprecation raised from `module`."""
    with warnings.catch_warnings(record=True) as caught:  # keeps the run's filters
        warnings.warn_explicit(
            IMGHDR, DeprecationWarning, f"{module.replace('.', '/')}.py", 48, module, {}
        )
    return [str(warning.message) for warning in caught]


def test_apprise_s_imghdr_deprecation_is_not_shown() -> None:
    """apprise imports imghdr for PGPy at import time: nothing we can change, so not shown."""
    assert shown("apprise.utils.pgp") == []


def test_the_same_deprecation_from_anywhere_else_is_shown() -> None:
    """The filter names apprise's module: the same warning from our code still shows."""
    assert shown("closing.services.alerts.channels") == [IMGHDR]
    assert shown("apprise.plugins.email") == [IMGHDR]


TINY = """
import pytest
from tests.helpers import NO_POSTGRES

@pytest.mark.parametrize("n", range(3))
def test_on_postgres(n):
    pytest.skip(NO_POSTGRES)

@pytest.mark.skipif(True, reason="set CLOSING_TEST_POSTGRES_URL to run on PostgreSQL")
def test_on_postgres_elsewhere():
    pass

@pytest.mark.skip(reason="not on this machine")
def test_skipped_for_another_reason():
    pass

def test_run():
    pass
"""


def test_skips_for_want_of_postgres_are_one_line(tmp_path: Path) -> None:
    """A run without CLOSING_TEST_POSTGRES_URL says in one line how many tests it skipped for
    want of PostgreSQL and how to run them, not one `-ra` line for each place they are skipped;
    other skips are listed as ever, and the final count keeps every skip."""
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_terminal_summary\n")
    (tmp_path / "test_tiny.py").write_text(TINY)
    env = {k: v for k, v in os.environ.items() if k != "CLOSING_TEST_POSTGRES_URL"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider", "-q", "test_tiny.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = done.stdout.splitlines()
    assert [line for line in lines if "SKIPPED" in line or "POSTGRES" in line] == [
        "SKIPPED [1] test_tiny.py:13: not on this machine",
        "SKIPPED 4 tests for want of PostgreSQL: set "
        "CLOSING_TEST_POSTGRES_URL=postgresql+psycopg://USER@HOST/DB to run them too",
    ], done.stdout
    assert lines[-1].startswith("1 passed, 5 skipped in ")
