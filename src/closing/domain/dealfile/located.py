"""Where each part of a deal file was read: the line of every key and item (by its location, like
`("purchasers", 2, "shares")`), and the problems found so far, rendered as `path:line: message`
in line order. Pydantic's errors become problems here, in the deal's own words."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from closing.domain.errors import Problem
from closing.domain.text import neutral

if TYPE_CHECKING:
    from closing.domain.dealfile.spreadsheet import Schedule

Loc = tuple[str | int, ...]
_ROW = re.compile(r"purchasers\[\d+\]\.?")


class Located:
    """One deal file's key lines (filled by the YAML reader) and the problems found in it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[Loc, int] = {}
        self.problems: list[tuple[int, str]] = []
        self.sheet: Schedule | None = None  # Schedule 1 read from a spreadsheet
        self.sheet_problems: list[tuple[tuple[int, int], str, str]] = []  # (order, cell, message)
        self._said: set[Loc] = set()  # the places a problem was reported at

    def problem(self, loc: Loc, message: str) -> None:
        self._said.add(loc)
        found = self._sheet_cell(loc)
        if found is None:
            self.problems.append((self.line(loc), message))
            return
        sheet, index, where = found
        if where in sheet.refused:
            return  # its own problem is reported: no other one at the same cell
        cells = list(sheet.cells[index].values())
        order = (sheet.order[index], cells.index(where) if where in cells else -1)
        self.sheet_problems.append((order, where, _ROW.sub("", message)))

    def place(self, loc: Loc, field: str) -> str:
        """Where `loc` was read, for a message that names another place: `purchasers[0]` in a
        deal file, the cell of its `field` (`Sheet1!A2`, `2:A`) in a spreadsheet."""
        found = self._sheet_cell((*loc, field))
        return dotted(loc) if found is None else found[2]

    def _sheet_cell(self, loc: Loc) -> tuple[Schedule, int, str] | None:
        """A purchaser's location as the spreadsheet's cell it came from (the row's first cell
        when the field has none), or None when Schedule 1 is not from a spreadsheet."""
        sheet = self.sheet
        if sheet is None or len(loc) < 2 or loc[0] != "purchasers":
            return None
        index = loc[1]
        if not isinstance(index, int) or index >= len(sheet.rows):
            return None
        cells = sheet.cells[index]
        for end in range(len(loc), 2, -1):
            found = cells.get(tuple(str(part) for part in loc[2:end]))
            if found is not None:
                return sheet, index, found
        return sheet, index, sheet.first_cell[index]

    def line(self, loc: Loc) -> int:
        for end in range(len(loc), -1, -1):
            found = self.lines.get(loc[:end])
            if found is not None:
                return found
        return 1

    def validate(self, model: type[BaseModel], data: Any, loc: Loc) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            for item in error.errors():
                self.report(loc, item)
            return None

    def report(self, base: Loc, item: Any) -> None:
        parts = item["loc"]
        given = item.get("input")
        # `due` is either `closing_cutoff` or a mapping: report only the form that was written.
        if isinstance(given, dict) and any(str(p).startswith("literal[") for p in parts):
            return
        if parts and parts[-1] == "Due" and not isinstance(given, dict):
            return
        loc: Loc = (*base, *(p for p in parts if p != "Due" and not _wrapper(p)))
        if loc and loc in self._said:
            return  # the reader said what is wrong with this value (a 3,000-character name)
        kind = item["type"]
        if kind == "missing":
            parent, name = loc[:-1], loc[-1]
            # at the field's own place when it has one (a spreadsheet's cell), else its parent's
            self.problem(loc, f"missing required field {dotted_key(parent, name)!r}")
        elif kind == "extra_forbidden":
            self.problem(loc, f"unknown key {dotted_key(loc[:-1], loc[-1])!r}")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            if kind.startswith(("date_", "time_")) or kind in ("date_type", "time_type"):
                value = item.get("input")
                message = f"{value!r} is not a valid {kind.split('_')[0]}" + (
                    "; write it as YYYY-MM-DD" if kind.startswith("date") else "; write it as HH:MM"
                )
            self.problem(loc, f"{dotted(loc)}: {message}")

    def render(self) -> list[Problem]:
        found = [
            Problem(self.path, line, neutral(message)) for line, message in sorted(self.problems)
        ]
        if self.sheet is not None:
            found += [
                Problem(self.sheet.path, None, neutral(message), cell=neutral(where))
                for _, where, message in sorted(self.sheet_problems)
            ]
        return found


def _wrapper(part: object) -> bool:
    """A validator's own step in pydantic's error location (`function-after[...]`), not a key."""
    return isinstance(part, str) and part.startswith("function-")


def dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def dotted_key(parent: Loc, name: str | int) -> str:
    return dotted((*parent, name))
