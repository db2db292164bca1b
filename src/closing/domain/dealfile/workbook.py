"""The rows of an .xlsx Schedule 1: its first sheet, read with openpyxl's worksheet parser (the one
its read-only worksheets use, driven here) so that every cell comes with its type: a formula is
refused at its cell (its cached value is whatever the program that last saved the file wrote
there, or nothing), and every row is read, whatever the sheet's `<dimension>` claims."""

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
        return sheet.title, _rows(book, sheet, schedule)
    finally:
        book.close()


def _rows(book: Any, sheet: Any, schedule: Schedule) -> list[tuple[Any, ...]]:
    """Each row with a value, at its number; openpyxl's `iter_rows` would stop at the
    `<dimension>` the file states and give no cell's type (`values_only`)."""
    from openpyxl.worksheet._reader import WorkSheetParser  # type: ignore[import-untyped]

    title = sheet.title
    rows: list[tuple[Any, ...]] = []
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
                    _refuse(schedule, where, (number, column), _formula(item["value"]))
                    continue
                values[column] = item["value"]
            if not values:
                continue  # a row of empty or only formatted cells, or of refused ones
            if number > MAX_ROWS + 1:  # too many: `_fill` says so
                rows.extend([()] * (MAX_ROWS + 2 - len(rows)))
                break
            rows.extend([()] * (number - 1 - len(rows)))
            rows.append(tuple(values.get(index) for index in range(max(values) + 1)))
    return rows


def _formula(value: Any) -> str:
    """`=C2*0.2325` as a string, or an array formula (with its text) or a data table."""
    text = value if isinstance(value, str) else getattr(value, "text", None)
    if isinstance(text, str) and text.strip("= "):
        return f"is a formula ({text[:100]}); type the value itself"
    return "is a formula; type the value itself"


def _refuse(schedule: Schedule, where: str, order: tuple[int, int], message: str) -> None:
    """A problem at a cell whose value is not read: no other problem is reported there."""
    schedule.problems.append(SheetProblem(where, message, order))
    schedule.refused.add(where)
