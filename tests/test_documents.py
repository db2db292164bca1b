"""The closing set: the deal file's documents, files attached to them (kept by SHA-256 in the
database on both backends), signature pages held in escrow and released on the conditions, the
steps the files satisfy, `documents [--json]`, `documents get` and `verify` over the files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from closing.domain.dealfile.load import load_deal_file
from closing.domain.documents import MAX_NAME, media_type, safe_file_name
from closing.domain.errors import DealFileError, ExitCode
from tests.closing_files import closing_files, pdf
from tests.helpers import Cli, tampering

FRI = "2002-06-07T{}:00-07:00"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return closing_files(tmp_path / "files")


def _json(cli: Cli) -> dict[tuple[str, str], dict[str, object]]:
    result = cli("documents", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)["documents"]
    return {(row["document"], row["party"]): row for row in rows}


def test_the_seed_deal_file_lists_its_documents(seed_path: Path) -> None:
    """The agreement counterparts, the warrants W-1/W-2, the prospectus supplement, the transfer
    agent's letter and the wire confirmations; the counterpart needs both signatures."""
    terms = load_deal_file(seed_path).terms
    assert [d.id for d in terms.documents] == [
        "spa",
        "warrant",
        "prospectus_supplement",
        "transfer_agent_letter",
        "wire_confirmation",
    ]
    spa = terms.documents[0]
    assert [s.party for s in spa.signatories] == ["purchaser", "company"]
    assert spa.signatories[1].name == "Samuel Gulko"
    assert spa.satisfies == ["signed"] and spa.release_when == ["wired", "prospectus_delivered"]
    assert [terms.documents[1].number(i) for i in range(2)] == ["W-1", "W-2"]


def test_a_deal_file_without_documents_loads_and_bad_references_are_named(seed_path: Path) -> None:
    text = seed_path.read_text()
    head, _, tail = text.partition("\ndocuments:")
    rest = tail[tail.index("\n# Schedule 1") :]
    seed_path.write_text(head + rest)
    assert load_deal_file(seed_path).terms.documents == []
    bad = (
        head
        + "\ndocuments:\n  - {id: spa, title: SPA, per_purchaser: true, satisfies: [signd]}\n"
        + "  - {id: spa, title: Again, satisfies: [wired]}\n"
        + rest
    )
    seed_path.write_text(bad)
    with pytest.raises(DealFileError) as raised:
        load_deal_file(seed_path)
    problems = str(raised.value)
    assert "document 'spa' names unknown step 'signd'" in problems
    assert "duplicate document 'spa' (also documents[0])" in problems
    assert "cannot satisfy 'wired': a step of each purchaser needs per_purchaser: true" in problems


def test_the_seed_closing_with_its_files(
    seeded: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    """Pages arrive on hold; `signed` is marked only when both signatures are in (the mark names
    the files); the release is refused before the wire, naming what is missing, and done after;
    the executed warrant's fax marks warrant_faxed; every file comes back byte for byte."""
    cli = seeded
    first = cli(
        "attach",
        "stonestreet",
        "spa",
        str(files["stonestreet_page"]),
        "--hold",
        now=FRI.format("09:00"),
    )
    assert first.code == 0, first.err
    assert "purchaser's page), held in escrow" in first.out and "Marked" not in first.out
    rows = _json(cli)
    assert rows["spa", "stonestreet"]["state"] == "received (held)"
    assert rows["spa", "stonestreet"]["missing_signatures"] == ["company"]
    assert "signed" not in _done_steps(json.loads(cli("status", "--json").out), "stonestreet")

    early = cli("release", "stonestreet", "--reason", "too soon", now=FRI.format("09:05"))
    assert early.code == ExitCode.REFUSED
    # Only the purchaser's page is in; it is held all the same.
    assert "spa of Stonestreet Limited Partnership needs wired" in early.err

    counter = cli(
        "attach",
        "stonestreet",
        "spa",
        str(files["stonestreet_counter"]),
        "--signatory",
        "Samuel Gulko",
        "--hold",
        now=FRI.format("09:10"),
    )
    assert counter.code == 0, counter.err
    assert "Marked signed for Stonestreet Limited Partnership" in counter.out
    history = cli("history", "stonestreet", now=FRI.format("09:11")).out
    assert (
        "stonestreet-signature-page.pdf" in history
        and "spa-countersigned-stonestreet.pdf" in history
    )
    assert (
        "file of spa, purchaser's page: stonestreet-signature-page.pdf (application/pdf" in history
    )
    assert "held) sha256" in history and '"sha256"' not in history

    refused = cli("release", "--all", "--reason", "wires in?", now=FRI.format("09:20"))
    assert refused.code == ExitCode.REFUSED
    assert refused.err.strip() == (
        "Error: cannot release: spa of Stonestreet Limited Partnership needs wired; "
        "nothing released"
    )
    assert _json(cli)["spa", "stonestreet"]["released"] is None

    assert cli("mark-wired", "stonestreet", now=FRI.format("10:00")).code == 0
    released = cli(
        "release",
        "stonestreet",
        "--reason",
        "wire received",
        "--by",
        "bob",
        now=FRI.format("10:05"),
    )
    assert released.code == 0, released.err
    assert "Released spa of Stonestreet Limited Partnership, effective 2002-06-07." in released.out
    row = _json(cli)["spa", "stonestreet"]
    assert row["state"] == "released"
    assert (row["released"]["by"], row["released"]["on_behalf_of"]) == ("alice", "bob")
    assert row["released"]["effective"] == "2002-06-07"
    assert [f["name"] for f in row["files"]] == [
        "stonestreet-signature-page.pdf",
        "spa-countersigned-stonestreet.pdf",
    ]
    assert row["files"][0]["media_type"] == "application/pdf"
    status = json.loads(cli("status", "--json", now=FRI.format("10:06")).out)
    states = {(d["document"], d["party"]): d["state"] for d in status["documents"]}
    assert states["spa", "stonestreet"] == "released"
    assert states["spa", "bnc-bach"] == "pending"
    assert states["prospectus_supplement", "@company"] == "pending"
    shown = cli("status", now=FRI.format("10:06")).out
    assert "Documents: 1 released, 7 pending (closing documents)" in shown

    warrant = cli(
        "attach",
        "stonestreet",
        "warrant",
        str(files["warrant_w1"]),
        "--form",
        "fax",
        now=FRI.format("10:30"),
    )
    assert warrant.code == 0, warrant.err
    assert "Marked warrant_faxed for Stonestreet Limited Partnership" in warrant.out
    assert _json(cli)["warrant", "stonestreet"]["number"] == "W-1"

    # BNC: one page only (a scan), so `signed` stays open.
    scan = cli("attach", "bnc-bach", "spa", str(files["bnc_page"]), now=FRI.format("10:40"))
    assert scan.code == 0 and "Marked" not in scan.out
    bnc = _json(cli)["spa", "bnc-bach"]
    assert bnc["state"] == "received" and bnc["files"][0]["media_type"] == "image/png"
    assert bnc["marked_without_files"] == []
    board = json.loads(cli("status", "--json", now=FRI.format("10:41")).out)
    assert "signed" not in _done_steps(board, "bnc-bach")
    assert "signed" in _done_steps(board, "stonestreet")
    # Marked by hand (the page came by e-mail first): the list says what is not on file.
    assert cli("mark-signed", "bnc-bach", now=FRI.format("10:45")).code == 0
    assert _json(cli)["spa", "bnc-bach"]["marked_without_files"] == ["signed"]
    listed = cli("documents").out
    assert "signed marked, but not every page is on file" in listed

    for party, document, signatory, source in (
        ("stonestreet", "spa", "purchaser", files["stonestreet_page"]),
        ("stonestreet", "spa", "company", files["stonestreet_counter"]),
        ("bnc-bach", "spa", "purchaser", files["bnc_page"]),
    ):
        out = tmp_path / f"{party}-{signatory}.bin"
        got = cli("documents", "get", party, document, "--signatory", signatory, "-o", str(out))
        assert got.code == 0, got.err
        assert out.read_bytes() == source.read_bytes()
    again = cli(
        "documents", "get", "bnc-bach", "spa", "-o", str(tmp_path / "bnc-bach-purchaser.bin")
    )
    assert again.code == ExitCode.USAGE and "exists" in again.err
    assert cli("verify").code == 0


def test_signed_waits_for_both_signatures(seeded: Cli, files: dict[str, Path]) -> None:
    """The company's countersignature alone does not mark `signed`; the purchaser's page then
    does, and the mark's evidence names both files."""
    cli = seeded
    assert (
        cli("attach", "bnc-bach", "spa", str(files["bnc_counter"]), "--signatory", "company").code
        == 0
    )
    status = json.loads(cli("status", "--json").out)
    assert "signed" not in _done_steps(status, "bnc-bach")
    done = cli("attach", "bnc-bach", "spa", str(files["bnc_page"]), now=FRI.format("08:30"))
    assert "Marked signed" in done.out
    status = json.loads(cli("status", "--json", now=FRI.format("08:31")).out)
    assert "signed" in _done_steps(status, "bnc-bach")
    assert _json(cli)["spa", "bnc-bach"]["state"] == "countersigned"


def _done_steps(status: dict[str, object], slug: str) -> list[str]:
    for purchaser in status["purchasers"]:  # type: ignore[attr-defined]
        if purchaser["slug"] == slug:
            return [s for s, cell in purchaser["steps"].items() if cell["status"] == "done"]
    raise AssertionError(slug)


def test_verify_fails_when_a_stored_files_bytes_change(seeded: Cli, files: dict[str, Path]) -> None:
    """Exit 8 naming the file, when its bytes in the database no longer match its SHA-256; `get`
    refuses to hand the changed bytes out."""
    cli = seeded
    assert cli("attach", "company", "prospectus_supplement", str(files["prospectus"])).code == 0
    assert cli("verify").code == 0
    with tampering(cli.database_url) as connection:
        connection.execute("UPDATE stored_file SET content = ?", (b"%PDF-1.4 forged",))
    broken = cli("verify")
    assert broken.code == ExitCode.RECORD
    assert "file prospectus-supplement-424b5.pdf of prospectus_supplement" in broken.err
    assert "no longer match its SHA-256" in broken.err
    assert (
        cli("documents", "get", "company", "prospectus_supplement", "-o", "x.pdf").code
        == ExitCode.RECORD
    )


def test_hostile_files_are_data(seeded: Cli, tmp_path: Path) -> None:
    """An HTML file or a PDF with JavaScript is stored with its own media type and only given
    back as bytes; a name with control characters is neutralised; the size limit is one line."""
    cli = seeded
    html = tmp_path / "evil\x1b[31m.html"
    html.write_bytes(b"<script>alert(1)</script>")
    done = cli("attach", "company", "prospectus_supplement", str(html))
    assert done.code == 0, done.err
    assert "\x1b" not in done.out
    row = _json(cli)["prospectus_supplement", "@company"]
    assert row["files"][0]["name"] == "evil[31m.html"
    assert row["files"][0]["media_type"] == "text/html"
    js = pdf(tmp_path / "js.pdf", "JS")
    js.write_bytes(
        js.read_bytes().replace(
            b"%%EOF", b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>\n%%EOF"
        )
    )
    assert cli("attach", "company", "transfer_agent_letter", str(js)).code == 0
    out = tmp_path / "back.pdf"
    assert cli("documents", "get", "company", "transfer_agent_letter", "-o", str(out)).code == 0
    assert out.read_bytes() == js.read_bytes()

    huge = tmp_path / "huge.pdf"
    with huge.open("wb") as sparse:
        sparse.truncate(65 * 1024 * 1024)
    refused = cli("attach", "company", "transfer_agent_letter", str(huge))
    assert refused.code == ExitCode.USAGE
    assert refused.err.strip() == (
        "Error: the file is 68.2 MB, over the limit of 67.1 MB a closing file may have; "
        "send a smaller scan"
    )
    wrong = cli("attach", "company", "spa", str(js))
    assert wrong.code == ExitCode.REFUSED and "name the purchaser" in wrong.err


def test_file_names_and_media_types() -> None:
    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("..\\..\\boot.ini") == "boot.ini"
    assert safe_file_name("a\u202egpj.exe") == "agpj.exe"
    assert safe_file_name("...") == "file"
    long = safe_file_name("x" * 10_000 + ".pdf")
    assert len(long) == MAX_NAME and long.endswith(".pdf")
    assert media_type("page.txt", b"%PDF-1.7") == "application/pdf"
    assert media_type("x.docx", b"PK\x03\x04").endswith("wordprocessingml.document")
    assert media_type("mail.eml", b"From: a") == "message/rfc822"
    assert media_type("blob", b"\x00\x01") == "application/octet-stream"


def test_the_memo_lists_the_closing_documents(seeded: Cli, files: dict[str, Path]) -> None:
    """Each document x party with its signatories, form, release, who holds the originals, the
    files' SHA-256 and the countersignatures not on file; attach events are not listed again
    among the other records."""
    cli = seeded
    page = files["stonestreet_page"]
    assert cli("attach", "stonestreet", "spa", str(page), "--hold").code == 0
    memo = cli("report", "--format", "md", now=FRI.format("09:00"))
    assert memo.code == 0, memo.err
    section = memo.out.split("## Closing documents")[1].split("## Funds flow")[0].split("## Sch")[0]
    import hashlib

    digest = hashlib.sha256(page.read_bytes()).hexdigest()
    stonestreet = next(line for line in section.splitlines() if "Stonestreet" in line)
    assert f"stonestreet-signature-page.pdf: SHA-256 {digest}" in stonestreet
    assert "received (held)" in stonestreet and "| fax |" in stonestreet
    assert stonestreet.rstrip(" |").endswith("Samuel Gulko, Senior Vice President Finance")
    assert "the purchaser's authorised signatory; Samuel Gulko" in stonestreet
    bnc = [line for line in section.splitlines() if "BNC Bach" in line]
    assert all("nothing on file" in line for line in bnc)
    others = memo.out.split("### Corrections and other records")[1]
    assert "attach" not in others


def _closing_with_files(cli: Cli, files: dict[str, Path]) -> None:
    for args in (
        ("stonestreet", "spa", str(files["stonestreet_page"]), "--hold"),
        ("stonestreet", "spa", str(files["stonestreet_counter"]), "--hold"),
        ("bnc-bach", "spa", str(files["bnc_page"])),
        ("stonestreet", "wire_confirmation", str(files["fax_confirmation"])),
    ):
        done = cli("attach", *args, now=FRI.format("09:00"))
        assert done.code == 0, done.err
    assert cli("mark-wired", "stonestreet", now=FRI.format("10:00")).code == 0
    assert cli("release", "--all", "--reason", "wired", now=FRI.format("10:05")).code == 0
    assert cli("attach", "stonestreet", "warrant", str(files["warrant_w1"])).code == 0


def test_the_binder_pdf_links_outlines_and_stamps(
    seeded: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    """Cover, memo, index, every file's pages (the PNG scan made a page), integrity page: each
    index link and outline item leads to its tab's first page, and every page of a tab is stamped
    with its document and the hash prefix of the file it came from."""
    import hashlib

    from pypdf import PdfReader

    cli = seeded
    _closing_with_files(cli, files)
    out = tmp_path / "closing-set.pdf"
    made = cli("binder", "-o", str(out), now=FRI.format("11:00"))
    assert made.code == 0, made.err
    memo = tmp_path / "memo.pdf"
    assert cli("report", "-o", str(memo), now=FRI.format("11:00")).code == 0
    memo_pages = len(PdfReader(memo).pages)
    order = [
        ("spa", files["stonestreet_page"], 1),
        ("spa", files["stonestreet_counter"], 2),
        ("spa", files["bnc_page"], 1),
        ("warrant W-1", files["warrant_w1"], 3),
        ("wire_confirmation", files["fax_confirmation"], 1),
    ]
    reader = PdfReader(out)
    index_at = 1 + memo_pages
    assert len(reader.pages) == index_at + 1 + sum(n for *_, n in order) + 1
    assert f"Wrote the closing set of neotherapeutics-2002-06-07 to {out}" in made.out
    assert "Index of the closing set" in reader.pages[index_at].extract_text()
    first = index_at + 1
    starts = []
    for document, source, count in order:
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        starts.append(first)
        for number in range(first, first + count):
            text = reader.pages[number].extract_text()
            assert f"{document} / " in text and f"sha256 {digest[:16]}" in text
        first += count
    assert "The record's integrity" in reader.pages[-1].extract_text()
    verified = cli("verify", "--json", now=FRI.format("11:00"))
    assert json.loads(verified.out)["digest"] in reader.pages[-1].extract_text().replace("\n", "")

    annotations = [a.get_object() for a in reader.pages[index_at].get("/Annots", [])]
    links = [reader.get_page_number(a["/Dest"][0].get_object()) for a in annotations]
    # Each link's box is on its row: the tab's number, then its title, top to bottom.
    tops = [float(a["/Rect"][3]) for a in annotations]
    assert tops == sorted(tops, reverse=True) and all(
        float(a["/Rect"][2]) - float(a["/Rect"][0]) < 300 for a in annotations
    )
    # A row's links (its number, and its title: a box per line it wraps to) lead to the tab's
    # first page, row after row.
    assert list(dict.fromkeys(links)) == starts
    assert all(links.count(start) >= 2 for start in starts)
    outline = reader.outline
    titles = [item.title for item in outline if not isinstance(item, list)]
    assert titles[:3] == ["Cover", "Closing memorandum", "Index"]
    tabs = next(item for item in outline if isinstance(item, list))
    assert [reader.get_destination_page_number(item) for item in tabs] == starts
    assert tabs[3].title.startswith("4. Warrant (Exhibit A) W-1")


def test_the_binder_zip_and_its_index(seeded: Cli, files: dict[str, Path], tmp_path: Path) -> None:
    import csv
    import io
    import zipfile

    cli = seeded
    _closing_with_files(cli, files)
    out = tmp_path / "closing-set.zip"
    assert cli("binder", "--format", "zip", "-o", str(out)).code == 0
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode())))
        assert [row["file"] for row in rows] == [
            "files/01-spa-stonestreet-purchaser-stonestreet-signature-page.pdf",
            "files/02-spa-stonestreet-company-spa-countersigned-stonestreet.pdf",
            "files/03-spa-bnc-bach-purchaser-bnc-bach-page-scan.png",
            "files/04-warrant-stonestreet-company-warrant-W-1.pdf",
            "files/05-wire_confirmation-stonestreet-fax-confirmation-W-1.pdf",
        ]
        for row in rows:
            assert archive.read(row["file"]) == Path(files_by_name(files)[row["name"]]).read_bytes()
        assert rows[0]["released"] == "2002-06-07" and rows[2]["released"] == ""
        assert "index.html" in names and "memo.pdf" in names
        index = archive.read("index.html").decode()
        assert 'href="files/03-spa-bnc-bach-purchaser-bnc-bach-page-scan.png" download' in index
    again = cli("binder", "--format", "zip", "-o", str(out))
    assert again.code == ExitCode.USAGE and "exists" in again.err


def files_by_name(files: dict[str, Path]) -> dict[str, Path]:
    return {path.name: path for path in files.values()}


def test_a_reload_names_the_documents_it_changes(seed_path: Path) -> None:
    from closing.domain.reloads import term_changes

    old = load_deal_file(seed_path).terms
    text = seed_path.read_text().replace(
        "holds_originals: the purchaser's bank", "holds_originals: BNY"
    )
    seed_path.write_text(text.replace("  - id: wire_confirmation", "  - id: wire_receipt"))
    new = load_deal_file(seed_path).terms
    assert term_changes(old, new) == [
        "documents added: wire_receipt",
        "documents removed: wire_confirmation",
    ]
