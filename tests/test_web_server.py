"""`closing serve` through a real uvicorn on 127.0.0.1: live updates on the SSE stream, what each
link may see, 404s that leak nothing, security headers and escaping."""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from closing.domain.marking import MarkRequest
from closing.services.mark import mark
from closing.services.shares import create_share, revoke
from closing.store.connection import Database
from closing.web.app import CONTENT_SECURITY_POLICY
from tests.helpers import AS_ALICE, Cli
from tests.web_helpers import Served, Stream, free_port, serve

NOW = "2002-06-07T15:30:00-07:00"
MOMENT = datetime.fromisoformat(NOW)
# What only BNC's link, or the team's, may show.
BNC_ONLY = ["BNC", "Bach", "bnc-bach", "930,000", "930000", "4,000,000", "1,380,000", "1380000"]


@dataclass
class Deal:
    cli: Cli
    served: Served
    team: str
    stonestreet: str
    bnc: str

    @property
    def store(self) -> Database:
        return Database(self.cli.database_url)

    @property
    def database(self) -> Database:
        return Database(self.cli.database_url)


@pytest.fixture
def deal(seeded: Cli) -> Iterator[Deal]:
    """The seed closing at 15:30 on June 7, 2002 (both signed, Stonestreet wired), a team link
    and a link per purchaser, served on a free port."""
    for args, at in [
        (("mark-signed", "stonestreet"), "08:30"),
        (("mark-signed", "bnc"), "09:10"),
        (("mark-wired", "stonestreet"), "10:15"),
    ]:
        assert seeded(*args, now=f"2002-06-07T{at}:00-07:00").code == 0
    database = Database(seeded.database_url)
    tokens = [
        create_share(database, None, who, "alice", MOMENT).token
        for who in ("team", "stonestreet", "bnc")
    ]
    with serve(seeded.database_url, MOMENT) as served:
        yield Deal(seeded, served, *tokens)


def closing_subprocess(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLOSING_DATABASE_URL": cli.database_url, "CLOSING_NOW": NOW}
    as_alice = AS_ALICE + "from closing.cli import main\nmain()\n"  # who loaded the deal
    return subprocess.run(
        [sys.executable, "-c", as_alice, *args], env=env, capture_output=True, text=True
    )


def newest_event_id(cli: Cli) -> int:
    result = cli("history", "--json", now=NOW)
    return max(entry["id"] for entry in json.loads(result.out))


def test_a_mark_made_by_the_cli_reaches_the_stream_within_a_second(deal: Deal) -> None:
    """The team's stream starts with the board as it is; `closing mark-wired bnc` run in
    another process shows up on it within a second, with the deal's newest event id as the SSE
    id."""
    with Stream(deal.served.url(deal.team, "/events")) as stream:
        first = stream.next()
        assert first.event == "board"
        assert first.id == str(newest_event_id(deal.cli))
        assert 'data-slug="bnc-bach"' in first.data
        done = closing_subprocess(deal.cli, "mark-wired", "bnc")
        assert done.returncode == 0, done.stderr
        committed = time.monotonic()
        update = stream.next(timeout=1.0)
    assert update.received - committed < 1.0
    assert update.id == str(newest_event_id(deal.cli))
    assert int(update.id) > int(first.id)
    bnc_row = update.data.split('data-slug="bnc-bach"')[1]
    assert 'data-step="wired" data-status="done"' in bnc_row


def test_a_purchaser_link_never_shows_another_purchaser(deal: Deal) -> None:
    """Stonestreet's page, JSON and stream carry Stonestreet's row and the deal's heading only:
    no name, slug, amount or total of BNC, before or after marks on either purchaser."""
    page = httpx.get(deal.served.url(deal.stonestreet))
    bearer = {"Authorization": f"Bearer {deal.stonestreet}"}
    api = httpx.get(f"{deal.served.base}/api/status", headers=bearer)
    api_query = httpx.get(f"{deal.served.base}/api/status", params={"token": deal.stonestreet})
    with Stream(deal.served.url(deal.stonestreet, "/events")) as stream:
        events = [stream.next()]
        store = deal.store
        mark(store, None, MarkRequest("bnc", "wired", actor="alice", host="h"), MOMENT)
        time.sleep(0.5)  # the other purchaser's mark: nothing to send to this link
        assert stream.events.empty()
        mark(store, None, MarkRequest("stone", "warrant_faxed", actor="alice", host="h"), MOMENT)
        events.append(stream.next(timeout=1.0))
    assert page.status_code == api.status_code == api_query.status_code == 200
    assert "Stonestreet Limited Partnership" in page.text
    assert api.json() == api_query.json()
    assert [row["slug"] for row in api.json()["purchasers"]] == ["stonestreet"]
    assert set(api.json()) == {"deal", "as_of", "purchasers", "company"}
    assert 'data-step="warrant_faxed" data-status="done"' in events[-1].data
    for text in [page.text, api.text, *(event.data for event in events)]:
        leaked = [word for word in BNC_ONLY if word in text]
        assert leaked == []


def test_the_team_json_is_the_status_json(deal: Deal) -> None:
    """`GET /api/status` with the team's token is exactly what `closing status --json` prints."""
    api = httpx.get(f"{deal.served.base}/api/status", params={"token": deal.team})
    status = deal.cli("status", "--json", now=NOW)
    assert api.headers["content-type"] == "application/json"
    assert api.json() == json.loads(status.out)


def test_wrong_missing_and_revoked_tokens_get_the_same_404(deal: Deal) -> None:
    """No token, a never-issued, a mistyped or another deal's one, a revoked link: 404 with the
    same small page on the page, the stream and the JSON alike (it never tells whether a link
    existed): the link is not valid, ask the deal team for a new one; no inline code, so the
    site's CSP holds."""
    base = deal.served.base
    revoke(deal.database, 3, "alice", MOMENT)  # BNC's link
    never_issued = "A" * 43
    urls = [
        f"{base}/",
        f"{base}/b/",
        f"{base}/b/{never_issued}",
        f"{base}/b/{never_issued}/events",
        f"{base}/b/{deal.team[:-1]}",
        f"{base}/b/{deal.team}x",
        f"{base}/b/{deal.bnc}",
        f"{base}/b/{deal.bnc}/events",
        f"{base}/api/status",
        f"{base}/api/status?token={never_issued}",
        f"{base}/api/status?token={deal.bnc}",
        f"{base}/b/../api/status?token={deal.team}x",
    ]
    page = httpx.get(f"{base}/b/{never_issued}")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    text = re.sub(r"<[^>]+>", " ", page.text)
    assert "This link is not valid" in text
    assert "Ask the deal team for a new link to the closing board." in text
    assert '<link rel="stylesheet" href="/static/board.css">' in page.text
    assert not re.search(r"<script|<style|\sstyle=|\son\w+=", page.text)
    assert "Not found" not in page.text
    for url in urls:
        response = httpx.get(url)
        assert (url, response.status_code, response.text) == (url, 404, page.text)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["cache-control"] == "no-store"
    bearer = httpx.get(f"{base}/api/status", headers={"Authorization": f"Bearer {deal.bnc}"})
    assert (bearer.status_code, bearer.text) == (404, page.text)
    assert httpx.get(deal.served.url(deal.team)).status_code == 200


def test_revoking_a_link_ends_its_open_stream(deal: Deal) -> None:
    """A browser left open on a revoked link stops getting the board within a poll, and its
    reconnection gets 404."""
    with Stream(deal.served.url(deal.bnc, "/events")) as stream:
        stream.next()
        revoke(deal.database, 3, "alice", MOMENT)
        assert stream.wait_ended(2.0)
    with Stream(deal.served.url(deal.bnc, "/events")) as again:
        assert again.wait_ended(2.0)
    assert again.status == 404


def test_a_reconnecting_browser_resumes_after_its_last_event_id(deal: Deal) -> None:
    """A browser that lost the stream reconnects with Last-Event-ID; it gets the board with
    what was marked meanwhile, under a newer id."""
    with Stream(deal.served.url(deal.team, "/events")) as stream:
        last = stream.next().id
    assert last is not None
    mark(deal.store, None, MarkRequest("bnc", "wired", actor="alice", host="h"), MOMENT)
    headers = {"Last-Event-ID": last}
    with Stream(deal.served.url(deal.team, "/events"), headers=headers) as again:
        resumed = again.next()
    assert resumed.id is not None
    assert int(resumed.id) > int(last)
    assert 'data-step="wired" data-status="done"' in resumed.data.split("bnc-bach")[1]


def test_closed_browsers_end_their_streams_on_the_server(deal: Deal) -> None:
    """Streams whose clients went away are ended on the server (what Starlette's TestClient
    cannot show)."""
    streams = [Stream(deal.served.url(deal.team, "/events")).__enter__() for _ in range(5)]
    for stream in streams:
        stream.next()
    assert deal.served.live.followers == 5
    for stream in streams:
        stream.close()
    deadline = time.monotonic() + 3
    while deal.served.live.followers and time.monotonic() < deadline:
        time.sleep(0.05)
    assert deal.served.live.followers == 0


def test_pages_carry_security_headers_and_no_inline_code(deal: Deal) -> None:
    """A restrictive CSP (scripts and styles from /static only), nosniff, no-referrer, no
    caching of token pages; the page has no inline script, style or event handler, and htmx is
    served from the package."""
    page = httpx.get(deal.served.url(deal.team))
    headers = page.headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert "server" not in headers
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts and all(re.search(r'src="/static/[\w.-]+\.js"', tag) for tag in scripts)
    assert not re.search(r"<style|\sstyle=|\son\w+=", page.text)
    for script in re.findall(r'src="(/static/[\w.-]+\.js)"', page.text):
        static = httpx.get(deal.served.base + script)
        assert static.status_code == 200
        assert "javascript" in static.headers["content-type"]
        assert static.headers["x-content-type-options"] == "nosniff"
    assert "htmx" in httpx.get(f"{deal.served.base}/static/htmx.min.js").text[:200]


def test_the_page_is_whole_without_javascript(deal: Deal) -> None:
    """The page itself carries the board (a browser without JavaScript shows it, and reloads
    every minute): both purchasers, each step's status in words, the totals."""
    page = httpx.get(deal.served.url(deal.team)).text
    assert '<meta http-equiv="refresh" content="60">' in page
    assert page.count('<tr class="purchaser') == 2
    for text in ["✓</span> Done", "08:30", "Due soon", "1h 30m left", "0/2 closed"]:
        assert text in page
    assert "⚑ needs notice facsimile number" in page
    assert "The company's deliveries" in page
    assert "Received $450,000.00 of $1,380,000.00" in page


def test_the_legend_names_the_purple_bar_of_blocked_cells(deal: Deal) -> None:
    """Under the board, on the team's page and a purchaser's, the legend shows each colour and
    the bars at a cell's left edge in the cells' own words: purple for a step that needs a detail
    (⚑ needs ...), red for attention; the stylesheet draws each swatch as its cells are drawn."""
    for token in (deal.team, deal.stonestreet):
        page = httpx.get(deal.served.url(token)).text
        legend = page[page.index('<ul class="legend"') :]
        legend = legend[: legend.index("</ul>")]
        assert (
            '<span class="swatch blocked" aria-hidden="true"></span>'
            "Purple bar: ⚑ needs a detail the deal file does not have yet"
        ) in legend
        assert '<span class="swatch attention" aria-hidden="true"></span>Red bar: attention' in (
            legend
        )
        assert '<span class="swatch status-due_soon" aria-hidden="true"></span>! Due soon' in (
            legend
        )
        assert 'class="step status-due_soon blocked"' in page
    css = httpx.get(f"{deal.served.base}/static/board.css").text
    assert "td.step.blocked, .swatch.blocked { box-shadow: inset 4px 0 0 var(--blocked-ink); }" in (
        css
    )


def test_names_with_markup_are_shown_as_text(cli: Cli, seed_path: Path) -> None:
    """A purchaser named with HTML or Rich markup is shown as those characters, on the page and
    on the stream."""
    text = seed_path.read_text()
    text = text.replace("Stonestreet Limited Partnership", "'<script>alert(1)</script> & Co'")
    text = text.replace("BNC Bach International, Ltd.", "'[bold red]Bach[/] <b>Ltd</b>'")
    seed_path.write_text(text)
    assert cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00").code == 0
    token = create_share(Database(cli.database_url), None, "team", "alice", MOMENT).token
    with serve(cli.database_url, MOMENT) as served:
        page = httpx.get(served.url(token)).text
        with Stream(served.url(token, "/events")) as stream:
            data = stream.next().data
    for html in (page, data):
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
        assert "[bold red]Bach[/] &lt;b&gt;Ltd&lt;/b&gt;" in html
        assert "<script>alert" not in html
        assert "<b>Ltd" not in html


def test_a_large_deal_shows_those_furthest_behind_first(cli: Cli, tmp_path: Path) -> None:
    """The team's page of a 150-purchaser deal shows 100 rows, most urgent first, with a
    per-step summary of all of them; `?all=1` shows every row."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _deals import generate_deal

    path = tmp_path / "big.yaml"
    generate_deal(path, 150, slug="big")
    assert cli("init", str(path), now="2002-06-07T07:00:00-07:00").code == 0
    assert cli("mark-signed", "purchaser-00150-llc", now=NOW).code == 0
    token = create_share(Database(cli.database_url), None, "team", "alice", MOMENT).token
    with serve(cli.database_url, MOMENT) as served:
        page = httpx.get(served.url(token)).text
        every = httpx.get(served.url(token, "?all=1")).text
    assert page.count('<tr class="purchaser') == 100
    assert "Showing 100 of 150 purchasers, those furthest behind first." in page
    assert "Every purchaser, by step" in page
    assert 'data-slug="purchaser-00150-llc"' not in page  # the only one ahead
    assert every.count('<tr class="purchaser') == 150


def test_closing_serve_listens_on_127_0_0_1_and_stops_on_sigint(seeded: Cli) -> None:
    """`closing serve` binds 127.0.0.1 by default, serves the links of `closing share`, and
    stops cleanly on Ctrl-C; a port in use is one line and exit 2."""
    port = free_port()
    link = seeded("share", "team", "--port", str(port), now=NOW).out.splitlines()[1]
    assert link.startswith(f"http://127.0.0.1:{port}/b/")
    env = {**os.environ, "CLOSING_NOW": NOW}
    server = subprocess.Popen(
        [sys.executable, "-m", "closing", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first == (
            f"Serving the board of neotherapeutics-2002-06-07 at http://127.0.0.1:{port}/b/<token>"
            " (Ctrl-C to stop).\n"
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                page = httpx.get(link)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert page.status_code == 200
        taken = closing_subprocess(seeded, "serve", "--port", str(port))
        assert taken.returncode == 2
        assert taken.stderr == (
            f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; choose another "
            "--port or --host\n"
        )
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=10)
    finally:
        server.kill()
    assert server.returncode == 0, err
    assert out.endswith("Stopped.\n")
    assert link.split("/b/")[1] not in out + err  # the token is never logged


@pytest.mark.slow
def test_closing_serve_exits_within_a_second_of_sigterm_with_a_stream_open(seeded: Cli) -> None:
    """A browser holding the event stream does not keep a stopping server up: on SIGTERM the
    stream ends at once and `closing serve` has exited (0, "Stopped.") within a second."""
    port = free_port()
    link = seeded("share", "team", "--port", str(port), now=NOW).out.splitlines()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "closing", "serve", "--port", str(port)],
        env={**os.environ, "CLOSING_NOW": NOW},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "Serving the board of ..."
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(link)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with Stream(f"{link}/events") as stream:
            stream.next(5.0)
            server.send_signal(signal.SIGTERM)
            stopping = time.monotonic()
            out, err = server.communicate(timeout=10)
            took = time.monotonic() - stopping
            assert stream.wait_ended(1.0)
    finally:
        server.kill()
    assert server.returncode == 0, err
    assert out.endswith("Stopped.\n")
    assert took < 1.0, f"closing serve took {took:.2f} s to exit after SIGTERM"


def test_recent_alerts_read_as_they_fell_due_and_only_those_due_by_the_board_s_time(
    seeded: Cli,
) -> None:
    """A link's page lists the alerts sent by the board's moment, each with its time left filled
    in (never the stored placeholder), and none that falls due after that moment."""
    from closing.services.live_board import BoardFeed

    checked = seeded("alerts", "check", now="2002-06-07T15:00:00-07:00")
    assert checked.code == 0, checked.err
    feed = BoardFeed(Database(seeded.database_url), None)
    at_half_past = feed.read(datetime.fromisoformat("2002-06-07T15:30:00-07:00")).alerts
    titles = [alert.title for alert in at_half_past]
    assert titles and all("⟨" not in title for title in titles)
    assert all(title.endswith("cutoff in 2h 00m") for title in titles), titles
    earlier = feed.read(datetime.fromisoformat("2002-06-07T14:59:00-07:00")).alerts
    assert earlier == []


def test_a_team_stream_gets_only_the_changed_row_and_totals_after_the_first_board(
    deal: Deal,
) -> None:
    """After the whole board on connecting, a mark on BNC reaches the team's stream as an htmx
    out-of-band patch: BNC's row (swapped in place of BNC's row) and the parts that changed (the
    heading's time, the totals), not Stonestreet's row nor the whole table; pages and streams are
    gzip-compressed for clients that accept it."""
    with Stream(deal.served.url(deal.team, "/events")) as stream:
        first = stream.next()
        mark(deal.store, None, MarkRequest("bnc", "wired", actor="alice", host="h"), MOMENT)
        update = stream.next(timeout=2.0)
    assert first.event == "board" and 'data-slug="stonestreet"' in first.data
    assert update.event == "patch"
    assert "hx-swap-oob=\"outerHTML:#board-rows > tr[data-slug='bnc-bach']\"" in update.data
    assert 'data-step="wired" data-status="done"' in update.data
    assert "Stonestreet Limited Partnership" not in update.data
    assert '<tfoot id="board-foot" hx-swap-oob="true">' in update.data
    assert "Received $1,380,000.00 of $1,380,000.00" in update.data
    assert '<th scope="col">Purchaser</th>' not in update.data  # not the table
    assert len(update.data) < len(first.data)
    page = httpx.get(deal.served.url(deal.team), headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    assert "Stonestreet Limited Partnership" in page.text  # httpx decodes it
    plain = httpx.get(deal.served.url(deal.team), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    with httpx.stream(
        "GET", deal.served.url(deal.team, "/events"), headers={"Accept-Encoding": "gzip"}
    ) as events:
        assert events.headers["content-encoding"] == "gzip"
        assert events.headers["content-type"].startswith("text/event-stream")
        first_chunk = next(events.iter_text())  # flushed at once, not held for more
        assert "event: board" in first_chunk


def test_closing_serve_collects_garbage_while_it_serves(
    seeded: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`closing` turns the garbage collector off for its short commands; the server, which runs
    for hours, turns it back on (start-up's objects frozen out of it) before serving, with the
    full collections left to the server's quiet moments (`closing.web.collector`)."""
    from closing.web.collector import NEVER

    seen: list[tuple[bool, int, tuple[int, ...]]] = []
    monkeypatch.setattr(
        "closing.web.app.serve_board",
        lambda *args, **kwargs: seen.append(
            (gc.isenabled(), gc.get_freeze_count(), gc.get_threshold())
        ),
    )
    thresholds = gc.get_threshold()
    gc.disable()  # as `closing.cli.run` leaves it
    try:
        result = seeded("serve", "--port", "0")
    finally:
        gc.unfreeze()
        gc.enable()
        gc.set_threshold(*thresholds)
    assert result.code == 0, result.err
    assert seen and seen[0][0], "the collector is off while serving"
    assert seen[0][1] > 0, "nothing was frozen out of the collections"
    assert seen[0][2] == (*thresholds[:2], NEVER), "Python's own full collections are on"


def test_a_page_does_not_wait_behind_a_slow_rebuild_and_a_revoked_link_is_refused_at_once(
    deal: Deal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a rebuild takes longer than the page's wait (a large deal's, here held on purpose),
    a page load gets the last board at once and its stream brings the new one when it is built;
    a link revoked meanwhile is refused at once (the links are read afresh), not at the rebuild."""
    import threading

    live = deal.served.live
    gate = threading.Event()
    read = live.feed.read

    def slow_read(now: datetime) -> Any:
        gate.wait(10)
        return read(now)

    with Stream(deal.served.url(deal.team, "/events")) as stream:
        first = stream.next(5)
        monkeypatch.setattr(live.feed, "read", slow_read)
        mark(deal.database, None, MarkRequest("bnc-bach", "wired", actor="alice", host="h"), MOMENT)
        revoke(deal.database, 3, "alice", MOMENT)  # BNC's link
        started = time.monotonic()
        page = httpx.get(deal.served.url(deal.team), timeout=5)
        waited = time.monotonic() - started
        refused = httpx.get(deal.served.url(deal.bnc), timeout=5)
        assert page.status_code == 200 and refused.status_code == 404
        assert waited < 2, f"the page waited {waited:.1f} s behind the rebuild"
        assert "BNC" in page.text and first.event == "board"
        gate.set()
        update = stream.next(5)
    assert update.event == "patch" and "bnc-bach" in update.data


def test_while_the_database_is_out_of_reach_a_link_still_gets_the_last_board(
    deal: Deal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every read of the deal fails (the store's error for a lost connection): the page, the
    JSON and the stream of a link still get the last board (a browser whose stream came back
    during the outage keeps following), as the server says once in its log."""
    from closing.domain.errors import DatabaseError

    live = deal.served.live
    assert httpx.get(deal.served.url(deal.team), timeout=5).status_code == 200

    def out_of_reach(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseError.failed("postgresql://db.example", "connection refused")

    for read in ("marker", "shares", "read"):
        monkeypatch.setattr(live.feed, read, out_of_reach)
    page = httpx.get(deal.served.url(deal.team), timeout=5)
    assert page.status_code == 200 and "Stonestreet Limited Partnership" in page.text
    status = httpx.get(f"{deal.served.base}/api/status?token={deal.team}", timeout=5)
    assert status.status_code == 200 and status.json()["deal"]["slug"]
    with Stream(deal.served.url(deal.team, "/events")) as stream:
        assert stream.next(5).event == "board"
        assert not stream.wait_ended(1)


def test_a_board_whose_drawing_failed_once_is_drawn_again(
    deal: Deal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view that fails once (in its worker thread) costs that page a 500, not every page of
    the board until the next change: the next load draws it again."""
    import closing.web.app as web_app

    drawn = web_app.view
    failures = [RuntimeError("drawing failed")]

    def once_failing(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return drawn(*args, **kwargs)

    monkeypatch.setattr(web_app, "view", once_failing)
    # A new board (drawn by nobody yet: no stream is open), read by the next page load.
    mark(deal.database, None, MarkRequest("bnc-bach", "wired", actor="alice", host="h"), MOMENT)
    loads = [httpx.get(deal.served.url(deal.stonestreet), timeout=5).status_code for _ in range(3)]
    assert loads == [500, 200, 200]
