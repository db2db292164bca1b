"""Seals: `closing seal` signs the record's heads with an SSH key (SSHSIG, namespace
`closing-record`) into a file kept outside the database; `closing verify --seal` proves the
database still extends them. A rewrite of the log with every later hash and head recomputed
passes plain `verify` but not the seal; OpenSSH alone verifies the same signature."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from closing.domain.chain import event_hash
from closing.domain.errors import ExitCode
from closing.domain.seal import read_seal, signer_key
from closing.store import events as log
from tests.alert_receivers import HttpReceiver, SmtpReceiver, http_receiver, smtp_receiver
from tests.helpers import Cli, tampering

FRI = "2002-06-07T{}:00-07:00"
DEAL = "neotherapeutics-2002-06-07"
OPENSSH_VERIFY = ("ssh-keygen", "-Y", "verify", "-n", "closing-record")


def keygen(path: Path, kind: str = "ed25519", passphrase: str = "") -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "alice@firm", "-f", str(path)],
        check=True,
    )
    return path


def allowed_signers(path: Path, principal: str, *keys: Path) -> Path:
    lines = [
        f"{principal} {' '.join(key.with_suffix('.pub').read_text().split()[:2])}" for key in keys
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def alice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Alice's ed25519 key (no agent), with the seal files written in a folder of their own."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    folder = tmp_path / "seals"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return keygen(tmp_path / "alice")


def rewrite_event(database_url: str, party: str, seq: int, **changes: object) -> None:
    """What a forger with the code and the database does: change one event, then recompute its
    hash and every later one and move the party's head, with the project's own chain code."""
    with tampering(database_url) as connection:
        ((deal_id,),) = connection.rows("SELECT id FROM deal WHERE slug = ?", (DEAL,))
        (chain,) = [c for c in log.chains(connection, deal_id) if c.party == party]
        previous = chain.events[seq - 2].hash if seq > 1 else "0" * 64
        assert previous is not None
        for stored in chain.events[seq - 1 :]:
            event = stored.event._replace(**changes) if stored.event.seq == seq else stored.event
            digest = event_hash(DEAL, party, event, previous)
            connection.execute(
                "UPDATE event SET actor = ?, note = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (event.actor, event.note, previous, digest, event.id),
            )
            previous = digest
        connection.execute(
            "UPDATE purchaser SET head_hash = ? WHERE deal_id = ? AND slug = ?",
            (previous, deal_id, party),
        )


def closing_morning(cli: Cli) -> None:
    for args, at in (
        (("mark-signed", "stonestreet"), "08:30"),
        (("mark-signed", "bnc"), "09:10"),
        (("mark-wired", "stonestreet", "--reference", "FED 1"), "10:15"),
    ):
        assert cli(*args, now=FRI.format(at)).code == 0


def test_a_seal_round_trip_and_a_recomputed_rewrite_that_only_the_seal_catches(
    seeded: Cli, alice: Path, tmp_path: Path
) -> None:
    """Seal, mark, verify against the seal: the record extends it. Then one event is rewritten
    with every later hash and head recomputed: plain verify passes, `verify --seal` fails naming
    the first sealed head that is gone (exit 8), and ssh-keygen alone still verifies the
    signature (the seal itself is intact)."""
    closing_morning(seeded)
    sealed = seeded("seal", "--key", str(alice), now=FRI.format("10:20"))
    assert sealed.code == 0, sealed.err
    seal_file = Path(f"{DEAL}-20020607-1020")
    key = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(alice)], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert sealed.out.splitlines() == [
        f"Sealed {DEAL}: 5 events in 3 chains and the record of facts, signed with ED25519 key "
        f"{key}.",
        f"Record digest: {read_seal(seal_file.read_text(), 'seal').digest}",
        f"Wrote {seal_file} and {seal_file}.sig.",
    ]
    text = seal_file.read_text()
    assert text.startswith(
        f"closing record seal\ndeal: {DEAL}\nsealed at: 2002-06-07T10:20:00-07:00\n"
    )
    assert [line.split()[1:3] for line in text.splitlines() if line.startswith("head: ")] == [
        ["@company", "2"],  # the first load's team event, then the prospectus
        ["stonestreet", "2"],
        ["bnc-bach", "1"],
        ["@facts", text.split("head: @facts ")[1].split()[0]],  # the record of facts
    ]
    plain = seeded("verify", "--json", now=FRI.format("10:21"))
    assert f'"digest":"{read_seal(text, "seal").digest}"' not in plain.out  # the seal event moved
    history = seeded("history", now=FRI.format("10:21")).out
    assert "seal  NeoTherapeutics, Inc." in history and key in history

    assert seeded("mark-faxed", "stonestreet", now=FRI.format("11:00")).code == 0
    signers = allowed_signers(tmp_path / "allowed_signers", "alice@firm", alice)
    args = ("verify", "--seal", str(seal_file), "--allowed-signers", str(signers))
    ok = seeded(*args, now=FRI.format("11:05"))
    assert ok.code == 0, ok.err
    assert ok.out.splitlines() == [
        f"The record of {DEAL} extends the seal of 2002-06-07T10:20:00-07:00: 4 sealed heads "
        "still in their chains, unchanged.",
        f"Signed by alice@firm with ED25519 key {key}.",
        f"Sealed digest: {read_seal(text, 'seal').digest}",
    ]

    rewrite_event(seeded.database_url, "stonestreet", 1, actor="mallory")
    assert seeded("verify", now=FRI.format("11:10")).code == 0  # the rewrite holds as a chain
    broken = seeded(*args, now=FRI.format("11:10"))
    assert broken.code == ExitCode.RECORD
    assert broken.out == ""
    assert broken.err.startswith(
        f"Error: the record of {DEAL} no longer extends the seal of 2002-06-07T10:20:00-07:00: "
        "the sealed head of stonestreet (event #2, "
    )
    assert "is gone: event #2 now has hash" in broken.err and len(broken.err.splitlines()) == 1
    as_json = seeded(*args, "--json", now=FRI.format("11:10"))
    assert as_json.code == ExitCode.RECORD
    found = json.loads(as_json.out)
    assert (found["ok"], found["signer"], found["key"]) == (
        False,
        "alice@firm",
        f"ED25519 key {key}",
    )
    assert found["gone"]["party"] == "stonestreet" and found["gone"]["seq"] == 2
    assert found["heads"]["stonestreet"]["seq"] == 2 and found["problem"] in broken.err
    board = seeded("status", now=FRI.format("11:15")).out
    assert "The event log failed verification at 2002-06-07 11:10 PDT" in board

    with seal_file.open("rb") as stdin:
        openssh = subprocess.run(
            [*OPENSSH_VERIFY, "-f", str(signers), "-I", "alice@firm", "-s", f"{seal_file}.sig"],
            stdin=stdin,
            capture_output=True,
            text=True,
        )
    assert openssh.returncode == 0, openssh.stderr
    assert openssh.stdout.startswith('Good "closing-record" signature for alice@firm')


def test_a_signer_not_allowed_or_an_edited_seal_file_fails(
    seeded: Cli, alice: Path, tmp_path: Path
) -> None:
    """Another key's allowed_signers, or one character of the seal file changed (its digest
    recomputed so that it still reads): exit 8, one line, whatever the database holds."""
    closing_morning(seeded)
    assert seeded("seal", "--key", str(alice), "-o", "s", now=FRI.format("10:20")).code == 0
    mallory = keygen(tmp_path / "mallory")
    theirs = allowed_signers(tmp_path / "theirs", "mallory@elsewhere", mallory)
    wrong = seeded("verify", "--seal", "s", "--allowed-signers", str(theirs))
    assert wrong.code == ExitCode.RECORD
    assert wrong.err == f"Error: the seal's signature s.sig is not by a key of {theirs}\n"

    ours = allowed_signers(tmp_path / "ours", "alice@firm", alice)
    seal_file = Path("s")
    assert "events: 5\n" in seal_file.read_text()
    seal_file.write_text(seal_file.read_text().replace("events: 5", "events: 6"))
    edited = seeded("verify", "--seal", "s", "--allowed-signers", str(ours))
    assert edited.code == ExitCode.RECORD
    assert edited.err.startswith("Error: the seal's signature s.sig does not verify for alice@firm")
    for alone in (("--seal", "s"), ("--allowed-signers", str(ours))):
        assert seeded("verify", *alone).err == (
            "Error: --seal FILE and --allowed-signers FILE (ssh-keygen's format) go together\n"
        )
    seal_file.write_text(
        seal_file.read_text().replace("events: 6", "events: 5").replace("\n", "\r\n")
    )
    crlf = seeded("verify", "--seal", "s", "--allowed-signers", str(ours))
    assert crlf.code == ExitCode.RECORD, (
        "the signature is over the file's bytes, as OpenSSH reads it"
    )
    seal_file.write_text("closing record seal\ndeal: x\n")
    assert seeded("verify", "--seal", "s", "--allowed-signers", str(ours)).err == (
        "Error: s is not a closing seal: it lacks sealed at, events, digest\n"
    )


def test_a_seal_is_never_overwritten_and_a_bad_key_writes_nothing(
    seeded: Cli, alice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing seal file, a missing key, a key ssh-keygen cannot use, or no ssh-keygen at
    all: one line, exit 2, no file written and no seal event."""
    Path("taken").write_text("mine\n")
    refused = seeded("seal", "--key", str(alice), "-o", "taken")
    assert (refused.code, refused.err) == (
        ExitCode.USAGE,
        "Error: taken already exists; a seal is never overwritten (choose -o)\n",
    )
    assert Path("taken").read_text() == "mine\n"
    nowhere = seeded("seal", "--key", str(alice), "-o", "nodir/s")
    assert (nowhere.code, nowhere.err) == (
        ExitCode.USAGE,
        "Error: cannot write nodir/s: No such file or directory\n",
    )
    missing = seeded("seal", "--key", "nokey", "-o", "s")
    assert (missing.code, missing.err) == (ExitCode.USAGE, "Error: no SSH key at nokey\n")
    Path("notakey").write_text("hello\n")
    unusable = seeded("seal", "--key", "notakey", "-o", "s")
    assert unusable.code == ExitCode.USAGE
    assert unusable.err.startswith("Error: ssh-keygen could not sign with notakey: ")
    assert len(unusable.err.splitlines()) == 1
    monkeypatch.setenv("PATH", str(Path("nowhere").resolve()))
    absent = seeded("seal", "--key", str(alice), "-o", "s")
    assert (absent.code, absent.err) == (
        ExitCode.USAGE,
        "Error: ssh-keygen (OpenSSH) is not installed; seals need it: install openssh-client\n",
    )
    assert sorted(p.name for p in Path().iterdir()) == ["notakey", "taken"]
    assert " seal " not in seeded("history").out


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An ssh-agent of the test's own holding an RSA key with a passphrase (added through
    SSH_ASKPASS, as a desktop would); the agent is stopped by its pid afterwards."""
    key = keygen(tmp_path / "bob_rsa", "rsa", passphrase="correct horse")
    askpass = tmp_path / "askpass"
    askpass.write_text("#!/bin/sh\necho 'correct horse'\n")
    askpass.chmod(0o700)
    socket = tmp_path / "agent.sock"
    started = subprocess.run(
        ["ssh-agent", "-a", str(socket)], capture_output=True, text=True, check=True
    )
    pid = int(started.stdout.split("SSH_AGENT_PID=")[1].split(";")[0])
    try:
        env = {
            **os.environ,
            "SSH_AUTH_SOCK": str(socket),
            "SSH_ASKPASS": str(askpass),
            "SSH_ASKPASS_REQUIRE": "force",
            "DISPLAY": "none",
        }
        subprocess.run(
            ["ssh-add", str(key)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
        )
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket))
        folder = tmp_path / "seals"
        folder.mkdir()
        monkeypatch.chdir(folder)
        yield key
    finally:
        os.kill(pid, signal.SIGTERM)


def test_an_rsa_key_with_a_passphrase_signs_through_ssh_agent(
    seeded: Cli, agent: Path, tmp_path: Path
) -> None:
    """The agent holds the key: `--key KEY.pub` and the encrypted private file itself both sign
    without asking for the passphrase; the seal verifies and names an RSA key."""
    closing_morning(seeded)
    by_public = seeded("seal", "--key", f"{agent}.pub", "-o", "a", now=FRI.format("10:20"))
    assert by_public.code == 0, by_public.err
    by_file = seeded("seal", "--key", str(agent), "-o", "b", now=FRI.format("10:25"))
    assert by_file.code == 0, by_file.err
    assert signer_key(Path("a.sig").read_text()).kind == "RSA"
    signers = allowed_signers(tmp_path / "allowed", "bob@firm", agent)
    for name in ("a", "b"):
        found = seeded("verify", "--seal", name, "--allowed-signers", str(signers))
        assert found.code == 0, found.err
        assert "Signed by bob@firm with RSA key SHA256:" in found.out


def test_a_log_that_does_not_hold_is_not_sealed(seeded: Cli, alice: Path) -> None:
    """A log that does not hold is not sealed (exit 8, nothing written)."""
    closing_morning(seeded)
    rewrite_event(seeded.database_url, "stonestreet", 1, actor="mallory")  # consistent: sealable
    assert seeded("seal", "--key", str(alice), "-o", "ok").code == 0
    with tampering(seeded.database_url) as connection:
        connection.execute("UPDATE event SET note = 'edited' WHERE kind = 'mark' AND seq = 1")
    refused = seeded("seal", "--key", str(alice), "-o", "no")
    assert refused.code == ExitCode.RECORD
    assert refused.err == (
        f"Error: the event log of {DEAL} does not hold (closing verify says where); "
        "nothing sealed\n"
    )
    assert not Path("no").exists() and not Path("no.sig").exists()


@pytest.fixture
def receivers() -> Iterator[tuple[SmtpReceiver, HttpReceiver]]:
    with smtp_receiver() as box, http_receiver() as hook:
        yield box, hook


@pytest.mark.parametrize("seals", [True, False])
def test_with_alerts_seals_each_new_seal_s_digest_goes_to_every_channel_once(
    cli: Cli,
    seed_path: Path,
    alice: Path,
    receivers: tuple[SmtpReceiver, HttpReceiver],
    seals: bool,
) -> None:
    """`alerts: {seals: true}`: the next alert pass sends each new seal's digest by e-mail and
    webhook (a ledger entry like any alert, sent once); a second seal goes out on its own at the
    pass after it. Without it no seal is sent."""
    box, hook = receivers
    notify = f'  notify: ["{box.url()}", "{hook.url()}"]\n' + ("  seals: true\n" if seals else "")
    seed_path.write_text(seed_path.read_text().replace("  notify: []\n", notify))
    assert cli("init", str(seed_path), now=FRI.format("07:00")).code == 0
    assert cli("mark", "company", "prospectus_delivered", now=FRI.format("07:30")).code == 0
    closing_morning(cli)
    assert cli("seal", "--key", str(alice), "-o", "first", now=FRI.format("10:20")).code == 0
    digest = read_seal(Path("first").read_text(), "first").digest
    checked = cli("alerts", "check", now=FRI.format("10:21"))
    assert checked.code == 0, checked.err
    if not seals:
        assert checked.out == "0 new alerts; 0 deliveries sent, 0 failed.\n"
        assert box.received() == [] and hook.received() == []
        return
    assert checked.out == "1 new alert; 3 deliveries sent, 0 failed.\n"
    (mail,) = box.received()
    assert mail.subject == f"{DEAL}: record sealed, digest {digest[:12]}…"
    body = mail.text.replace("\r\n", "\n")
    assert f"Record digest: {digest}\n" in body
    assert "Sealed: 2002-06-07 10:20 PDT by alice\n" in body
    assert f"Alert: {DEAL}/seal/3" in body  # the seal is the company chain's 3rd event
    ((payload),) = [h.payload for h in hook.received()]
    assert f"Record digest: {digest}" in payload["message"]
    again = cli("alerts", "check", now=FRI.format("10:22"))
    assert (len(box.received()), len(hook.received())) == (1, 1), again.out
    assert cli("seal", "--key", str(alice), "-o", "second", now=FRI.format("10:30")).code == 0
    second = read_seal(Path("second").read_text(), "second").digest
    assert cli("alerts", "check", now=FRI.format("10:31")).code == 0
    assert [m.subject for m in box.received()][1] == f"{DEAL}: record sealed, digest {second[:12]}…"
    listed = cli("alerts", "list", now=FRI.format("10:32")).out
    assert "@company @seal seal-3" in listed and "@company @seal seal-4" in listed


def test_the_memo_lists_the_seals_it_covers(seeded: Cli, alice: Path) -> None:
    """`closing report` prints each seal recorded by its moment (when, by whom, the digest, the
    key), in Markdown and HTML; a memo as of before the seal has none, and its record digest is
    the one the seal signed; seals are not "other records"."""
    closing_morning(seeded)
    assert seeded("seal", "--key", str(alice), "-o", "s", now=FRI.format("10:20")).code == 0
    digest = read_seal(Path("s").read_text(), "s").digest
    key = signer_key(Path("s.sig").read_text())
    memo = seeded("report", "--format", "md", now=FRI.format("10:30"))
    assert memo.code == 0, memo.err
    assert (
        f"- Fri 2002-06-07 10:20 PDT, by alice: `{digest}`, signed with {key}; 4 heads, 5 events\n"
        in memo.out
    )
    assert "| Seal |" not in memo.out  # not a row of the corrections and other records
    others = memo.out.split("## Corrections and other records")[1].split("\n## ")[0]
    assert "| Team |" in others and "Seal" not in others  # the first load's team is a record
    html = seeded("report", "--format", "html", now=FRI.format("10:30"))
    assert "<h3>Seals</h3>" in html.out and f'<span class="hash block">{digest}</span>' in html.out
    before = seeded("report", "--format", "md", "--as-of", "10:19", now=FRI.format("10:30"))
    assert before.code == 0, before.err
    assert "Seals (" not in before.out
    assert f"Record digest** (one hash over every chain's head): `{digest}`" in before.out


def test_a_key_with_a_passphrase_and_no_agent_is_asked_for_on_the_terminal(
    seeded: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal (its controlling one), ssh-keygen asks for the key's passphrase there, as
    it does by hand, and the seal is written; nothing else of the output is lost."""
    key = keygen(tmp_path / "carol", passphrase="open sesame")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env.update(CLOSING_DATABASE_URL=seeded.database_url, CLOSING_NOW=FRI.format("10:20"))
    sealing = subprocess.Popen(
        [sys.executable, "-m", "closing", "seal", "--key", str(key), "-o", "t"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    drawn = b""
    while b"passphrase" not in drawn:
        assert select.select([master], [], [], 60)[0], f"no passphrase prompt: {drawn!r}"
        drawn += os.read(master, 4096)
    os.write(master, b"open sesame\n")
    assert sealing.wait(60) == 0
    with contextlib.suppress(OSError):  # EIO: the child has closed the terminal
        while chunk := os.read(master, 4096):
            drawn += chunk
    os.close(master)
    assert b"Sealed neotherapeutics-2002-06-07" in drawn
    assert (tmp_path / "t.sig").read_text().startswith("-----BEGIN SSH SIGNATURE-----")
