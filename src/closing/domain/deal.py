"""A loaded deal and the deadlines of each of its steps.

A step is due at close of business (its own `cutoff`, else the deal's; `at` of its `due`) on a
business day of its own `calendars` (else its market's, else the deal's); `purchaser` in either
means the purchaser's zone or holidays. Its `due` counts from the closing, a key date or a step
(`closing.domain.anchors`). A step with a `practical` cutoff has the market's deadline too: that
cutoff on the agreement's deadline day, or the market's business day before it.
Deadlines are instants (UTC), computed with zoneinfo so they hold across daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cached_property
from zoneinfo import ZoneInfo

from closing.domain.anchors import count_from
from closing.domain.calendar import BusinessCalendar, CalendarBook, cutoff_on
from closing.domain.cutoffs import MARKET_CUTOFFS, step_back
from closing.domain.events import Event, Purchaser
from closing.domain.machine import ProgressMachine, machine_for
from closing.domain.terms import PURCHASER, DueCommon, StoredStep, StoredTerms
from closing.domain.terms_json import read_terms


@dataclass(frozen=True)
class Deal:
    """A loaded deal: its row id, terms and the machinery built from them."""

    id: int
    slug: str
    terms: StoredTerms
    calendars: CalendarBook
    created_at: datetime
    _fixed: dict[tuple[str, str, tuple[str, ...], date | None], datetime] = field(
        default_factory=dict, repr=False, compare=False
    )
    _practical: dict[tuple[str, datetime, str, tuple[str, ...]], datetime] = field(
        default_factory=dict, repr=False, compare=False
    )
    # A mark judged against a deadline a reload (--accept-changes) has since moved: its event id
    # -> that deadline, which the board keeps for it (late stays late).
    judged: Mapping[int, datetime] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_stored(
        cls,
        id: int,
        slug: str,
        terms_json: str,
        closures_json: str,
        created_at: datetime,
        judged: Mapping[int, datetime] | None = None,
    ) -> Deal:
        """A Deal from what the database keeps: the terms as JSON, the calendar snapshot, and
        the deadlines marks were judged against before a reload moved them."""
        terms = read_terms(terms_json)
        book = CalendarBook(terms.business_days.extra_closures, closures_json)
        return cls(id, slug, terms, book, created_at, judged=judged or {})

    @cached_property
    def purchaser_steps(self) -> list[StoredStep]:
        return self.terms.purchaser_steps

    @cached_property
    def _same_for_everyone(self) -> dict[str, datetime]:
        """The deadlines that depend on no purchaser and no other step, worked out once."""
        return {
            step.id: self._deadline(step, self.step_zone(step), self.step_calendar(step), None)
            for step in self.terms.steps
            if not step.per_purchaser_deadline and not self.follows_step(step)
        }

    def follows_step(self, step: StoredStep) -> bool:
        """Whether `step` is due from another step (not the closing or a key date)."""
        due = step.due
        return isinstance(due, DueCommon) and self.terms.anchor_date(due.anchor) is None

    @cached_property
    def deadlines_per_purchaser(self) -> bool:
        """Whether any purchaser step is due in the purchaser's zone or by its holidays."""
        return any(step.per_purchaser_deadline for step in self.terms.purchaser_steps)

    @cached_property
    def anchors(self) -> tuple[str, ...]:
        """The steps whose marks move a purchaser step's deadline (`due: {after: STEP}`)."""
        return tuple(
            dict.fromkeys(
                step.due.after
                for step in self.terms.purchaser_steps
                if isinstance(step.due, DueCommon)
                and step.due.after is not None
                and self.terms.anchor_date(step.due.after) is None
            )
        )

    @cached_property
    def lapses(self) -> bool:
        """Whether the deal file gives an outside date or a step a `lapses_at`."""
        return self.terms.outside_date is not None or any(
            step.lapses_at is not None for step in self.terms.steps
        )

    @cached_property
    def machine(self) -> ProgressMachine:
        """The rules for each purchaser's steps."""
        return machine_for(self.terms)

    @cached_property
    def company_machine(self) -> ProgressMachine:
        """The rules for the deal's own (company) steps."""
        return machine_for(self.terms, company=True)

    @cached_property
    def zone(self) -> ZoneInfo:
        """The deal's zone (its cutoff's), looked up once: every mark reads it."""
        return self.terms.zone

    @cached_property
    def opens_at(self) -> datetime:
        """Marks before the start of the agreement date (in the deal's zone) are refused."""
        return datetime.combine(
            self.terms.agreement_date, time(0), tzinfo=self.terms.zone
        ).astimezone(UTC)

    @property
    def calendar(self) -> BusinessCalendar:
        """The deal's own business days (`business_days.calendars`)."""
        return self.calendars.calendar(self.terms.business_days.calendars)

    def step_zone(self, step: StoredStep, purchaser: Purchaser | None = None) -> ZoneInfo:
        zone = step.cutoff.time_zone if step.cutoff else self.terms.cutoff.time_zone
        if zone == PURCHASER:
            zone = (purchaser.time_zone if purchaser else None) or self.terms.cutoff.time_zone
        return ZoneInfo(zone)

    def step_calendar(
        self, step: StoredStep, purchaser: Purchaser | None = None
    ) -> BusinessCalendar:
        names: list[str] = []
        for name in step.calendars or step.market_calendars or self.terms.business_days.calendars:
            if name == PURCHASER:
                names += purchaser.holidays if purchaser else ()
            else:
                names.append(name)
        return self.calendars.calendar(names or self.terms.business_days.calendars)

    def deadline(
        self, step: StoredStep, done: Mapping[str, Event], purchaser: Purchaser | None = None
    ) -> datetime:
        """The agreement's deadline of `step`: its cutoff on the closing date, or on the day its
        `due` counts to from the closing, a key date, the day (in the step's zone) the step it
        follows was done (the closing date until then), or the day of the deadline of the step
        it comes before."""
        same = self._same_for_everyone.get(step.id)
        if same is not None:
            return same
        zone = self.step_zone(step, purchaser)
        base: date | None = None
        due = step.due
        if isinstance(due, DueCommon) and self.terms.anchor_date(due.anchor) is None:
            if due.after is not None:
                before = done.get(due.after)
                base = before.occurred_at.astimezone(zone).date() if before else None
            else:
                other = self.terms.step(due.anchor)
                other_zone = self.step_zone(other, purchaser)
                base = self.deadline(other, done, purchaser).astimezone(other_zone).date()
        calendar_key = (
            tuple(purchaser.holidays) if purchaser and step.per_purchaser_deadline else ()
        )
        key = (step.id, zone.key, calendar_key, base)
        found = self._fixed.get(key)
        if found is None:
            found = self._deadline(step, zone, self.step_calendar(step, purchaser), base)
            self._fixed[key] = found
        return found

    def _deadline(
        self, step: StoredStep, zone: ZoneInfo, calendar: BusinessCalendar, base: date | None
    ) -> datetime:
        at = step.cutoff.time if step.cutoff else self.terms.cutoff.time
        due = step.due
        if not isinstance(due, DueCommon):
            return cutoff_on(self.terms.closing_date, at, zone)
        anchor = base or self.terms.anchor_date(due.anchor) or self.terms.closing_date
        day = count_from(
            anchor, due.count, due.before is not None, due.counts_business_days, calendar
        )
        return cutoff_on(day, due.at or at, zone)

    def practical_deadline(
        self, step: StoredStep, deadline: datetime, purchaser: Purchaser | None = None
    ) -> datetime | None:
        """The market's deadline of `step` beside the agreement's `deadline` (None without a
        `practical` cutoff): the practical cutoff on the deadline's day in the step's zone, or on
        the last of the market's business days before it (a wire due on Columbus Day goes out by
        Fedwire's close on the Friday)."""
        practical = step.practical
        if practical is None:
            return None
        zone_name = practical.time_zone
        if zone_name == PURCHASER:
            zone_name = (purchaser.time_zone if purchaser else None) or self.terms.cutoff.time_zone
        if practical.market:
            names: tuple[str, ...] = MARKET_CUTOFFS[practical.market].calendars
            calendar = self.calendars.calendar(names)
        else:
            calendar = self.step_calendar(step, purchaser)
            names = calendar.calendars
        key = (step.id, deadline, zone_name, names)
        found = self._practical.get(key)
        if found is None:
            day = step_back(deadline.astimezone(self.step_zone(step, purchaser)).date(), calendar)
            found = self._practical[key] = cutoff_on(day, practical.time, ZoneInfo(zone_name))
        return found

    def due_by(
        self, step: StoredStep, done: Mapping[str, Event], purchaser: Purchaser | None = None
    ) -> datetime:
        """The earlier of the agreement's deadline and the market's: what an open step is judged
        against (its status, the alerts that chase it)."""
        deadline = self.deadline(step, done, purchaser)
        practical = self.practical_deadline(step, deadline, purchaser)
        return deadline if practical is None or deadline <= practical else practical
