"""BAI2 (the Bank Administration Institute's cash management balance reporting format), read with
the `bai2` package, which checks every record count and control total.

The package forgets where a record was; the records are fed to it here by a reader that
remembers the line each one starts on, so a problem is reported as `file:line: ...`. Amounts are
whole cents in the file and become Decimals exactly. Times in a BAI2 file carry no zone: they are
read in the zone given (the deal's).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from closing.domain.bankfiles import CREDIT, DEBIT, BankFileError, Entry
from closing.domain.bankfiles.details import IMAD, read_wire_text

RECORD_NAMES = {
    "01": "file header (01)",
    "02": "group header (02)",
    "03": "account identifier (03)",
    "16": "transaction detail (16)",
    "49": "account trailer (49)",
    "88": "continuation (88)",
    "98": "group trailer (98)",
    "99": "file trailer (99)",
}
_RECORD_STARTS = {f"{code}," for code in RECORD_NAMES}  # each record starts with its code
_ENUM_NAMES = {
    "file_header": "01",
    "group_header": "02",
    "account_identifier": "03",
    "transaction_detail": "16",
    "account_trailer": "49",
    "group_trailer": "98",
    "file_trailer": "99",
}


class _End:
    """What the reader holds once the file is over: a record of no code, which no parser takes."""

    code = None
    rows: tuple[()] = ()
    fields: tuple[()] = ()


_END = _End()


class _Records:
    """The `bai2` package's record iterator (`current_record`, `advance()`), remembering the line
    of each record and of the rows the models keep."""

    def __init__(self, lines: list[tuple[int, str]]) -> None:
        self.line = 0
        self.previous = 0
        self.exhausted = False
        self.rows_line: dict[int, int] = {}  # id(record rows) -> its first line
        self.current_record: Any = None
        self._records = self._build(lines)
        self.advance()

    def _build(self, lines: list[tuple[int, str]]) -> Iterator[tuple[Any, int]]:
        from bai2.constants import RecordCode
        from bai2.helpers import _build_record

        codes = {code.value: code for code in RecordCode}  # a dict: the enum's call is slower
        continuation = RecordCode.continuation
        rows: list[tuple[Any, str]] = []
        start = 0
        for number, text in lines:
            code = codes[text[:2]]
            if code is continuation and rows:
                rows.append((code, text[3:]))
                continue
            if rows:
                yield _build_record(rows), start
            rows, start = [(code, text[3:])], number
        if rows:
            yield _build_record(rows), start

    def advance(self) -> None:
        try:
            record, line = next(self._records)
        except StopIteration:
            # The package keeps parsing the current record while it can (a cut after a 16
            # record would loop for ever on it): past the end there is no record of any kind.
            self.exhausted = True
            self.current_record = _END
            raise
        self.rows_line[id(record.rows)] = line
        self.previous, self.line = self.line, line
        self.current_record = record

    def left_over(self) -> int | None:
        """The line of a record after the file trailer, if there is one."""
        if self.exhausted:
            return None
        try:
            self.advance()
        except StopIteration:
            return None
        return self.line


def parse_bai2(text: str, name: str, zone: ZoneInfo) -> list[Entry]:
    """Every credit and debit of every account in a BAI2 file."""
    from bai2.exceptions import IntegrityException, NotSupportedYetException, ParsingException
    from bai2.parsers import Bai2FileParser

    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        record = raw.strip()
        if not record:
            continue
        if record[:3] not in _RECORD_STARTS:
            shown = record[:20] + ("..." if len(record) > 20 else "")
            raise BankFileError(
                name,
                number,
                f"not a BAI2 record: {shown!r} (each record starts with its code, 01, 02, 03, "
                "16, 49, 88, 98 or 99, and a comma)",
            )
        lines.append((number, record))
    if not lines:
        raise BankFileError(name, None, "the file is empty")
    if not lines[0][1].startswith("01,"):
        raise BankFileError(name, lines[0][0], "a BAI2 file starts with its file header (01)")
    records = _Records(lines)
    try:
        parsed = Bai2FileParser(records, check_integrity=True).parse()
    except IntegrityException as error:
        # Totals are checked once a section's trailer has been read (the reader is past it).
        line = records.line if records.exhausted else records.previous
        raise BankFileError(name, line, _sentence(str(error))) from None
    except (ParsingException, NotSupportedYetException, ValueError, IndexError, TypeError) as error:
        if records.exhausted:
            raise BankFileError(
                name,
                records.line,
                "the file ends here, without the trailers that close it (49, 98, 99): it is cut "
                "short",
            ) from None
        message = _sentence(str(error)) or "a field is missing or not a number"
        if isinstance(error, IndexError | TypeError):
            message = "a field is missing or not a number"
        elif "strptime" in str(error) or "does not match format" in str(error):
            message = f"a date or time is not valid ({error})"
        raise BankFileError(name, records.line, message) from None
    extra = records.left_over()
    if extra is not None:
        raise BankFileError(name, extra, "records after the file trailer (99)")
    return list(_entries(parsed, records.rows_line, name, zone))


def _sentence(message: str) -> str:
    """The package's messages in our words: `Expected RecordCode.account_trailer, got
    RecordCode.account_identifier instead` -> `expected an account trailer (49), found an
    account identifier (03)`."""
    found = re.match(r"Expected RecordCode\.(\w+), got RecordCode\.(\w+)", message)
    if found:
        expected, got = (RECORD_NAMES[_ENUM_NAMES.get(g, "88")] for g in found.groups())
        return f"expected {_a(expected)} record here, found {_a(got)}: records are out of order"
    return message[:1].lower() + message[1:] if message else message


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _entries(parsed: Any, rows_line: dict[int, int], name: str, zone: ZoneInfo) -> Iterator[Entry]:
    from bai2.constants import FundsType, TypeCodeTransaction

    for group in parsed.children:
        header = group.header
        as_of: date | None = header.as_of_date
        booked_at = None
        if as_of is not None and header.as_of_time is not None:
            clock: time = header.as_of_time
            booked_at = datetime.combine(as_of, clock.replace(microsecond=0), tzinfo=zone)
        for account in group.children:
            number = account.header.customer_account_number or ""
            currency = (account.header.currency or header.currency or "USD").upper()
            for detail in account.children:
                line = rows_line.get(id(detail.rows), 0)
                kind = detail.type_code.transaction
                if kind not in (TypeCodeTransaction.credit, TypeCodeTransaction.debit):
                    continue
                if detail.amount is None:
                    raise BankFileError(name, line, "a transaction detail (16) has no amount")
                value_date = as_of
                if detail.funds_type is FundsType.value_dated and detail.availability:
                    value_date = detail.availability.get("date") or as_of
                text = " ".join(str(detail.text or "").split())
                wire = read_wire_text(text)
                reference = (detail.bank_reference or "").strip()
                customer_reference = (detail.customer_reference or "").strip()
                if not reference:
                    reference = wire.imad or _content_key(
                        detail.type_code.code, detail.amount, value_date, text
                    )
                references = wire.references
                if customer_reference:
                    references = (customer_reference, *references)
                yield Entry(
                    direction=CREDIT if kind is TypeCodeTransaction.credit else DEBIT,
                    amount=Decimal(detail.amount).scaleb(-2),
                    currency=currency,
                    account=number,
                    bank_reference=reference,
                    line=line,
                    value_date=value_date,
                    booked_at=booked_at,
                    ordering_customer=wire.originator,
                    imad=wire.imad or _imad(customer_reference),
                    omad=wire.omad,
                    references=references,
                    type_code=detail.type_code.code,
                )


def _imad(text: str) -> str | None:
    return text if IMAD.fullmatch(text) else None


def _content_key(code: str, amount: int, value_date: date | None, text: str) -> str:
    """A key for a detail without a bank reference: the same credit in an overlapping file gets
    the same key (the account is left out: a hash of it could be reversed by trying numbers)."""
    content = f"{code}|{amount}|{value_date}|{text}".encode()
    return "bai2:" + hashlib.sha256(content).hexdigest()[:20]
