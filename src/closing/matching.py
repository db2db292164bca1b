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

from closing.bankfiles import Entry
from closing.events import Purchaser
from closing.money import format_money

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


@dataclass(frozen=True)
class Owed:
    """A purchaser whose payment step is open, and what it still owes."""

    purchaser: Purchaser
    owed: Decimal
    partial_ok: bool = False  # part of the price may come now (step allows it, or it has before)


@dataclass(frozen=True)
class Rules:
    tolerance: Decimal
    first_day: date
    last_day: date
    currency: str = "USD"


@dataclass(frozen=True)
class Proposal:
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


# Every ASCII character but a digit or a lower-case letter, to a space: the regex's work, for the
# common all-ASCII name, in one C call.
_ASCII_NOT_WORD = str.maketrans(
    {c: " " for c in map(chr, range(128)) if not ("0" <= c <= "9" or "a" <= c <= "z")}
)


@lru_cache(maxsize=65536)
def clean_name(name: str) -> str:
    """`BNC Bach International, Ltd.` -> `bnc bach international`."""
    folded = name.casefold()
    if folded.isascii():
        words = folded.translate(_ASCII_NOT_WORD).split()
    else:
        words = _NOT_WORD.sub(" ", folded).split()
    kept = [w for w in words if w not in LEGAL_FORMS]
    return " ".join(kept or words)


def name_score(customer: str | None, names: Sequence[str]) -> int:
    """0-100: how much the bank's ordering customer looks like any of `names`."""
    if not customer:
        return 0
    from rapidfuzz import fuzz

    wanted = clean_name(customer)
    return round(max((fuzz.WRatio(wanted, clean_name(name)) for name in names), default=0))


def names_of(purchaser: Purchaser) -> list[str]:
    aliases: list[str] = list(purchaser.details.get("aliases", ()))
    return [purchaser.name, *aliases]


def reference_found(entry: Entry, purchaser: Purchaser) -> str | None:
    """A reference of the purchaser in the wire's references: its DWAC reference, or its name or
    an alias, word for word."""
    if not entry.references:
        return None
    text = " " + clean_name(" ".join(entry.references)) + " "
    reference = purchaser.detail("dwac.reference")
    if reference and len(reference) >= 4 and f" {clean_name(reference)} " in text:
        return f"DWAC reference {reference}"
    for name in names_of(purchaser):
        cleaned = clean_name(name)
        if len(cleaned) >= 4 and f" {cleaned} " in text:
            return f"name {name!r} in the wire's references"
    return None


class _Book:
    """What each purchaser owes, searchable by amount, updated as credits are matched."""

    def __init__(self, owed: Sequence[Owed]) -> None:
        self.by_amount: dict[Decimal, list[Owed]] = {}
        for item in owed:
            self.by_amount.setdefault(item.owed, []).append(item)
        self.amounts = sorted(self.by_amount)
        self.partial = [item for item in owed if item.partial_ok]

    def near(self, amount: Decimal, tolerance: Decimal) -> list[Owed]:
        start = bisect.bisect_left(self.amounts, amount - tolerance)
        end = bisect.bisect_right(self.amounts, amount + tolerance)
        return [item for value in self.amounts[start:end] for item in self.by_amount[value]]

    def remove(self, item: Owed) -> None:
        same = self.by_amount[item.owed]
        same.remove(item)
        if not same:
            del self.by_amount[item.owed]
            del self.amounts[bisect.bisect_left(self.amounts, item.owed)]
        if item.partial_ok:
            self.partial.remove(item)

    def add(self, item: Owed) -> None:
        if item.owed <= 0:
            return
        if item.owed not in self.by_amount:
            bisect.insort(self.amounts, item.owed)
        self.by_amount.setdefault(item.owed, []).append(item)
        if item.partial_ok:
            self.partial.append(item)


@dataclass(frozen=True)
class _Candidate:
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
            chosen = next(
                item
                for item in [*book.near(entry.amount, rules.tolerance), *book.partial]
                if item.purchaser is proposal.purchaser
            )
            book.remove(chosen)
            if proposal.partial:
                book.add(Owed(chosen.purchaser, chosen.owed - entry.amount, True))
    return proposals


def _match(entry: Entry, book: _Book, rules: Rules) -> Proposal:
    amount = format_money(entry.amount)
    if entry.currency != rules.currency:
        return Proposal(entry, None, f"in {entry.currency}, not {rules.currency}")
    day = entry.value_date
    if day is not None and not rules.first_day <= day <= rules.last_day:
        return Proposal(
            entry,
            None,
            f"value date {day} is outside the closing window {rules.first_day} to {rules.last_day}",
        )
    whole = book.near(entry.amount, rules.tolerance)
    seen = {id(item) for item in whole}
    parts = [
        item
        for item in book.partial
        if id(item) not in seen and entry.amount < item.owed - rules.tolerance
    ]
    if not whole and not parts:
        return Proposal(entry, None, f"no purchaser owes {amount}")
    customer = entry.ordering_customer
    candidates = [
        _Candidate(
            item,
            partial,
            name_score(customer, names_of(item.purchaser)),
            reference_found(entry, item.purchaser),
        )
        for items, partial in ((whole, False), (parts, True))
        for item in items
    ]
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
            f"{len(candidates)} purchasers could be owed {amount}; the ordering customer {shown} "
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
                f"{amount} as {shown}; match it by hand",
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
