"""Alerts a deal team can act on, delivered for real: `closing alerts check` (a subprocess, the
clock set with CLOSING_NOW) sending to a real SMTP server and a real JSON webhook receiver on
127.0.0.1. Digests, what an alert says, and dismiss and retry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.alert_receivers import (
    HttpReceiver,
    SmtpReceiver,
    closed_port,
    http_receiver,
    smtp_receiver,
)
from tests.helpers import SEED, wait_until

DEAL = "neotherapeutics-2002-06-07"


@dataclass
class Deal:
    tmp_path: Path
    database_url: str

    def run(self, *args: str, now: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
        env.update(
            CLOSING_DATABASE_URL=self.database_url,
            CLOSING_NOW=now,
            CLOSING_OPERATOR="alice",
            NO_COLOR="1",
            COLUMNS="100",
        )
        return subprocess.run(
            [sys.executable, "-m", "closing", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def load(self, alerts: str, notify: list[str], purchasers: str | None = None) -> None:
        text = re.sub(r"(?m)^alerts:\n(?:[ #].*\n)*", "", SEED.read_text())
        if purchasers is not None:
            text = text[: text.index("purchasers:\n")] + purchasers
        block = alerts + "  notify:\n" + "".join(f'    - "{url}"\n' for url in notify)
        text = text.replace("\npurchasers:\n", "\nalerts:\n" + block + "\npurchasers:\n")
        path = self.tmp_path / f"{DEAL}.yaml"
        path.write_text(text)
        loaded = self.run("init", str(path), now="2002-06-07T07:00:00-07:00")
        assert loaded.returncode == 0, loaded.stderr
        done = self.run("mark", "company", "prospectus_delivered", now="2002-06-07T07:30:00-07:00")
        assert done.returncode == 0, done.stderr

    def check(self, now: str) -> subprocess.CompletedProcess[str]:
        return self.run("alerts", "check", now=now)

    def ledger(self, now: str) -> list[dict[str, Any]]:
        listed = self.run("alerts", "list", "--json", now=now)
        assert listed.returncode == 0, listed.stderr
        entries: list[dict[str, Any]] = json.loads(listed.stdout)
        return entries


@pytest.fixture
def deal(tmp_path: Path) -> Deal:
    return Deal(tmp_path, f"sqlite:///{tmp_path / 'closing.db'}")


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with smtp_receiver() as box:
        yield box


@pytest.fixture
def webhook() -> Iterator[HttpReceiver]:
    with http_receiver() as box:
        yield box


def thirty_purchasers() -> str:
    lines = ["purchasers:"]
    for n in range(1, 31):
        lines += [
            f"  - name: Purchaser {n:02d} Fund, L.P.",
            f"    slug: p{n:02d}",
            "    shares: 100,000",
            "    purchase_price: $23,250",
            "    warrant_shares: 10,000",
            "    notices: {attention: , address: , facsimile: }",
            "    dwac: {dtc_number: , account_number: , reference: }",
        ]
    return "\n".join(lines) + "\n"


def test_thirty_purchasers_get_one_digest_per_channel_carrying_all_thirty(
    deal: Deal, smtp: SmtpReceiver, webhook: HttpReceiver
) -> None:
    """At 16:30 the 30-minute warning of all 30 signatures falls due together: one e-mail and
    one webhook call list all 30, most urgent first, with the totals; the log still has one line
    each; the ledger keeps 30 alerts, each sent once, and the digest records which it carried."""
    deal.load(
        "  before: [30m]\n  at_deadline: false\n", [smtp.url(), webhook.url()], thirty_purchasers()
    )
    checked = deal.check("2002-06-07T16:30:00-07:00")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == "30 new alerts; 32 deliveries sent, 0 failed.\n"
    assert len(smtp.received()) == 1
    assert len(webhook.received()) == 1
    mail = smtp.received()[0]
    assert mail.subject == f"{DEAL}: 30 steps not done, cutoff in 30m"
    body = mail.text.replace("\r\n", "\n")
    assert body.count("closing mark-signed p") == 30
    assert "1. Purchaser 01 Fund, L.P.: Agreement signed" in body
    assert "30. Purchaser 30 Fund, L.P.: Agreement signed" in body
    assert "Board: 0/30 closed · received $0.00 of $697,500.00" in body
    assert f"Alert: {DEAL}/digest/before-30m/2002-06-08T00:00:00Z" in body
    assert "daemon" not in body and "ledger" not in body and "collapsed" not in body
    hook = webhook.received()[0].payload
    assert hook["title"] == mail.subject
    assert hook["message"].count("closing mark-signed p") == 30
    assert checked.stderr.count("level=WARNING alert ") == 30  # the log: one line an alert
    (Path(os.environ.get("DIGEST_BODY_OUT", "/dev/null"))).write_text(body)

    listed = deal.ledger("2002-06-07T16:31:00-07:00")
    digest = next(e for e in listed if e["step"] == "@digest")
    members = [e for e in listed if e["step"] == "signed"]
    assert len(members) == 30 and {e["status"] for e in members} == {"sent"}
    assert all(any(d.get("digest") == digest["id"] for d in e["deliveries"]) for e in members)
    again = deal.check("2002-06-07T16:31:00-07:00")
    assert again.stdout == "0 new alerts; 0 deliveries sent, 0 failed.\n"
    assert len(smtp.received()) == 1, "exactly once"


def test_a_few_alerts_due_together_go_out_one_by_one(deal: Deal, webhook: HttpReceiver) -> None:
    """Two purchasers (not more than 3): two messages; `digest: false` never digests."""
    deal.load("  before: [30m]\n  at_deadline: false\n", [webhook.url()])
    assert deal.check("2002-06-07T16:30:00-07:00").returncode == 0
    assert len(webhook.received()) == 2


def test_a_wire_alert_names_the_amount_owed_and_what_is_missing(
    deal: Deal, smtp: SmtpReceiver
) -> None:
    """Stonestreet has signed and sent part of its price: the wire alert, 30 minutes before
    Fedwire's close (15:00 PDT, before the agreement's 17:00), says so, what is still owed, that
    the deal file has no company wire instructions, and the board in one line."""
    deal.load("  before: [30m]\n  at_deadline: false\n", [smtp.url()])
    for args, now in [
        (("mark-signed", "stonestreet"), "2002-06-07T09:00:00-07:00"),
        (("mark-signed", "bnc"), "2002-06-07T09:05:00-07:00"),
        (
            ("mark-wired", "stonestreet", "--amount", "100,000", "--partial"),
            "2002-06-07T10:00:00-07:00",
        ),
    ]:
        done = deal.run(*args, now=now)
        assert done.returncode == 0, done.stderr
    assert deal.check("2002-06-07T14:30:00-07:00").returncode == 0
    mails = {m.subject: m.text.replace("\r\n", "\n") for m in smtp.received()}
    wire = mails["Stonestreet Limited Partnership: Purchase price wired not done, cutoff in 30m"]
    assert "Deadline: cutoff 2002-06-07 15:00 PDT, " in wire
    assert "The deadline is the earlier of the agreement's and Fedwire's cutoff\n" in wire
    assert "Owed: $350,000.00 (received $100,000.00 of $450,000.00)\n" in wire
    assert "Missing: the deal file has no company wire instructions\n" in wire
    assert (
        "When it is done: closing mark-wired stonestreet --deal neotherapeutics-2002-06-07\n"
        in wire
    )
    assert "Board: 0/2 closed · received $100,000.00 of $1,380,000.00\n" in wire
    bnc = mails["BNC Bach International, Ltd.: Purchase price wired not done, cutoff in 30m"]
    assert "Owed: $930,000.00 (the purchase price; nothing received yet)\n" in bnc


def test_a_blocked_steps_alert_names_what_is_missing(deal: Deal, webhook: HttpReceiver) -> None:
    """The warrant fax is due and the deal file has no fax number for Stonestreet: the alert
    says so."""
    deal.load("  before: [30m]\n  at_deadline: false\n", [webhook.url()])
    for args, now in [
        (("mark-signed", "stonestreet"), "2002-06-07T09:00:00-07:00"),
        (
            ("mark-wired", "stonestreet", "--unverified-instructions-ok"),
            "2002-06-07T10:00:00-07:00",
        ),
    ]:
        done = deal.run(*args, now=now)
        assert done.returncode == 0, done.stderr
    assert deal.check("2002-06-07T16:30:00-07:00").returncode == 0
    fax = next(
        h.payload["message"]
        for h in webhook.received()
        if "/warrant_faxed/" in h.payload["message"]
    )
    assert "Missing: the deal file has no notice facsimile number for this purchaser" in fax


def test_the_at_deadline_alert_sent_a_second_after_the_cutoff_says_at_the_cutoff(
    deal: Deal, smtp: SmtpReceiver
) -> None:
    """Sent one second after 17:00, the at-deadline alert says "at the cutoff", not "late by 1s"
    (nor "Sent late"); one sent later says how late."""
    deal.load("  before: []\n  at_deadline: true\n", [smtp.url()])
    assert deal.check("2002-06-07T17:00:01-07:00").returncode == 0
    subjects = sorted(m.subject for m in smtp.received())
    assert subjects == [
        "BNC Bach International, Ltd.: Agreement signed not done, at the cutoff",
        "Stonestreet Limited Partnership: Agreement signed not done, at the cutoff",
    ]
    text = smtp.received()[0].text.replace("\r\n", "\n")
    assert "Deadline: cutoff 2002-06-07 17:00 PDT, now\n" in text
    assert "Sent late" not in text
    assert "late by" not in text


def test_the_at_deadline_alert_sent_later_says_late_by(deal: Deal, smtp: SmtpReceiver) -> None:
    """Sent at 17:20 after nobody ran the sender, the at-deadline alert says "late by 20m"."""
    deal.load("  before: []\n  at_deadline: true\n", [smtp.url()])
    assert deal.check("2002-06-07T17:20:00-07:00").returncode == 0
    text = smtp.received()[0].text.replace("\r\n", "\n")
    assert "late by 20m" in smtp.received()[0].subject
    assert "Deadline: cutoff 2002-06-07 17:00 PDT, late by 20m\n" in text
    assert "Sent late: the alert sender was not running from 17:00 to 17:20 PDT\n" in text


def test_sent_late_says_when_no_sender_was_running(deal: Deal, smtp: SmtpReceiver) -> None:
    """First run at 17:18: the alert due at 16:30 says the sender was not running since."""
    deal.load("  before: [30m]\n  at_deadline: false\n", [smtp.url()], None)
    assert deal.check("2002-06-07T16:58:00-07:00").returncode == 0
    text = smtp.received()[0].text.replace("\r\n", "\n")
    assert "Sent late: the alert sender was not running from 16:30 to 16:58 PDT\n" in text
    assert "cutoff in 2m" in smtp.received()[0].subject


def test_dismiss_stops_a_failed_delivery_counting_and_retry_sends_it_again(
    deal: Deal,
) -> None:
    """A webhook that is down: the board counts the failing delivery; `alerts dismiss` with a
    reason stops that; `alerts retry` puts it back to be sent."""
    with closed_port() as port:
        deal.load(
            "  before: [30m]\n  at_deadline: false\n", [f"json://127.0.0.1:{port}/hook"], None
        )
        first = deal.check("2002-06-07T16:30:00-07:00")
        assert first.returncode == 7
        listed = deal.ledger("2002-06-07T16:31:00-07:00")
        alert_id = listed[0]["id"]
        board = deal.run("status", now="2002-06-07T16:31:00-07:00").stdout
        assert "2 alert deliveries failing: see closing alerts list" in board

        dismissed = deal.run(
            "alerts",
            "dismiss",
            str(alert_id),
            "--reason",
            "called Stonestreet's counsel",
            now="2002-06-07T16:32:00-07:00",
        )
        assert dismissed.returncode == 0, dismissed.stderr
        assert dismissed.stdout == (
            f"Dismissed alert #{alert_id} on json://127.0.0.1:{port}/…: called Stonestreet's "
            "counsel\n"
        )
        board = deal.run("status", now="2002-06-07T16:32:00-07:00").stdout
        assert "1 alert delivery failing: see closing alerts list" in board
        entry = next(e for e in deal.ledger("2002-06-07T16:32:00-07:00") if e["id"] == alert_id)
        assert entry["status"] == "dismissed"

        again = deal.run(
            "alerts", "dismiss", str(alert_id), "--reason", "x", now="2002-06-07T16:33:00-07:00"
        )
        assert again.returncode == 5
        assert again.stderr == (
            f"Error: alert #{alert_id} has no delivery that failed or waits; nothing to dismiss\n"
        )
        missing = deal.run("alerts", "retry", "999", now="2002-06-07T16:33:00-07:00")
        assert missing.stderr == "Error: no alert #999; closing alerts list shows their numbers\n"

        retried = deal.run("alerts", "retry", str(alert_id), now="2002-06-07T16:34:00-07:00")
        assert retried.returncode == 0, retried.stderr
        assert retried.stdout == (
            f"Alert #{alert_id} will be sent again on json://127.0.0.1:{port}/… by the alert "
            "sender's next wake-up (or now: closing alerts check).\n"
        )
        entry = next(e for e in deal.ledger("2002-06-07T16:34:00-07:00") if e["id"] == alert_id)
        assert entry["status"] == "pending"
        deal.check("2002-06-07T16:34:00-07:00")
        entry = next(e for e in deal.ledger("2002-06-07T16:35:00-07:00") if e["id"] == alert_id)
        webhook_try = next(d for d in entry["deliveries"] if d["channel"] != "log")
        assert (entry["status"], webhook_try["attempts"]) == ("retrying", 1)


def test_a_url_apprise_does_not_understand_fails_only_its_own_deliveries(
    deal: Deal, webhook: HttpReceiver
) -> None:
    """A deal file's notify URL that apprise does not understand (`https://` is not one of its
    services: a web hook is `json://`): the other channel still gets its alerts, the ledger says
    why that one failed, and a sender started on the database does not refuse to run."""
    deal.load(
        "  before: [30m]\n  at_deadline: false\n",
        ["https://hooks.example.com/closing", webhook.url()],
    )
    checked = deal.check("2002-06-07T16:30:00-07:00")
    assert checked.returncode == 7  # a delivery failed
    assert "Internal error" not in checked.stderr
    assert webhook.received(), checked.stderr
    failing = [
        d
        for entry in deal.ledger("2002-06-07T16:31:00-07:00")
        for d in entry["deliveries"]
        if d["channel"].startswith("https://")
    ]
    assert failing and all(
        "not one apprise understands" in (d["last_error"] or "") for d in failing
    )
    log = deal.tmp_path / "sender.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSING_")}
    env.update(CLOSING_DATABASE_URL=deal.database_url, CLOSING_NOW="2002-06-07T16:32:00-07:00")
    with log.open("w") as err:
        sender = subprocess.Popen(
            [sys.executable, "-m", "closing", "alerts", "run"], env=env, stderr=err
        )
    try:
        wait_until(
            lambda: "event=start" in log.read_text() or sender.poll() is not None,
            60,
            "the sender to start",
        )
        assert sender.poll() is None, log.read_text()
        assert "event=channel-refused channel=https://hooks.example.com/…" in log.read_text()
    finally:
        sender.terminate()
        sender.wait(timeout=30)


def test_a_key_no_header_can_carry_still_goes_as_the_idempotency_key(
    webhook: HttpReceiver,
) -> None:
    """An alert whose key holds a character an HTTP header cannot carry (a bank's reference with
    an en dash, as a wire-received alert's key does) is delivered, its `Idempotency-Key` the key
    with that character escaped, the same on every attempt."""
    from closing.services.alerts.channels import Notifier, channel_for, idempotency_key

    key = "wire-received/neo/0628\u2013FW900001"
    notifier = Notifier()
    try:
        for _ in range(2):
            notifier.send(channel_for(webhook.url()), "Wire received", "body", {"key": key})
    finally:
        notifier.close()
    sent = [hook.headers["Idempotency-Key"] for hook in webhook.received()]
    assert sent == ["wire-received/neo/0628\\u2013FW900001"] * 2
    assert idempotency_key("deal/step/2002-06-07T17:00Z") == "deal/step/2002-06-07T17:00Z"


def test_a_retry_of_an_alert_whose_step_was_done_meanwhile_is_not_sent(deal: Deal) -> None:
    """The webhook is down when the 16:30 alerts fall due; Stonestreet signs at 16:31: the
    retry of its "signed" alert is not sent (it would say a done step is not done), the ledger
    says why, and BNC's, still open, is tried again."""
    with closed_port() as port:
        deal.load("  before: [30m]\n  at_deadline: false\n", [f"json://127.0.0.1:{port}/hook"])
        assert deal.check("2002-06-07T16:30:00-07:00").returncode == 7
        marked = deal.run("mark-signed", "stonestreet", now="2002-06-07T16:31:00-07:00")
        assert marked.returncode == 0, marked.stderr
        deal.check("2002-06-07T16:45:00-07:00")
        entries = deal.ledger("2002-06-07T16:46:00-07:00")

    def hook_of(slug: str) -> dict[str, Any]:
        (entry,) = [e for e in entries if e["purchaser"] == slug and e["step"] == "signed"]
        (found,) = [d for d in entry["deliveries"] if d["channel"].startswith("json://")]
        return found

    done = hook_of("stonestreet")
    assert done["status"] == "dismissed" and done["attempts"] == 1, done
    assert "its step was done, or waived, before it could be" in done["last_error"]
    open_step = hook_of("bnc-bach")
    assert open_step["status"] in ("retrying", "failed") and open_step["attempts"] == 2, open_step


def test_a_name_that_reads_like_an_alert_s_marker_stays_as_written(
    deal: Deal, webhook: HttpReceiver
) -> None:
    """The time left is filled in when an alert is sent, where the stored text marks it: a
    purchaser whose name holds what looks like such a mark (`⟨when⟩`) keeps its name in the
    alert (data is never a template)."""
    name = "Stonestreet ⟨when⟩ ⟨headline⟩ Partners"
    purchasers = SEED.read_text().split("\npurchasers:\n", 1)[1]
    renamed = purchasers.replace("Stonestreet Limited Partnership", name, 1)
    assert renamed != purchasers
    deal.load("  before: [30m]\n  at_deadline: false\n", [webhook.url()], "purchasers:\n" + renamed)
    assert deal.check("2002-06-07T16:30:00-07:00").returncode == 0
    messages = [h.payload["title"] + "\n" + h.payload["message"] for h in webhook.received()]
    mine = [m for m in messages if "Stonestreet" in m]
    assert mine and all(name in m for m in mine), mine
    assert all("cutoff in 30m" in m for m in mine)


def test_an_alert_stored_by_an_earlier_release_still_gets_its_time_left() -> None:
    """Alerts decided before the markers changed (pending in a ledger at an upgrade) are filled
    in as before."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from closing.domain.alert_plan import at_sending

    zone = ZoneInfo("America/Los_Angeles")
    deadline = datetime(2002, 6, 7, 17, tzinfo=zone)
    sent = datetime(2002, 6, 7, 16, 30, tzinfo=zone)
    stored = "Agreement signed not done, ⟨headline⟩\nDeadline: cutoff 17:00 PDT, ⟨when⟩"
    assert at_sending(stored, deadline, zone, sent) == (
        "Agreement signed not done, cutoff in 30m\nDeadline: cutoff 17:00 PDT, 30m left"
    )
