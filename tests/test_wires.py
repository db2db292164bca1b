"""Money in from the bank's own files and the two-person rule on wire instructions, through the
CLI on both backends: the right marks with the bank's evidence, the left-over credit, nothing
recorded twice, another account ignored, a malformed file refused with nothing recorded; the
same operator cannot verify, an unverified change holds mark-wired, and the account number is
never shown."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from closing.domain.errors import ExitCode
from tests.bank_files import Account, Detail, bai2_text
from tests.helpers import ROOT, VERIFY_INSTRUCTIONS, WIRES_DEAL, Cli, load_wires_deal, run_all

FIXTURES = ROOT / "tests" / "fixtures"
BAI2 = FIXTURES / "company-bank-2002-06-07.bai2"
CAMT054 = FIXTURES / "company-bank-2002-06-07.camt054.xml"
FRI = "2002-06-07T{}:00-07:00"
ACCOUNT_DIGITS = ("4881016789", "4881-016789", "1016789")


@pytest.fixture
def deal_path(tmp_path: Path) -> Path:
    copy = tmp_path / WIRES_DEAL.name
    shutil.copy(WIRES_DEAL, copy)
    return copy


@pytest.fixture
def loaded(cli: Cli, deal_path: Path) -> Cli:
    """The deal with wire instructions, loaded by alice at 07:00; the prospectus supplement
    delivered, both purchasers signed; instructions not verified yet."""
    return load_wires_deal(cli, deal_path)


@pytest.fixture
def verified(loaded: Cli) -> Cli:
    """... and verified by bob's callback at 09:30."""
    return run_all(loaded, [(VERIFY_INSTRUCTIONS, "09:30")])


def as_json(cli: Cli, *args: str, now: str = FRI.format("16:35")) -> Any:
    result = cli(*args, "--json", now=now)
    assert result.code == 0, result.err
    return json.loads(result.out)


def counts(cli: Cli) -> tuple[int, int]:
    """(events, imported credits) in the database."""
    engine = create_engine(cli.database_url)
    with engine.connect() as connection:
        events = connection.execute(text("SELECT count(*) FROM event")).scalar_one()
        credits = connection.execute(text("SELECT count(*) FROM bank_credit")).scalar_one()
    engine.dispose()
    return events, credits


def test_a_bai2_file_records_the_two_wires_with_the_banks_evidence(verified: Cli) -> None:
    """Stonestreet's $450,000.00 and BNC's $929,985.00 ($15 short, within the $50 tolerance)
    become wired marks with IMAD/OMAD, the bank reference and the file's name and hash; the
    unrelated $12,000.00 is left for a person and the debit ignored."""
    result = verified("wires", "import", str(BAI2), "--apply", now=FRI.format("16:35"))
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == (
        "Recorded 2 wires; 1 left for a person; ignored 1 debit. Match a left credit with: "
        "closing wires match BANKREF PURCHASER"
    )
    board = as_json(verified, "status")
    wired = {p["slug"]: p["steps"]["wired"] for p in board["purchasers"]}
    assert wired["stonestreet"]["status"] == "done"
    assert wired["stonestreet"]["done_at"] == "2002-06-07T16:30:00-07:00"  # the file's as-of
    assert wired["bnc-bach"]["received"] == "929985.00"
    assert board["purchasers"][1]["shortfall"] == "15.00"
    history = as_json(verified, "history", "bnc")
    mark = history[-1]
    assert (mark["kind"], mark["step"], mark["amount"], mark["evidence_kind"]) == (
        "mark",
        "wired",
        "929985.00",
        "bank",
    )
    assert mark["evidence"].startswith(
        "IMAD 20020607B1Q8021C000388, OMAD 20020607B1QGC03C001544, bank ref 0607FW000388; "
        "bai2 company-bank-2002-06-07.bai2 sha256:"
    )
    assert mark["actor"] == "alice"
    credits = as_json(verified, "wires", "list")
    assert [(c["bank_reference"], c["status"], c["purchaser"]) for c in credits] == [
        ("0607FW000123", "recorded", "stonestreet"),
        ("0607FW000201", "left", None),
        ("0607FW000388", "recorded", "bnc-bach"),
    ]
    assert credits[1]["reason"] == "no purchaser owes $12,000.00"


def test_two_parts_of_a_price_in_one_file_are_recorded_in_turn(
    verified: Cli, tmp_path: Path
) -> None:
    """BNC has sent $300,000.00 of its $930,000.00 (recorded by hand); one file then brings the
    next $300,000.00 and the last $330,000.00: a receipt, then the wire that completes the step,
    the second decided on what the first recorded, and the chain still holds."""
    run_all(verified, [(("mark-wired", "bnc", "--amount", "300,000.00", "--partial"), "10:00")])
    text = ["ORG: /7785002 BNC BACH INTERNATIONAL LTD", "OBI: NEOTHERAPEUTICS SPA"]
    parts = [
        Detail("195", 30_000_000, "0607FW9001", "", text),
        Detail("195", 33_000_000, "0607FW9002", "", text),
    ]
    path = tmp_path / "parts.bai2"
    path.write_text(bai2_text([Account("4881016789", parts)]))
    found = as_json(verified, "wires", "import", str(path), "--apply")
    assert [(c["status"], c["purchaser"], c["partial"]) for c in found["credits"]] == [
        ("recorded", "bnc-bach", True),
        ("recorded", "bnc-bach", False),
    ]
    history = as_json(verified, "history", "bnc")
    assert [(e["kind"], e["amount"]) for e in history[-3:]] == [
        ("receipt", "300000.00"),
        ("receipt", "300000.00"),
        ("mark", "330000.00"),
    ]
    board = as_json(verified, "status")
    wired = {p["slug"]: p["steps"]["wired"] for p in board["purchasers"]}
    assert (wired["bnc-bach"]["status"], wired["bnc-bach"]["received"]) == ("done", "930000.00")
    assert verified("verify").code == 0


def test_a_second_import_of_the_same_or_an_overlapping_file_records_nothing(
    verified: Cli,
) -> None:
    assert verified("wires", "import", str(BAI2), "--apply", now=FRI.format("16:35")).code == 0
    before = counts(verified)
    again = verified("wires", "import", str(BAI2), "--apply", now=FRI.format("16:40"))
    assert again.code == 0
    assert again.out.splitlines()[-1] == (
        "Recorded 0 wires; 0 left for a person; 3 imported before; ignored 1 debit."
    )
    xml = verified("wires", "import", str(CAMT054), "--apply", now=FRI.format("16:45"))
    assert xml.code == 0
    assert "3 imported before" in xml.out
    assert counts(verified) == before


def test_a_camt054_notification_records_the_same_wires(verified: Cli) -> None:
    """The XML notification alone does what the BAI2 file does, at the bank's booking times."""
    data = as_json(verified, "wires", "import", str(CAMT054), "--apply")
    assert [(c["bank_reference"], c["status"], c["purchaser"]) for c in data["credits"]] == [
        ("0607FW000123", "recorded", "stonestreet"),
        ("0607FW000201", "left", None),
        ("0607FW000388", "recorded", "bnc-bach"),
    ]
    assert data["debits"] == 1
    board = as_json(verified, "status")
    assert board["purchasers"][0]["steps"]["wired"]["done_at"] == "2002-06-07T10:02:41-07:00"


def test_without_apply_nothing_is_recorded(verified: Cli) -> None:
    before = counts(verified)
    dry = verified("wires", "import", str(BAI2), now=FRI.format("16:35"))
    assert dry.code == 0
    assert dry.out.splitlines()[-1] == (
        "Would record 2 wires; 1 left for a person; ignored 1 debit. Nothing recorded yet: run "
        "again with --apply."
    )
    assert counts(verified) == before


def test_credits_to_another_account_are_ignored(verified: Cli, tmp_path: Path) -> None:
    """The same credits on the company's payroll account (same last four digits even) count for
    nothing: only the verified account's credits are matched."""
    other = tmp_path / "payroll.bai2"
    other.write_text(BAI2.read_text().replace("03,4881016789,", "03,9990016789,"))
    before = counts(verified)
    result = verified("wires", "import", str(other), "--apply", now=FRI.format("16:35"))
    assert result.code == 0
    assert result.out.splitlines()[-1] == (
        "Recorded 0 wires; 0 left for a person; ignored 3 credits to another account."
    )
    assert counts(verified) == before


def test_a_malformed_file_is_refused_with_its_position_and_nothing_recorded(
    verified: Cli, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.bai2"
    bad.write_text(BAI2.read_text().replace("49,883583924,20/", "49,883583000,20/"))
    before = counts(verified)
    result = verified("wires", "import", str(bad), "--apply", now=FRI.format("16:35"))
    assert result.code == ExitCode.DEAL_FILE
    assert result.out == ""
    assert result.err == (
        f"{bad}:22: invalid account control total for Account. expected 883583000, found "
        "883583924; nothing recorded\n"
    )
    assert counts(verified) == before


def test_a_left_credit_is_matched_by_hand(verified: Cli) -> None:
    """BNC's wire arrives before BNC's signature is marked: it is left with the reason, and
    matched by hand once the signature is in."""
    verified("undo", "bnc", "signed", "--reason", "page not received yet", now=FRI.format("10:00"))
    data = as_json(verified, "wires", "import", str(BAI2), "--apply")
    bnc = data["credits"][2]
    assert bnc["status"] == "left"
    assert bnc["reason"].startswith("matched BNC Bach International, Ltd. (name 100/100")
    assert "signed is not done" in bnc["reason"]
    assert verified("mark-signed", "bnc", now=FRI.format("16:40")).code == 0
    matched = verified("wires", "match", "0607FW000388", "bnc", now=FRI.format("16:45"))
    assert matched.code == 0, matched.err
    assert matched.out.startswith(
        "Marked wired for BNC Bach International, Ltd. at 2002-06-07 16:45 PDT by alice "
        "($929,985.00)."
    )
    again = verified("wires", "match", "0607FW000388", "bnc", now=FRI.format("16:46"))
    assert again.code == ExitCode.REFUSED
    assert "it was already recorded" in again.err
    wrong = verified("wires", "match", "0607FW000201", "stonestreet", now=FRI.format("16:46"))
    assert wrong.code == ExitCode.REFUSED  # $12,000 is not Stonestreet's price, nor a part
    listed = {c["bank_reference"]: c for c in as_json(verified, "wires", "list")}
    assert listed["0607FW000388"]["status"] == "recorded"
    assert listed["0607FW000388"]["reason"] == "matched by hand by alice"


# --- the two-person rule -------------------------------------------------------------------------


def test_the_operator_who_entered_the_instructions_cannot_verify_them(loaded: Cli) -> None:
    """Not even for bob (`--by bob`): alice is a verifier, but she entered them."""
    as_alice = (*VERIFY_INSTRUCTIONS[1:], "--by", "bob")  # bob's call, by alice
    before = counts(loaded)
    result = loaded(*as_alice, now=FRI.format("09:30"))
    assert result.code == ExitCode.REFUSED
    assert result.err == (
        "Error: cannot verify wire instructions: alice entered this change; another operator "
        "must call back and verify it (two-person rule); nothing recorded\n"
    )
    assert counts(loaded) == before


def test_unverified_instructions_hold_mark_wired(loaded: Cli) -> None:
    """Until a second person verifies them, mark-wired is refused; with
    --unverified-instructions-ok it is recorded and says so on the event."""
    refused = loaded("mark-wired", "stonestreet", now=FRI.format("10:15"))
    assert refused.code == ExitCode.REFUSED
    assert refused.err.startswith(
        "Error: cannot mark wired for Stonestreet Limited Partnership: the company's wire "
        "instructions (••••6789, fingerprint "
    )
    board = as_json(loaded, "status", now=FRI.format("10:15"))
    assert board["wire_instructions"]["verified"] is False
    heading = loaded("status", now=FRI.format("10:15")).out.splitlines()[3]
    assert heading.startswith("Wire instructions ••••6789 (") and "NOT VERIFIED" in heading
    ok = loaded(
        "mark-wired", "stonestreet", "--unverified-instructions-ok", now=FRI.format("10:15")
    )
    assert ok.code == 0, ok.err
    note = as_json(loaded, "history", "stonestreet")[-1]["note"]
    assert note.startswith("recorded with unverified wire instructions ")
    assert note.endswith("(--unverified-instructions-ok)")
    for extra in ((), ("--apply",), ("--apply", "--unverified-instructions-ok")):
        importing = loaded("wires", "import", str(BAI2), *extra, now=FRI.format("16:35"))
        assert importing.code == ExitCode.REFUSED
        assert importing.err.startswith(
            "Error: cannot import wires for neotherapeutics-2002-06-07: its wire instructions "
            "(••••6789, entered by alice) have never been verified"
        ), importing.err
        assert "another operator runs closing wire-instructions verify; nothing recorded" in (
            importing.err
        )


def test_a_verified_change_shows_its_fingerprint_and_a_new_change_is_held_again(
    verified: Cli, deal_path: Path
) -> None:
    """Verified: `wire-instructions` and `status --json` show the fingerprint and who verified.
    A changed account in the deal file is a new, unverified version (events in the history);
    its own new callback number does not count, the old one does."""
    shown = as_json(verified, "wire-instructions", now=FRI.format("09:40"))
    assert shown["verified"] is True and shown["verified_by"] == "bob"
    fingerprint = shown["fingerprint"]
    assert len(fingerprint) == 19 and fingerprint.count("-") == 3
    board = as_json(verified, "status", now=FRI.format("09:40"))
    assert board["wire_instructions"]["fingerprint"] == fingerprint
    assert board["wire_instructions"]["account"] == "••••6789"
    text_view = verified("wire-instructions", now=FRI.format("09:40")).out
    assert f"  fingerprint {fingerprint}\n" in text_view
    assert "verified by bob at 2002-06-07 09:30 PDT: called +1 949 788 6700" in text_view
    changed = deal_path.read_text()
    changed = changed.replace('account: "4881-016789"', 'account: "5550-123400"')
    changed = changed.replace('"+1 949 788 6020"', '"+1 702 555 0199"')
    deal_path.write_text(changed)
    reload = verified("init", str(deal_path), "--by", "mallory", now=FRI.format("11:00"))
    assert reload.code == 0, reload.err
    assert (
        "  Wire instructions changed: " in reload.out
        and "(••••3400) entered by alice for mallory" in reload.out
    )
    assert as_json(verified, "wire-instructions", now=FRI.format("11:00"))["verified"] is False
    held = verified("mark-wired", "bnc", now=FRI.format("11:05"))
    assert held.code == ExitCode.REFUSED
    own = verified(
        "@bob",
        "wire-instructions",
        "verify",
        "--callback-number",
        "+1 702 555 0199",
        "--spoke-with",
        "someone",
        now=FRI.format("11:10"),
    )
    assert own.code == ExitCode.REFUSED
    assert "is not a callback number the record held before this change" in own.err
    good = verified(
        "@bob",
        "wire-instructions",
        "verify",
        "--callback-number",
        "+1 949 788 6020",
        "--spoke-with",
        "Samuel Gulko",
        now=FRI.format("11:15"),
    )
    assert good.code == 0, good.err
    kinds = [e["kind"] for e in as_json(verified, "history", "company", now=FRI.format("11:20"))]
    assert kinds.count("instructions") == 2 and kinds.count("instructions_verified") == 2


def test_the_account_number_is_never_shown(verified: Cli, deal_path: Path) -> None:
    """Every command's output, the alert bodies and the sender's log carry the masked account
    only, and nothing in the database holds the number."""
    outputs: list[str] = []

    def run(*args: str, at: str = "16:35") -> None:
        result = verified(*args, now=FRI.format(at))
        assert result.code in (0, ExitCode.REFUSED), result.err
        outputs.extend([result.out, result.err])

    run("init", str(deal_path))
    run("init", str(deal_path), "--json")
    run("wire-instructions")
    run("wire-instructions", "--json")
    run("status")
    run("status", "--json")
    run("wires", "import", str(BAI2))
    run("wires", "import", str(BAI2), "--json")
    run("wires", "import", str(BAI2), "--apply")
    run("wires", "list")
    run("wires", "list", "--json")
    run("history")
    run("history", "--json")
    run("deals")
    run("mark-wired", "stonestreet")
    run("alerts", "check", at="16:50")
    run("alerts", "list", "--json", at="16:50")
    engine = create_engine(verified.database_url)
    with engine.connect() as connection:
        bodies = connection.execute(text("SELECT title, body FROM alert")).all()
        dumped = [
            str(row)
            for table in ("event", "deal", "deal_revision", "wire_instructions", "bank_credit")
            for row in connection.execute(text(f"SELECT * FROM {table}")).all()
        ]
    engine.dispose()
    assert bodies, "alerts were sent"
    outputs += [f"{title}\n{body}" for title, body in bodies]
    everything = "\n".join(outputs + dumped)
    assert "••••6789" in everything
    for digits in ACCOUNT_DIGITS:
        assert digits not in everything


def test_alerts_carry_the_warning_while_instructions_are_unverified(loaded: Cli) -> None:
    """Every alert sent while a change waits for its second person says so first."""
    result = loaded("alerts", "check", now=FRI.format("15:00"))
    assert result.code == 0, result.err
    engine = create_engine(loaded.database_url)
    with engine.connect() as connection:
        bodies = connection.execute(text("SELECT body FROM alert WHERE body != ''")).scalars()
        bodies = list(bodies)
    engine.dispose()
    assert bodies
    assert all(
        body.startswith("WARNING: wire instructions ••••6789 (fingerprint ") for body in bodies
    )


def test_the_seed_shows_its_missing_instructions_as_blocking_the_wire(seeded: Cli) -> None:
    """The seed leaves them blank: the wire is flagged like other missing details, and not
    held (there is nothing to verify)."""
    board = as_json(seeded, "status", now=FRI.format("09:00"))
    assert board["purchasers"][0]["steps"]["wired"]["blocked_by"] == [
        "company wire instructions missing"
    ]
    assert board["wire_instructions"] == {"present": False, "verified": False, "versions": 0}
    listed = seeded("wire-instructions", now=FRI.format("09:00"))
    assert listed.out.startswith("No wire instructions in neotherapeutics-2002-06-07")
    seeded("mark-signed", "stonestreet", now=FRI.format("09:00"))
    assert seeded("mark-wired", "stonestreet", now=FRI.format("10:00")).code == 0


# --- the alert sender's inbox ------------------------------------------------------------------


def test_the_alert_sender_imports_bank_files_from_its_inbox(
    verified: Cli, deal_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file dropped in the deal file's `alerts.inbox` is imported with --apply semantics and
    moved to done/; a clear match is logged and becomes an alert for every channel; a bad file
    goes to rejected/ with the reason logged; a file still being written waits."""
    import logging
    from datetime import datetime

    from closing.domain.clock import FixedClock
    from closing.services.alerts.daemon import AlertDaemon
    from closing.store.connection import Database

    deal_path.write_text(
        deal_path.read_text().replace("  notify: []", "  notify: []\n  inbox: bank")
    )
    assert verified("init", str(deal_path), now=FRI.format("16:00")).code == 0
    inbox = deal_path.parent / "bank"
    inbox.mkdir()
    shutil.copy(BAI2, inbox / BAI2.name)
    (inbox / "bad.bai2").write_text("01,121000358,NEOTHERAP,020607,1630,X,80,1,2/\n")
    (inbox / "next.bai2.part").write_text("01,")
    now = datetime.fromisoformat(FRI.format("16:35"))
    daemon = AlertDaemon(Database(verified.database_url), FixedClock(now), [], operator="sender")
    with caplog.at_level(logging.INFO, logger="closing"):
        assert daemon.import_inbox(now) == 2
    assert sorted(p.name for p in inbox.iterdir()) == ["done", "next.bai2.part", "rejected"]
    assert [p.name for p in (inbox / "done").iterdir()] == [BAI2.name]
    assert [p.name for p in (inbox / "rejected").iterdir()] == ["bad.bai2"]
    logged = caplog.text
    assert "event=inbox-rejected" in logged and "bad.bai2:1:" in logged
    assert "recorded=2 left=1 seen-before=0" in logged
    assert (
        'event=wire-received deal=neotherapeutics-2002-06-07 "BNC Bach International, Ltd. wired '
        "$929,985.00, IMAD 20020607B1Q8021C000388" in logged
    )
    history = as_json(verified, "history", "bnc")
    last = history[-1]  # by the sender's account, for whom it was started (its operator)
    assert (last["actor"], last["on_behalf_of"], last["step"]) == ("alice", "sender", "wired")
    engine = create_engine(verified.database_url)
    with engine.connect() as connection:
        titles = connection.execute(
            text("SELECT title FROM alert WHERE rule LIKE 'wire-received:%' ORDER BY id")
        ).scalars()
        titles = list(titles)
    engine.dispose()
    assert titles == [
        "Stonestreet Limited Partnership wired $450,000.00",
        "BNC Bach International, Ltd. wired $929,985.00",
    ]
    assert daemon.import_inbox(now) == 0  # the .part file keeps waiting


def test_an_inbox_that_holds_the_deal_file_is_not_emptied(
    verified: Cli, deal_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`alerts: {inbox: .}` names the deal file's own folder: the sender takes nothing from it
    (it used to move the deal file, and every other file, to rejected/) and says why, once."""
    import logging
    from datetime import datetime

    from closing.domain.clock import FixedClock
    from closing.services.alerts.daemon import AlertDaemon
    from closing.store.connection import Database

    deal_path.write_text(deal_path.read_text().replace("  notify: []", "  notify: []\n  inbox: ."))
    assert verified("init", str(deal_path), now=FRI.format("16:00")).code == 0
    shutil.copy(BAI2, deal_path.parent / BAI2.name)
    before = sorted(p.name for p in deal_path.parent.iterdir())
    now = datetime.fromisoformat(FRI.format("16:35"))
    daemon = AlertDaemon(Database(verified.database_url), FixedClock(now), [], operator="sender")
    with caplog.at_level(logging.INFO, logger="closing"):
        assert daemon.import_inbox(now) == 0
        assert daemon.import_inbox(now) == 0
    after = sorted(p.name for p in deal_path.parent.iterdir())
    assert set(before) <= set(after)  # the deal file and the bank file where they were
    assert not {"done", "rejected"} & set(after)
    assert caplog.text.count("event=inbox-refused") == 1


def test_wires_list_names_the_event_by_its_number_in_the_deal(
    seeded: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With another deal loaded first, a recorded credit names its event as `closing history`
    numbers it (its place in this deal's log), not by the database's id; --json gives both."""
    wires_deal = tmp_path / "wires.yaml"
    wires_deal.write_text(WIRES_DEAL.read_text().replace("slug: neotherapeutics-2002-06-07", ""))
    monkeypatch.setenv("CLOSING_DEAL", "wires")
    run_all(load_wires_deal(seeded, wires_deal), [(VERIFY_INSTRUCTIONS, "09:30")])
    assert seeded("wires", "import", str(BAI2), "--apply", now=FRI.format("16:35")).code == 0
    history = {(e["purchaser"], e["kind"], e["step"]): e for e in as_json(seeded, "history")}
    wired = history[("bnc-bach", "mark", "wired")]
    assert wired["number"] < wired["id"]
    shown = seeded("wires", "list", now=FRI.format("16:40")).out
    assert f"recorded for BNC Bach International, Ltd. (event #{wired['number']})" in " ".join(
        shown.split()
    )
    credit = next(c for c in as_json(seeded, "wires", "list") if c["purchaser"] == "bnc-bach")
    assert (credit["event_number"], credit["event_id"]) == (wired["number"], wired["id"])


def test_a_credit_whose_mark_was_undone_can_be_matched_again_but_not_a_reversed_one(
    verified: Cli,
) -> None:
    """The import recorded Stonestreet's credit; the mark is undone (a mistake in the record):
    the credit may be matched by hand again (it stayed 'recorded' and was refused). Once a
    wire is reversed (the money went back), its credit is not matched again."""
    assert verified("wires", "import", str(BAI2), "--apply", now=FRI.format("16:35")).code == 0
    undo = verified(
        "undo", "stonestreet", "wired", "--reason", "recorded by mistake", now=FRI.format("16:40")
    )
    assert undo.code == 0, undo.err
    again = verified("wires", "match", "0607FW000123", "stonestreet", now=FRI.format("16:50"))
    assert again.code == 0, again.err
    listed = as_json(verified, "wires", "list", now=FRI.format("16:55"))
    stone = next(c for c in listed if c["bank_reference"] == "0607FW000123")
    assert stone["status"] == "recorded" and stone["purchaser"] == "stonestreet", stone
    reversed_ = verified(
        "reverse", "bnc", "wired", "--reason", "funds recalled", now=FRI.format("17:00")
    )
    assert reversed_.code == 0, reversed_.err
    refused = verified("wires", "match", "0607FW000388", "bnc", now=FRI.format("17:05"))
    assert refused.code == ExitCode.REFUSED and "it was already recorded" in refused.err
