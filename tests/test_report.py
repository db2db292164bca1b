"""`closing report`: the closing memorandum of the README's closing day as PDF (read back through
its text), HTML and Markdown (a golden file), as the record stood at an earlier moment, with
every name escaped and no account number whole; and its refusals."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from closing.domain.errors import ExitCode
from tests.helpers import ROOT, Cli
from tests.memo_scenario import MONDAY, closing_day, pdf_text

GOLDEN = ROOT / "tests" / "golden" / "memo-seed.md"
REGENERATE = "CLOSING_REGENERATE_GOLDEN"
REASON = "funds sent back at Stonestreet's request"

EVIDENCE = [
    "Exhibit B, with the agreement",
    "FED 20020607B1Q8021C000123",
    "fax 4471",
    "DTC 88213",
    "FED 20020607B1Q8021C000388",
    "fax 4472",
    "DTC 88214",
    "FedEx 7901",
]


def verify_heads(cli: Cli, now: str = MONDAY) -> dict[str, str]:
    """`closing verify --json`'s heads, and its record digest under the key `digest`."""
    result = cli("verify", "--json", now=now)
    assert result.code == 0, result.err
    found = json.loads(result.out)
    heads: dict[str, str] = found["heads"]
    return {**heads, "digest": found["digest"]}


def test_the_readme_closing_day_is_replayed(cli: Cli, seed_path: Path) -> None:
    """The replay runs the README quickstart's marks, its refusals and its reversal."""
    ran = closing_day(cli, seed_path)
    assert ran[1] == "mark company prospectus_delivered --evidence 'Exhibit B, with the agreement'"
    assert shlex.join(["reverse", "stonestreet", "wired", "--reason", REASON]) in ran
    assert ran[-1] == "mark-delivered bnc --tracking 'FedEx 7901'"


def test_the_pdf_memo_of_the_readme_closing_day(cli: Cli, seed_path: Path, tmp_path: Path) -> None:
    """The PDF's own text holds every purchaser, every amount to the cent, every evidence
    string, BNC's late wire with its lateness, Stonestreet's reversed wire with its reason, the
    head hashes `closing verify --json` prints, and on every page `Page X of Y` and the time the
    memo was generated."""
    closing_day(cli, seed_path)
    out = tmp_path / "memo.pdf"
    result = cli("report", "-o", str(out), now=MONDAY)
    assert result.code == 0, result.err
    pages, text = pdf_text(out)
    assert result.out == (
        "Wrote the closing memorandum of neotherapeutics-2002-06-07 as of Mon 2002-06-10 10:20 "
        f"PDT to {out} (PDF, {len(pages)} pages).\n"
    )
    assert out.read_bytes().startswith(b"%PDF-")
    for name in ("Stonestreet Limited Partnership", "BNC Bach International, Ltd."):
        assert name in text
    for amount in ("$450,000.00", "$930,000.00", "$1,380,000.00", "$0.2325", "$0.275", "$0.001"):
        assert amount in text
    assert "1,935,483" in text and "4,000,000" in text and "593,548" in text
    for evidence in EVIDENCE:
        assert evidence in text
    assert "Purchase price wired: late by 10m" in text  # BNC's wire at 17:10
    assert "Warrant faxed: late by 20m" in text
    assert (
        "Purchase price wired: reversed Mon 2002-06-10 09:00 PDT (funds sent back at "
        "Stonestreet's request); open, overdue by 2d 19h (Fedwire closed)"
    ) in text
    assert "expiring June 7, 2007" in text
    assert "Form S-3, File No. 333-53108" in text
    heads = verify_heads(cli)
    assert set(heads) == {"@company", "stonestreet", "bnc-bach", "@facts", "digest"}
    for head in heads.values():
        assert head in text
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "generated Mon 2002-06-10 10:20 PDT" in page


def test_the_markdown_memo_matches_the_golden_file(cli: Cli, seed_path: Path) -> None:
    """The Markdown memo of the README's closing day, exactly (the head hashes, which cover the
    recording host, and the deal file's hash are replaced by their names). Regenerate with
    CLOSING_REGENERATE_GOLDEN=1."""
    closing_day(cli, seed_path)
    result = cli("report", "--format", "md", now=MONDAY)
    assert result.code == 0, result.err
    text = result.out
    for chain, head in verify_heads(cli).items():
        assert text.count(head) == 1
        text = text.replace(head, "<record digest>" if chain == "digest" else f"<head of {chain}>")
    text = re.sub(r"SHA-256 [0-9a-f]{64}", "SHA-256 <deal file>", text)
    if os.environ.get(REGENERATE):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_the_html_memo_is_the_same_document(cli: Cli, seed_path: Path, tmp_path: Path) -> None:
    """`-o memo.html` picks HTML from the suffix: a whole document with the same content, Letter
    pages, a serif and tabular figures for the PDF."""
    closing_day(cli, seed_path)
    out = tmp_path / "memo.html"
    result = cli("report", "-o", str(out), now=MONDAY)
    assert result.code == 0, result.err
    assert result.out.endswith(f"to {out} (HTML).\n")
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "size: Letter" in html and "tabular-nums" in html and "Liberation Serif" in html
    assert 'counter(page) " of " counter(pages)' in html
    for evidence in EVIDENCE:
        assert evidence in html
    assert "funds sent back at Stonestreet&#39;s request" in html
    assert "Late by 10m" in html
    for head in verify_heads(cli).values():
        assert head in html


def test_the_memo_as_the_record_stood_on_friday_at_noon(cli: Cli, seed_path: Path) -> None:
    """`--as-of "2002-06-07 12:00"` on Monday: Stonestreet's wire is done and not yet reversed,
    BNC's is not in, nothing later is shown, and the heads are the ones `closing verify` printed
    at noon on Friday."""
    closing_day(cli, seed_path, until="2002-06-07T12:00-07:00")
    at_noon = verify_heads(cli, now="2002-06-07T12:00:00-07:00")
    closing_day(cli, seed_path, after="2002-06-07T12:00-07:00")
    result = cli("report", "--format", "md", "--as-of", "2002-06-07 12:00", now=MONDAY)
    assert result.code == 0, result.err
    text = result.out
    assert "**The record as it stood at Fri 2002-06-07 12:00 PDT**" in text
    assert "5 events recorded by Fri 2002-06-07 12:00 PDT" in text
    assert "FED 20020607B1Q8021C000123" in text
    assert "FED 20020607B1Q8021C000388" not in text and "fax 4471" not in text
    assert "| Team | alice | alice added as operator, money, verifier, admin" in text  # only that
    assert "reversed |" not in text
    assert "| $450,000.00 | 193,548 | $450,000.00 | Open |" in text
    assert "| $930,000.00 | 400,000 | $0.00 | Open |" in text
    for head in at_noon.values():
        assert head in text
    now = verify_heads(cli)
    assert now["stonestreet"] not in text and now["digest"] not in text


def names_deal(seed_path: Path, account: str | None = None) -> Path:
    """The seed with purchasers named like markup and a formula; with `account`, Stonestreet's
    DWAC details filled in with that account number."""
    text = seed_path.read_text()
    text = text.replace("name: Stonestreet Limited Partnership", "name: <script>alert(1)</script>")
    text = text.replace("name: BNC Bach International, Ltd.", "name: '[bold]x[/bold] *y* `z`'")
    if account:
        text = text.replace(
            "dwac: {dtc_number: , account_number: , reference: }",
            f"dwac: {{dtc_number: '0123', account_number: '{account}', reference: R1}}",
            1,
        )
    seed_path.write_text(text)
    return seed_path


def test_names_and_notes_print_as_text(cli: Cli, seed_path: Path, tmp_path: Path) -> None:
    """A purchaser named `<script>alert(1)</script>` or `[bold]x[/bold]`, and a reason written
    as a Markdown link, print as text: escaped in HTML and Markdown, literal in the PDF."""
    names_deal(seed_path)
    cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00")
    cli("mark", "company", "Prospectus", now="2002-06-07T07:30:00-07:00")
    cli("mark-signed", "stonestreet", now="2002-06-07T08:00:00-07:00")
    link = "[click](http://example.com) <b>now</b> # not a heading"
    waived = cli("waive", "bnc", "signed", "--reason", link, now="2002-06-07T08:10:00-07:00")
    assert waived.code == 0, waived.err
    html = cli("report", "--format", "html", now="2002-06-07T09:00:00-07:00").out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "[bold]x[/bold] *y* `z`" in html
    assert "[click](http://example.com) &lt;b&gt;now&lt;/b&gt;" in html and "<b>now" not in html
    markdown = cli("report", "--format", "md", now="2002-06-07T09:00:00-07:00").out
    assert "\\<script>alert(1)\\</script>" in markdown
    assert re.search(r"(?<!\\)<(script|b)>", markdown) is None  # every < escaped
    assert "\\[bold\\]x\\[/bold\\] \\*y\\* \\`z\\`" in markdown
    assert "\\[click\\](http://example.com) \\<b>now\\</b> # not a heading" in markdown
    out = tmp_path / "memo.pdf"
    assert cli("report", "-o", str(out), now="2002-06-07T09:00:00-07:00").code == 0
    _, text = pdf_text(out)
    assert "<script>alert(1)</script>" in text
    assert "[bold]x[/bold] *y* `z`" in text
    assert link in text


def test_no_account_number_is_printed_whole(cli: Cli, seed_path: Path, tmp_path: Path) -> None:
    """A DWAC account number from the deal file, and one typed into evidence or a note, appear
    masked (`••••6789`) in the memo in every format and in the export."""
    names_deal(seed_path, account="123456789")
    cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00")
    cli("mark", "company", "Prospectus", now="2002-06-07T07:30:00-07:00")
    cli("mark-signed", "stonestreet", now="2002-06-07T08:00:00-07:00")
    wired = cli(
        "mark-wired",
        "stonestreet",
        "--reference",
        "FED 1 from acct 55501234",
        now="2002-06-07T09:30:00-07:00",
    )
    assert wired.code == 0, wired.err
    dwac = cli(
        "mark-dwac",
        "stonestreet",
        "--confirmation",
        "DTC 88213 to 123456789, IBAN GB82 WEST 1234 5698 7654 32",
        now="2002-06-07T10:00:00-07:00",
    )
    assert dwac.code == 0, dwac.err
    now = "2002-06-07T11:00:00-07:00"
    outputs = {
        "md": cli("report", "--format", "md", now=now).out,
        "html": cli("report", "--format", "html", now=now).out,
        "csv": cli("export", now=now).out,
        "json": cli("export", "--format", "json", now=now).out,
    }
    out = tmp_path / "memo.pdf"
    assert cli("report", "-o", str(out), now=now).code == 0
    outputs["pdf"] = pdf_text(out)[1]
    for kind, text in outputs.items():
        for secret in ("123456789", "55501234", "5698 7654"):
            assert secret not in text, (kind, secret)
    assert "account ••••6789" in outputs["md"]  # the DWAC instructions
    assert "DTC 88213 to ••••6789" in outputs["pdf"]
    assert "acct ••••1234" in outputs["html"]
    assert "IBAN ••••5432" in outputs["csv"]


def test_a_reload_of_the_deal_file_is_among_the_records(seeded: Cli, seed_path: Path) -> None:
    """A reload that changed the deal is a `revision` event of its chain: the memo lists it with
    the changes in words, and the deal file's loads with their hashes."""
    text = seed_path.read_text().replace("governing_law: California", "governing_law: Delaware")
    seed_path.write_text(text)
    assert seeded("init", str(seed_path), now="2002-06-07T08:00:00-07:00").code == 0
    memo = seeded("report", "--format", "md", now="2002-06-07T09:00:00-07:00").out
    assert (
        "| Fri 2002-06-07 08:00 PDT | NeoTherapeutics, Inc. | Deal file reloaded | alice | "
        "governing\\_law: California -> Delaware |"
    ) in memo
    assert "- **Governing law:** Delaware" in memo
    assert "- Fri 2002-06-07 08:00 PDT: governing\\_law: California -> Delaware (SHA-256 " in memo


def test_a_firm_brings_its_own_templates_on_the_command_line(cli: Cli, seed_path: Path) -> None:
    """`closing report --templates DIR`: a `memo.md.j2` there replaces the package's (values are
    still escaped, and it runs sandboxed); a template with an error is reported with its path
    and line (exit 3). A deal file's `report: {templates: ...}` is data, not code: ignored, with a
    warning."""
    folder = seed_path.parent / "memo-templates"
    folder.mkdir()
    (folder / "memo.md.j2").write_text("Firm memo for {{ memo.company }}: {{ memo.summary[0] }}\n")
    seed_path.write_text(seed_path.read_text() + "\nreport:\n  templates: memo-templates\n")
    assert cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00").code == 0
    ignored = cli("report", "--format", "md", now="2002-06-07T09:00:00-07:00")
    assert ignored.out.startswith("# Memorandum")
    assert "report.templates is ignored" in ignored.err
    result = cli(
        "report", "--format", "md", "--templates", str(folder), now="2002-06-07T09:00:00-07:00"
    )
    assert result.out == (
        "Firm memo for NeoTherapeutics, Inc.: 0 of 2 purchasers closed; $0.00 of $1,380,000.00 "
        "received.\n"
    )
    (folder / "memo.md.j2").write_text("line one\n{% if %}\n")
    broken = cli(
        "report", "--format", "md", "--templates", str(folder), now="2002-06-07T09:00:00-07:00"
    )
    assert broken.code == ExitCode.DEAL_FILE
    assert broken.err.startswith(f"{folder / 'memo.md.j2'}:2: template: ")


def test_a_missing_template_folder_is_a_deal_file_problem(cli: Cli, seed_path: Path) -> None:
    """The folder must exist when the deal file is loaded."""
    seed_path.write_text(seed_path.read_text() + "\nreport:\n  templates: nowhere\n")
    result = cli("init", str(seed_path))
    assert result.code == ExitCode.DEAL_FILE
    assert f"report.templates: no folder {seed_path.parent / 'nowhere'}" in result.err


def test_the_report_refuses_what_it_cannot_do(seeded: Cli, tmp_path: Path) -> None:
    """One line on stderr and a documented exit code: an unknown deal (4), a time that is not
    one or is in the future (2), a file that cannot be written (2), and an event log that does
    not hold (8, pointing to closing verify): nothing is written."""
    now = "2002-06-07T09:00:00-07:00"
    unknown = seeded("report", "nosuch", "--format", "md", now=now)
    assert (unknown.code, unknown.err.count("\n")) == (ExitCode.NOT_FOUND, 1)
    assert unknown.err.startswith("Error: no deal 'nosuch'")
    bad = seeded("report", "--as-of", "noon", "--format", "md", now=now)
    assert (bad.code, bad.err) == (
        ExitCode.USAGE,
        "Error: --as-of 'noon' is not a time; write it like 08:30, 2002-06-07 08:30 or "
        "2002-06-07T08:30-07:00\n",
    )
    future = seeded("report", "--as-of", "2002-06-07 10:00", "--format", "md", now=now)
    assert future.code == ExitCode.USAGE and "is in the future" in future.err
    missing = tmp_path / "no" / "memo.md"
    unwritable = seeded("report", "-o", str(missing), now=now)
    assert (unwritable.code, unwritable.err) == (
        ExitCode.USAGE,
        f"Error: cannot write {missing}: No such file or directory\n",
    )
    from tests.test_record import tamper

    tamper(seeded, "UPDATE event SET evidence = 'forged' WHERE step = 'prospectus_delivered'")
    out = tmp_path / "memo.md"
    broken = seeded("report", "-o", str(out), now=now)
    assert broken.code == ExitCode.RECORD
    assert broken.err == (
        "Error: the event log of neotherapeutics-2002-06-07 does not hold (event #2 of company "
        "is changed); no memo can certify it: see closing verify\n"
    )
    assert not out.exists()


def test_help_imports_neither_jinja_nor_weasyprint() -> None:
    """`closing --help` and `closing report --help` stay fast: the template and PDF libraries
    are imported only when a memo is made."""
    probe = (
        "import sys\nfrom closing.cli import main\n"
        "for args in (['--help'], ['report', '--help'], ['export', '--help']):\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('jinja2', 'weasyprint') if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert "closing report [OPTIONS] [DEAL]" in done.stdout


def test_unknown_company_records_are_shown_as_they_are(seeded: Cli) -> None:
    """A company record of a kind the memo does not know (one a later closing adds) is listed
    among the other records with its particulars, its account masked."""
    from closing.domain.clock import FixedClock
    from closing.domain.memo import Verified, build_memo
    from closing.domain.record import RecordEntry
    from closing.services.board import board
    from closing.services.record import deal_record
    from closing.store.connection import Database

    database = Database(seeded.database_url)
    now = FixedClock(datetime.fromisoformat("2002-06-07T09:00:00-07:00")).now()
    found = deal_record(database, None)
    company = found.entries[1]  # after the first load's admin: the prospectus delivered
    assert company.party.is_company and company.event.step == "prospectus_delivered"
    verified = company.event._replace(
        id=99,
        seq=3,
        kind="escrow_released",
        step="",
        evidence_kind="escrow_letter",
        evidence="released by Samuel Gulko to account 000123456789",
        note=None,
        occurred_at=now,
        recorded_at=now,
    )
    found.entries.append(RecordEntry(company.party, verified, company.hash, "f" * 64))
    memo = build_memo(found, board(database, None, now), Verified(now, 2, {}), now)
    (line,) = [line for line in memo.other_records if line.what != "Team"]
    assert (line.party, line.what, line.by) == ("NeoTherapeutics, Inc.", "Escrow released", "alice")
    assert line.detail == "Escrow letter released by Samuel Gulko to account ••••6789"
    assert memo.heads[0].hash == "f" * 64 and memo.heads[0].events == 3


def test_the_pdf_fetches_nothing_from_the_network() -> None:
    """A template that asks for an image over HTTP (from a server on 127.0.0.1) gets nothing
    fetched: WeasyPrint may read local files and data: URLs only."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from closing.views.memo import render_pdf

    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/logo.png"
        data, pages = render_pdf(f'<html><body><img src="{url}"><p>memo</p></body></html>')
    finally:
        server.shutdown()
        server.server_close()
    assert (asked, pages) == ([], 1) and data.startswith(b"%PDF-")


def test_the_wire_instructions_and_imported_wires_are_in_the_memo(cli: Cli, tmp_path: Path) -> None:
    """The company's wire instructions entered by alice and verified by bob's callback get a
    section of their own (fingerprint, masked account, who called whom); the wires imported from
    the bank's BAI2 file carry the bank's references; the account number appears nowhere."""
    import shutil

    deal = tmp_path / "neotherapeutics-wires.yaml"
    shutil.copy(ROOT / "tests" / "fixtures" / "neotherapeutics-wires.yaml", deal)
    steps = [
        ("2002-06-07T07:00:00-07:00", ["init", str(deal)]),
        ("2002-06-07T07:00:00-07:00", ["team", "add", "bob", "--role", "verifier"]),
        ("2002-06-07T07:45:00-07:00", ["mark", "company", "prospectus_delivered"]),
        ("2002-06-07T09:10:00-07:00", ["mark-signed", "stonestreet"]),
        ("2002-06-07T09:10:00-07:00", ["mark-signed", "bnc"]),
        (
            "2002-06-07T09:30:00-07:00",
            shlex.split(
                "@bob wire-instructions verify --callback-number '+1 949 788 6700' "
                "--spoke-with 'Samuel Gulko'"
            ),
        ),
        (
            "2002-06-07T16:35:00-07:00",
            [
                "wires",
                "import",
                str(ROOT / "tests/fixtures/company-bank-2002-06-07.bai2"),
                "--apply",
            ],
        ),
    ]
    for now, args in steps:
        done = cli(*args, now=now)
        assert done.code == 0, done.err
    at = "2002-06-07T17:00:00-07:00"
    memo = cli("report", "--format", "md", now=at).out
    section = memo.split("## The company's wire instructions", 1)[1].split("## The purchasers")[0]
    assert "**Verified by bob by callback, Fri 2002-06-07 09:30 PDT.**" in section
    assert (
        "| Fri 2002-06-07 09:30 PDT | Wire instructions verified by callback | bob | Callback "
        "+1 949 788 6700, spoke with Samuel Gulko; fingerprint AE97-0A46-5743-65D3, "
    ) in section
    assert "account ••••6789" in section
    assert "Bank IMAD 20020607B1Q8021C000388" in memo and "Short of the price by: $15.00" in memo
    out = tmp_path / "memo.pdf"
    assert cli("report", "-o", str(out), now=at).code == 0
    outputs = [memo, pdf_text(out)[1], cli("export", now=at).out]
    for text in outputs:
        assert not any(digits in text for digits in ("4881016789", "4881-016789", "1016789"))


def test_weasyprint_loads_its_libraries_without_find_librarys_compiler_runs() -> None:
    """`load_weasyprint` imports WeasyPrint with `find_library` answering from ldconfig's cache
    alone, then puts `find_library` back; the libraries WeasyPrint needs are found all the same
    (a fresh interpreter, so that WeasyPrint is not imported yet)."""
    script = (
        "import ctypes.util, sys\n"
        "real = ctypes.util.find_library\n"
        "asked = []\n"
        "ctypes.util.find_library = lambda name: asked.append(name) or real(name)\n"
        "spy = ctypes.util.find_library\n"
        "from closing.views.memo import load_weasyprint\n"
        "load_weasyprint()\n"
        "assert ctypes.util.find_library is spy, 'find_library not put back'\n"
        "from weasyprint.text.ffi import fontconfig, harfbuzz, pango\n"
        "from weasyprint import HTML\n"
        "pdf = HTML(string='<p>Closing memorandum</p>').write_pdf()\n"
        "assert pdf.startswith(b'%PDF'), pdf[:8]\n"
        "print(len(asked))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    if sys.platform == "linux":  # the spy is never asked: ldconfig's cache answers
        assert ran.stdout.strip() == "0"
