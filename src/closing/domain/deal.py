"""A loaded deal and the deadline of each of its steps.

A step is due at close of business (its own `cutoff`, else the deal's) on a business day of its
own `calendars` (else the deal's); `purchaser` in either means the purchaser's zone or holidays.
Deadlines are instants (UTC), computed with zoneinfo so they hold across daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cached_property
from zoneinfo import ZoneInfo

from closing.domain.calendar import BusinessCalendar, CalendarBook, cutoff_on
from closing.domain.dealfile.schema import CLOSING, PURCHASER, DealTerms, DueAfter, Step
from closing.domain.events import Event, Purchaser
from closing.domain.machine import ProgressMachine, machine_for


@dataclass(frozen=True)
class Deal:
    """A loaded deal: its row id, terms and the machinery built from them."""

    id: int
    slug: str
    terms: DealTerms
    calendars: CalendarBook
    created_at: datetime
    _fixed: dict[tuple[str, str, tuple[str, ...], date | None], datetime] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def from_stored(
        cls, id: int, slug: str, terms_json: str, closures_json: str, created_at: datetime
    ) -> Deal:
        """A Deal from what the database keeps: the terms as JSON and the calendar snapshot."""
        terms = DealTerms.model_validate_json(terms_json)
        book = CalendarBook(terms.business_days.extra_closures, closures_json)
        return cls(id, slug, terms, book, created_at)

    @cached_property
    def purchaser_steps(self) -> list[Step]:
        return self.terms.purchaser_steps

    @cached_property
    def _same_for_everyone(self) -> dict[str, datetime]:
        """The deadlines that depend on no purchaser and no other step, worked out once."""
        return {
            step.id: self._deadline(step, self.step_zone(step), self.step_calendar(step), None)
            for step in self.terms.steps
            if not step.per_purchaser_deadline
            and not (isinstance(step.due, DueAfter) and step.due.after != CLOSING)
        }

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
                if isinstance(step.due, DueAfter) and step.due.after != CLOSING
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

    def step_zone(self, step: Step, purchaser: Purchaser | None = None) -> ZoneInfo:
        zone = step.cutoff.time_zone if step.cutoff else self.terms.cutoff.time_zone
        if zone == PURCHASER:
            zone = (purchaser.time_zone if purchaser else None) or self.terms.cutoff.time_zone
        return ZoneInfo(zone)

    def step_calendar(self, step: Step, purchaser: Purchaser | None = None) -> BusinessCalendar:
        names: list[str] = []
        for name in step.calendars or self.terms.business_days.calendars:
            if name == PURCHASER:
                names += purchaser.holidays if purchaser else ()
            else:
                names.append(name)
        return self.calendars.calendar(names or self.terms.business_days.calendars)

    def deadline(
        self, step: Step, done: Mapping[str, Event], purchaser: Purchaser | None = None
    ) -> datetime:
        """The cutoff `step` is due by: on the closing date; or `business_days` business days
        (of the step's calendars) after the closing date (`after: closing`) or after the day,
        in the step's zone, the step it follows was done (the closing date until then)."""
        same = self._same_for_everyone.get(step.id)
        if same is not None:
            return same
        zone = self.step_zone(step, purchaser)
        base: date | None = None
        if isinstance(step.due, DueAfter) and step.due.after != CLOSING:
            before = done.get(step.due.after)
            base = before.occurred_at.astimezone(zone).date() if before else None
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
        self, step: Step, zone: ZoneInfo, calendar: BusinessCalendar, base: date | None
    ) -> datetime:
        at = step.cutoff.time if step.cutoff else self.terms.cutoff.time
        day = base or self.terms.closing_date
        if isinstance(step.due, DueAfter):
            if step.due.business_days == 0:
                day = day if calendar.is_business_day(day) else calendar.next_business_day(day)
            else:
                day = calendar.next_business_day(day, step.due.business_days)
        return cutoff_on(day, at, zone)
