"""Schedule 1 from a spreadsheet: `purchasers: {file: schedule1.xlsx}` (or `.csv`) in a deal file,
relative to it. The first sheet of a workbook (its values: a formula is refused at its cell), or
the CSV file, has a header row: `name`, `shares`, `purchase_price`, `warrant_shares`, then optional
`slug` and the detail keys YAML purchasers take (`notices.attention`, `dwac.dtc_number`,
`time_zone`, `holidays`, `aliases`...; case, spaces, dots and underscores in headers ignored).
Each row after it is a purchaser, read into the mapping a YAML purchaser would be, with the cell
each value came from, so that every problem is reported at its cell (`PATH:Sheet1!C17: ...`, CSV
`PATH:17:C: ...`).

A number typed into a cell comes back as a binary float: it is read as the shortest decimal that
is that float (what was typed, up to 15 digits); a money amount with a fraction of a cent, or a
share count with a fraction, is refused where it is validated. A cell's text is checked as a YAML
value's is (`one_line_problem`: no line break, control or invisible character). Limits:
`MAX_ROWS` purchasers, `MAX_CELL` characters a cell, `MAX_BYTES` a file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from closing.domain.dealfile.located import dotted
from closing.domain.files import NotARegularFile, read_limited
from closing.domain.text import one_line_problem

MAX_ROWS = 100_000
MAX_CELL = 2_000
MAX_BYTES = 50 * 1024 * 1024
MAX_COLUMNS = 50
# A header, normalized (lower case; no spaces, dots, underscores or hyphens), and its key path.
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "slug": ("slug",),
    "shares": ("shares",),
    "purchaseprice": ("purchase_price",),
    "warrantshares": ("warrant_shares",),
    "noticesattention": ("notices", "attention"),
    "noticesaddress": ("notices", "address"),
    "noticesfacsimile": ("notices", "facsimile"),
    "dwacdtcnumber": ("dwac", "dtc_number"),
    "dwacaccountnumber": ("dwac", "account_number"),
    "dwacreference": ("dwac", "reference"),
    "timezone": ("time_zone",),
    "holidays": ("holidays",),
    "aliases": ("aliases",),
}
REQUIRED = ("name", "shares", "purchaseprice", "warrantshares")
LISTS = {"holidays", "aliases"}  # several values in one cell, separated by `;`


@dataclass
class SheetProblem:
    """A problem at a cell (`Sheet1!C17`, or `17:C` in a CSV file), or at the file."""

    where: str | None
    message: str
    order: tuple[int, int] = (0, 0)  # row, column: problems are reported in this order


@dataclass
class Schedule:
    """The purchasers read from a spreadsheet: each row's mapping, where each value came from."""

    path: str  # as shown in problems
    sha256: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    cells: list[dict[tuple[str, ...], str]] = field(default_factory=list)  # key path -> cell
    first_cell: list[str] = field(default_factory=list)  # each row's first cell
    order: list[int] = field(default_factory=list)  # each row's number in the file
    problems: list[SheetProblem] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)  # cells not read: no other problem there

    def refuse(self, where: str, message: str, order: tuple[int, int]) -> None:
        """A problem at a cell whose value is not read: no other problem is reported there."""
        self.problems.append(SheetProblem(where, message, order))
        self.refused.add(where)


def normalized(header: object) -> str:
    return re.sub(r"[\s._\-]+", "", str(header or "")).lower()


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def read_schedule(path: Path, shown: str) -> Schedule:
    """Read a spreadsheet's Schedule 1 (never raises for its content: problems are collected)."""
    try:
        data = read_limited(path, MAX_BYTES, regular_only=True)
    except NotARegularFile as error:
        return _refused(shown, f"is {error.kind}, not a regular file; Schedule 1 is a file")
    except OSError as error:
        return _refused(shown, f"cannot be read ({error.strerror})")
    if data is None:
        return _refused(shown, f"is larger than {MAX_BYTES:,} bytes, a Schedule 1 file's limit")
    schedule = Schedule(shown, hashlib.sha256(data).hexdigest())
    suffix = path.suffix.lower()
    if suffix == ".csv":
        _fill(schedule, _csv_rows(data, schedule), lambda row, col: f"{row}:{column_letter(col)}")
    elif suffix == ".xlsx":
        from closing.domain.dealfile.workbook import read_workbook

        sheet, rows = read_workbook(data, schedule)
        _fill(schedule, rows, lambda row, col: f"{sheet}!{column_letter(col)}{row}")
    elif suffix == ".xlsm":
        schedule.problems.append(
            SheetProblem(None, "is a macro-enabled workbook (.xlsm); save it as .xlsx or .csv")
        )
    else:
        schedule.problems.append(
            SheetProblem(None, "is not a .xlsx or .csv file (Schedule 1 is read from either)")
        )
    return schedule


def _refused(shown: str, message: str) -> Schedule:
    schedule = Schedule(shown, "")
    schedule.problems.append(SheetProblem(None, message))
    return schedule


def _csv_rows(data: bytes, schedule: Schedule) -> list[tuple[Any, ...]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        schedule.problems.append(SheetProblem(None, "is not UTF-8 text; save it as CSV UTF-8"))
        return []
    # A cell may be as long as the file (131,072 characters by default, past which the whole file
    # is one error hiding every other): a long cell is refused at its cell, as any other is.
    # The limit is the process's; raised once, never lowered, so no concurrent reader loses it.
    if csv.field_size_limit() < MAX_BYTES:
        csv.field_size_limit(MAX_BYTES)
    try:
        return [tuple(row) for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as error:
        schedule.problems.append(SheetProblem(None, f"is not a CSV file: {error}"))
        return []


def _text(value: Any) -> str | None:
    """A cell's value as the text a YAML purchaser would have: None when empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text or None


def _fill(schedule: Schedule, rows: list[tuple[Any, ...]], cell: Any) -> None:
    """The header, then each row into a purchaser's mapping; a problem per bad cell."""
    if not rows:
        if not schedule.problems:
            schedule.problems.append(SheetProblem(None, "is empty; its first row is the header"))
        return
    header = rows[0][:MAX_COLUMNS]
    columns: dict[int, str] = {}
    seen: dict[str, int] = {}
    for index, title in enumerate(header):
        key = normalized(title)
        if not key:
            continue
        if key not in COLUMNS:
            known = ", ".join(sorted("_".join(path) for path in COLUMNS.values()))
            schedule.problems.append(
                SheetProblem(
                    cell(1, index),
                    f"unknown column {str(title)[:40]!r}; known: {known}",
                    (1, index),
                )
            )
        elif key in seen:
            schedule.problems.append(
                SheetProblem(
                    cell(1, index),
                    f"column {str(title)[:40]!r} again (also {cell(1, seen[key])})",
                    (1, index),
                )
            )
        else:
            seen[key] = index
            columns[index] = key
    missing = [name for name in REQUIRED if name not in seen]
    if missing:
        names = ", ".join("_".join(COLUMNS[name]) for name in missing)
        schedule.problems.append(
            SheetProblem(cell(1, 0), f"the header row has no column {names}", (1, -1))
        )
    body = rows[1:]
    if len(body) > MAX_ROWS:
        schedule.problems.append(
            SheetProblem(None, f"has more than {MAX_ROWS:,} purchasers (rows after the header)")
        )
        return
    for offset, row in enumerate(body):
        number = offset + 2
        values = [_text(v) for v in row]
        if not any(values):
            continue  # a blank row
        item: dict[str, Any] = {}
        cells: dict[tuple[str, ...], str] = {}
        for index, key in columns.items():
            value = values[index] if index < len(values) else None
            where = cell(number, index)
            problem = None if value is None else one_line_problem(value, MAX_CELL)
            if problem:  # as a YAML value's: long, several lines, a control or invisible character
                schedule.refuse(where, f"{dotted(COLUMNS[key])}: {problem}", (number, index))
                value = None
            path = COLUMNS[key]
            cells[path] = where
            if value is None:
                continue
            if key in LISTS:
                parsed: Any = [part.strip() for part in value.split(";") if part.strip()]
            else:
                parsed = value
            target = item
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = parsed
        schedule.rows.append(item)
        schedule.cells.append(cells)
        schedule.first_cell.append(cell(number, 0))
        schedule.order.append(number)
