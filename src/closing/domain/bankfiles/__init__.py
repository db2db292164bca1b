"""The bank's own files: what a BAI2 file, or an ISO 20022 camt.054 notification or camt.053
statement, says was credited to (or debited from) which account.

Pure parsers: bytes in, `BankFile` out, or `BankFileError` naming the line (or element) that is
wrong. `detect.read_bank_file` picks the format from the content.
"""

from __future__ import annotations

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
