"""A deal file's alert rules: when deadline alerts go (before each step's deadline, at it, and
repeated while overdue), the quiet hours, where they go (notification URLs), and a step's own rules
that replace the deal's."""

from __future__ import annotations

from datetime import time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from closing.domain.dealfile.fields import Duration, Spec
from closing.domain.dealfile.notify_urls import secret_in_url
from closing.domain.text import neutral

if TYPE_CHECKING:
    from closing.domain.dealfile.schema import Step


class OverdueRepeat(Spec):
    """While a step is overdue, alert again every `every`, at most `times` times."""

    every: Duration
    times: int = Field(ge=1, le=100)

    @field_validator("every")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("overdue repeat interval must be longer than 0s")
        return value


class QuietHours(Spec):
    """No repeated (overdue) alerts from `start` to `end`, wall-clock in the deal's zone."""

    start: time
    end: time

    def covers(self, at: time) -> bool:
        if self.start <= self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end  # across midnight, e.g. 22:00 to 07:00


def checked_notify_urls(value: list[str]) -> list[str]:
    """Notification URLs as a deal file gives them (the deal's, a party's): each a URL, each
    secret written `${VAR}`; ValueError says which is not."""
    for index, url in enumerate(value):
        if "://" not in url:
            raise ValueError(
                f"notify[{index}] is not a notification URL; use one like mailto://... or "
                "json://..."
            )
        secret = secret_in_url(url)
        if secret:
            scheme = neutral(url.partition("://")[0][:20])
            raise ValueError(
                f"notify[{index}] ({scheme}://...) {secret}; write each secret as ${{VAR}} "
                "(e.g. json://user:${HOOK_PASSWORD}@host/path) and export VAR where the alert "
                "sender runs"
            )
    return value


NotifyUrls = Annotated[list[str], AfterValidator(checked_notify_urls)]


class AlertRules(Spec):
    """When and to whom deadline alerts go: before each step's deadline, at it, and after."""

    before: list[Duration] = Field(
        default=[timedelta(hours=2), timedelta(minutes=30)], max_length=20
    )
    at_deadline: bool = True
    overdue: OverdueRepeat | None = None
    quiet_hours: QuietHours | None = None
    notify: NotifyUrls = Field(default=[], max_length=20)
    inbox: str | None = None  # a folder the alert sender imports bank files from
    # Alerts of one rule falling due at one moment go out as one message per channel (a digest)
    # when there are more than `digest_over` of them; each stays an alert of its own in the ledger.
    digest: bool = True
    digest_over: int = Field(default=3, ge=0)

    def for_step(self, step: Step) -> AlertRules:
        """The rules of one step: its own `alerts` keys replace the deal's."""
        own = step.alerts
        if own is None:
            return self
        changes: dict[str, Any] = {}
        if own.before is not None:
            changes["before"] = own.before
        if own.at_deadline is not None:
            changes["at_deadline"] = own.at_deadline
        if own.overdue is not None:
            changes["overdue"] = own.overdue or None
        return self.model_copy(update=changes)

    @field_validator("before")
    @classmethod
    def _lead_times(cls, value: list[timedelta]) -> list[timedelta]:
        if any(lead <= timedelta(0) for lead in value):
            raise ValueError("lead times must be longer than 0s; use at_deadline for the cutoff")
        if len(set(value)) != len(value):
            raise ValueError("lead times must differ from each other")
        return sorted(value, reverse=True)


class StepAlerts(Spec):
    """A step's own alert rules: each key given replaces the deal's (`overdue: false` turns the
    deal's overdue repeats off for this step)."""

    before: list[Duration] | None = None
    at_deadline: bool | None = None
    overdue: OverdueRepeat | Literal[False] | None = None

    @field_validator("before")
    @classmethod
    def _lead_times(cls, value: list[timedelta] | None) -> list[timedelta] | None:
        if value is None:
            return None
        if any(lead <= timedelta(0) for lead in value):
            raise ValueError("lead times must be longer than 0s; use at_deadline for the cutoff")
        return sorted(set(value), reverse=True)
