"""The deal's terms as every command reads them back from the database: plain frozen objects
built from the stored JSON (`closing.domain.terms_json.read_terms`) without pydantic, whose
import and models cost more than a large board's whole work. The deal file's pydantic models
(`closing.domain.dealfile`) checked these terms when the deal was loaded and wrote the JSON; a
stored deal is not checked again. The behaviour a step, the terms and the alert rules share with
those models is written once here (`StepCommon`, `TermsCommon`, `AlertRulesCommon`,
`QuietHoursCommon`), with the names of the purchaser and company details a step can need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, Self, TypeVar
from zoneinfo import ZoneInfo

from closing.domain.cutoffs import MARKET_CUTOFFS

# Purchaser details a step can need before it can be done; blank ones block the step on the board.
NEEDABLE_DETAILS: dict[str, str] = {
    "notices.attention": "notice attention",
    "notices.address": "notice address",
    "notices.facsimile": "notice facsimile number",
    "dwac.dtc_number": "DTC participant number",
    "dwac.account_number": "DWAC account number",
    "dwac.reference": "DWAC reference",
}
# Details of the company (the deal) a purchaser step can need; missing ones block it for everyone.
COMPANY_DETAILS: dict[str, str] = {"company.wire_instructions": "company wire instructions"}
DETAIL_NAMES: dict[str, str] = {**NEEDABLE_DETAILS, **COMPANY_DETAILS}
PURCHASER = "purchaser"  # in a step's `calendars` or cutoff zone: the purchaser's own
COMPANY = "company"  # a step's `party` when it is the deal's, not each purchaser's
CLOSING = "closing"  # `due: {after: closing}`: counted from the closing date
CLOSING_CUTOFF = "closing_cutoff"  # `due: closing_cutoff`: at the cutoff on the closing date


# --- what the deal file's models and the stored terms share ------------------------------------

if TYPE_CHECKING:  # the deal file's models, for the types of what both kinds of object hold
    from closing.domain.dealfile.alert_rules import StepAlerts
    from closing.domain.dealfile.schema import Cutoff, PaymentRule, Step, StepCutoff


class StepCommon:
    """What a step says of itself (the deal file's `Step` and the stored `StoredStep`)."""

    if TYPE_CHECKING:
        id: str
        label: str | None
        party: str
        cutoff: StoredCutoff | StepCutoff | None
        practical: StoredCutoff | StepCutoff | None
        calendars: list[str] | None
        payment: bool | StoredPaymentRule | PaymentRule

    @property
    def heading(self) -> str:
        return self.label or self.id

    @property
    def is_payment(self) -> bool:
        return self.payment is not False

    @property
    def tolerance(self) -> Decimal:
        return Decimal("0") if isinstance(self.payment, bool) else self.payment.tolerance

    @property
    def allows_partial(self) -> bool:
        return not isinstance(self.payment, bool) and self.payment.partial

    @property
    def for_company(self) -> bool:
        return self.party == COMPANY

    @property
    def per_purchaser_deadline(self) -> bool:
        """Whether the deadline depends on the purchaser's zone or holidays."""
        zones = (self.cutoff.time_zone if self.cutoff else None,) + (
            (self.practical.time_zone,) if self.practical else ()
        )
        return PURCHASER in zones or PURCHASER in (self.calendars or ())

    @property
    def market_calendars(self) -> tuple[str, ...]:
        """The calendars of the market whose cutoff is the step's own (`cutoff: edgar`: SEC)."""
        market = self.cutoff.market if self.cutoff else None
        return MARKET_CUTOFFS[market].calendars if market else ()


class DueCommon:
    """What a `due:` counted from an anchor says of itself (the deal file's `Due` and the
    stored `StoredDue`)."""

    if TYPE_CHECKING:
        after: str | None
        before: str | None
        business_days: int | None
        calendar_days: int | None

    @property
    def anchor(self) -> str:
        found = self.after if self.after is not None else self.before
        assert found is not None
        return found

    @property
    def counts_business_days(self) -> bool:
        return self.calendar_days is None

    @property
    def count(self) -> int:
        """How many days from the anchor (business days unless `calendar_days`)."""
        if self.calendar_days is not None:
            return self.calendar_days
        return 1 if self.business_days is None else self.business_days


if TYPE_CHECKING:
    S = TypeVar("S", bound=StepCommon)
    S_co = TypeVar("S_co", bound=StepCommon, covariant=True)

    class _Steps(Protocol[S_co]):
        """What `TermsCommon` reads: the steps (of either kind) and the cutoff's zone."""

        @property
        def steps(self) -> Sequence[S_co]: ...
        @property
        def cutoff(self) -> StoredCutoff | Cutoff: ...
        @property
        def closing_date(self) -> date: ...
        @property
        def key_dates(self) -> Mapping[str, date]: ...


class TermsCommon:
    """What the terms say of their steps and zone (the deal file's `DealTerms` and the stored
    `StoredTerms`)."""

    @property
    def zone(self: _Steps[S]) -> ZoneInfo:
        return ZoneInfo(self.cutoff.time_zone)

    def anchor_date(self: _Steps[S], name: str) -> date | None:
        """The date a `due:` counts from when it names `closing` or a key date; None for a step."""
        return self.closing_date if name == CLOSING else self.key_dates.get(name)

    def step(self: _Steps[S], step_id: str) -> S:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def step_ids(self: _Steps[S]) -> list[str]:
        return [step.id for step in self.steps]

    @property
    def purchaser_steps(self: _Steps[S]) -> list[S]:
        return [step for step in self.steps if not step.for_company]

    @property
    def company_steps(self: _Steps[S]) -> list[S]:
        return [step for step in self.steps if step.for_company]


class QuietHoursCommon:
    """Whether a wall-clock time falls in the quiet hours."""

    if TYPE_CHECKING:
        start: time
        end: time

    def covers(self, at: time) -> bool:
        if self.start <= self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end  # across midnight, e.g. 22:00 to 07:00


class AlertRulesCommon:
    """The rules of one step: its own `alerts` keys replace the deal's."""

    if TYPE_CHECKING:

        def replaced(self, changes: dict[str, Any]) -> Self: ...

    def for_step(self, step: StoredStep | Step) -> Self:
        own: StoredStepAlerts | StepAlerts | None = step.alerts
        if own is None:
            return self
        changes: dict[str, Any] = {}
        if own.before is not None:
            changes["before"] = own.before
        if own.at_deadline is not None:
            changes["at_deadline"] = own.at_deadline
        if own.overdue is not None:
            changes["overdue"] = own.overdue or None
        return self.replaced(changes)


class SignatoryCommon:
    """Who signs a document for a party, in words (the deal file's `Signatory`, the stored
    `StoredSignatory`)."""

    if TYPE_CHECKING:
        party: str
        name: str | None
        title: str | None

    @property
    def shown(self) -> str:
        if self.name:
            return f"{self.name}, {self.title}" if self.title else self.name
        return f"the {self.party}'s {(self.title or 'authorised signatory').lower()}"


class DocumentCommon:
    """A document of the closing set's number for a purchaser (the deal file's `DocumentSpec`,
    the stored `StoredDocument`)."""

    if TYPE_CHECKING:
        numbered: str | None

    def number(self, position: int) -> str | None:
        """The instrument's number for the purchaser at `position` (0-based) of Schedule 1."""
        return f"{self.numbered}{position + 1}" if self.numbered else None


# --- the stored terms --------------------------------------------------------------------------


class StoredCutoff(NamedTuple):
    """A close of business: the deal's, or a step's own or practical one (`time_zone` may be
    `purchaser`; `market` names a market's cutoff)."""

    time: time
    time_zone: str
    market: str | None = None


class StoredBusinessDays(NamedTuple):
    calendars: list[str]
    extra_closures: list[date]


@dataclass(frozen=True)
class StoredCompany:
    """The company's name and notice details (its wire instructions are kept apart)."""

    name: str
    attention: str | None
    address: str | None
    facsimile: str | None


class StoredCommonStock(NamedTuple):
    par_value: Decimal
    price_per_share: Decimal


class StoredWarrant(NamedTuple):
    term_years: int
    exercise_price: Decimal
    coverage: Decimal


class StoredSecurities(NamedTuple):
    common_stock: StoredCommonStock
    warrant: StoredWarrant


class StoredRegistration(NamedTuple):
    form: str
    file_number: str
    prospectus_supplement: str | None


@dataclass(frozen=True)
class StoredDue(DueCommon):
    """Due on the n-th business or calendar day after or before an anchor (`closing`, a key
    date or a step), at the cutoff or `at`."""

    after: str | None
    before: str | None
    business_days: int | None
    calendar_days: int | None
    at: time | None


class StoredPaymentRule(NamedTuple):
    tolerance: Decimal
    partial: bool


class StoredOverdueRepeat(NamedTuple):
    every: timedelta
    times: int


@dataclass(frozen=True)
class StoredQuietHours(QuietHoursCommon):
    start: time
    end: time


class StoredStepAlerts(NamedTuple):
    before: list[timedelta] | None
    at_deadline: bool | None
    overdue: StoredOverdueRepeat | Literal[False] | None


@dataclass(frozen=True)
class StoredAlertRules(AlertRulesCommon):
    before: list[timedelta]
    at_deadline: bool
    overdue: StoredOverdueRepeat | None
    quiet_hours: StoredQuietHours | None
    notify: list[str]
    inbox: str | None
    digest: bool
    digest_over: int
    seals: bool

    def replaced(self, changes: dict[str, Any]) -> Self:
        return replace(self, **changes)


class StoredReportSettings(NamedTuple):
    """`closing report`'s folder of the deal's own templates."""

    templates: str | None


class StoredSchedule1File(NamedTuple):
    """Schedule 1's spreadsheet: its path as the deal file gives it, and its SHA-256."""

    file: str
    sha256: str


class StoredContact(NamedTuple):
    name: str | None
    email: str | None
    phone: str | None
    facsimile: str | None


@dataclass(frozen=True)
class StoredParty:
    """One of the deal's parties (`parties:`): who it is, who to reach, who acts for it."""

    name: str | None
    role: str | None
    purchaser: str | None
    contacts: list[StoredContact]
    notify: list[str]
    members: list[str]


@dataclass(frozen=True)
class StoredSignatory(SignatoryCommon):
    party: str
    name: str | None
    title: str | None


@dataclass(frozen=True)
class StoredDocument(DocumentCommon):
    """A document of the closing set: who signs it, its form, what it satisfies and waits for."""

    id: str
    title: str
    signatories: tuple[StoredSignatory, ...]
    per_purchaser: bool
    numbered: str | None
    form: str
    holds_originals: str | None
    satisfies: list[str]
    release_when: list[str]
    note: str | None


@dataclass(frozen=True)
class StoredStep(StepCommon):
    id: str
    title: str
    label: str | None
    party: str
    requires: list[str]
    due: str | StoredDue
    cutoff: StoredCutoff | None
    practical: StoredCutoff | None
    calendars: list[str] | None
    needs: list[str]
    payment: bool | StoredPaymentRule
    alerts: StoredStepAlerts | None
    note: str | None
    held_until: str | None
    remedy: str | None
    lapses_at: date | None
    owner: str | None
    responsible: str | None


@dataclass(frozen=True)
class StoredTerms(TermsCommon):
    """Everything about a deal but its purchasers, as stored with it."""

    slug: str
    title: str
    agreement_date: date
    closing_date: date
    key_dates: dict[str, date]
    cutoff: StoredCutoff
    business_days: StoredBusinessDays
    company: StoredCompany
    securities: StoredSecurities
    registration: StoredRegistration
    governing_law: str
    steps: list[StoredStep]
    alerts: StoredAlertRules
    report: StoredReportSettings | None
    outside_date: date | None
    parties: dict[str, StoredParty]
    documents: list[StoredDocument]
    schedule_1: StoredSchedule1File | None = None
    funds_flow: StoredFundsFlow | None = None
    memo: StoredMemoSettings | None = None


class StoredMemoSettings(NamedTuple):
    """The memo's heading: who wrote it, for which firm, to whom, under which legend."""

    author: str | None
    firm: str | None
    addressees: list[str]
    legend: str | None


@dataclass(frozen=True)
class StoredDeduction:
    """What comes off the gross proceeds: `percent` of them, or a fixed `amount`."""

    id: str
    title: str
    kind: str  # fee, expense, escrow
    percent: Decimal | None
    of: str  # what the percent is of: `gross`
    amount: Decimal | None
    payee: str | None


@dataclass(frozen=True)
class StoredDisbursement:
    """One outgoing wire of the funds flow (its beneficiary's bank details are events)."""

    id: str
    to: str
    title: str | None
    amount: Decimal | None
    pays: list[str]
    rest: bool
    from_account: str | None
    due: str | StoredDue
    cutoff: StoredCutoff | None
    release_when: list[str]

    def as_step(self) -> StoredStep:
        """The disbursement as a company step, for its deadline (`Deal.deadline`)."""
        return StoredStep(
            id=f"funds_flow.{self.id}",
            title=self.title or self.id,
            label=None,
            party=COMPANY,
            requires=[],
            due=self.due,
            cutoff=self.cutoff,
            practical=None,
            calendars=None,
            needs=[],
            payment=False,
            alerts=None,
            note=None,
            held_until=None,
            remedy=None,
            lapses_at=None,
            owner=None,
            responsible=None,
        )


@dataclass(frozen=True)
class StoredFundsFlow:
    """`funds_flow:`: the account the purchasers wire to, the deductions, the disbursements."""

    received_into: str
    deductions: list[StoredDeduction]
    disbursements: list[StoredDisbursement]
