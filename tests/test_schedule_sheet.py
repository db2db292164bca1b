"""Schedule 1 from a spreadsheet: `purchasers: {file: PATH}` (.xlsx, first sheet, or .csv),
relative to the deal file; headers in any case and spacing; every problem at its cell, all at
once; the file's SHA-256 in the terms, so a changed spreadsheet is a changed deal."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook  # type: ignore[import-untyped]

from closing.domain.dealfile.load import load_deal_file
from closing.domain.errors import DealFileError
from closing.domain.terms_json import read_terms
from tests.helpers import SEED, Cli

HEADER = [
    "Name",
    "Slug",
    "Shares",
    "Purchase Price",
    "warrant_shares",
    "Notices.Attention",
    "DWAC dtc number",
]
ROWS: list[list[Any]] = [
    [
        "Stonestreet Limited Partnership",
        "stonestreet",
        "1,935,483",
        "$450,000",
        193548,
        "J. Smith",
        "0123",
    ],
    ["BNC Bach International, Ltd.", "bnc-bach", 4000000, 930000, "400,000", None, None],
]


def deal_file(folder: Path, sheet: str) -> Path:
    """The seed deal with its purchasers in the spreadsheet `sheet` beside it."""
    text = SEED.read_text().split("\npurchasers:", 1)[0]
    path = folder / "deal.yaml"
    path.write_text(text + f"\npurchasers: {{file: {sheet}}}\n")
    return path


def write_xlsx(path: Path, rows: list[list[Any]], title: str = "Schedule 1") -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)


def write_csv(path: Path, rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)


def problems(path: Path) -> list[str]:
    with pytest.raises(DealFileError) as refused:
        load_deal_file(path)
    return [str(problem) for problem in refused.value.problems]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_spreadsheet_gives_the_same_purchasers_as_the_yaml(tmp_path: Path, kind: str) -> None:
    sheet = tmp_path / f"schedule1.{kind}"
    (write_xlsx if kind == "xlsx" else write_csv)(sheet, [HEADER, *ROWS])
    loaded = load_deal_file(deal_file(tmp_path, sheet.name))
    seed = load_deal_file(SEED)
    assert [
        (p.name, p.key, p.shares, p.purchase_price, p.warrant_shares) for p in loaded.purchasers
    ] == [(p.name, p.key, p.shares, p.purchase_price, p.warrant_shares) for p in seed.purchasers]
    assert loaded.purchasers[0].notices.attention == "J. Smith"
    assert loaded.purchasers[0].dwac.dtc_number == "0123"
    assert loaded.purchasers[1].notices.attention is None
    digest = hashlib.sha256(sheet.read_bytes()).hexdigest()
    assert loaded.terms.schedule_1 is not None
    assert (loaded.terms.schedule_1.file, loaded.terms.schedule_1.sha256) == (sheet.name, digest)
    stored = read_terms(loaded.terms.model_dump_json())
    assert stored.schedule_1 is not None and stored.schedule_1.sha256 == digest


def test_a_sheet_with_five_errors_reports_all_five_at_their_cells(tmp_path: Path) -> None:
    sheet = tmp_path / "schedule1.xlsx"
    write_xlsx(
        sheet,
        [
            [*HEADER, "Colour"],  # G1: no such column
            ["Stonestreet Limited Partnership", "stonestreet", "lots", "$450,000", 193548],  # C2
            ["BNC Bach International, Ltd.", "bnc-bach", 4000000, 930000.005, 400000],  # D3
            [None, "third", 100, 25, 10],  # A4: no name
            ["Fourth LLC", "Not A Slug", 100, 25, 10],  # B5
        ],
    )
    found = problems(deal_file(tmp_path, sheet.name))
    where = [line.split(": ", 1)[0].rsplit(":", 1)[-1] for line in found]
    assert where == [
        "Schedule 1!H1",
        "Schedule 1!C2",
        "Schedule 1!D3",
        "Schedule 1!A4",
        "Schedule 1!B5",
    ], found
    assert all(line.startswith(f"{sheet}:Schedule 1!") for line in found)
    assert "unknown column 'Colour'" in found[0]
    assert "missing required field 'name'" in found[3]


def test_csv_problems_are_at_row_and_column(tmp_path: Path) -> None:
    sheet = tmp_path / "schedule1.csv"
    write_csv(
        sheet,
        [HEADER[:5], ["Stonestreet Limited Partnership", "stonestreet", "-5", "$450,000", "1"]],
    )
    found = problems(deal_file(tmp_path, sheet.name))
    assert len(found) == 1 and found[0].startswith(f"{sheet}:2:C: "), found


def test_a_missing_column_and_a_missing_file_are_said_once(tmp_path: Path) -> None:
    sheet = tmp_path / "schedule1.csv"
    write_csv(sheet, [["name", "shares"], ["A", "1"]])
    found = problems(deal_file(tmp_path, sheet.name))
    assert found[0] == f"{sheet}:1:A: the header row has no column purchase_price, warrant_shares"
    missing = problems(deal_file(tmp_path, "nowhere.xlsx"))
    assert len(missing) == 1 and "nowhere.xlsx cannot be read" in missing[0], missing


def test_status_with_many_deals_says_how_many_and_how_to_pick_one(cli: Cli, tmp_path: Path) -> None:
    text = SEED.read_text()
    for n in range(12):
        path = tmp_path / f"deal-{n:02d}.yaml"
        path.write_text(re.sub(r"(?m)^slug: .*$", f"slug: deal-{n:02d}", text, count=1))
        assert cli("init", str(path)).code == 0
    status = cli("status")
    assert status.code == 4
    listed = ", ".join(f"deal-{n:02d}" for n in range(10))
    assert status.err == (
        f"Error: 12 deals are loaded ({listed} and 2 more); name one with --deal SLUG or "
        "CLOSING_DEAL (closing deals lists them all)\n"
    )


def test_the_alert_sender_reloads_a_deal_whose_spreadsheet_changed(tmp_path: Path) -> None:
    """The deal file is unchanged but its Schedule 1 spreadsheet gained a purchaser: the alert
    sender's next wake-up reloads the deal (the spreadsheet's SHA-256 is part of its terms)."""
    from datetime import datetime

    from closing.domain.clock import FixedClock
    from closing.services.alerts.daemon import AlertDaemon
    from closing.services.load import load_deal
    from closing.store import deals as deal_store
    from closing.store.connection import Database

    sheet = tmp_path / "schedule1.csv"
    write_csv(sheet, [HEADER, *ROWS])
    path = deal_file(tmp_path, sheet.name)
    database = Database(f"sqlite:///{tmp_path / 'closing.db'}")
    now = datetime.fromisoformat("2002-06-07T07:00:00-07:00")
    load_deal(database, str(path), now)
    daemon = AlertDaemon(database, FixedClock(now), [])
    daemon._reload_changed_deals(now)  # nothing changed: nothing reloaded

    def purchasers() -> list[str]:
        with database.transaction(write=False) as connection:
            deal = deal_store.deals(connection)[0]
            found, _ = deal_store.parties(connection, deal.id)
        return [p.slug for p in found]

    assert purchasers() == ["stonestreet", "bnc-bach"]
    write_csv(sheet, [HEADER, *ROWS, ["Third LLC", "third", "100,000", "$23,250", "10,000"]])
    daemon._reload_changed_deals(now)
    assert purchasers() == ["stonestreet", "bnc-bach", "third"]
    database.close_all()


THIRD = ["Third LLC", "third", "100,000", "$23,250", "10,000"]


def rewrite_sheet(path: Path, change: Any) -> None:
    """The workbook at `path` with its first sheet's XML passed through `change` (bytes to
    bytes): what a tool other than Excel, or a hand, may have written."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in members:
            if info.filename == "xl/worksheets/sheet1.xml":
                data = change(data)
            out.writestr(info, data)


def test_every_row_is_read_whatever_the_dimension_says(tmp_path: Path) -> None:
    """openpyxl's read-only mode stops at the `<dimension ref=...>` the file states."""
    sheet = tmp_path / "schedule1.xlsx"
    write_xlsx(sheet, [HEADER[:5], *(row[:5] for row in ROWS), THIRD])
    rewrite_sheet(
        sheet, lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:E2"', xml)
    )
    loaded = load_deal_file(deal_file(tmp_path, sheet.name))
    assert [p.key for p in loaded.purchasers] == ["stonestreet", "bnc-bach", "third"]


@pytest.mark.parametrize("cached", [b"<v>450000</v>", b""])
def test_a_formula_is_refused_at_its_cell_whatever_value_it_saved(
    tmp_path: Path, cached: bytes
) -> None:
    """A formula's cached value is whatever the program that saved the file wrote (or nothing):
    it is not the amount anyone typed."""
    sheet = tmp_path / "schedule1.xlsx"
    write_xlsx(sheet, [HEADER[:5], ["Stonestreet LP", "s1", 1935483, "=C2*0.2325", 193548]])
    rewrite_sheet(
        sheet, lambda xml: re.sub(rb"(<f>C2\*0.2325</f>)(<v\s*/>|<v></v>)?", rb"\1" + cached, xml)
    )
    assert (b"<v>450000</v>" in zip_member(sheet)) == bool(cached)
    assert problems(deal_file(tmp_path, sheet.name)) == [
        f"{sheet}:Schedule 1!D2: is a formula (=C2*0.2325); type the value itself"
    ]


def zip_member(path: Path, name: str = "xl/worksheets/sheet1.xml") -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as book:
        return book.read(name)


def test_a_hidden_first_sheet_row_or_column_is_refused(tmp_path: Path) -> None:
    """What someone reviewing the workbook cannot see is not read as Schedule 1."""
    book = Workbook()
    hidden = book.active
    hidden.title = "Evil"
    hidden.append(HEADER[:5])
    hidden.append(["Hidden Evil LP", "evil", 4000000, 930000, 400000])
    hidden.sheet_state = "hidden"
    shown = book.create_sheet("Schedule 1")
    for row in [HEADER[:5], *(row[:5] for row in ROWS)]:
        shown.append(row)
    book.active = 1
    book.save(tmp_path / "sheets.xlsx")
    found = problems(deal_file(tmp_path, "sheets.xlsx"))
    assert len(found) == 1 and found[0].endswith(
        f"{tmp_path / 'sheets.xlsx'} has its first sheet, 'Evil', hidden: Schedule 1 is read "
        "from it, and someone reviewing the workbook cannot see it; unhide it or delete it"
    ), found

    sheet = tmp_path / "schedule1.xlsx"
    book = Workbook()
    rows = book.active
    rows.title = "Schedule 1"
    for row in [HEADER[:5], *(row[:5] for row in ROWS), THIRD]:
        rows.append(row)
    rows.row_dimensions[4].hidden = True  # the third purchaser
    rows.column_dimensions["B"].hidden = True  # the slugs
    rows.row_dimensions[9].hidden = True  # empty: nothing hidden
    book.save(sheet)
    assert problems(deal_file(tmp_path, sheet.name)) == [
        f"{sheet}:Schedule 1!B1: column B is hidden, and someone reviewing the workbook cannot "
        "see it; unhide it or delete the column",
        f"{sheet}:Schedule 1!A4: row 4 is hidden, and someone reviewing the workbook cannot see "
        "it; unhide it or delete the row",
    ]


def test_a_macro_enabled_workbook_is_refused(tmp_path: Path) -> None:
    sheet = tmp_path / "schedule1.xlsm"
    write_xlsx(sheet, [HEADER, *ROWS])
    found = problems(deal_file(tmp_path, sheet.name))
    assert len(found) == 1 and found[0].endswith(
        f"{sheet} is a macro-enabled workbook (.xlsm); save it as .xlsx or .csv"
    ), found


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_cell_text_is_checked_as_yaml_text_is(tmp_path: Path, kind: str) -> None:
    """Line breaks, bidi controls and zero-width characters are refused at their cell, with the
    YAML reader's own words."""
    yaml = tmp_path / "deal.yaml"
    yaml.write_text(
        SEED.read_text().replace("Stonestreet Limited Partnership", "Stone \u202eLP", 1)
    )
    said = problems(yaml)
    assert len(said) == 1 and "purchasers[0].name: contains the character U+202E" in said[0]
    sheet = tmp_path / f"schedule1.{kind}"
    rows = [HEADER, [*ROWS[0]], [*ROWS[1]]]
    rows[1][0] = "Stone \u202eLP"
    rows[1][5] = "J. Smith\nGeneral Counsel"
    rows[2][0] = "BNC\u200b Bach"
    (write_xlsx if kind == "xlsx" else write_csv)(sheet, rows)
    found = problems(deal_file(tmp_path, sheet.name))
    cells = ["Schedule 1!A2", "Schedule 1!F2", "Schedule 1!A3"]
    if kind == "csv":
        cells = ["2:A", "2:F", "3:A"]
    assert found == [
        f"{sheet}:{cells[0]}: {said[0].split('purchasers[0].', 1)[1]}",
        f"{sheet}:{cells[1]}: notices.attention: contains a line break (\\n); write it on one "
        "line, as plain text",
        f"{sheet}:{cells[2]}: name: contains the character U+200B ZERO WIDTH SPACE (\\u200b); "
        "write it on one line, as plain text",
    ]


def test_a_nul_in_a_csv_cell_is_exit_3_at_its_cell_on_either_backend(
    cli: Cli, tmp_path: Path
) -> None:
    sheet = tmp_path / "schedule1.csv"
    write_csv(sheet, [HEADER, ["Stone\x00street LP", *ROWS[0][1:]], ROWS[1]])
    loaded = cli("init", str(deal_file(tmp_path, sheet.name)))
    assert (loaded.code, loaded.out) == (3, "")
    assert loaded.err == (
        f"{sheet}:2:A: name: contains a NUL byte (\\x00); write it on one line, as plain text\n"
    )
    deals = cli("deals")  # nothing written: no database on SQLite, no deal on PostgreSQL
    assert re.search("No deals yet|no database at", deals.out + deals.err), deals


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda xml: xml[: len(xml) // 2], " is not an .xlsx workbook (ParseError: "),
        (
            lambda xml: xml.replace(b"<v>1935483</v>", b"<v>abc</v>"),
            ":Schedule 1!C2: is not a valid .xlsx cell (invalid literal for int() with base 10: "
            "'abc')",
        ),
        (
            lambda xml: xml.replace(b'r="C2"', b'r="ZZZZZ2"'),
            " is not an .xlsx workbook (ValueError: 'ZZZZZ' is not a valid column name.",
        ),
        (
            lambda xml: re.sub(rb'r="([A-Z]?)3"', rb'r="\g<1>2"', xml),
            " is not an .xlsx workbook (row 2 after row 2: rows come in order, once)",
        ),
        (
            lambda xml: xml.replace(b'r="C2"', b'r="C3"'),
            " is not an .xlsx workbook (row 2 has a cell twice, or one of another row)",
        ),
    ],
    ids=["truncated", "number", "reference", "row-again", "cell-elsewhere"],
)
def test_a_damaged_workbook_is_one_problem_not_an_internal_error(
    tmp_path: Path, change: Any, said: str
) -> None:
    sheet = tmp_path / "schedule1.xlsx"
    write_xlsx(sheet, [HEADER[:5], ["Stonestreet LP", "s1", 1935483, 450000, 193548], THIRD])
    before = zip_member(sheet)
    rewrite_sheet(sheet, change)
    assert zip_member(sheet) != before
    found = problems(deal_file(tmp_path, sheet.name))
    assert len(found) == 1 and f"{sheet}{said}" in found[0], found


def within(seconds: float, call: Any) -> Any:
    """`call()`'s result, failing the test (not hanging it) when it does not return in time."""
    import threading

    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert done, f"still running after {seconds} s"
    return done[0]


def test_a_pipe_or_a_device_is_refused_without_being_read(tmp_path: Path) -> None:
    """A named pipe waits for a writer forever and /dev/zero never ends: only a regular file is
    read, as Schedule 1 and as the deal file itself."""
    import os

    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.yaml")
    for name, kind in [("fifo.csv", "a named pipe (FIFO)"), ("zero.csv", "a character device")]:
        found = within(10, lambda name=name: problems(deal_file(tmp_path, name)))
        assert len(found) == 1 and found[0].endswith(
            f"{tmp_path / name} is {kind}, not a regular file; Schedule 1 is a file"
        ), found
    assert within(10, lambda: problems(tmp_path / "fifo.yaml")) == [
        f"{tmp_path / 'fifo.yaml'}: is a named pipe (FIFO), not a regular file; a deal file is "
        "a file"
    ]


def test_a_workbook_that_would_inflate_too_far_is_not_unzipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sizes its zip states are checked first: 5.6 MB that inflate to 948 MB of shared
    strings took 32 s and 1.4 GB."""
    import zipfile

    from closing.domain.dealfile import workbook

    sheet = tmp_path / "schedule1.xlsx"
    write_xlsx(sheet, [HEADER, *ROWS])
    with zipfile.ZipFile(sheet) as book:
        inflated = sum(member.file_size for member in book.infolist())
    monkeypatch.setattr(workbook, "MAX_INFLATED", inflated - 1)
    found = problems(deal_file(tmp_path, sheet.name))
    assert len(found) == 1 and found[0].endswith(
        f"{sheet} would inflate to {inflated:,} bytes unzipped; a Schedule 1 workbook may inflate "
        f"to {inflated - 1:,} (100,000 purchasers inflate to under 100,000,000)"
    ), found
    monkeypatch.undo()
    assert len(load_deal_file(deal_file(tmp_path, sheet.name)).purchasers) == 2
    with zipfile.ZipFile(sheet, "a", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/media/padding.bin", b"\0" * 4 * 1024 * 1024)
    found = problems(deal_file(tmp_path, sheet.name))
    assert len(found) == 1 and re.search(
        r" would inflate [\d,]+ times its compressed size; a Schedule 1 workbook inflates at most "
        r"100 times \(most about 10\)$",
        found[0],
    ), found


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_duplicate_names_the_other_rows_cell(tmp_path: Path, kind: str) -> None:
    sheet = tmp_path / f"schedule1.{kind}"
    again = [ROWS[0][0].upper(), "stonestreet-2", *ROWS[0][2:]]
    (write_xlsx if kind == "xlsx" else write_csv)(
        sheet, [HEADER, *ROWS, again, ["BNC Bach II", *ROWS[1][1:]]]
    )
    cell = (lambda at: f"Schedule 1!{at}") if kind == "xlsx" else (lambda at: f"{at[1:]}:{at[0]}")
    assert problems(deal_file(tmp_path, sheet.name)) == [
        f"{sheet}:{cell('A4')}: duplicate purchaser 'STONESTREET LIMITED PARTNERSHIP' (also "
        f"{cell('A2')})",
        f"{sheet}:{cell('B5')}: duplicate purchaser slug 'bnc-bach' (also {cell('B3')}); give "
        "one of them a distinct slug",
    ]


def test_a_csv_cell_longer_than_the_csv_module_allows_is_refused_at_its_cell(
    tmp_path: Path,
) -> None:
    """Python's csv module refuses a field over 131,072 characters: the whole file was one
    error, hiding the other rows' problems."""
    sheet = tmp_path / "schedule1.csv"
    write_csv(sheet, [HEADER[:5], ["S" * 200_000, *ROWS[0][1:5]], ["BNC", "bnc", "lots", 1, 1]])
    assert problems(deal_file(tmp_path, sheet.name)) == [
        f"{sheet}:2:A: name: is 200,000 characters long; at most 2,000",
        f"{sheet}:3:C: shares: 'lots' is not a whole number; write it like 1,935,483",
    ]


def test_the_alert_sender_is_not_hung_by_a_pipe_in_place_of_a_spreadsheet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It reads a watched deal file and its spreadsheet as a load does: a FIFO put in the
    spreadsheet's place is a reload that fails, logged, and the old terms stay."""
    import os
    from datetime import datetime

    from closing.domain.clock import FixedClock
    from closing.services.alerts.daemon import AlertDaemon
    from closing.services.load import load_deal
    from closing.store.connection import Database

    sheet = tmp_path / "schedule1.csv"
    write_csv(sheet, [HEADER, *ROWS])
    database = Database(f"sqlite:///{tmp_path / 'closing.db'}")
    now = datetime.fromisoformat("2002-06-07T07:00:00-07:00")
    load_deal(database, str(deal_file(tmp_path, sheet.name)), now)
    sheet.unlink()
    os.mkfifo(sheet)
    within(10, lambda: AlertDaemon(database, FixedClock(now), [])._reload_changed_deals(now))
    assert "is a named pipe (FIFO), not a regular file" in caplog.text
    database.close_all()
