"""A loaded deal and the deadline of each of its steps, in the deal's zone and calendars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from closing.calendar import BusinessCalendar, calendar_from_snapshot, cutoff_on
from closing.deal import DealTerms, DueAfter, Step
from closing.events import Event
from closing.machine import ProgressMachine, machine_for


@dataclass(frozen=True)
class Deal:
    """A loaded deal: its row id, terms and the machinery built from them."""

    id: int
    slug: str
    terms: DealTerms
    calendar: BusinessCalendar
    created_at: datetime

    @classmethod
    def from_stored(
        cls, id: int, slug: str, terms_json: str, closures_json: str, created_at: datetime
    ) -> Deal:
        """A Deal from what the database keeps: the terms as JSON and the calendar snapshot."""
        terms = DealTerms.model_validate_json(terms_json)
        calendar = calendar_from_snapshot(
            terms.business_days.calendars, terms.business_days.extra_closures, closures_json
        )
        return cls(id, slug, terms, calendar, created_at)

    @property
    def machine(self) -> ProgressMachine:
        return machine_for(self.terms)

    @property
    def opens_at(self) -> datetime:
        """Marks before the start of the agreement date (in the deal's zone) are refused."""
        return datetime.combine(
            self.terms.agreement_date, time(0), tzinfo=self.terms.zone
        ).astimezone(UTC)

    def deadline(self, step: Step, done: dict[str, Event]) -> datetime:
        return step_deadline(self.terms, self.calendar, step, done)


def step_deadline(
    terms: DealTerms, calendar: BusinessCalendar, step: Step, done: dict[str, Event]
) -> datetime:
    """The cutoff a step is due by. A step due after another is due that many business days
    after the day (in the deal's zone) the other was done, or after the closing date until then."""
    zone = terms.zone
    if isinstance(step.due, DueAfter):
        before = done.get(step.due.after)
        base: date = before.occurred_at.astimezone(zone).date() if before else terms.closing_date
        if step.due.business_days == 0:
            day = base if calendar.is_business_day(base) else calendar.next_business_day(base)
        else:
            day = calendar.next_business_day(base, step.due.business_days)
        return cutoff_on(day, terms.cutoff.time, zone)
    return cutoff_on(terms.closing_date, terms.cutoff.time, zone)
