"""Which purchaser a credit from the bank is from: hard gates first, then the ordering customer's
name, then references. One clear match is proposed; two close candidates, or none, are left for a
person with the reason.

The gates: the currency is the deal's (USD); the value date is inside the closing window; the
amount is what the purchaser still owes, or short or over it by at most the payment step's
tolerance, or (when the purchaser's wires may come in parts) less than what it owes. Then the
name the bank gives for the ordering customer is compared with the purchaser's Schedule 1 name
and its `aliases` (rapidfuzz, legal forms such as "Ltd." and "Limited Partnership" left out),
and the wire's references (OBI, remittance text, end-to-end id) are searched for the purchaser's
DWAC reference, name or aliases.

Pure: credits and what each purchaser owes in, proposals out. Credits are taken in file order and
a match changes what its purchaser owes for the credits after it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from closing.domain.bankfiles import Entry
from closing.domain.events import Purchaser
from closing.domain.money import DEAL_CURRENCY, format_money

NAME_FITS = 85  # a name scoring this much (of 100) looks like the purchaser
CLEAR_LEAD = 10  # with two candidates by name, the best must lead by this much
LEGAL_FORMS = {
    "ltd",
    "limited",
    "llc",
    "l",
    "p",
    "lp",
    "llp",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "partnership",
    "plc",
    "sa",
    "ag",
    "gmbh",
    "nv",
    "bv",
    "the",
}


class Owed(NamedTuple):  # tuples, as Proposal and _Candidate: one per purchaser or credit
    """A purchaser whose payment step is open, and what it still owes."""

    purchaser: Purchaser
    owed: Decimal
    partial_ok: bool = False  # part of the price may come now (step allows it, or it has before)
    imad: str | None = None  # the IMAD of the wire it reported sent (closing.domain.proposals)
    reported: str = ""  # that report, in words, for the mark's note


@dataclass(frozen=True)
class Rules:
    tolerance: Decimal
    first_day: date
    last_day: date
    currency: str = DEAL_CURRENCY


class Proposal(NamedTuple):
    """What to do with one credit: record it for `purchaser` (all of what it owes, or `partial`),
    or leave it for a person (`purchaser` None) with the reason."""

    entry: Entry
    purchaser: Purchaser | None
    reason: str
    partial: bool = False

    @property
    def matched(self) -> bool:
        return self.purchaser is not None


_NOT_WORD = re.compile(r"[^0-9a-z]+")


# Every byte but an ASCII digit or lower-case letter, to a space: the regex's work, for the common
# all-ASCII name, in one C call (a bytes table: twice as fast as str.translate's mapping).
_ASCII_NOT_WORD = bytes(
    c if ord("0") <= c <= ord("9") or ord("a") <= c <= ord("z") else ord(" ") for c in range(256)
)


def clean_name(name: str) -> str:
    """`BNC Bach International, Ltd.` -> `bnc bach international`."""
    # Cached by the folded text: a bank's `BNC BACH INTERNATIONAL LTD` is then worked out once
    # with Schedule 1's `BNC Bach International Ltd`.
    return _clean_folded(name.casefold())


@lru_cache(maxsize=65536)
def _clean_folded(folded: str) -> str:
    if folded.isascii():
        words = folded.encode().translate(_ASCII_NOT_WORD).decode().split()
    else:
        words = _NOT_WORD.sub(" ", folded).split()
    kept = [w for w in words if w not in LEGAL_FORMS]
    return " ".join(kept or words)


class _Names(NamedTuple):
    """A purchaser's names (Schedule 1's, then its aliases) and DWAC reference, each as written
    and cleaned for comparing (worked out once per purchaser, not once per credit)."""

    written: tuple[str, ...]
    cleaned: tuple[str, ...]
    reference: str | None
    reference_cleaned: str


def names_of(purchaser: Purchaser) -> _Names:
    aliases: list[str] = list(purchaser.details.get("aliases", ()))
    written = (purchaser.name, *aliases)
    reference = purchaser.detail("dwac.reference")
    cleaned_reference = clean_name(reference) if reference else ""
    return _Names(written, tuple(map(clean_name, written)), reference, cleaned_reference)


def name_score(customer: str | None, names: _Names) -> int:
    """0-100: how much the bank's ordering customer looks like any of the purchaser's names."""
    if not customer:
        return 0
    wanted = clean_name(customer)
    if wanted and wanted in names.cleaned:
        return 100  # what WRatio gives the same words, without working it out
    from rapidfuzz import fuzz

    return round(max((fuzz.WRatio(wanted, cleaned) for cleaned in names.cleaned), default=0))


def references_text(entry: Entry) -> str | None:
    """The wire's references cleaned into one ` word word ` text to look for names in."""
    if not entry.references:
        return None
    return " " + clean_name(" ".join(entry.references)) + " "


def reference_found(text: str | None, names: _Names) -> str | None:
    """A reference of the purchaser in the wire's references (`references_text`): its DWAC
    reference, or its name or an alias, word for word."""
    if text is None:
        return None
    reference = names.reference
    if reference and len(reference) >= 4 and f" {names.reference_cleaned} " in text:
        return f"DWAC reference {reference}"
    for name, cleaned in zip(names.written, names.cleaned, strict=True):
        if len(cleaned) >= 4 and f" {cleaned} " in text:
            return f"name {name!r} in the wire's references"
    return None


class _Book:
    """What each purchaser owes, searchable by amount, updated as credits are matched. A purchaser
    is in it once at most. `amounts` keeps every amount that was ever owed, sorted (taking one
    out of a long list, once per credit, cost more than skipping it): `by_amount` says who owes
    it now."""

    def __init__(self, owed: Sequence[Owed]) -> None:
        self.by_amount: dict[Decimal, list[Owed]] = {}
        self.owed_by: dict[int, Owed] = {}  # id(purchaser) -> what it owes
        # The reported wires; an IMAD two purchasers reported is neither's (`disputed`).
        self.by_imad: dict[str, Owed] = {}
        self.disputed: dict[str, list[str]] = {}
        for item in owed:
            if not item.imad:
                continue
            if item.imad in self.disputed:
                self.disputed[item.imad].append(item.purchaser.name)
            elif item.imad in self.by_imad:
                first = self.by_imad.pop(item.imad)
                self.disputed[item.imad] = [first.purchaser.name, item.purchaser.name]
            else:
                self.by_imad[item.imad] = item
        for item in owed:
            self.by_amount.setdefault(item.owed, []).append(item)
            self.owed_by[id(item.purchaser)] = item
        self.amounts = sorted(self.by_amount)
        self.listed = set(self.amounts)
        self.partial = [item for item in owed if item.partial_ok]
        self._names: dict[int, _Names] = {}

    def names(self, purchaser: Purchaser) -> _Names:
        found = self._names.get(id(purchaser))
        if found is None:
            found = self._names[id(purchaser)] = names_of(purchaser)
        return found

    def near(self, amount: Decimal, tolerance: Decimal) -> list[Owed]:
        start = bisect.bisect_left(self.amounts, amount - tolerance)
        end = bisect.bisect_right(self.amounts, amount + tolerance)
        owing = self.by_amount
        return [item for value in self.amounts[start:end] for item in owing.get(value, ())]

    def remove(self, item: Owed) -> None:
        same = self.by_amount[item.owed]
        same.remove(item)
        if not same:
            del self.by_amount[item.owed]
        if item.partial_ok:
            self.partial.remove(item)
        del self.owed_by[id(item.purchaser)]
        if item.imad and self.by_imad.get(item.imad) is item:
            del self.by_imad[item.imad]

    def add(self, item: Owed) -> None:
        if item.owed <= 0:
            return
        if item.owed not in self.listed:
            bisect.insort(self.amounts, item.owed)
            self.listed.add(item.owed)
        self.by_amount.setdefault(item.owed, []).append(item)
        self.owed_by[id(item.purchaser)] = item
        if item.partial_ok:
            self.partial.append(item)


class _Candidate(NamedTuple):
    owed: Owed
    partial: bool
    name: int
    reference: str | None


def match_credits(credits: Sequence[Entry], owed: Sequence[Owed], rules: Rules) -> list[Proposal]:
    """A proposal for each credit, in order."""
    book = _Book(owed)
    proposals = []
    for entry in credits:
        proposal = _match(entry, book, rules)
        proposals.append(proposal)
        if proposal.purchaser is not None:
            chosen = book.owed_by[id(proposal.purchaser)]
            book.remove(chosen)
            if proposal.partial:
                book.add(Owed(chosen.purchaser, chosen.owed - entry.amount, True))
    return proposals


def _match(entry: Entry, book: _Book, rules: Rules) -> Proposal:
    if entry.currency != rules.currency:
        return Proposal(entry, None, f"in {entry.currency}, not {rules.currency}")
    day = entry.value_date
    if day is not None and not rules.first_day <= day <= rules.last_day:
        return Proposal(
            entry,
            None,
            f"value date {day} is outside the closing window {rules.first_day} to {rules.last_day}",
        )
    if entry.imad and entry.imad in book.disputed:
        return Proposal(
            entry,
            None,
            f"the IMAD {entry.imad} was reported by {' and '.join(book.disputed[entry.imad])}; "
            "match it by hand",
        )
    reported = book.by_imad.get(entry.imad) if entry.imad and book.by_imad else None
    if reported is not None:
        return _by_imad(entry, reported, rules, book)
    whole = book.near(entry.amount, rules.tolerance)
    parts: list[Owed] = []
    if book.partial:
        seen = {id(item) for item in whole}
        parts = [
            item
            for item in book.partial
            if id(item) not in seen and entry.amount < item.owed - rules.tolerance
        ]
    if not whole and not parts:
        return Proposal(entry, None, f"no purchaser owes {format_money(entry.amount)}")
    customer = entry.ordering_customer
    text = references_text(entry)
    candidates = []
    for items, partial in ((whole, False), (parts, True)):
        for item in items:
            names = book.names(item.purchaser)
            score = name_score(customer, names)
            candidates.append(_Candidate(item, partial, score, reference_found(text, names)))
    fits = [c for c in candidates if c.name >= NAME_FITS or c.reference]
    shown = repr(customer) if customer else "(the bank gives no name)"
    if not fits:
        if len(candidates) == 1:
            only = candidates[0]
            return Proposal(
                entry,
                None,
                f"the amount fits {only.owed.purchaser.name} but the ordering customer {shown} "
                f"does not look like it (name {only.name}/100) and no reference names it",
            )
        return Proposal(
            entry,
            None,
            f"{len(candidates)} purchasers could be owed {format_money(entry.amount)}; the "
            f"ordering customer {shown} "
            "looks like none of them",
        )
    chosen: _Candidate | None = None
    if len(fits) == 1:
        chosen = fits[0]
    else:
        by_reference = [c for c in fits if c.reference]
        ranked = sorted(fits, key=lambda c: -c.name)
        if len(by_reference) == 1:
            chosen = by_reference[0]
        elif ranked[0].name - ranked[1].name >= CLEAR_LEAD and not by_reference:
            chosen = ranked[0]
        else:
            first, second = ranked[0], ranked[1]
            return Proposal(
                entry,
                None,
                f"ambiguous: {first.owed.purchaser.name} (name {first.name}/100) and "
                f"{second.owed.purchaser.name} (name {second.name}/100) could both have sent "
                f"{format_money(entry.amount)} as {shown}; match it by hand",
            )
    return Proposal(entry, chosen.owed.purchaser, _why(entry, chosen, rules), chosen.partial)


def _why(entry: Entry, chosen: _Candidate, rules: Rules) -> str:
    owed = chosen.owed.owed
    if chosen.partial:
        amount = f"part of {format_money(owed)} owed"
    elif entry.amount == owed:
        amount = "amount owed"
    else:
        difference = entry.amount - owed
        side = "short" if difference < 0 else "over"
        amount = (
            f"{format_money(abs(difference))} {side} (tolerance {format_money(rules.tolerance)})"
        )
    how = f"name {chosen.name}/100" if chosen.name >= NAME_FITS else f"{chosen.reference}"
    if chosen.reference and chosen.name >= NAME_FITS:
        how += f", {chosen.reference}"
    return f"{how}, {amount}"


def _by_imad(entry: Entry, item: Owed, rules: Rules, book: _Book) -> Proposal:
    """A credit carrying the IMAD a purchaser reported: matched by it first, if the amount is
    what it owes (within the tolerance) or a part it may send, unless the bank names as the
    ordering customer another purchaser owing that amount (a report is the purchaser's word;
    the bank's file is the bank's)."""
    name, owed = item.purchaser.name, item.owed
    customer = entry.ordering_customer
    if customer and name_score(customer, book.names(item.purchaser)) < NAME_FITS:
        for other in book.near(entry.amount, rules.tolerance):
            score = name_score(customer, book.names(other.purchaser))
            if other is not item and score >= NAME_FITS:
                return Proposal(
                    entry,
                    None,
                    f"the IMAD {entry.imad} is the one {name} reported, but the bank names the "
                    f"ordering customer {customer!r}, which looks like {other.purchaser.name} "
                    f"(name {score}/100); match it by hand",
                )
    how = f"IMAD {entry.imad} as {name} reported it ({item.reported})"
    if abs(entry.amount - owed) <= rules.tolerance:
        return Proposal(entry, item.purchaser, f"{how}, amount owed")
    if item.partial_ok and entry.amount < owed:
        return Proposal(entry, item.purchaser, f"{how}, part of {format_money(owed)} owed", True)
    return Proposal(
        entry,
        None,
        f"the IMAD {entry.imad} is the one {name} reported, but {format_money(entry.amount)} is "
        f"not the {format_money(owed)} it owes; match it by hand",
    )
