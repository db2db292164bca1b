"""The real alert daemon (`closing alerts run` in a subprocess) on the seed deal's closing day,
replayed on a running clock a few seconds before the 17:00 cutoff, sending to a real SMTP server
and a real JSON webhook receiver on 127.0.0.1.

Processes whose start decides an outcome (a daemon, a restart, a standby, a mark racing the
cutoff) are started warm (tests/warm_closing.py): the test waits until one has started and
imported everything, then releases it at the moment it chooses, so that a loaded machine delays
the start of the command by tenths of a second, not by the seconds an interpreter takes to start.
The running clock starts when the first process is released."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from closing.domain.errors import ExitCode
from closing.services.alerts.channels import message_id
from tests.alert_receivers import (
    Hook,
    HttpReceiver,
    Mail,
    SmtpReceiver,
    closed_port,
    http_receiver,
    smtp_receiver,
)
from tests.helpers import NO_POSTGRES, POSTGRES_URL, ROOT, SEED, postgres_schema, wait_until

pytestmark = pytest.mark.slow
# The daemon's mechanics on the seed as the current release ships it (every step at the deal's
# 17:00 cutoff); the market cutoffs' alerts are tested in test_alert_digests.
RELEASE_SEED = ROOT / "tests" / "fixtures" / "release" / SEED.name

DEAL = "neotherapeutics-2002-06-07"
PACIFIC = ZoneInfo("America/Los_Angeles")
CUTOFF = datetime(2002, 6, 7, 17, 0, tzinfo=PACIFIC)
CUTOFF_KEY = "2002-06-08T00:00:00Z"  # the deadline in an alert key, in UTC
NAMES = {
    "stonestreet": "Stonestreet Limited Partnership",
    "bnc-bach": "BNC Bach International, Ltd.",
}
SAFETY = "1"  # the daemon also wakes every second
QUIET = 2.0  # how long nothing more may arrive after the last occurrence (2 safety wake-ups)
STARTUP = 30.0  # the most a process may take to start and import (tests/warm_closing.py)
RUNNING = 10.0  # the most a warm daemon, once released, may take to log that it runs
WARM = Path(__file__).with_name("warm_closing.py")


def key(purchaser: str, rule: str, step: str = "signed") -> str:
    return f"{DEAL}/{purchaser}/{step}/{rule}/{CUTOFF_KEY}"


def alert_key(text: str) -> str | None:
    """The alert's unique key from its text, wherever the `Alert:` line ended up."""
    found = re.search(r"Alert: (\S+)", text)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Rules:
    """The deal file's `alerts:` rules, in the deal file's spelling."""

    before: tuple[str, ...] = ("6s", "3s")
    overdue: tuple[str, int] | None = ("2s", 2)

    def schedule(self) -> list[tuple[str, datetime]]:
        """Each occurrence of the 17:00 deadline: (rule, when), earliest first."""
        found = [(f"before-{lead}", CUTOFF - _seconds(lead)) for lead in self.before]
        found.append(("deadline", CUTOFF))
        if self.overdue is not None:
            every, times = self.overdue
            found += [(f"overdue-{n}", CUTOFF + _seconds(every) * n) for n in range(1, times + 1)]
        return sorted(found, key=lambda item: item[1])

    def yaml(self, notify: list[str]) -> str:
        lines = ["alerts:", f"  before: [{', '.join(self.before)}]", "  at_deadline: true"]
        if self.overdue is not None:
            lines.append(f"  overdue: {{every: {self.overdue[0]}, times: {self.overdue[1]}}}")
        lines.append("  notify:")
        lines += [f'    - "{url}"' for url in notify]
        return "\n".join(lines) + "\n\n"


def _seconds(text: str) -> timedelta:
    assert text.endswith("s"), text
    return timedelta(seconds=int(text[:-1]))


def warm(args: list[str], env: dict[str, str], stderr: Any) -> subprocess.Popen[str]:
    """`closing ARGS` started warm: imported, waiting to be released (see `release`)."""
    proc = subprocess.Popen(
        [sys.executable, str(WARM), *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], STARTUP)
    line = proc.stdout.readline() if ready else ""
    assert line == "ready\n", f"closing {' '.join(args)} did not start (exit {proc.poll()})"
    return proc


def release(proc: subprocess.Popen[str], now: str) -> None:
    """Let a warm process run its command, on the clock `now` (a CLOSING_NOW value)."""
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"CLOSING_NOW": now}) + "\n")
    proc.stdin.close()
    proc.stdin = None  # so that communicate() leaves it alone


@dataclass
class Daemon:
    proc: subprocess.Popen[str]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_log(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first match of `pattern` in the daemon's stderr, waiting for it."""
        found: re.Match[str] | None = wait_until(
            lambda: re.search(pattern, self.log()), timeout, f"{pattern!r} from pid {self.pid}"
        )
        assert found is not None
        return found


@dataclass
class ClosingDay:
    """The seed deal with alert rules, in a database of its own, on a running clock that reads
    `start` at Unix time `anchor` (set when the first process is released); every process
    started here shares that clock."""

    tmp_path: Path
    database_url: str
    daemons: list[Daemon] = field(default_factory=list)
    commands: list[subprocess.Popen[str]] = field(default_factory=list)
    start: datetime = CUTOFF
    anchor: float = 0.0
    settings: dict[str, str] = field(default_factory=dict)  # more CLOSING_* for every process

    def load(self, rules: Rules, notify: list[str], purchasers: int = 2) -> None:
        """Write the deal file and load it with the clock at 07:00; the running clock will start
        two seconds before the first occurrence."""
        # the seed's own rules go
        text = re.sub(r"(?m)^alerts:\n(?:[ #].*\n)*", "", RELEASE_SEED.read_text())
        if purchasers == 1:
            text = text[: text.index("  - name: BNC Bach International")]
        text = text.replace("\npurchasers:\n", "\n" + rules.yaml(notify) + "purchasers:\n")
        deal_file = self.tmp_path / f"{DEAL}.yaml"
        deal_file.write_text(text)
        loaded = self.run("init", str(deal_file), now="2002-06-07T07:00:00-07:00")
        assert loaded.returncode == 0, loaded.stderr
        # The company's prospectus supplement came with the agreement: its alerts are not the
        # subject here.
        prospectus = ("mark", "company", "prospectus_delivered")
        delivered = self.run(*prospectus, now="2002-06-07T07:30:00-07:00")
        assert delivered.returncode == 0, delivered.stderr
        self.start = rules.schedule()[0][1] - timedelta(seconds=2)

    def clock(self) -> str:
        """The running clock as CLOSING_NOW; it starts at the first call."""
        if not self.anchor:
            self.anchor = float(int(time.time()) + 1)  # whole Unix seconds, as CLOSING_NOW takes
        return f"{self.start.isoformat()}@{int(self.anchor)}"

    def base_env(self) -> dict[str, str]:
        """The environment of every `closing` process here but its clock (a warm process gets
        CLOSING_NOW when it is released)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
        env.update(
            CLOSING_DATABASE_URL=self.database_url,
            CLOSING_OPERATOR="alice",
            NO_COLOR="1",
            COLUMNS="100",
        )
        env.update(self.settings)
        return env

    def env(self, now: str | None = None) -> dict[str, str]:
        """The environment of a `closing` process: the running clock unless `now` is given."""
        return {**self.base_env(), "CLOSING_NOW": now or self.clock()}

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.time() - self.anchor)

    def real(self, at: datetime) -> float:
        """The Unix time at which the running clock reads `at`."""
        return self.anchor + (at - self.start).total_seconds()

    def run(self, *args: str, now: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "closing", *args],
            env=self.env(now),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def daemon(self, *args: str, released: bool = True) -> Daemon:
        """`closing alerts run --safety 1 ARGS` in the background, stderr to a file; started warm
        and, unless `released` is False, released at once."""
        log_path = self.tmp_path / f"daemon-{len(self.daemons) + 1}.log"
        with log_path.open("w") as log:
            command = ["alerts", "run", "--safety", SAFETY, *args]
            daemon = Daemon(warm(command, self.base_env(), log), log_path)
        self.daemons.append(daemon)
        if released:
            self.release(daemon)
        return daemon

    def release(self, daemon: Daemon) -> None:
        release(daemon.proc, self.clock())

    def warm_command(self, *args: str) -> subprocess.Popen[str]:
        """`closing ARGS`, started warm; `finish` releases it and waits for its result."""
        proc = warm(list(args), self.base_env(), subprocess.PIPE)
        self.commands.append(proc)
        return proc

    def finish(self, proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
        release(proc, self.clock())
        out, err = proc.communicate(timeout=60)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def ledger(self, *flags: str) -> list[dict[str, Any]]:
        """`closing alerts list --json FLAGS`."""
        listed = self.run("alerts", "list", "--json", *flags)
        assert listed.returncode == 0, listed.stderr
        entries: list[dict[str, Any]] = json.loads(listed.stdout)
        return entries

    def statuses(self) -> list[str]:
        """Each alert's status in the ledger, read in this process: in milliseconds, where
        `closing alerts list` takes a second or more under load."""
        from closing.services.alerts.ledger import ledger
        from closing.store.connection import Database

        return [entry.status for entry in ledger(Database(self.database_url))]

    def wait_clock(self, at: datetime, quiet: Callable[[], Any] | None = None) -> None:
        """Until the running clock reads `at`; with `quiet`, fail if its value changes meanwhile."""
        before = quiet() if quiet else None
        timeout = self.real(at) - time.time() + 5
        wait_until(lambda: self.now() >= at, timeout, f"the clock to read {at:%H:%M:%S}")
        if quiet is not None:
            assert quiet() == before, "something arrived while nothing should have"

    def stop_all(self) -> None:
        for proc in [*(daemon.proc for daemon in self.daemons), *self.commands]:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)  # reaps it and closes its pipes

    def logs(self) -> str:
        return "\n".join(f"--- daemon pid {d.pid}:\n{d.log()}" for d in self.daemons)


def assert_quiet(count: Callable[[], int], seconds: float = QUIET) -> None:
    """Nothing more arrives for `seconds`."""
    before = count()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert count() == before, f"{count() - before} more arrived after the last occurrence"
        time.sleep(0.05)


def hook_keys(webhook: HttpReceiver) -> list[str | None]:
    return [alert_key(hook.payload["message"]) for hook in webhook.received()]


def mail_keys(smtp: SmtpReceiver) -> list[str | None]:
    return [alert_key(mail.text) for mail in smtp.received()]


def wait_for_keys(
    received: Callable[[], list[str | None]], wanted: list[str], timeout: float, what: str
) -> None:
    """Until every key in `wanted` has arrived; on timeout, say which are missing."""
    end = time.monotonic() + timeout
    while not set(wanted) <= set(received()):
        if time.monotonic() >= end:
            got = received()
            missing = [k for k in wanted if k not in got]
            raise AssertionError(
                f"timed out after {timeout:.1f}s waiting for {what}; missing {missing}; got {got}"
            )
        time.sleep(0.05)


COMMAND = f"closing mark-signed stonestreet --deal {DEAL}"


def check_hook(hook: Hook, alert: str) -> None:
    """A webhook call for Stonestreet's signing alert `alert`."""
    assert hook.path == "/hooks/closing"
    assert hook.payload["type"] == "info"
    assert hook.payload["title"].startswith(
        "Stonestreet Limited Partnership: Agreement signed not done, "
    )
    lines = hook.payload["message"].splitlines()
    assert "Purchaser: Stonestreet Limited Partnership" in lines
    assert "Step: Agreement signed (signed) is not done" in lines
    assert f"When it is done: {COMMAND}" in lines
    assert lines[-1] == f"Alert: {alert}"
    assert hook.headers["Idempotency-Key"] == alert  # a receiver drops a repeat by it


def check_mail(mail: Mail, title: str, alert: str) -> None:
    """An e-mail for Stonestreet's signing alert `alert`: its text part has the alert's lines."""
    assert mail.mail_from == "closing@example.com"
    assert mail.rcpt_tos == ("ops@example.com",)
    assert mail.subject == title
    lines = [line.strip() for line in mail.text.splitlines() if line.strip()]
    assert f"Alert: {alert}" in lines, f"no line 'Alert: {alert}' in the e-mail:\n{mail.text}"
    assert "Purchaser: Stonestreet Limited Partnership" in lines
    assert "Step: Agreement signed (signed) is not done" in lines
    assert f"When it is done: {COMMAND}" in lines
    assert mail.message["Message-ID"] == message_id(alert)  # the same for every attempt


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with smtp_receiver() as receiver:
        yield receiver


@pytest.fixture
def webhook() -> Iterator[HttpReceiver]:
    with http_receiver() as receiver:
        yield receiver


@contextmanager
def closing_day_in(folder: Path, database_url: str) -> Iterator[ClosingDay]:
    day = ClosingDay(folder, database_url)
    try:
        yield day
    finally:
        day.stop_all()
        sys.stderr.write(day.logs())  # shown with a failing test


@pytest.fixture
def closing_day(tmp_path: Path) -> Iterator[ClosingDay]:
    with closing_day_in(tmp_path, f"sqlite:///{tmp_path / 'closing.db'}") as day:
        yield day


@pytest.fixture
def postgres_days(tmp_path: Path) -> Iterator[Callable[[], ClosingDay]]:
    """Closing days on PostgreSQL, each in a private schema of the test database."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    numbers = count(1)
    with ExitStack() as stack:

        def new_day() -> ClosingDay:
            url = stack.enter_context(postgres_schema())
            folder = tmp_path / f"schema-{next(numbers)}"
            folder.mkdir()
            return stack.enter_context(closing_day_in(folder, url))  # stopped before the drop

        yield new_day


@pytest.fixture
def postgres_day(postgres_days: Callable[[], ClosingDay]) -> ClosingDay:
    return postgres_days()


# --- the tests -----------------------------------------------------------------------------------


def test_each_alert_arrives_once_by_email_and_webhook(
    closing_day: ClosingDay, smtp: SmtpReceiver, webhook: HttpReceiver
) -> None:
    """Both warnings, the at-deadline alert and both overdue repeats arrive once on each channel,
    each naming the purchaser, the step, the command to run and its key on a line of its own."""
    rules = Rules()
    closing_day.load(rules, [webhook.url(), smtp.url()], purchasers=1)
    closing_day.daemon()
    wanted = [key("stonestreet", rule) for rule, _ in rules.schedule()]
    wait_for_keys(lambda: hook_keys(webhook), wanted[:1], 15, "the first webhook")
    wait_for_keys(lambda: mail_keys(smtp), wanted[:1], 5, "the first e-mail")
    check_hook(webhook.received()[0], wanted[0])
    check_mail(smtp.received()[0], webhook.received()[0].payload["title"], wanted[0])

    timeout = closing_day.real(rules.schedule()[-1][1]) - time.time() + 15
    wait_for_keys(lambda: hook_keys(webhook), wanted, timeout, "every alert by webhook")
    wait_for_keys(lambda: mail_keys(smtp), wanted, timeout, "every alert by e-mail")
    assert_quiet(lambda: len(webhook.received()) + len(smtp.received()))
    assert hook_keys(webhook) == wanted
    assert mail_keys(smtp) == wanted
    for hook, mail, alert in zip(webhook.received(), smtp.received(), wanted, strict=True):
        check_hook(hook, alert)
        check_mail(mail, hook.payload["title"], alert)

    ledger = closing_day.ledger()
    assert [(e["purchaser"], e["step"], e["rule"], e["status"]) for e in ledger] == [
        ("stonestreet", "signed", rule, "sent") for rule, _ in rules.schedule()
    ]
    assert [e["key"] for e in ledger] == wanted
    for entry in ledger:
        assert sorted(d["channel"] for d in entry["deliveries"]) == sorted(
            ["log", f"json://127.0.0.1:{webhook.port}/…", f"mailto://127.0.0.1:{smtp.port}/…"]
        )
        assert all(d["status"] == "sent" and d["attempts"] == 1 for d in entry["deliveries"])


def test_alerts_arrive_on_time_on_every_channel(
    closing_day: ClosingDay, smtp: SmtpReceiver, webhook: HttpReceiver
) -> None:
    """Each alert reaches both channels within 1.5 s of falling due, never before, however many
    e-mails went out just before it (two purchasers: two alerts at each occurrence)."""
    rules = Rules(before=("3s",), overdue=None)
    closing_day.load(rules, [webhook.url(), smtp.url()])
    closing_day.daemon()
    due = {
        key(purchaser, rule): closing_day.real(at)
        for rule, at in rules.schedule()
        for purchaser in NAMES
    }
    timeout = closing_day.real(CUTOFF) - time.time() + 30
    wait_for_keys(lambda: hook_keys(webhook), list(due), timeout, "every webhook")
    wait_for_keys(lambda: mail_keys(smtp), list(due), timeout, "every e-mail")

    arrivals = [
        (alert_key(h.payload["message"]), "webhook", h.received_at) for h in webhook.received()
    ]
    arrivals += [(alert_key(m.text), "e-mail", m.received_at) for m in smtp.received()]
    late = {
        f"{name} {alert}": round(at - due[str(alert)], 2)
        for alert, name, at in arrivals
        if not -0.05 <= at - due[str(alert)] <= 1.5
    }
    assert not late, f"seconds after falling due (allowed: 0 to 1.5): {late}"


def test_a_step_marked_done_gets_no_further_alert(
    closing_day: ClosingDay, webhook: HttpReceiver
) -> None:
    """Signing marked between the warnings and the cutoff stops that purchaser's signing alerts;
    the other purchaser's still come, and the next step (the wire) is alerted from then on."""
    rules = Rules(overdue=("2s", 1))
    closing_day.load(rules, [webhook.url()])
    marking = closing_day.warm_command("mark-signed", "stonestreet")
    closing_day.daemon()
    warnings = [key(p, rule) for p in NAMES for rule in ("before-6s", "before-3s")]
    timeout = closing_day.real(CUTOFF - timedelta(seconds=3)) - time.time() + 10
    wait_for_keys(lambda: hook_keys(webhook), warnings, timeout, "both warnings")
    assert closing_day.now() < CUTOFF - timedelta(seconds=1), "too late to mark before the cutoff"

    marked = closing_day.finish(marking)
    assert marked.returncode == 0, marked.stderr
    assert marked.stdout.startswith("Marked signed for Stonestreet Limited Partnership at ")
    assert closing_day.now() < CUTOFF, "the mark must land before the cutoff"

    later = [key("bnc-bach", "overdue-1"), key("stonestreet", "overdue-1", step="wired")]
    timeout = closing_day.real(rules.schedule()[-1][1]) - time.time() + 10
    wait_for_keys(lambda: hook_keys(webhook), later, timeout, "the last overdue alerts")
    assert_quiet(lambda: len(webhook.received()))

    keys = hook_keys(webhook)
    assert [k for k in keys if k is None] == []
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    signed = [k for k in keys if k and k.startswith(f"{DEAL}/stonestreet/signed/")]
    assert signed == [key("stonestreet", "before-6s"), key("stonestreet", "before-3s")]
    other = [k for k in keys if k and k.startswith(f"{DEAL}/bnc-bach/signed/")]
    assert other == [key("bnc-bach", rule) for rule, _ in rules.schedule()]
    wired = [h.payload for h in webhook.received() if "/stonestreet/wired/" in h.payload["message"]]
    assert wired, "the wire became the step to alert about"
    assert all(f"closing mark-wired stonestreet --deal {DEAL}" in p["message"] for p in wired)

    ledger = closing_day.ledger()
    signing = [(e["purchaser"], e["rule"]) for e in ledger if e["step"] == "signed"]
    assert [rule for who, rule in signing if who == "stonestreet"] == ["before-6s", "before-3s"]
    assert [rule for who, rule in signing if who == "bnc-bach"] == [r for r, _ in rules.schedule()]
    assert {e["status"] for e in ledger} == {"sent"}


def test_a_killed_daemon_restarts_and_collapses_what_it_missed(
    closing_day: ClosingDay, webhook: HttpReceiver
) -> None:
    """After kill -9 and a restart, every alert due is delivered once: those that fell due while
    it was down collapse per step into one late alert, and stderr says what it caught up."""
    rules = Rules(overdue=("3s", 1))
    closing_day.load(rules, [webhook.url()])
    restarted = closing_day.daemon(released=False)
    first = closing_day.daemon()
    warnings = [key(p, "before-6s") for p in NAMES]
    wait_for_keys(lambda: hook_keys(webhook), warnings, 15, "the first warnings")
    wait_until(
        lambda: closing_day.statuses() == ["sent", "sent"], 5, "the first warnings recorded as sent"
    )
    assert closing_day.now() < CUTOFF - timedelta(seconds=3), "too late: the 2nd warning is due"
    first.proc.send_signal(signal.SIGKILL)
    assert first.proc.wait(10) == -signal.SIGKILL

    # Down through the second warning and the cutoff: nothing may arrive.
    closing_day.wait_clock(CUTOFF + timedelta(seconds=0.2), quiet=lambda: len(webhook.received()))
    closing_day.release(restarted)
    wanted = warnings + [key(p, rule) for rule in ("deadline", "overdue-1") for p in NAMES]
    timeout = closing_day.real(rules.schedule()[-1][1]) - time.time() + 10
    wait_for_keys(lambda: hook_keys(webhook), wanted, timeout, "every alert after restart")
    assert_quiet(lambda: len(webhook.received()))

    assert Counter(hook_keys(webhook)) == Counter(wanted), "each alert exactly once"
    late = [
        h.payload["message"] for h in webhook.received() if "/deadline/" in h.payload["message"]
    ]
    assert len(late) == 2
    assert all("Sent late: the alert sender was not running from " in text for text in late)

    listed = closing_day.ledger()
    assert sorted(e["key"] for e in listed) == sorted(wanted)
    assert {e["status"] for e in listed} == {"sent"}
    everything = closing_day.ledger("--all")
    superseded = [(e["purchaser"], e["rule"]) for e in everything if e["status"] == "superseded"]
    assert sorted(superseded) == [("bnc-bach", "before-3s"), ("stonestreet", "before-3s")]
    assert len(everything) == len(NAMES) * len(rules.schedule())

    assert restarted.alive()
    caught_up = restarted.wait_log(r"event=caught-up alerts=(\d+) collapsed=(\d+)", 1)
    assert caught_up.group(0) == "event=caught-up alerts=2 collapsed=2", restarted.log()


def test_a_kill_mid_send_strands_no_other_delivery(
    closing_day: ClosingDay, webhook: HttpReceiver
) -> None:
    """Killed (-9) while one webhook call hangs, the restarted daemon delivers the other alerts of
    that pass at once, and the one that did reach the receiver is not sent twice (yet: its
    attempt is `sending` in the ledger). One webhook at a time, so that only one is in flight."""
    closing_day.settings["CLOSING_ALERT_PARALLEL"] = "webhook=1"
    rules = Rules(before=("6s",), overdue=None)
    closing_day.load(rules, [webhook.url()])
    webhook.stall_next(30)
    second = closing_day.daemon(released=False)
    first = closing_day.daemon()
    wait_until(lambda: webhook.received(), 15, "the first webhook call")
    assert hook_keys(webhook) == [key("stonestreet", "before-6s")]
    first.proc.send_signal(signal.SIGKILL)
    assert first.proc.wait(10) == -signal.SIGKILL
    webhook.release()

    closing_day.release(second)
    second.wait_log(r"event=start ", RUNNING)
    wanted = [key("stonestreet", "before-6s"), key("bnc-bach", "before-6s")]
    wait_for_keys(lambda: hook_keys(webhook), wanted, 5, "the stranded alert")
    assert_quiet(lambda: len(webhook.received()), 1.5)
    assert hook_keys(webhook) == wanted
    # The killed sender wrote its attempt before sending: the ledger knows it may have gone out.
    webhook_deliveries = {
        entry["purchaser"]: next(d for d in entry["deliveries"] if d["channel"] != "log")
        for entry in closing_day.ledger()
    }
    assert [(d["status"], d["attempts"]) for d in webhook_deliveries.values()] == [
        ("sending", 1),
        ("sent", 1),
    ]


def test_an_unreachable_webhook_is_retried_while_the_other_channel_gets_every_alert(
    closing_day: ClosingDay, webhook: HttpReceiver
) -> None:
    """A webhook on a closed port is recorded as retrying and counted as failing on the board,
    while the working webhook still gets each alert and the daemon keeps running."""
    rules = Rules(before=("4s", "2s"), overdue=None)
    with closed_port() as dead_port:
        dead = f"json://127.0.0.1:{dead_port}/hooks/dead"
        closing_day.load(rules, [dead, webhook.url()], purchasers=1)
        daemon = closing_day.daemon()
        wanted = [key("stonestreet", rule) for rule, _ in rules.schedule()]
        timeout = closing_day.real(CUTOFF) - time.time() + 10
        wait_for_keys(lambda: hook_keys(webhook), wanted, timeout, "every alert")
        dead_name = f"json://127.0.0.1:{dead_port}/…"

        def first_dead_attempts() -> int:
            deliveries = closing_day.ledger()[0]["deliveries"]
            return next(d["attempts"] for d in deliveries if d["channel"] == dead_name)

        wait_until(lambda: first_dead_attempts() >= 2, 5, "a second attempt on the dead webhook")
        assert daemon.alive(), daemon.log()

        def between_tries() -> list[dict[str, Any]]:
            """The ledger while no retry is in flight (a delivery is `sending` for the moment of
            a try; none is failed before its 8th, 254 s after its first)."""
            entries = closing_day.ledger()
            return [] if any(e["status"] == "sending" for e in entries) else entries

        assert hook_keys(webhook) == wanted
        ledger = wait_until(between_tries, 10, "a moment between two tries")
        assert [e["rule"] for e in ledger] == [rule for rule, _ in rules.schedule()]
        for entry in ledger:
            assert entry["status"] == "retrying"
            by_channel = {d["channel"]: d for d in entry["deliveries"]}
            broken = by_channel[f"json://127.0.0.1:{dead_port}/…"]
            assert broken["status"] == "retrying"
            assert broken["attempts"] >= 1
            assert broken["delivered_at"] is None
            assert broken["last_error"].startswith("did not accept the alert")
            assert by_channel[f"json://127.0.0.1:{webhook.port}/…"]["status"] == "sent"
            assert by_channel["log"]["status"] == "sent"
        assert f"event=delivery-retrying channel=json://127.0.0.1:{dead_port}/…" in daemon.log()

        board = closing_day.run("status", "--json")
        assert board.returncode == 0, board.stderr
        assert json.loads(board.stdout)["alerts"]["failing_deliveries"] > 0
        assert daemon.alive(), daemon.log()


def test_a_second_sender_is_refused_and_a_standby_takes_over(
    closing_day: ClosingDay, webhook: HttpReceiver
) -> None:
    """A second `alerts run` exits 7 naming the holder's pid; one started with --standby waits,
    takes over when the first stops on SIGTERM (exit 0), and no alert goes out twice."""
    rules = Rules(overdue=None)
    closing_day.load(rules, [webhook.url()], purchasers=1)
    second = closing_day.warm_command("alerts", "run", "--safety", SAFETY)
    standby = closing_day.daemon("--standby", released=False)
    first = closing_day.daemon()
    first.wait_log(rf'event=start sender="pid {first.pid} on ', RUNNING)

    refused = closing_day.finish(second)
    assert refused.returncode == ExitCode.ALERTS == 7
    assert f"alerts are already being sent by pid {first.pid} on " in refused.stderr
    assert "--standby" in refused.stderr

    closing_day.release(standby)
    standby.wait_log(rf'event=standby holder="pid {first.pid} on ', RUNNING)
    assert standby.alive()
    assert "event=start" not in standby.log()

    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(10) == 0
    assert re.search(rf'event=stop sender="pid {first.pid} on ', first.log())
    assert "Traceback" not in first.log()
    stopped_at = time.time()
    standby.wait_log(rf'event=start sender="pid {standby.pid} on ', 5)
    assert time.time() - stopped_at < 3, "the standby took too long to take over"

    wanted = [key("stonestreet", rule) for rule, _ in rules.schedule()]
    timeout = closing_day.real(CUTOFF) - time.time() + 10
    wait_for_keys(lambda: hook_keys(webhook), wanted, timeout, "every alert")
    assert_quiet(lambda: len(webhook.received()))
    assert hook_keys(webhook) == wanted
    assert "rule=deadline" in standby.log()
    assert "rule=deadline" not in first.log()
    assert {e["status"] for e in closing_day.ledger()} == {"sent"}

    standby.proc.send_signal(signal.SIGTERM)
    assert standby.proc.wait(10) == 0


@pytest.mark.postgres
def test_postgres_standby_takes_over_from_a_killed_sender(
    postgres_day: ClosingDay, webhook: HttpReceiver
) -> None:
    """On PostgreSQL, with two --standby daemons, kill -9 of the active one hands the advisory
    lock to the other within seconds, and every alert is delivered exactly once."""
    rules = Rules(overdue=None)
    postgres_day.load(rules, [webhook.url()])
    standby = postgres_day.daemon("--standby", released=False)
    active = postgres_day.daemon("--standby")
    active.wait_log(rf'event=start sender="pid {active.pid} on ', RUNNING)
    postgres_day.release(standby)
    standby.wait_log(rf'event=standby holder="pid {active.pid} on ', RUNNING)

    warnings = [key(p, "before-6s") for p in NAMES]
    wait_for_keys(lambda: hook_keys(webhook), warnings, 10, "the first warnings")
    wait_until(
        lambda: set(postgres_day.statuses()) == {"sent"}, 5, "the first warnings recorded as sent"
    )
    assert postgres_day.now() < CUTOFF - timedelta(seconds=3), "too late: the 2nd warning is due"
    active.proc.send_signal(signal.SIGKILL)
    killed_at = time.time()
    assert active.proc.wait(10) == -signal.SIGKILL
    standby.wait_log(rf'event=start sender="pid {standby.pid} on ', 5)
    took = time.time() - killed_at
    assert took < 3, f"the standby took {took:.1f}s to take over"

    wanted = [key(p, rule) for rule, _ in rules.schedule() for p in NAMES]
    timeout = postgres_day.real(rules.schedule()[-1][1]) - time.time() + 10
    wait_for_keys(lambda: hook_keys(webhook), wanted, timeout, "every alert")
    assert_quiet(lambda: len(webhook.received()))
    assert Counter(hook_keys(webhook)) == Counter(wanted), "each alert exactly once"
    assert "rule=deadline" in standby.log()
    ledger = postgres_day.ledger()
    assert sorted(e["key"] for e in ledger) == sorted(wanted)
    assert {e["status"] for e in ledger} == {"sent"}
    assert standby.alive(), standby.log()


@pytest.mark.postgres
def test_postgres_senders_of_two_schemas_do_not_hold_each_other_off(
    postgres_days: Callable[[], ClosingDay], webhook: HttpReceiver
) -> None:
    """Two closing databases in two schemas of one PostgreSQL database each get their own alert
    sender: the sender lock is per closing database, not per PostgreSQL database."""
    rules = Rules(before=("6s",), overdue=None)
    first_day, second_day = postgres_days(), postgres_days()
    first_day.load(rules, [webhook.url("first")], purchasers=1)
    second_day.load(rules, [webhook.url("second")], purchasers=1)
    first = first_day.daemon()
    first.wait_log(rf'event=start sender="pid {first.pid} on ', RUNNING)
    second = second_day.daemon()
    wait_until(lambda: "event=start" in second.log() or not second.alive(), RUNNING, "2nd start")
    assert second.alive(), f"exit {second.proc.returncode}: {second.log()}"
    wait_until(lambda: len(webhook.received()) == 2, 10, "an alert from each schema's sender")
    assert sorted(h.path for h in webhook.received()) == ["/first", "/second"]
