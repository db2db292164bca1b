"""Which deadline alerts are due: a pure function of the deal, its events, the ledger and a time.

Each step that can be done now (its prerequisites are done, it is not) has occurrences: one per
lead time before its deadline, one at the deadline, and the overdue repeats after it. An
occurrence is identified by (purchaser, step, rule, deadline): a changed deadline makes new
occurrences, and one already in the ledger never fires again. Several occurrences of one step due
at once (the daemon was down, or a late wire just made the fax actionable) collapse into one
alert about the latest, and the rest are recorded as superseded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from closing.deadlines import Deal
from closing.deal import DETAIL_NAMES, NEEDABLE_DETAILS, AlertRules, DealTerms, Step
from closing.events import Event, Purchaser, replay
from closing.machine import ProgressMachine, Refusal
from closing.marks import mark_command
from closing.text import neutral
from closing.timefmt import duration, local

AT_DEADLINE = "deadline"
OVERDUE_PREFIX = "overdue-"

# (purchaser id, step id, rule, deadline): the ledger's unique key within a deal.
Key = tuple[int, str, str, datetime]


@dataclass(frozen=True)
class Occurrence:
    rule: str
    fire_at: datetime


@dataclass(frozen=True)
class DueAlert:
    purchaser: Purchaser
    step: Step
    rule: str
    deadline: datetime
    due_at: datetime
    superseded: tuple[Occurrence, ...] = ()

    @property
    def key(self) -> Key:
        return (self.purchaser.id, self.step.id, self.rule, self.deadline)


@dataclass(frozen=True)
class Plan:
    """What to send now, and when the next occurrence falls due (None: nothing left)."""

    due: list[DueAlert]
    next_at: datetime | None


def schedule(rules: AlertRules) -> list[tuple[str, timedelta]]:
    """Each rule's name and its offset from a deadline, earliest first."""
    found = [(f"before-{duration(lead, style='exact')}", -lead) for lead in rules.before]
    if rules.at_deadline:
        found.append((AT_DEADLINE, timedelta(0)))
    if rules.overdue is not None:
        every = rules.overdue.every
        found += [(f"{OVERDUE_PREFIX}{n}", every * n) for n in range(1, rules.overdue.times + 1)]
    return sorted(found, key=lambda rule: rule[1])


def occurrences(rules: AlertRules, deadline: datetime) -> list[Occurrence]:
    """Every alert time of one step's deadline, earliest first."""
    return [Occurrence(rule, deadline + offset) for rule, offset in schedule(rules)]


def plan_alerts(
    deal: Deal,
    purchasers: Iterable[Purchaser],
    events: dict[int, list[Event]],
    now: datetime,
    ledger: set[Key],
    company: Purchaser | None = None,
) -> Plan:
    """The alerts due at `now` that the ledger has not seen, and the next time one falls due.

    Only open steps whose prerequisites are done or waived get alerts (blocked ones included:
    they need someone's attention); nothing for waived steps or withdrawn purchasers; the
    company's steps alert too. Written for a wake-up over thousands of purchasers: the rule
    offsets and the ledger grouped by deadline are worked out once, and deadlines that do not
    depend on the purchaser come from the deal's cache."""
    terms = deal.terms
    # Each step's rule offsets (its own `alerts`, else the deal's), worked out once.
    offsets_of = {step.id: schedule(terms.alerts.for_step(step)) for step in terms.steps}
    quiet = terms.alerts.quiet_hours
    zone = terms.zone
    fired: dict[tuple[int, str, datetime], set[str]] = {}
    for purchaser_id, step_id, rule, deadline in ledger:
        fired.setdefault((purchaser_id, step_id, deadline), set()).add(rule)
    nothing_fired: set[str] = set()
    due: list[DueAlert] = []
    next_at: datetime | None = None
    company_states: dict[str, str] = {}
    parties: list[tuple[Purchaser, ProgressMachine, list[Step]]] = []
    if company is not None:
        company_states = replay(deal.company_machine, events.get(company.id, [])).states
        parties.append((company, deal.company_machine, terms.company_steps))
    machine = deal.machine
    steps = terms.purchaser_steps
    parties += [(purchaser, machine, steps) for purchaser in purchasers]
    for party, party_machine, party_steps in parties:
        history = events.get(party.id)
        try:
            standing = replay(party_machine, history) if history else None
        except Refusal:  # an edited log: the board and closing verify say so; no guessing here
            continue
        if standing is not None and standing.withdrawn is not None:
            continue
        own = standing.states if standing else {}
        states = {**company_states, **own} if company_states else own
        done = standing.done if standing else {}
        for step in party_steps:
            if not party_machine.ready(states, step.id):
                continue
            deadline = deal.deadline(step, done, None if party.is_company else party)
            seen = fired.get((party.id, step.id, deadline), nothing_fired)
            ready: list[Occurrence] = []
            for rule, offset in offsets_of[step.id]:
                if rule in seen:
                    continue
                fire_at = deadline + offset
                repeat = rule.startswith(OVERDUE_PREFIX)
                if repeat and quiet is not None and quiet.covers(fire_at.astimezone(zone).time()):
                    continue  # no repeats in quiet hours: this one is not owed
                if fire_at <= now:
                    ready.append(Occurrence(rule, fire_at))
                else:
                    if next_at is None or fire_at < next_at:
                        next_at = fire_at
                    break  # offsets are in time order: the rest are later still
            if ready:
                latest = ready[-1]
                due.append(
                    DueAlert(party, step, latest.rule, deadline, latest.fire_at, tuple(ready[:-1]))
                )
    return Plan(due, next_at)


@dataclass(frozen=True)
class AlertText:
    title: str
    body: str
    key: str


def alert_text(
    terms: DealTerms,
    alert: DueAlert,
    now: datetime,
    warning: str | None = None,
    company_missing: frozenset[str] = frozenset(),
) -> AlertText:
    """What the alert says: deal, purchaser, step, deadline in the deal's zone, time left or late
    by, and the exact command to run when the step is done; `warning` (unverified wire
    instructions) first when there is one, and the company's details the step needs that the
    deal lacks."""
    zone = terms.zone
    left = alert.deadline - now
    if left > timedelta(0):
        when = f"cutoff {local(alert.deadline, zone)}, {duration(left)} left"
        headline = f"cutoff in {duration(left)}"
    elif left > -timedelta(minutes=1):
        when = f"cutoff {local(alert.deadline, zone)}, now"
        headline = "cutoff now"
    else:
        when = f"cutoff {local(alert.deadline, zone)}, late by {duration(left)}"
        headline = f"late by {duration(left)}"
    purchaser = alert.purchaser
    step = alert.step
    slug = "company" if purchaser.is_company else purchaser.slug
    key = (
        f"{terms.slug}/{slug}/{step.id}/{alert.rule}/"
        f"{alert.deadline.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )
    # Names and titles are data: shown neutrally (closing.text), so that none can break a line of
    # the body or the log, or reach a terminal or a mail reader as a control sequence.
    name, step_title = neutral(purchaser.name), neutral(step.title)
    title = f"{name}: {step_title} not done, {headline}"
    lines = [neutral(warning)] if warning else []
    lines += [
        f"Deal: {neutral(terms.slug)} ({neutral(terms.title)})",
        f"Company: {name}" if purchaser.is_company else f"Purchaser: {name}",
        f"Step: {step_title} ({neutral(step.id)}) is not done",
        f"Deadline: {when}",
    ]
    missing = [
        NEEDABLE_DETAILS[need]
        for need in step.needs
        if need in NEEDABLE_DETAILS and not purchaser.detail(need)
    ]
    if missing:
        lines.append(f"Missing: the deal file has no {', '.join(missing)} for this purchaser")
    absent = [DETAIL_NAMES[need] for need in step.needs if need in company_missing]
    if absent:
        lines.append(f"Missing: the deal file has no {', '.join(absent)}")
    if alert.superseded:
        lines.append(
            f"Also covers {len(alert.superseded)} earlier alerts of this step that came due "
            "at the same time (no daemon was running, or the step has just become possible)"
        )
    lines += [
        f"When it is done: {mark_command(terms.slug, slug, step.id)}",
        f"Alert: {key}",
    ]
    return AlertText(title, "\n".join(lines), key)
