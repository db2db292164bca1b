"""The binder export written out: CSV safe to open in a spreadsheet (every cell quoted, formulas
neutralised), or a JSON document with the deal's name and zone around the rows.

The rows are `closing.domain.export`'s (pure); this module only writes them.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import TYPE_CHECKING

import orjson

from closing.domain.export import EXPORT_FIELDS
from closing.domain.text import neutral

if TYPE_CHECKING:
    from closing.domain.terms import StoredTerms

_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?$")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_KEPT = re.compile(r"([\t\r\n])")


def neutralise(value: object) -> str:
    """A cell a spreadsheet will not run: text starting with =, +, -, @, a tab or a carriage
    return gets a leading apostrophe (OWASP's advice); plain numbers stay numbers."""
    if value is None:
        return ""
    # No control or bidi character reaches the spreadsheet (a tab or a line break in a quoted
    # cell is its own: kept, and a leading one still starts a formula below).
    text = "".join(
        part if part in ("\t", "\r", "\n") else neutral(part) for part in _KEPT.split(str(value))
    )
    if text.startswith(_FORMULA) and not _NUMBER.match(text):
        return "'" + text
    return text


def export_csv(rows: list[dict[str, str | int | None]]) -> str:
    """The rows under a header of `EXPORT_FIELDS`, every cell quoted and neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        writer.writerow([neutralise(row[name]) for name in EXPORT_FIELDS])
    return buffer.getvalue()


def export_json(
    rows: list[dict[str, str | int | None]], terms: StoredTerms, exported_at: datetime
) -> bytes:
    """`{"deal", "title", "time_zone", "exported_at", "records"}`, indented, with a final
    newline; `exported_at` in the deal's zone."""
    document = {
        "deal": terms.slug,
        "title": terms.title,
        "time_zone": terms.cutoff.time_zone,
        "exported_at": exported_at.astimezone(terms.zone).isoformat(),
        "records": rows,
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
