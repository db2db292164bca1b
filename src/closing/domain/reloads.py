"""What a reload of a deal file changes, in words, and which changes would lose sight of recorded
facts (and so need `closing init --accept-changes`).

Pure: compares the stored terms and purchasers with the file's, given which purchasers have
events and which have a recorded payment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, tzinfo
from decimal import Decimal
from typing import Any

from closing.domain.deal import Deal
from closing.domain.dealfile.schema import DealTerms, PurchaserSpec
from closing.domain.events import Event, Purchaser, detail_of
from closing.domain.money import format_money
from closing.domain.terms import DETAIL_NAMES
from closing.domain.text import plural


@dataclass(frozen=True)
class StoredPurchaser:
    """A purchaser as the database has it, with what is recorded for it."""

    slug: str
    name: str
    purchase_price: Decimal
    events: int
    paid: Decimal  # what its recorded wires and receipts add up to
    shares: int = 0
    warrant_shares: int = 0
    details: Mapping[str, Any] = field(default_factory=dict)  # notices, DWAC, ... as stored
    done: frozenset[str] = frozenset()  # the steps it has done
    active: bool = True  # False: taken off Schedule 1 by an earlier reload (its record kept)


@dataclass(frozen=True)
class Review:
    changes: list[str]  # every change, in words
    risky: list[str]  # the ones that lose sight of recorded facts


def term_changes(old: DealTerms, new: DealTerms) -> list[str]:
    """`closing_date: 2002-06-07 -> 2002-06-10`, `cutoff.time: 17:00 -> 18:00`,
    `steps: added prospectus_filed; wired changed (requires, payment)`."""
    before = old.model_dump()
    after = new.model_dump()
    changes: list[str] = []
    for key in after:
        if key in ("steps", "documents"):  # lists of things with ids
            changes += _step_changes(before.get(key, []), after[key], key)
        else:
            changes += _leaf_changes(key, before.get(key), after[key])
    return changes


def _leaf_changes(path: str, old: Any, new: Any) -> list[str]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in [*old, *(k for k in new if k not in old)]:
            found += _leaf_changes(f"{path}.{key}", old.get(key), new.get(key))
        return found
    return [f"{path}: {_shown(old)} -> {_shown(new)}"]


def _shown(value: Any) -> str:
    """A value as the deal file writes it: times `17:00` (seconds only when there are some)."""
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    if isinstance(value, time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _step_changes(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]], noun: str = "steps"
) -> list[str]:
    before = {step["id"]: step for step in old}
    after = {step["id"]: step for step in new}
    added = [step_id for step_id in after if step_id not in before]
    removed = [step_id for step_id in before if step_id not in after]
    changed = []
    for step_id, step in after.items():
        if step_id in before and before[step_id] != step:
            keys = [key for key in step if before[step_id].get(key) != step[key]]
            changed.append(f"{step_id} ({', '.join(keys)})")
    parts = []
    if added:
        parts.append(f"{noun} added: {', '.join(added)}")
    if removed:
        parts.append(f"{noun} removed: {', '.join(removed)}")
    if changed:
        parts.append(f"{noun} changed: {'; '.join(changed)}")
    if not parts and [s["id"] for s in old] != [s["id"] for s in new]:
        parts.append(f"{noun} reordered")
    return parts


def left_behind(purchaser: StoredPurchaser) -> str:
    """Why a reload that drops a purchaser with events is refused, and how a renamed one keeps
    its record: the file names it by its old slug."""
    received = f" and {format_money(purchaser.paid)} received" if purchaser.paid else ""
    return (
        f"{purchaser.name} ({purchaser.slug}) would leave the board with "
        f"{plural(purchaser.events, 'recorded event')}{received} (a removed or renamed "
        f"purchaser; if renamed, add `slug: {purchaser.slug}` to it in the deal file to keep "
        "its record)"
    )


def review(
    old: DealTerms,
    new: DealTerms,
    stored: Sequence[StoredPurchaser],
    specs: Sequence[PurchaserSpec],
    details: Callable[[PurchaserSpec], Mapping[str, Any]],
) -> Review:
    """Every change a reload makes, and which of them need `--accept-changes`: a different deal
    over the same slug, a purchaser with events removed (or its slug renamed), a price changed
    after money was recorded (a purchaser taken off and put back included), and so its shares
    or warrant shares, a detail changed that a done step used.
    `details`: a purchaser's details as the file gives them (as stored)."""
    changes = term_changes(old, new)
    risky: list[str] = []
    if (old.title, old.agreement_date, old.company.name) != (
        new.title,
        new.agreement_date,
        new.company.name,
    ):
        risky.append(
            f"a different deal over {old.slug}: {old.title!r} of {old.agreement_date} becomes "
            f"{new.title!r} of {new.agreement_date}"
        )
    by_slug = {spec.key: spec for spec in specs}
    needs = {step.id: step.needs for step in old.steps if step.needs}
    for purchaser in stored:
        spec = by_slug.get(purchaser.slug)
        if spec is None:
            if purchaser.events and purchaser.active:
                risky.append(left_behind(purchaser))
            continue
        if spec.purchase_price != purchaser.purchase_price and purchaser.paid:
            risky.append(
                f"{purchaser.name}: purchase price {format_money(purchaser.purchase_price)} -> "
                f"{format_money(spec.purchase_price)} after {format_money(purchaser.paid)} was "
                "recorded as received"
            )
        if purchaser.events:
            risky += _recorded_terms_changed(purchaser, spec, needs, details)
    return Review(changes, risky)


def _recorded_terms_changed(
    purchaser: StoredPurchaser,
    spec: PurchaserSpec,
    needs: Mapping[str, Sequence[str]],
    details: Callable[[PurchaserSpec], Mapping[str, Any]],
) -> list[str]:
    """What a reload would change under a purchaser's record: what it buys once money came in
    for it (as its price: the shares credited and the warrant delivered carry them), and a
    notice or DWAC detail a done step was carried out with. (Its name may change: a typo fixed
    with `slug:` keeping its record; the revision says so.)"""
    found = []
    if purchaser.paid:
        recorded = f"after {format_money(purchaser.paid)} was recorded as received"
        for label, before, after in (
            ("shares", purchaser.shares, spec.shares),
            ("warrant shares", purchaser.warrant_shares, spec.warrant_shares),
        ):
            if before != after:
                found.append(f"{purchaser.name}: {label} {before:,} -> {after:,} {recorded}")
    new = details(spec)
    for step_id in sorted(purchaser.done & needs.keys()):
        for need in needs[step_id]:
            was = detail_of(purchaser.details, need)
            if was and was != detail_of(new, need):
                found.append(
                    f"{purchaser.name}: {DETAIL_NAMES.get(need, need)} changed after {step_id} "
                    "was recorded done with the one before"
                )
    return found


def detail_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The dotted names of the details a reload changes (`dwac.account_number`,
    `notices.facsimile`, `time_zone`), never their values (an account number among them)."""
    changed = []
    for section in sorted({*old, *new}):
        before, after = old.get(section), new.get(section)
        if before == after:
            continue
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            keys = sorted({*before, *after})
            changed += [f"{section}.{key}" for key in keys if before.get(key) != after.get(key)]
        else:
            changed.append(section)
    return changed


SHOWN = 10  # judged deadlines listed one by one; the rest counted


@dataclass(frozen=True)
class Judged:
    """A change a recorded fact was judged against: in words, and the mark judged (whose
    deadline, `before`, the board keeps for it once the change is accepted)."""

    text: str
    mark: Event | None = None
    before: datetime | None = None


def judged_changes(
    old: Deal,
    new: Deal,
    parties: Sequence[tuple[Purchaser, Mapping[str, Event], Decimal]],
    now: datetime,
) -> list[Judged]:
    """The changes a recorded fact was judged against, which a reload may not make silently:
    a deadline of an open step that has passed (under the old terms or the new), a deadline a
    recorded mark is late against under either (an on-time mark that stays on time is not
    judged again), a payment's tolerance once money was recorded. `parties`
    are each party with its done steps and what it has paid."""
    found: list[Judged] = []
    for party, done, paid in parties:
        steps = new.terms.company_steps if party.is_company else new.terms.purchaser_steps
        for step in steps:
            try:
                before_step = old.terms.step(step.id)
            except KeyError:
                continue
            before = old.deadline(before_step, done, party)
            after = new.deadline(step, done, party)
            mark = done.get(step.id)
            zone = new.step_zone(step, party)
            judged = mark is not None and mark.occurred_at > min(before, after)  # late either way
            if before != after and (judged or (mark is None and min(before, after) <= now)):
                why = (
                    f"the mark of {_moment(mark.occurred_at, zone)} was judged against it"
                    if mark is not None
                    else "it has passed"
                )
                text = (
                    f"{party.name}: {step.id} due {_moment(before, zone)} -> "
                    f"{_moment(after, zone)} ({why})"
                )
                found.append(Judged(text, mark, before))
            if step.is_payment and paid and before_step.tolerance != step.tolerance:
                found.append(
                    Judged(
                        f"{party.name}: {step.id} tolerance {format_money(before_step.tolerance)}"
                        f" -> {format_money(step.tolerance)} after money was recorded"
                    )
                )
    return found


def judged_words(found: Sequence[Judged]) -> list[str]:
    """The judged changes as a refusal lists them: the first few, and how many more."""
    texts = [judged.text for judged in found]
    if len(texts) > SHOWN:
        texts = [*texts[:SHOWN], f"... and {len(texts) - SHOWN:,} more deadlines judged"]
    return texts


def _moment(value: datetime, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")
