"""The company's wire instructions under change control: normalised, fingerprinted, masked, and
held until a second person verifies them by calling back a number known before the change.

What is kept of a version of the instructions (`Version`) never holds the account number: only
its last four digits (`••••6789`, `closing.domain.redaction`'s canonical form) and a fingerprint.
The fingerprint is a slow, salted hash (scrypt) of the normalised instructions, so that the stored
value cannot be turned back into the account by trying every possible number; the full account
lives only in the deal file.

Pure: these functions return values or raise `RefusedError`; `closing.services.wires` stores
what they decide.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from closing.domain.errors import RefusedError
from closing.domain.events import (
    INSTRUCTIONS,
    INSTRUCTIONS_VERIFIED,
    Event,
    Purchaser,
    Standing,
    deal_event,
    on_behalf,
)
from closing.domain.redaction import mask_account, normalise_account
from closing.domain.terms import COMPANY_DETAILS
from closing.domain.timefmt import local

if TYPE_CHECKING:  # the deal file's model: loading a deal builds instructions from it
    from closing.domain.dealfile.schema import WireInstructionsSpec

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 16}


@dataclass(frozen=True)
class Instructions:
    """Wire instructions as written in the deal file (stripped), the account number included.
    Only ever held in memory while a deal file or a bank file is read."""

    bank: str
    aba: str
    account: str
    account_name: str
    swift: str | None = None
    reference: str | None = None

    def __repr__(self) -> str:  # never the account, even in a traceback
        shown = mask_account(self.account, canonical=True)
        return f"Instructions(bank={self.bank!r}, account={shown!r})"

    @classmethod
    def from_spec(cls, spec: WireInstructionsSpec) -> Instructions:
        return cls(
            spec.bank,
            spec.aba,
            spec.account.get_secret_value(),
            spec.account_name,
            spec.swift,
            spec.reference,
        )


def _words(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def normalised(instructions: Instructions) -> str:
    """The canonical text the fingerprint is taken of: case, spacing and punctuation of the
    account do not change it; any other change does."""
    return json.dumps(
        {
            "bank": _words(instructions.bank),
            "aba": re.sub(r"\D", "", instructions.aba),
            "account": normalise_account(instructions.account),
            "account_name": _words(instructions.account_name),
            "swift": (instructions.swift or "").replace(" ", "").upper(),
            "reference": _words(instructions.reference),
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def fingerprint(instructions: Instructions, deal_slug: str) -> str:
    """32 hex digits: scrypt of the normalised instructions, salted with the deal."""
    salt = f"closing wire instructions {deal_slug}".encode()
    digest = hashlib.scrypt(normalised(instructions).encode(), salt=salt, **_SCRYPT)
    return digest.hex()


def short(fingerprint_hex: str) -> str:
    """`4F1C-9A0E-77B2-D301`: the first 64 bits, as people compare them over the telephone."""
    head = fingerprint_hex[:16].upper()
    return "-".join(head[i : i + 4] for i in range(0, 16, 4))


@dataclass(frozen=True)
class Proposed:
    """What a deal file says now, as it will be kept (no account number)."""

    fingerprint: str | None  # None: the deal file has no wire instructions
    bank: str | None
    aba: str | None
    account_masked: str | None
    account_name: str | None
    swift: str | None
    reference: str | None
    callback_numbers: tuple[str, ...]


def propose(
    spec: WireInstructionsSpec | None, callback_numbers: Sequence[str], deal_slug: str
) -> Proposed:
    if spec is None:
        return Proposed(None, None, None, None, None, None, None, tuple(callback_numbers))
    instructions = Instructions.from_spec(spec)
    return Proposed(
        fingerprint(instructions, deal_slug),
        instructions.bank,
        instructions.aba,
        mask_account(instructions.account, canonical=True),
        instructions.account_name,
        instructions.swift,
        instructions.reference,
        tuple(callback_numbers),
    )


@dataclass(frozen=True)
class Version:
    """One version of the instructions as the database keeps it."""

    number: int
    fingerprint: str | None
    bank: str | None
    aba: str | None
    account_masked: str | None
    account_name: str | None
    swift: str | None
    reference: str | None
    callback_numbers: tuple[str, ...]
    entered_by: str
    entered_at: datetime
    verified_by: str | None = None
    verified_at: datetime | None = None
    callback_number: str | None = None
    spoke_with: str | None = None

    @property
    def present(self) -> bool:
        return self.fingerprint is not None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def short_fingerprint(self) -> str | None:
        return short(self.fingerprint) if self.fingerprint else None

    def summary(self) -> str:
        """`Bank of America, N.A., ABA 121000358, account ••••6789 (NeoTherapeutics, Inc.)`."""
        if not self.present:
            return "no wire instructions"
        text = f"{self.bank}, ABA {self.aba}, account {self.account_masked} ({self.account_name})"
        if self.swift:
            text += f", SWIFT {self.swift}"
        if self.reference:
            text += f", reference {self.reference}"
        return text

    def instructions_with(self, account: str) -> Instructions:
        """These instructions with `account` as the account number: a candidate taken from a bank
        file is the company's account exactly when this has the version's fingerprint."""
        return Instructions(
            self.bank or "",
            self.aba or "",
            account,
            self.account_name or "",
            self.swift,
            self.reference,
        )


def differs(current: Version | None, proposed: Proposed) -> bool:
    """Whether the deal file changes the instructions or the callback numbers."""
    if current is None:
        return proposed.fingerprint is not None or bool(proposed.callback_numbers)
    return current.fingerprint != proposed.fingerprint or _numbers(
        current.callback_numbers
    ) != _numbers(proposed.callback_numbers)


def _numbers(numbers: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(_phone_key(n) for n in numbers))


def _phone_key(number: str) -> str:
    """The digits that identify a telephone number: `+1 (949) 788-6700` -> `9497886700`."""
    digits = re.sub(r"\D", "", number)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


@dataclass(frozen=True)
class WireStatus:
    """Where the instructions stand: what the board, `status --json`, alerts and `mark-wired`
    go by."""

    current: Version | None  # the latest version
    verified_version: Version | None  # the latest verified version (credits are matched to it)
    count: int = 0  # versions recorded

    @property
    def present(self) -> bool:
        return self.current is not None and self.current.present

    @property
    def verified(self) -> bool:
        return self.current is not None and self.current.present and self.current.verified

    @property
    def pending(self) -> bool:
        """A version (instructions or callback numbers) waits for its second person."""
        return self.current is not None and self.present and not self.current.verified

    def warning(self, short: bool = False) -> str | None:
        """One line for every alert and notice (`short`: for the board's heading); None when
        verified or when the deal file has none."""
        if not self.pending:
            return None
        current = self.current
        assert current is not None
        if short:
            return (
                f"Wire instructions {current.account_masked} ({current.short_fingerprint}) NOT "
                "VERIFIED: closing wire-instructions verify"
            )
        return (
            f"WARNING: wire instructions {current.account_masked} (fingerprint "
            f"{current.short_fingerprint}) entered by {current.entered_by} are NOT VERIFIED: do "
            "not give them to anyone until another operator calls back (closing "
            "wire-instructions verify)"
        )


def wire_status(versions: Sequence[Version], as_of: datetime | None = None) -> WireStatus:
    """Where the instructions stand; at `as_of`, verifications recorded later do not count."""
    if as_of is not None:
        versions = [
            v
            if v.verified_at is None or v.verified_at <= as_of
            else replace(
                v, verified_by=None, verified_at=None, callback_number=None, spoke_with=None
            )
            for v in versions
            if v.entered_at <= as_of
        ]
    current = versions[-1] if versions else None
    verified = next((v for v in reversed(versions) if v.verified and v.present), None)
    return WireStatus(current, verified, len(versions))


def trusted_numbers(versions: Sequence[Version]) -> tuple[str, ...]:
    """The numbers a verification of the latest version may call: those of the last verified
    version before it; when none was ever verified, those of the first version (on the first
    load the numbers in that same file count)."""
    if not versions:
        return ()
    for version in reversed(versions[:-1]):
        if version.verified:
            return version.callback_numbers
    return versions[0].callback_numbers


@dataclass(frozen=True)
class Verification:
    """`closing wire-instructions verify --callback-number N --spoke-with NAME --by OPERATOR`."""

    callback_number: str
    spoke_with: str
    actor: str  # the authenticated actor: the service sets it from the database
    host: str
    note: str | None = None
    on_behalf_of: str | None = None  # `--by`, as typed: never counted by the two-person rule


def decide_instructions(
    company: Purchaser,
    standing: Standing,
    current: Version | None,
    proposed: Proposed,
    actor: str,
    host: str,
    now: datetime,
) -> Event | None:
    """The `instructions` event a deal file's wire instructions make, or None when nothing
    changed. Any change is unverified until `decide_verification` accepts a callback."""
    if not differs(current, proposed):
        return None
    numbers = ", ".join(proposed.callback_numbers) or "none"
    if proposed.fingerprint is None:
        if current is None or not current.present:
            note = f"callback numbers: {numbers}"
        else:
            note = f"wire instructions removed from the deal file; callback numbers: {numbers}"
    else:
        shown = Version(
            0,
            proposed.fingerprint,
            proposed.bank,
            proposed.aba,
            proposed.account_masked,
            proposed.account_name,
            proposed.swift,
            proposed.reference,
            proposed.callback_numbers,
            actor,
            now,
        )
        what = shown.summary()
        if current is not None and current.fingerprint == proposed.fingerprint:
            what = f"callback numbers changed (instructions unchanged: {what})"
        note = f"{what}; callback numbers: {numbers}; unverified until another operator calls back"
    fingerprint = short(proposed.fingerprint) if proposed.fingerprint else None
    return deal_event(
        company,
        standing.last_seq + 1,
        INSTRUCTIONS,
        now,
        actor,
        host,
        note,
        "fingerprint" if fingerprint else None,
        fingerprint,
    )


def decide_verification(
    company: Purchaser,
    standing: Standing,
    versions: Sequence[Version],
    request: Verification,
    now: datetime,
    zone: ZoneInfo,
) -> Event:
    """The `instructions_verified` event, or `RefusedError`: nothing to verify, already verified,
    the same operator who entered the change, or a number the database did not hold before it."""
    if not versions or not versions[-1].present:
        raise RefusedError(
            "cannot verify wire instructions: the deal file has none; add "
            "company.wire_instructions and load it with closing init"
        )
    current = versions[-1]
    fingerprint_text = current.short_fingerprint
    verification_refusal(versions, request, "wire instructions", zone)
    note = f"fingerprint {fingerprint_text}, {current.summary()}"
    if request.note:
        note += f"; {request.note.strip()}"
    return deal_event(
        company,
        standing.last_seq + 1,
        INSTRUCTIONS_VERIFIED,
        now,
        request.actor,
        request.host,
        note,
        "callback",
        f"{request.callback_number.strip()}, spoke with {request.spoke_with.strip()}",
        on_behalf(request.actor, request.on_behalf_of),
    )


def verification_refusal(
    versions: Sequence[Version], request: Verification, what: str, zone: ZoneInfo | None = None
) -> None:
    """`RefusedError` when the latest version cannot be verified by this callback: already
    verified, the same operator who entered the change, nobody spoken with, or a number the
    record did not hold before the change (`what`: the wire instructions, or a beneficiary)."""
    current = versions[-1]
    fingerprint_text = current.short_fingerprint
    if current.verified:
        assert current.verified_at is not None
        raise RefusedError(
            f"cannot verify {what}: {fingerprint_text} were already verified by "
            f"{current.verified_by} at "
            + (local(current.verified_at, zone) if zone else current.verified_at.isoformat())
        )
    if request.actor.strip().casefold() == current.entered_by.strip().casefold():
        raise RefusedError(
            f"cannot verify {what}: {current.entered_by} entered this change; another "
            "operator must call back and verify it (two-person rule); nothing recorded"
        )
    if not request.spoke_with.strip():
        raise RefusedError(f"cannot verify {what}: say whom you spoke with (--spoke-with)")
    trusted = trusted_numbers(versions)
    wanted = _numbers([request.callback_number])
    if not _PHONE_LIKE.match(phone_digits(request.callback_number)) or not set(wanted) <= set(
        _numbers(trusted)
    ):
        listed = ", ".join(trusted) or "none"
        raise RefusedError(
            f"cannot verify {what}: {request.callback_number!r} is not a callback "
            f"number the record held before this change; call one of: {listed}; nothing recorded"
        )


_PHONE_LIKE = re.compile(r"^\+?[0-9]{7,15}$")


def phone_digits(value: str) -> str:
    """`(949) 788-6700` -> `9497886700`; `+1 949 788 6700` -> `+19497886700`."""
    return re.sub(r"[\s().\-/]", "", value)


def payment_gate(status: WireStatus, unverified_ok: bool, what: str) -> str | None:
    """Before a payment is recorded: refused while a change of the instructions waits for its
    second person, unless the operator says so (`--unverified-instructions-ok`), which is then
    noted on the event (the returned text)."""
    if not status.pending:
        return None
    current = status.current
    assert current is not None
    if not unverified_ok:
        raise RefusedError(
            f"cannot {what}: the company's wire instructions ({current.account_masked}, "
            f"fingerprint {current.short_fingerprint}) entered by {current.entered_by} are not "
            "verified; another operator runs closing wire-instructions verify, or add "
            "--unverified-instructions-ok; nothing recorded"
        )
    return (
        f"recorded with unverified wire instructions {current.short_fingerprint} "
        "(--unverified-instructions-ok)"
    )


def is_company_account(account: str, version: Version, deal_slug: str) -> bool:
    """Whether `account` (from a bank file) is the account of `version`: its last four match the
    masked form and the instructions with it have the version's fingerprint."""
    if not version.present or version.account_masked is None:
        return False
    if mask_account(account, canonical=True) != version.account_masked:
        return False
    return fingerprint(version.instructions_with(account), deal_slug) == version.fingerprint


def company_missing(wires: WireStatus | None) -> frozenset[str]:
    """The company's details a step can need that the deal lacks: its wire instructions."""
    if wires is None or wires.present:
        return frozenset()
    return frozenset(COMPANY_DETAILS)
