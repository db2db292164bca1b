"""A deal file's alert rules: when deadline alerts go (before each step's deadline, at it, and
repeated while overdue), the quiet hours, where they go (notification URLs), and a step's own rules
that replace the deal's."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, field_validator

from closing.domain.dealfile.fields import Duration, Spec
from closing.domain.dealfile.notify_urls import secret_in_url
from closing.domain.terms import AlertRulesCommon, QuietHoursCommon
from closing.domain.text import neutral


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


class QuietHours(Spec, QuietHoursCommon):
    """No repeated (overdue) alerts from `start` to `end`, wall-clock in the deal's zone."""

    start: time
    end: time


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


class AlertRules(Spec, AlertRulesCommon):
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
    # Each new seal's digest goes to every channel, so that copies live in people's mailboxes.
    seals: bool = False

    def replaced(self, changes: dict[str, Any]) -> Self:
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
