"""The cross-checks of a deal file, run on every part that did validate: the steps' ids, `requires`
graph and `due` order, the closing date against the calendars, and Schedule 1 (unique purchasers,
shares and warrant shares against each purchase price)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from closing.domain.dealfile.located import Loc, Located
from closing.domain.dealfile.schema import (
    RESERVED_STEP_IDS,
    BusinessDays,
    Due,
    PurchaserSpec,
    Securities,
    Step,
)
from closing.domain.money import format_money
from closing.domain.terms import CLOSING, COMPANY


def check_steps(located: Located, steps: list[Step], key_dates: Collection[str] = ()) -> None:
    seen: dict[str, int] = {}
    for index, step in enumerate(steps):
        if step.id in RESERVED_STEP_IDS:
            located.problem(
                ("steps", index, "id"), f"step id {step.id!r} is reserved; choose another id"
            )
        elif step.id in seen:
            located.problem(
                ("steps", index, "id"),
                f"duplicate step {step.id!r} (also steps[{seen[step.id]}])",
            )
        else:
            seen[step.id] = index
    party = {step.id: step.party for step in steps}
    for index, step in enumerate(steps):
        where: Loc = ("steps", index)
        for needed in step.requires:
            if needed not in seen:
                located.problem(
                    (*where, "requires"), f"step {step.id!r} requires unknown step {needed!r}"
                )
            elif step.for_company and party[needed] != COMPANY:
                located.problem(
                    (*where, "requires"),
                    f"company step {step.id!r} cannot require {needed!r}, a step of each purchaser",
                )
        held = step.held_until
        if held is not None and (held == step.id or held not in seen or party[held] != step.party):
            located.problem(
                (*where, "held_until"),
                f"step {step.id!r} is held until {held!r}, which is not another step of the "
                "same party",
            )
        if isinstance(step.due, Due) and step.due.anchor != CLOSING:
            _check_anchor(located, step, index, seen, party, key_dates)
        if step.for_company:
            uses_purchaser = step.per_purchaser_deadline
            if step.needs or step.is_payment or uses_purchaser:
                located.problem(
                    where,
                    f"company step {step.id!r} cannot use purchaser details, payment or the "
                    "purchaser's calendar or zone",
                )
    payments = [index for index, step in enumerate(steps) if step.is_payment]
    for index in payments[1:]:
        located.problem(
            ("steps", index, "payment"),
            f"only one step can be the payment (also steps[{payments[0]}])",
        )
    for index, step in enumerate(steps):
        if step.id in key_dates:
            located.problem(
                ("steps", index, "id"),
                f"step id {step.id!r} is also a key date; a due: could mean either, rename one",
            )
    _check_before_chains(located, steps, seen)
    cycle = _find_cycle(steps)
    if cycle:
        first = seen[cycle[0]]
        located.problem(
            ("steps", first, "requires"),
            f"steps form a cycle: {' -> '.join([*cycle, cycle[0]])}",
        )


def _check_anchor(
    located: Located,
    step: Step,
    index: int,
    seen: dict[str, int],
    party: Mapping[str, str],
    key_dates: Collection[str],
) -> None:
    """A `due:` counts from the closing, a key date, or another step of the same party."""
    assert isinstance(step.due, Due)
    anchor = step.due.anchor
    where: Loc = ("steps", index, "due")
    word = "after" if step.due.after is not None else "before"
    if anchor in key_dates:
        return
    if anchor == step.id:
        located.problem(
            where,
            f"step {step.id!r} is due {word} itself; use {word}: closing, a key date or "
            "another step",
        )
    elif anchor not in seen:
        dates = ", ".join([CLOSING, *key_dates])
        located.problem(
            where,
            f"step {step.id!r} is due {word} {anchor!r}, which is neither a step nor a key date "
            f"({dates})",
        )
    elif party[anchor] != step.party:
        located.problem(
            where,
            f"step {step.id!r} is due {word} {anchor!r}, a step of another party; use "
            f"{word}: closing, a key date or a step of the same party",
        )


def _check_before_chains(located: Located, steps: list[Step], seen: dict[str, int]) -> None:
    """A step due before another counts from that one's deadline: the chain must end."""
    before = {
        step.id: step.due.before
        for step in steps
        if isinstance(step.due, Due) and step.due.before in seen
    }
    reported: set[frozenset[str]] = set()
    for start in before:
        chain = [start]
        while chain[-1] in before:
            following = before[chain[-1]]
            assert following is not None
            if following in chain:
                if following == start and frozenset(chain) not in reported:
                    reported.add(frozenset(chain))
                    located.problem(
                        ("steps", seen[start], "due"),
                        f"steps are due before each other: {' -> '.join([*chain, start])}",
                    )
                break
            chain.append(following)


def _find_cycle(steps: list[Step]) -> list[str]:
    """A cycle of `requires` as [a, b, ...] where a requires b ..., starting at the step that
    comes first in the file; [] when there is none."""
    from graphlib import CycleError, TopologicalSorter

    graph: dict[str, list[str]] = {}
    for step in steps:  # a duplicate id is reported on its own; its requires are not merged in
        graph.setdefault(step.id, [needed for needed in step.requires])
    known = {node: [n for n in needed if n in graph] for node, needed in graph.items()}
    try:
        TopologicalSorter(known).prepare()
    except CycleError as error:
        # graphlib lists each node before the one that requires it; we say "a requires b".
        cycle: list[str] = list(reversed(error.args[1][1:]))
        order = list(graph)
        first = min(range(len(cycle)), key=lambda i: order.index(cycle[i]))
        return cycle[first:] + cycle[:first]
    return []


def check_dates(
    located: Located, agreement_date: date, closing_date: date, business_days: BusinessDays
) -> None:
    if agreement_date > closing_date:
        located.problem(
            ("agreement_date",),
            f"agreement_date {agreement_date} is after closing_date {closing_date}",
        )
    day = closing_date
    if day.weekday() >= 5 or day in business_days.extra_closures:
        located.problem(
            ("closing_date",),
            f"closing_date {day} is not a business day ({day.strftime('%A')}"
            + (", a closure added by the deal file)" if day.weekday() < 5 else ")"),
        )
    else:
        from closing.domain.calendar import closures_for

        closed = closures_for(business_days.calendars, [day.year]).get(day)
        if closed:
            located.problem(
                ("closing_date",), f"closing_date {day} is not a business day ({closed})"
            )


def check_schedule_1(
    located: Located, securities: Securities | None, purchasers: list[tuple[int, PurchaserSpec]]
) -> None:
    by_key: dict[str, tuple[Loc, str]] = {}  # where each slug and name was first given
    by_name: dict[str, tuple[Loc, str]] = {}
    for index, purchaser in purchasers:
        loc: Loc = ("purchasers", index)
        name_key = purchaser.name.casefold()
        duplicate_name = name_key in by_name
        if duplicate_name:
            located.problem(
                (*loc, "name"),
                f"duplicate purchaser {purchaser.name!r} (also "
                f"{located.place(*by_name[name_key])})",
            )
        else:
            by_name[name_key] = (loc, "name")
        field = "slug" if purchaser.slug else "name"
        if purchaser.key in by_key:
            if not duplicate_name:
                located.problem(
                    (*loc, field),
                    f"duplicate purchaser slug {purchaser.key!r} (also "
                    f"{located.place(*by_key[purchaser.key])}); give one of them a distinct slug",
                )
        else:
            by_key[purchaser.key] = (loc, field)
    if securities is None:
        return
    price = securities.common_stock.price_per_share
    coverage = securities.warrant.coverage
    for index, purchaser in purchasers:
        loc = ("purchasers", index)
        expected = purchaser.shares * price
        over = purchaser.purchase_price - expected
        if not Decimal(0) <= over < price:
            bought = int((purchaser.purchase_price / price).to_integral_value(rounding=ROUND_FLOOR))
            located.problem(
                (*loc, "shares"),
                f"{purchaser.name}: {purchaser.shares:,} shares x ${price} = ${expected:,} "
                f"{'exceeds' if over < 0 else 'falls short of'} the purchase price "
                f"{format_money(purchaser.purchase_price)}; shares are the whole number the "
                f"price buys: {bought:,}",
            )
        warrants = int((purchaser.shares * coverage).to_integral_value(rounding=ROUND_FLOOR))
        if purchaser.warrant_shares != warrants:
            located.problem(
                (*loc, "warrant_shares"),
                f"{purchaser.name}: warrant shares {purchaser.warrant_shares:,} should be "
                f"{warrants:,} ({purchaser.shares:,} shares x {coverage} coverage, rounded down)",
            )
