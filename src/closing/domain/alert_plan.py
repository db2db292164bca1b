"""Which deadline alerts are due: a pure function of the deal, its events, the ledger and a time.

Each step that can be done now (its prerequisites are done, it is not) has occurrences: one per
lead time before its deadline, one at the deadline, and the overdue repeats after it. An
occurrence is identified by (purchaser, step, rule, deadline): a changed deadline makes new
occurrences, and one already in the ledger never fires again. Several occurrences of one step due
at once (the daemon was down, or a late wire just made the fax actionable) collapse into one
alert about the latest, and the rest are recorded as superseded. Such a caught-up alert waits for
the step's next occurrence when that one falls due within FOLD_WITHIN (a minute), and goes out
folded into it: one alert saying about 30 minutes left at 16:30, not a 2-hour one caught up at
16:29:40 and the 30-minute one twenty seconds later.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from closing.domain.cutoffs import FEDWIRE, practical_title
from closing.domain.deal import Deal
from closing.domain.delivery import is_held
from closing.domain.events import Event, Purchaser, Standing, replay
from closing.domain.lapse import lapse_line
from closing.domain.machine import ProgressMachine, Refusal
from closing.domain.mark_commands import mark_command_line
from closing.domain.money import format_money
from closing.domain.proposals import wire_report
from closing.domain.terms import (
    DETAIL_NAMES,
    NEEDABLE_DETAILS,
    StoredAlertRules,
    StoredStep,
    StoredTerms,
)
from closing.domain.text import neutral
from closing.domain.timefmt import duration, local

AT_DEADLINE = "deadline"
UNCONFIRMED = "wire-unconfirmed"  # a reported wire the bank has not confirmed by Fedwire's cutoff
OVERDUE_PREFIX = "overdue-"
# A caught-up occurrence waits for the step's next one when it falls due sooner than this.
FOLD_WITHIN = timedelta(minutes=1)
# A sender wakes at the second an alert falls due: one decided later than this was not running.
SENT_LATE_GRACE = timedelta(seconds=2)

# (purchaser id, step id, rule, deadline): the ledger's unique key within a deal.
Key = tuple[int, str, str, datetime]


@dataclass(frozen=True)
class Occurrence:
    rule: str
    fire_at: datetime


@dataclass(frozen=True)
class DueAlert:
    purchaser: Purchaser
    step: StoredStep
    rule: str
    deadline: datetime
    due_at: datetime
    superseded: tuple[Occurrence, ...] = ()
    received: Decimal | None = None  # a payment step: what has come in so far
    ready_since: datetime | None = None  # when the last step it requires was recorded
    report: str | None = None  # a wire reported sent that the bank has not confirmed, in words

    @property
    def first_due(self) -> datetime:
        """When the earliest occurrence it covers fell due."""
        return self.superseded[0].fire_at if self.superseded else self.due_at

    @property
    def sendable_from(self) -> datetime:
        """The first moment this alert could have gone out: due, and its step possible."""
        if self.ready_since is not None and self.ready_since > self.first_due:
            return self.ready_since
        return self.first_due

    @property
    def owed(self) -> Decimal | None:
        if self.received is None:
            return None
        return max(self.purchaser.purchase_price - self.received, Decimal(0))

    @property
    def key(self) -> Key:
        return (self.purchaser.id, self.step.id, self.rule, self.deadline)


@dataclass(frozen=True)
class Plan:
    """What to send now, and when the next occurrence falls due (None: nothing left)."""

    due: list[DueAlert]
    next_at: datetime | None


def is_deadline_rule(rule: str) -> bool:
    """Whether an alert of `rule` chases a step before, at or after its deadline (not a notice:
    a wire received, a seal): one no longer wanted once the step is done or waived."""
    return rule.startswith(("before-", OVERDUE_PREFIX)) or rule == AT_DEADLINE


def schedule(rules: StoredAlertRules) -> list[tuple[str, timedelta]]:
    """Each rule's name and its offset from a deadline, earliest first."""
    found = [(f"before-{duration(lead, style='exact')}", -lead) for lead in rules.before]
    if rules.at_deadline:
        found.append((AT_DEADLINE, timedelta(0)))
    if rules.overdue is not None:
        every = rules.overdue.every
        found += [(f"{OVERDUE_PREFIX}{n}", every * n) for n in range(1, rules.overdue.times + 1)]
    return sorted(found, key=lambda rule: rule[1])


def occurrences(rules: StoredAlertRules, deadline: datetime) -> list[Occurrence]:
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
    parties: list[tuple[Purchaser, ProgressMachine, list[StoredStep]]] = []
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
        if standing is not None and standing.link_events and not party.is_company:
            unconfirmed = _unconfirmed(deal, party, standing, fired, now)
            if isinstance(unconfirmed, DueAlert):
                due.append(unconfirmed)
            elif unconfirmed is not None and (next_at is None or unconfirmed < next_at):
                next_at = unconfirmed
        states = {**company_states, **own} if company_states else own
        done = standing.done if standing else {}
        for step in party_steps:
            if not party_machine.ready(states, step.id) or is_held(step, states):
                continue  # not its turn, or held until the payment is in: nobody is chased
            deadline = deal.due_by(step, done, None if party.is_company else party)
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
                    if ready and _folds(ready[-1], fire_at, now):
                        ready = []  # it goes out at fire_at, folded into that occurrence
                    break  # offsets are in time order: the rest are later still
            if ready:
                latest = ready[-1]
                received = standing.received(step.id) if standing else Decimal(0)
                required = [done[need].logged_at for need in step.requires if need in done]
                due.append(
                    DueAlert(
                        party,
                        step,
                        latest.rule,
                        deadline,
                        latest.fire_at,
                        tuple(ready[:-1]),
                        received if step.is_payment and not party.is_company else None,
                        max(required) if required else None,
                    )
                )
    return Plan(due, next_at)


def _unconfirmed(
    deal: Deal,
    party: Purchaser,
    standing: Standing,
    fired: dict[tuple[int, str, datetime], set[str]],
    now: datetime,
) -> DueAlert | datetime | None:
    """A wire the purchaser reported sent that no bank file has confirmed by Fedwire's cutoff of
    the day it left: an alert then (or when it falls due, if later)."""
    report = wire_report(standing.link_events)
    step = next((s for s in deal.terms.purchaser_steps if s.is_payment), None)
    if report is None or step is None or step.id in standing.states:
        return None
    zone = ZoneInfo(FEDWIRE.time_zone)
    day = report.sent_at.astimezone(zone).date()
    cutoff = datetime.combine(day, FEDWIRE.time, zone)
    if UNCONFIRMED in fired.get((party.id, step.id, cutoff), ()):
        return None
    if cutoff > now:
        return cutoff
    said = f"reported sent {local(report.sent_at, deal.terms.zone)}, IMAD {report.imad}"
    return DueAlert(party, step, UNCONFIRMED, cutoff, cutoff, report=said)


def _folds(caught_up: Occurrence, next_due: datetime, now: datetime) -> bool:
    """Whether an occurrence being caught up (due earlier than SENT_LATE_GRACE ago: no sender was
    running, or its step has just become possible) waits for the step's next occurrence, due
    within FOLD_WITHIN of `now`. One sent on time never waits."""
    return now - caught_up.fire_at > SENT_LATE_GRACE and next_due - now < FOLD_WITHIN


@dataclass(frozen=True)
class AlertText:
    title: str
    body: str
    key: str

    def sent(self, deadline: datetime, zone: ZoneInfo, at: datetime) -> AlertText:
        """The title and body as they read when sent at `at`."""
        return AlertText(
            at_sending(self.title, deadline, zone, at),
            at_sending(self.body, deadline, zone, at),
            self.key,
        )


# Parts of an alert that depend on when it is sent, not when it was decided: the ledger stores
# the text with these markers and `at_sending` fills them in at each delivery. They are written
# with a control character no name, title or note can hold (all are refused at load), so a name
# that reads like a marker stays as written.
HEADLINE = "\x1eheadline\x1e"
WHEN = "\x1ewhen\x1e"
# The markers of alerts an earlier release stored, still filled in where the text has no others.
_EARLIER = (("⟨headline⟩", HEADLINE), ("⟨when⟩", WHEN))
# How close to a whole minute a time left reads as that minute, and how soon after the cutoff an
# alert still reads "at the cutoff": a sender wakes a few milliseconds after the second it is due.
SPOKEN_GRACE = timedelta(seconds=5)


def sent_late(since: datetime, decided: datetime, zone: ZoneInfo) -> str:
    """The line an alert decided late gets: nobody ran the sender from `since` (it could have
    gone) to `decided` (the sender came back and decided it); empty when not late."""
    if decided - since <= SENT_LATE_GRACE:
        return ""
    return (
        f"Sent late: the alert sender was not running from {since.astimezone(zone):%H:%M} "
        f"to {decided.astimezone(zone):%H:%M %Z}\n"
    )


def time_left(deadline: datetime, at: datetime) -> tuple[str, str]:
    """(headline, deadline words) at `at`, as people say them: "cutoff in 30m" and "30m left"
    before it, "at the cutoff" and "now" from the cutoff to SPOKEN_GRACE after it, then "late by
    2m".

    Before the cutoff, a time left of a minute or more reads in whole minutes (hours and days
    when longer, as `duration` writes them), rounded down, except that one within SPOKEN_GRACE
    short of a whole minute reads as that minute: sent at 16:30:00.004 for 17:00, "30m", not
    "29m". Under a minute it reads in seconds, rounded down ("cutoff in 5s"). Late by is counted
    in whole seconds rounded up (a tenth of a second after the grace is 6s late)."""
    left = deadline - at
    if left > timedelta(0):
        if left >= timedelta(minutes=1) - SPOKEN_GRACE:
            left += SPOKEN_GRACE  # `duration` drops what is under a minute
        return f"cutoff in {duration(left)}", f"{duration(left)} left"
    if -left <= SPOKEN_GRACE:
        return "at the cutoff", "now"
    late = timedelta(seconds=math.ceil(-left.total_seconds()))
    return f"late by {duration(late)}", f"late by {duration(late)}"


def at_sending(text: str, deadline: datetime, zone: ZoneInfo, sent_at: datetime) -> str:
    """An alert's stored title or body as sent at `sent_at`: the time left, or late by, then
    (`zone`, the deal's, is kept for what else may depend on the sending)."""
    headline, words = time_left(deadline, sent_at)
    if HEADLINE not in text and WHEN not in text:
        for earlier, marker in _EARLIER:
            text = text.replace(earlier, marker)
    return text.replace(HEADLINE, headline).replace(WHEN, words)


def notice_contact(purchaser: Purchaser) -> str | None:
    """The purchaser's notice details from the deal file (attention, facsimile, address)."""
    parts = [
        f"{label} {value}"
        for label, value in (
            ("attention", purchaser.detail("notices.attention")),
            ("facsimile", purchaser.detail("notices.facsimile")),
            ("address", purchaser.detail("notices.address")),
        )
        if value
    ]
    return "; ".join(parts) if parts else None


def alert_text(
    terms: StoredTerms,
    alert: DueAlert,
    now: datetime,
    warning: str | None = None,
    company_missing: frozenset[str] = frozenset(),
    summary: str | None = None,
) -> AlertText:
    """What the alert says, for a lawyer who must act on it: the purchaser, the step in the
    agreement's words (its title and note), the deadline in the deal's zone with the time left or
    late by (filled in when sent: `at_sending`), the amount still owed for a payment, what the
    deal file is missing, the purchaser's notice contact, the exact command to record it, and a
    one-line board `summary`; `warning` (unverified wire instructions) first when there is one.
    `now` is when it was decided."""
    zone = terms.zone
    purchaser = alert.purchaser
    step = alert.step
    slug = "company" if purchaser.is_company else purchaser.slug
    key = (
        f"{terms.slug}/{slug}/{step.id}/{alert.rule}/"
        f"{alert.deadline.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )
    # Names and titles are data: shown neutrally (closing.domain.text), so that none can break a
    # line of
    # the body or the log, or reach a terminal or a mail reader as a control sequence.
    name, step_title = neutral(purchaser.name), neutral(step.title)
    title = f"{name}: {step_title} not done, {HEADLINE}"
    lines = [neutral(warning)] if warning else []
    if alert.report:
        title = (
            f"{name}: wire {neutral(alert.report)}, not confirmed by the bank at Fedwire's cutoff"
        )
        lines.append(f"Reported: {neutral(alert.report)}; no bank file has confirmed it")
    lines += [
        f"Deal: {neutral(terms.slug)} ({neutral(terms.title)})",
        f"Company: {name}" if purchaser.is_company else f"Purchaser: {name}",
        f"Step: {step_title} ({neutral(step.id)}) is not done",
    ]
    if step.note:
        lines.append(f"The agreement: {neutral(' '.join(step.note.split()))}")
    lines.append(f"Deadline: cutoff {local(alert.deadline, zone)}, {WHEN}")
    if step.practical is not None:
        market = practical_title(step.practical.market)
        lines.append(f"The deadline is the earlier of the agreement's and {market}'s cutoff")
    owed = alert.owed
    if owed is not None:
        price = format_money(purchaser.purchase_price)
        if alert.received:
            lines.append(
                f"Owed: {format_money(owed)} (received {format_money(alert.received)} of {price})"
            )
        else:
            lines.append(f"Owed: {format_money(owed)} (the purchase price; nothing received yet)")
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
    contact = None if purchaser.is_company else notice_contact(purchaser)
    if contact:
        lines.append(f"Notice to: {neutral(contact)}")
    lapsed = lapse_line(terms, now)
    if lapsed:
        lines.append(lapsed)
    lines.append(f"When it is done: {mark_command_line(terms.slug, slug, step.id)}")
    if summary:
        lines.append(f"Board: {summary}")
    body = "\n".join(lines)
    body += "\n" + sent_late(alert.sendable_from, now, zone) + f"Alert: {key}"
    return AlertText(title, body, key)


def _missing(alert: DueAlert, company_missing: frozenset[str]) -> list[str]:
    step, purchaser = alert.step, alert.purchaser
    found = [
        NEEDABLE_DETAILS[need]
        for need in step.needs
        if need in NEEDABLE_DETAILS and not purchaser.detail(need)
    ]
    return found + [DETAIL_NAMES[need] for need in step.needs if need in company_missing]


def urgency(alert: DueAlert) -> tuple[datetime, int, Decimal, int]:
    """Most urgent first: the earliest deadline, then money still owed (the most first), then
    the order of the deal file."""
    owed = alert.owed or Decimal(0)
    return (alert.deadline, 0 if owed else 1, -owed, alert.purchaser.position)


def digest_groups(rules: StoredAlertRules, due: list[DueAlert]) -> list[list[DueAlert]]:
    """The alerts that go out together as one digest: those of one rule falling due at one moment
    (one deadline), when there are more than `digest_over` of them and digests are on."""
    if not rules.digest:
        return []
    groups: dict[tuple[str, datetime], list[DueAlert]] = {}
    for alert in due:
        groups.setdefault((alert.rule, alert.deadline), []).append(alert)
    return [
        sorted(group, key=urgency) for group in groups.values() if len(group) > rules.digest_over
    ]


def digest_text(
    terms: StoredTerms,
    alerts: list[DueAlert],
    now: datetime,
    warning: str | None = None,
    company_missing: frozenset[str] = frozenset(),
    summary: str | None = None,
) -> AlertText:
    """One message for many alerts of one rule and moment: every purchaser and step, most urgent
    first, each with what is owed or missing and the command that records it, then the totals.
    The time left is filled in when sent (`at_sending`)."""
    zone = terms.zone
    first = alerts[0]
    deadline = first.deadline
    parties = {alert.purchaser.id for alert in alerts}
    steps = list(dict.fromkeys(neutral(alert.step.title) for alert in alerts))
    key = f"{terms.slug}/digest/{first.rule}/{deadline.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    title = f"{neutral(terms.slug)}: {len(alerts)} steps not done, {HEADLINE}"
    lines = [neutral(warning)] if warning else []
    lines += [
        f"Deal: {neutral(terms.slug)} ({neutral(terms.title)})",
        f"Not done: {len(alerts)} steps of {len(parties)} "
        f"{'parties' if any(a.purchaser.is_company for a in alerts) else 'purchasers'} "
        f"({', '.join(steps)})",
        f"Deadline: cutoff {local(deadline, zone)}, {WHEN}",
        "",
        "Most urgent first:",
    ]
    owed_total = Decimal(0)
    for n, alert in enumerate(alerts, start=1):
        purchaser = alert.purchaser
        slug = "company" if purchaser.is_company else purchaser.slug
        facts = []
        if alert.owed is not None:
            owed_total += alert.owed
            facts.append(f"owed {format_money(alert.owed)}")
        missing = _missing(alert, company_missing)
        if missing:
            facts.append(f"missing {', '.join(missing)}")
        contact = None if purchaser.is_company else notice_contact(purchaser)
        if contact:
            facts.append(f"notice to {neutral(contact)}")
        said = f" ({'; '.join(facts)})" if facts else ""
        lines.append(f"{n}. {neutral(purchaser.name)}: {neutral(alert.step.title)}{said}")
        lines.append(f"   {mark_command_line(terms.slug, slug, alert.step.id)}")
    lines.append("")
    if owed_total:
        lines.append(f"Owed by these purchasers: {format_money(owed_total)}")
    if summary:
        lines.append(f"Board: {summary}")
    sendable = max(alert.sendable_from for alert in alerts)
    body = "\n".join(lines) + "\n" + sent_late(sendable, now, zone) + f"Alert: {key}"
    return AlertText(title, body, key)
