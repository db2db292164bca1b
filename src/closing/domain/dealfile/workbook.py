"""The rows of an .xlsx Schedule 1: its first sheet, read with openpyxl's worksheet parser (the one
its read-only worksheets use, driven here) so that every cell comes with its type and every row
with its attributes. Refused, at their place: a formula (its cached value is whatever the program
that last saved the file wrote there, or nothing); a hidden first sheet, and a hidden row or
column holding a value (hidden, or of zero height or width): someone reviewing the workbook
cannot see them. Every row is read, whatever the sheet's `<dimension>` claims."""

from __future__ import annotations

import io
from typing import Any

from closing.domain.dealfile.spreadsheet import (
    MAX_COLUMNS,
    MAX_ROWS,
    Schedule,
    SheetProblem,
    column_letter,
)


def read_workbook(data: bytes, schedule: Schedule) -> tuple[str, list[tuple[Any, ...]]]:
    """The first sheet's title and its rows (row N at index N - 1; a row holds at most
    `MAX_COLUMNS` cells), problems at their cells in `schedule`."""
    import zipfile

    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        schedule.problems.append(
            SheetProblem(None, f"is not an .xlsx workbook ({type(error).__name__})")
        )
        return "Sheet1", []
    try:
        sheet = book.worksheets[0]
        if sheet.sheet_state != "visible":
            schedule.problems.append(
                SheetProblem(
                    None,
                    f"has its first sheet, {sheet.title[:40]!r}, hidden: Schedule 1 is read from "
                    "it, and someone reviewing the workbook cannot see it; unhide it or delete it",
                )
            )
        return sheet.title, _rows(book, sheet, schedule)
    finally:
        book.close()


def _rows(book: Any, sheet: Any, schedule: Schedule) -> list[tuple[Any, ...]]:
    """Each row with a value, at its number; openpyxl's `iter_rows` would stop at the
    `<dimension>` the file states and give no cell's type (`values_only`)."""
    from openpyxl.worksheet._reader import WorkSheetParser  # type: ignore[import-untyped]

    title = sheet.title
    rows: list[tuple[Any, ...]] = []
    used: set[int] = set()  # the columns with a value
    with sheet._get_source() as source:
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,
            data_only=False,
            epoch=book.epoch,
            date_formats=book._date_formats,
            timedelta_formats=book._timedelta_formats,
        )
        for number, cells in parser.parse():
            values: dict[int, Any] = {}
            for item in cells:
                column = item["column"] - 1
                if column >= MAX_COLUMNS or item["value"] is None:
                    continue
                if item["data_type"] == "f":
                    where = f"{title}!{column_letter(column)}{number}"
                    schedule.refuse(where, _formula(item["value"]), (number, column))
                    continue
                values[column] = item["value"]
            if not values:
                continue  # a row of empty or only formatted cells, or of refused ones
            used.update(values)
            if _hidden(parser.row_dimensions.get(str(number)), "ht"):
                schedule.problems.append(
                    SheetProblem(f"{title}!A{number}", _unseen(f"row {number}"), (number, -1))
                )
            if number > MAX_ROWS + 1:  # too many: `_fill` says so
                rows.extend([()] * (MAX_ROWS + 2 - len(rows)))
                break
            rows.extend([()] * (number - 1 - len(rows)))
            rows.append(tuple(values.get(index) for index in range(max(values) + 1)))
        for attributes in parser.column_dimensions.values():  # <col min= max=>: a range
            if _hidden(attributes, "width"):
                first, last = int(attributes["min"]) - 1, int(attributes.get("max", 0)) - 1
                for column in sorted(used.intersection(range(first, max(first, last) + 1))):
                    letter = column_letter(column)
                    schedule.problems.append(
                        SheetProblem(f"{title}!{letter}1", _unseen(f"column {letter}"), (1, column))
                    )
    return rows


def _hidden(attributes: dict[str, str] | None, size: str) -> bool:
    """A row's or column's attributes say it is hidden, or of zero height or width."""
    if not attributes:
        return False
    if attributes.get("hidden", "").lower() in ("1", "true"):
        return True
    try:
        return float(attributes.get(size, "1")) == 0
    except ValueError:
        return False


def _unseen(what: str) -> str:
    return (
        f"{what} is hidden, and someone reviewing the workbook cannot see it; unhide it or "
        f"delete the {what.split()[0]}"
    )


def _formula(value: Any) -> str:
    """`=C2*0.2325` as a string, or an array formula (with its text) or a data table."""
    text = value if isinstance(value, str) else getattr(value, "text", None)
    if isinstance(text, str) and text.strip("= "):
        return f"is a formula ({text[:100]}); type the value itself"
    return "is a formula; type the value itself"
