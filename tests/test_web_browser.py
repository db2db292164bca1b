"""The board in a real browser: Chromium (Debian's chromium-headless-shell, installed by .ci/run)
driven by Playwright against a real server on 127.0.0.1.

Screenshots of each view go to the test's folder; with CLOSING_SCREENSHOTS=DIR they are also
copied there, to look at. The README's pictures are made from the README's own scenario by
`docs/make_pictures.py`, never from these tests' scenario.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from closing.services.shares import create_share
from closing.store.connection import Database
from tests.helpers import AS_ALICE, Cli
from tests.web_helpers import serve

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

NOW = "2002-06-07T15:30:00-07:00"
MOMENT = datetime.fromisoformat(NOW)
CANDIDATES = [
    shutil.which("chromium-headless-shell"),
    "/usr/lib/chromium/chromium-headless-shell",
    shutil.which("chromium"),
]


def chromium() -> str | None:
    for path in CANDIDATES:
        if path and os.access(path, os.X_OK):
            return path
    return None


pytestmark = pytest.mark.skipif(
    chromium() is None,
    reason="no Chromium found: apt-get install -y chromium-headless-shell (.ci/run does)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium())
        yield launched
        launched.close()


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The browser tests run on SQLite (the server tests cover PostgreSQL)."""
    return sqlite_url


@pytest.fixture
def links(seeded: Cli) -> dict[str, str]:
    for args, at in [
        (("mark-signed", "stonestreet"), "08:30"),
        (("mark-signed", "bnc"), "09:10"),
        (("mark-wired", "stonestreet"), "10:15"),
    ]:
        assert seeded(*args, now=f"2002-06-07T{at}:00-07:00").code == 0
    database = Database(seeded.database_url)
    return {
        who: create_share(database, None, who, "alice", MOMENT).token
        for who in ("team", "stonestreet")
    }


def keep(screenshot: Path) -> None:
    target = os.environ.get("CLOSING_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(target) / screenshot.name)


def errors_of(page: Any) -> list[str]:
    """Console errors (a Content-Security-Policy violation is one) collected as they come."""
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_the_team_sees_a_mark_without_reloading(
    browser: Any, seeded: Cli, links: dict[str, str], tmp_path: Path
) -> None:
    """The team's link shows both purchasers; `closing mark-wired bnc` in another process
    changes BNC's cell in the open page, which is not reloaded; no console errors (CSP)."""
    with serve(seeded.database_url, MOMENT) as served:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        errors = errors_of(page)
        page.goto(served.url(links["team"]))
        page.wait_for_selector("#live[data-state=live]", timeout=5000)
        rows = page.locator("tbody tr.purchaser")
        assert rows.count() == 2
        assert "Stonestreet Limited Partnership" in rows.nth(0).inner_text()
        assert "BNC Bach International, Ltd." in rows.nth(1).inner_text()
        wired = page.locator('tr[data-slug="bnc-bach"] td[data-step="wired"]')
        assert wired.get_attribute("data-status") == "overdue"  # Fedwire closed at 15:00 PDT
        page.evaluate("window.loadedOnce = true")
        env = {**os.environ, "CLOSING_NOW": NOW}
        as_alice = AS_ALICE + "from closing.cli import main\nmain()\n"  # who loaded the deal
        done = subprocess.run(
            [sys.executable, "-c", as_alice, "mark-wired", "bnc"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        page.wait_for_selector(
            'tr[data-slug="bnc-bach"] td[data-step="wired"][data-status="done"]', timeout=3000
        )
        assert page.evaluate("window.loadedOnce") is True  # the same page: not reloaded
        assert wired.inner_text().split() == ["✓", "Done", "15:30"]
        assert "Received $1,380,000.00 of $1,380,000.00" in page.inner_text("main")
        shot = tmp_path / "web-team.png"
        page.screenshot(path=str(shot), full_page=True)
        keep(shot)
        page.emulate_media(media="print")
        assert not page.locator("#live").is_visible()  # printed: the board, not the widgets
        page.close()
    assert errors == []


def test_a_purchaser_link_shows_one_row_on_a_phone(
    browser: Any, seeded: Cli, links: dict[str, str], tmp_path: Path
) -> None:
    """Stonestreet's link, on a phone-sized screen, shows Stonestreet's row only, as a card
    with each step's name, status and time in words."""
    with serve(seeded.database_url, MOMENT) as served:
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        errors = errors_of(page)
        page.goto(served.url(links["stonestreet"]))
        page.wait_for_selector("#live[data-state=live]", timeout=5000)
        assert page.locator("tbody tr.purchaser").count() == 1
        text = page.inner_text("body")
        assert "Stonestreet Limited Partnership" in text
        assert "BNC" not in text and "930,000" not in text
        faxed = page.locator('td[data-step="warrant_faxed"]')
        assert faxed.get_attribute("data-label") == "Warrant faxed"  # shown before the status
        assert faxed.inner_text().split("\n") == [
            "! Due soon",
            "1h 30m left",
            "⚑ needs notice facsimile number",
        ]
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
        shot = tmp_path / "web-purchaser.png"
        page.screenshot(path=str(shot), full_page=True)
        keep(shot)
        page.close()
    assert errors == []


def test_the_board_works_without_javascript(
    browser: Any, seeded: Cli, links: dict[str, str]
) -> None:
    """With JavaScript off the page still shows the whole board (and asks to be reloaded)."""
    with serve(seeded.database_url, MOMENT) as served:
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(served.url(links["team"]))
        assert page.locator("tbody tr.purchaser").count() == 2
        assert page.inner_text("#live") == "Reload the page for the latest board."
        context.close()
