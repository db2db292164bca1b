"""Domain errors and the exit code each one maps to.

The core raises these; only `closing.cli` turns them into a line on stderr and an exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ExitCode:
    """Documented process exit codes (README: "Exit codes")."""

    OK = 0
    INTERNAL = 1  # a bug: please report it (re-run with --debug for the traceback)
    USAGE = 2  # bad command line or environment (CLOSING_NOW, options)
    DEAL_FILE = 3  # the deal file is invalid; every problem is listed as path:line: message
    NOT_FOUND = 4  # unknown or ambiguous deal, purchaser or step; or a role the team lacks
    REFUSED = 5  # the mark or undo is not allowed now; nothing was recorded
    DATABASE = 6  # the database cannot be opened, is locked, or has a newer schema
    ALERTS = 7  # alert delivery or the alert daemon cannot run (another one holds the lock)
    RECORD = 8  # closing verify: the event log does not hold (changed, missing, inserted events)
    BROKEN_PIPE = 141  # the output's reader went away (`| head`), as if killed by SIGPIPE


class ClosingError(Exception):
    """An expected failure with a message a user can act on."""

    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(ClosingError):
    exit_code = ExitCode.USAGE


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a deal file, where it is: beancount's way, data formatted at the edge."""

    path: str
    line: int | None  # None when the problem is the whole file (missing, unreadable)
    message: str
    cell: str | None = None  # a spreadsheet's cell instead of a line: `Sheet1!C17`, CSV `17:C`

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.cell is not None:
            where = f"{self.path}:{self.cell}"
        return f"{where}: {self.message}"


class DealFileError(ClosingError):
    """A deal file with one or more problems (`path:line: message` each, when shown)."""

    exit_code = ExitCode.DEAL_FILE

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class NotFoundError(ClosingError):
    exit_code = ExitCode.NOT_FOUND


class RefusedError(ClosingError):
    exit_code = ExitCode.REFUSED


class RateLimited(RefusedError):
    """Asked too often lately (a link's submissions, passkey challenges): the web answers 429."""


class NotPermittedError(ClosingError):
    """The deal's team does not give the operator the role an action needs (exit 4, as for a
    name the deal does not know: nothing is recorded)."""

    exit_code = ExitCode.NOT_FOUND


class DatabaseError(ClosingError):
    exit_code = ExitCode.DATABASE

    @classmethod
    def failed(cls, where: str, reason: str) -> DatabaseError:
        """`database WHERE failed: REASON`, with `; try again` when another writer held it (a
        lock, or PostgreSQL's serialization failure): the store's and the driver path's words."""
        again = "; try again" if "lock" in reason or "serializ" in reason else ""
        return cls(f"database {where} failed: {reason}{again}")


class AlertsError(ClosingError):
    exit_code = ExitCode.ALERTS


class RecordBrokenError(ClosingError):
    exit_code = ExitCode.RECORD
