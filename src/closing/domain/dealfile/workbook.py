"""The rows of an .xlsx Schedule 1: its first sheet, read with openpyxl's worksheet parser (the one
its read-only worksheets use, driven here) so that every cell comes with its type and every row
with its attributes. Refused, at their place: a formula (its cached value is whatever the program
that last saved the file wrote there, or nothing); a hidden first sheet, and a hidden row or
column holding a value (hidden, or of zero height or width): someone reviewing the workbook
cannot see them. Every row is read, whatever the sheet's `<dimension>` claims. A workbook whose
zip says it would inflate past `MAX_INFLATED` bytes, or `MAX_RATIO` times its size, is not
unzipped; a damaged one is one problem, never an exception."""

from __future__ import annotations

import io
import re
import warnings
from typing import Any

from closing.domain.dealfile.spreadsheet import (
    MAX_COLUMNS,
    MAX_ROWS,
    Schedule,
    SheetProblem,
    column_letter,
)

# Bounds on what a workbook may inflate to, checked before anything is unzipped: a 100,000-row
# Schedule 1 with all 14 columns filled inflates to 92.6 MB (benchmarks/bench_schedule.py's
# rows, openpyxl writing every text in its cell), 10.9 times its zipped size.
MAX_INFLATED = 200 * 1024 * 1024
MAX_RATIO = 100


class _Malformed(Exception):
    """What openpyxl reads but no spreadsheet program writes: a row again or out of order, a
    cell twice or outside its row."""


class _Unreadable(Exception):
    def __init__(self, at: str | None, error: Exception) -> None:
        super().__init__(str(error))
        self.at = at  # the reference of the cell being read, when it was one
        self.error = error


# What openpyxl raises, reading a damaged or hand-made workbook, besides a zip that is not one
# (fuzzing its parts found XML syntax errors, TypeError from an unknown attribute, IndexError from
# a shared string that is not there, ValueError from a number or reference that is not one; and
# zipfile's NotImplementedError, a RuntimeError, for a compression or version it does not know).
_DAMAGED = (SyntaxError, ValueError, TypeError, LookupError, AttributeError, ArithmeticError)
_REFERENCE = re.compile(r"[A-Z]{1,3}[1-9][0-9]{0,6}")


def read_workbook(data: bytes, schedule: Schedule) -> tuple[str, list[tuple[Any, ...]]]:
    """The first sheet's title and its rows (row N at index N - 1; a row holds at most
    `MAX_COLUMNS` cells), problems at their cells in `schedule`. A workbook that cannot be read
    is one problem: at the cell being read when that is known, else at the file; its rows are
    not read."""
    import zipfile
    import zlib

    from openpyxl import load_workbook  # type: ignore[import-untyped]

    title = "Sheet1"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            too_large = _inflated_problem(archive.infolist())
        if too_large:
            schedule.problems.append(SheetProblem(None, too_large))
            return title, []
        with warnings.catch_warnings():  # openpyxl's warnings about what it does not support
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
            try:
                sheet = book.worksheets[0]
                title = sheet.title
                if sheet.sheet_state != "visible":
                    schedule.problems.append(
                        SheetProblem(
                            None,
                            f"has its first sheet, {title[:40]!r}, hidden: Schedule 1 is read "
                            "from it, and someone reviewing the workbook cannot see it; unhide "
                            "it or delete it",
                        )
                    )
                return title, _rows(book, sheet, schedule)
            finally:
                book.close()
    except _Unreadable as unreadable:
        at, error = unreadable.at, unreadable.error
        if at is not None and _REFERENCE.fullmatch(at):
            from openpyxl.utils.cell import coordinate_to_tuple  # type: ignore[import-untyped]

            row, column = coordinate_to_tuple(at)
            schedule.problems.append(
                SheetProblem(
                    f"{title}!{at}",
                    f"is not a valid .xlsx cell ({_detail(error)})",
                    (row, column - 1),
                )
            )
        else:
            schedule.problems.append(SheetProblem(None, _not_a_workbook(error)))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, *_DAMAGED) as error:
        schedule.problems.append(SheetProblem(None, _not_a_workbook(error)))
    return title, []


def _inflated_problem(members: list[Any]) -> str | None:
    """Why a workbook is not unzipped (None when it can be): its parts would inflate past
    `MAX_INFLATED` bytes, or more than `MAX_RATIO` times their compressed size, as a zip bomb does.
    The sizes are those the zip states: zipfile inflates no part past its stated size (a larger
    one fails its CRC check), so they bound what is read."""
    inflated = sum(member.file_size for member in members)
    if inflated > MAX_INFLATED:
        return (
            f"would inflate to {inflated:,} bytes unzipped; a Schedule 1 workbook may inflate to "
            f"{MAX_INFLATED:,} (100,000 purchasers inflate to under 100,000,000)"
        )
    compressed = sum(member.compress_size for member in members)
    if inflated > 1024 * 1024 and inflated > MAX_RATIO * compressed:
        return (
            f"would inflate {inflated / max(compressed, 1):,.0f} times its compressed size; a "
            f"Schedule 1 workbook inflates at most {MAX_RATIO} times (most about 10)"
        )
    return None


def _not_a_workbook(error: Exception) -> str:
    kind = "" if isinstance(error, _Malformed) else f"{type(error).__name__}: "
    return f"is not an .xlsx workbook ({kind}{_detail(error)})"


def _detail(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 160 else text[:159] + "…"


def _rows(book: Any, sheet: Any, schedule: Schedule) -> list[tuple[Any, ...]]:
    """Each row with a value, at its number; openpyxl's `iter_rows` would stop at the
    `<dimension>` the file states and give no cell's type (`values_only`)."""
    title = sheet.title
    rows: list[tuple[Any, ...]] = []
    used: set[int] = set()  # the columns with a value
    last = 0  # the number of the last row read
    with sheet._get_source() as source:
        parser = _parser(source, book, sheet)
        try:
            for number, cells in parser.parse():
                if number <= last:
                    raise _Malformed(f"row {number} after row {last}: rows come in order, once")
                last = number
                values: dict[int, Any] = {}
                for item in cells:
                    column = item["column"] - 1
                    if item["row"] != number or column in values:
                        raise _Malformed(f"row {number} has a cell twice, or one of another row")
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
                    first, end = int(attributes["min"]) - 1, int(attributes.get("max", 0))
                    for column in sorted(used.intersection(range(first, end))):
                        letter = column_letter(column)
                        schedule.problems.append(
                            SheetProblem(
                                f"{title}!{letter}1", _unseen(f"column {letter}"), (1, column)
                            )
                        )
        except (*_DAMAGED, _Malformed) as error:
            raise _Unreadable(parser.at, error) from None
    return rows


def _parser(source: Any, book: Any, sheet: Any) -> Any:
    """openpyxl's worksheet parser, as its read-only worksheet makes it, that records the
    reference of the cell it is reading (None between cells)."""
    from openpyxl.worksheet._reader import WorkSheetParser  # type: ignore[import-untyped]

    class Parser(WorkSheetParser):  # type: ignore[misc]
        at: str | None = None

        def parse_cell(self, element: Any) -> Any:
            self.at = str(element.get("r"))
            cell = super().parse_cell(element)
            self.at = None
            return cell

    return Parser(
        source,
        sheet._shared_strings,
        data_only=False,
        epoch=book.epoch,
        date_formats=book._date_formats,
        timedelta_formats=book._timedelta_formats,
    )


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
