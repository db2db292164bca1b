"""The bank's own files: what a BAI2 file, or an ISO 20022 camt.054 notification or camt.053
statement, says was credited to (or debited from) which account.

Pure parsers: bytes in, `BankFile` out, or `BankFileError` naming the line (or element) that is
wrong. `detect.read_bank_file` picks the format from the content.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from closing.domain.errors import ClosingError, ExitCode
from closing.domain.redaction import mask_account

CREDIT, DEBIT = "credit", "debit"


class BankFileError(ClosingError):
    """A bank file that cannot be read: `name:line: problem`; nothing is recorded."""

    exit_code = ExitCode.DEAL_FILE  # a file with problems, printed as path:line: message

    def __init__(self, name: str, line: int | None, message: str) -> None:
        self.name = name
        self.line = line
        where = name if line is None else f"{name}:{line}"
        message = " ".join(message.split())  # one line, whatever a parser's message holds
        super().__init__(f"{where}: {message}; nothing recorded")


class Entry(NamedTuple):  # a tuple: a bank file has tens of thousands
    """One credit or debit as the bank reports it. `account` is the company's account number and
    is never shown (not even in its repr): use `account_masked`."""

    direction: str  # credit or debit
    amount: Decimal
    currency: str
    account: str
    bank_reference: str  # the bank's own reference: the key that makes an import idempotent
    line: int  # where in the file (the record or the element's first line)
    value_date: date | None = None
    booked_at: datetime | None = None  # aware; when the file says when it was booked
    ordering_customer: str | None = None
    imad: str | None = None
    omad: str | None = None
    references: tuple[str, ...] = ()  # end-to-end id, customer reference, OBI, remittance text
    type_code: str | None = None
    status: str = "booked"  # booked, or pending (camt `PDNG`/`INFO`: not money yet)

    @property
    def account_masked(self) -> str:
        return _masked(self.account)

    def __repr__(self) -> str:
        shown = (
            f"{name}={self.account_masked!r}" if name == "account" else f"{name}={value!r}"
            for name, value in zip(self._fields, self, strict=True)
        )
        return f"Entry({', '.join(shown)})"

    @property
    def evidence(self) -> str:
        """The bank's references, as a mark's evidence: IMAD/OMAD when the file has them."""
        parts = [f"IMAD {self.imad}"] if self.imad else []
        if self.omad:
            parts.append(f"OMAD {self.omad}")
        parts.append(f"bank ref {self.bank_reference}")
        return ", ".join(parts)


@dataclass(frozen=True)
class BankFile:
    format: str  # bai2, camt.054, camt.053
    name: str
    sha256: str
    entries: list[Entry]

    @property
    def credits(self) -> list[Entry]:
        return [e for e in self.entries if e.direction == CREDIT and e.status == "booked"]


@lru_cache(maxsize=256)
def _masked(account: str) -> str:
    """`••••6789`, as the company's wire instructions keep it (a file has a few accounts and
    thousands of entries: each is masked once)."""
    return mask_account(account, canonical=True)


MAX_REFERENCE = 200  # characters of a bank reference kept (the ledger's key, on both backends)
_CURRENCY = re.compile(r"[A-Z]{3}")
_NUL = "\x00"


def stored_reference(reference: str) -> str:
    """A bank reference as the ledger keeps it, the same on SQLite and PostgreSQL: a NUL written
    `\\x00`, and one longer than `MAX_REFERENCE` cut with `…` and a hash of the whole (two long
    references stay apart)."""
    reference = reference.replace(_NUL, "\\x00")
    if len(reference) <= MAX_REFERENCE:
        return reference
    digest = hashlib.sha256(reference.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{reference[: MAX_REFERENCE - 17]}…{digest}"


def _no_nul(value: str | None) -> str | None:
    return value.replace(_NUL, "\\x00") if value and _NUL in value else value


def stored_form(entries: list[Entry], name: str) -> list[Entry]:
    """The entries as the database will keep them, alike on both backends: NUL escaped, long
    references cut with a mark; a currency that is not three capital letters refused."""
    kept = []
    for entry in entries:
        if not _CURRENCY.fullmatch(entry.currency):
            shown = entry.currency[:10].replace(_NUL, "\\x00")
            raise BankFileError(name, entry.line, f"currency {shown!r} is not an ISO 4217 code")
        reference = stored_reference(entry.bank_reference)
        if (
            reference != entry.bank_reference
            or any(
                _NUL in (text or "")
                for text in (entry.ordering_customer, entry.imad, entry.omad, entry.type_code)
            )
            or any(_NUL in text for text in entry.references)
        ):
            entry = entry._replace(
                bank_reference=reference,
                ordering_customer=_no_nul(entry.ordering_customer),
                imad=_no_nul(entry.imad),
                omad=_no_nul(entry.omad),
                type_code=_no_nul(entry.type_code),
                references=tuple(_no_nul(text) or "" for text in entry.references),
            )
        kept.append(entry)
    return kept
