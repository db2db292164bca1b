"""The schema of a deal file: the pydantic models of the deal's terms (dates, cutoff, business
days, company and its wire instructions, securities, registration, steps) and of each purchaser of
Schedule 1, with the rules each field keeps on its own. The rules across fields are in `checks`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import time
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator

from closing.domain.calendar import calendar_problem
from closing.domain.cutoffs import MARKET_CUTOFFS, market_cutoff
from closing.domain.dealfile.alert_rules import AlertRules, StepAlerts
from closing.domain.dealfile.documents import DocumentSpec
from closing.domain.dealfile.fields import (
    Address,
    Attention,
    Cents,
    ContactText,
    Count,
    Day,
    DtcNumber,
    DwacAccount,
    DwacReference,
    Email,
    Facsimile,
    Money,
    Slug,
    Spec,
    StepId,
    slugify,
)
from closing.domain.dealfile.parties import PartySpec
from closing.domain.terms import (
    CLOSING,
    COMPANY,
    DETAIL_NAMES,
    PURCHASER,
    DueCommon,
    StepCommon,
    TermsCommon,
)
from closing.domain.wire_instructions import phone_digits

RESERVED_STEP_IDS = (CLOSING, COMPANY)
KEY_DATES = ("signing", "pricing")  # the dates a deal file usually names besides the closing


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name like America/Los_Angeles"
        ) from None
    return value


def _check_calendars(value: list[str], allow_purchaser: bool) -> list[str]:
    for name in value:
        if allow_purchaser and name == PURCHASER:
            continue
        problem = calendar_problem(name)
        if problem:
            raise ValueError(problem)
    return value


class Cutoff(Spec):
    """The deal's close of business: `{time, time_zone}`, or a market's (`fedwire`, `dtc`,
    `edgar`: see `closing.domain.cutoffs`), whose name is kept in `market`."""

    time: time
    time_zone: str
    market: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: object) -> object:
        """A market's name (`fedwire`) stands for its time and zone, its name kept in `market`."""
        if not isinstance(data, str):
            return data
        market = market_cutoff(data)
        return {"time": market.time, "time_zone": market.time_zone, "market": market.name}

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("market")
    @classmethod
    def _known_market(cls, value: str | None) -> str | None:
        if value is not None and value not in MARKET_CUTOFFS:
            raise ValueError(f"unknown market cutoff {value!r}; use {', '.join(MARKET_CUTOFFS)}")
        return value


class StepCutoff(Cutoff):
    """A step's own close of business (or its practical one): a wall-clock time in an IANA zone,
    in the purchaser's zone (`time_zone: purchaser`), or a market's (`fedwire`, `dtc`, `edgar`)."""

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return value if value == PURCHASER else _check_zone(value)


class BusinessDays(Spec):
    calendars: list[str] = Field(min_length=1)
    extra_closures: list[Day] = Field(default=[], max_length=1000)

    @field_validator("calendars")
    @classmethod
    def _known_calendars(cls, value: list[str]) -> list[str]:
        return _check_calendars(value, allow_purchaser=False)


class WireInstructionsSpec(Spec):
    """The agreement's "Company Wire Transfer Instructions": the account purchasers wire to.

    The account number is a `SecretStr` (never in a repr, a log or a traceback) and is left out
    of everything stored: the database keeps a masked form and a fingerprint
    (`closing.domain.wire_instructions`)."""

    bank: str = Field(min_length=1)
    aba: str
    account: SecretStr
    account_name: str = Field(min_length=1)
    swift: str | None = None
    reference: str | None = None

    @field_validator("aba")
    @classmethod
    def _routing_number(cls, value: str) -> str:
        from stdnum.exceptions import ValidationError as NumberError
        from stdnum.us import rtn

        try:
            return str(rtn.validate(value))
        except NumberError as error:
            raise ValueError(
                f"{value!r} is not a valid ABA routing number ({_why(error)})"
            ) from None

    @field_validator("account", mode="before")
    @classmethod
    def _account_number(cls, value: object) -> object:
        # Messages here never repeat the number.
        if not isinstance(value, str):
            raise ValueError("the account number must be written as text")
        compact = re.sub(r"[\s-]", "", value).upper()
        if not re.fullmatch(r"[0-9A-Z]{4,34}", compact):
            raise ValueError("the account number must be 4 to 34 letters or digits")
        if re.fullmatch(r"[A-Z]{2}[0-9]{2}[0-9A-Z]+", compact):
            from schwifty import IBAN
            from schwifty.exceptions import SchwiftyException

            try:
                IBAN(compact)
            except SchwiftyException:
                raise ValueError("the account looks like an IBAN but is not a valid one") from None
        return compact

    @field_validator("swift")
    @classmethod
    def _bic(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from schwifty import BIC
        from schwifty.exceptions import SchwiftyException

        try:
            return str(BIC(value.replace(" ", "")))
        except SchwiftyException as error:
            raise ValueError(f"{value!r} is not a valid SWIFT/BIC code ({error})") from None


def _why(error: Exception) -> str:
    """python-stdnum's reason, as a clause: "the number's checksum or check digit is invalid"."""
    return str(getattr(error, "message", error)).lower().rstrip(".")


_PHONE = re.compile(r"^\+?[0-9]{7,15}$")


class Company(Spec):
    name: str = Field(min_length=1)
    attention: str | None = None
    address: str | None = None
    facsimile: str | None = None
    # Kept out of the stored terms (`exclude`): the database keeps each version of them as a
    # masked, fingerprinted record of its own, under the two-person rule.
    wire_instructions: WireInstructionsSpec | None = Field(default=None, exclude=True)
    callback_numbers: list[str] = Field(default=[], exclude=True)

    @field_validator("callback_numbers")
    @classmethod
    def _phone_numbers(cls, value: list[str]) -> list[str]:
        for number in value:
            if not _PHONE.match(phone_digits(number)):
                raise ValueError(
                    f"{number!r} is not a telephone number; write it like +1 949 788 6700"
                )
        return value


class CommonStock(Spec):
    par_value: Money
    price_per_share: Money = Field(gt=0)


class Warrant(Spec):
    term_years: int = Field(gt=0, le=100)
    exercise_price: Money = Field(gt=0)
    coverage: Money = Field(ge=0, le=1)


class Securities(Spec):
    common_stock: CommonStock
    warrant: Warrant


class Registration(Spec):
    form: str
    file_number: str
    prospectus_supplement: str | None = None


class Due(Spec, DueCommon):
    """Due at the cutoff (or `at`, on that day) on the n-th business day (of the step's
    calendars) or calendar day `after` or `before` an anchor: the closing date (`closing`), a
    key date (`signing`, `pricing`, ...), or a step (after it: the day it was done, the closing
    date until then; before it: the day of its deadline). Counted as in `closing.domain.anchors`.
    Neither count given: one business day."""

    after: StepId | None = None
    before: StepId | None = None
    business_days: int | None = Field(default=None, ge=0, le=366)
    calendar_days: int | None = Field(default=None, ge=0, le=3660)
    at: time | None = None

    @model_validator(mode="after")
    def _one_anchor_one_count(self) -> Due:
        if (self.after is None) == (self.before is None):
            raise ValueError("give one of after: or before: (closing, a key date or a step)")
        if self.business_days is not None and self.calendar_days is not None:
            raise ValueError("give business_days or calendar_days, not both")
        return self


class PaymentRule(Spec):
    """The step whose amount must match the purchase price; a total short of it by at most
    `tolerance` (an incoming-wire fee, say) completes it too."""

    tolerance: Money = Field(default=Decimal("0"), ge=0)
    partial: bool = False  # wires in parts are expected: an import may record part of the price


class Step(Spec, StepCommon):
    id: StepId
    title: str
    label: str | None = Field(default=None, max_length=12)  # the board's column heading
    party: Literal["purchaser", "company"] = "purchaser"
    requires: list[StepId] = Field(default=[], max_length=100)
    due: Literal["closing_cutoff"] | Due = "closing_cutoff"
    cutoff: StepCutoff | None = None  # else the deal's
    practical: StepCutoff | None = None  # the market's deadline beside the agreement's
    calendars: list[str] | None = None  # else the deal's business_days.calendars
    needs: list[str] = Field(default=[])
    payment: bool | PaymentRule = False
    alerts: StepAlerts | None = None  # replaces the deal's `before`, `at_deadline`, `overdue`
    note: str | None = None
    # Delivery versus payment: the step is held (no alerts, marked only --out-of-order) until
    # this step (the payment) is done; a reversal of it after delivery opens `remedy`.
    held_until: StepId | None = None
    remedy: str | None = Field(default=None, max_length=200)  # "DWAC withdrawal"
    lapses_at: Day | None = None  # the purchaser's part lapses if still open after this day
    owner: str | None = None  # the party that does it (`parties:`); default company/purchaser
    responsible: str | None = None  # the person at that party

    @field_validator("calendars")
    @classmethod
    def _known_calendars(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_calendars(value, allow_purchaser=True)

    @field_validator("needs")
    @classmethod
    def _known_details(cls, value: list[str]) -> list[str]:
        for item in value:
            if item not in DETAIL_NAMES:
                raise ValueError(
                    f"unknown purchaser detail {item!r}; use one of {', '.join(DETAIL_NAMES)}"
                )
        return value


# --- the funds flow (`funds_flow:`; its cross-checks are in `funds`) ---


class DeductionSpec(Spec):
    """What comes off the gross proceeds: `percent` of the gross, or a fixed `amount`."""

    id: StepId
    title: str = Field(min_length=1, max_length=200)
    kind: Literal["fee", "expense", "escrow"] = "fee"
    percent: Money | None = Field(default=None, ge=0, le=100)
    of: Literal["gross"] = "gross"
    amount: Cents | None = Field(default=None, ge=0)
    payee: str | None = Field(default=None, max_length=100)  # a party of `parties:`

    @model_validator(mode="after")
    def _percent_or_amount(self) -> DeductionSpec:
        if (self.percent is None) == (self.amount is None):
            raise ValueError(f"deduction {self.id!r}: give percent: or amount:, one of them")
        return self


class DisbursementSpec(Spec):
    """One outgoing wire: `to` a party, of an `amount`, of the deductions it `pays`, or of the
    `rest` of the account once every other disbursement from it is made."""

    id: StepId
    to: str = Field(min_length=1, max_length=100)  # a party of `parties:`, or `company`
    title: str | None = Field(default=None, max_length=200)
    amount: Cents | None = Field(default=None, gt=0)
    pays: list[StepId] = Field(default=[], max_length=20)  # deduction ids
    rest: bool = False
    # `from:` in a deal file; `from_account` as the stored terms keep it (read back at a reload).
    from_account: str | None = Field(
        default=None, validation_alias=AliasChoices("from", "from_account"), max_length=100
    )
    # The beneficiary's bank details, as the company's wire instructions are written (kept out of
    # the stored terms: each version is an event, masked and fingerprinted, held until verified).
    beneficiary: WireInstructionsSpec | None = Field(default=None, exclude=True)
    callback_numbers: list[str] = Field(default=[], exclude=True, max_length=10)
    due: Literal["closing_cutoff"] | Due = "closing_cutoff"
    cutoff: StepCutoff | None = None  # `fedwire`, or {time, time_zone}; else the deal's
    release_when: list[str] = Field(default=[], max_length=30)

    @model_validator(mode="after")
    def _one_amount(self) -> DisbursementSpec:
        given = sum((self.amount is not None, bool(self.pays), self.rest))
        if given != 1:
            raise ValueError(f"disbursement {self.id!r}: give one of amount:, pays: or rest: true")
        return self

    @field_validator("callback_numbers")
    @classmethod
    def _phone_numbers(cls, value: list[str]) -> list[str]:
        return Company._phone_numbers(value)

    @field_validator("release_when")
    @classmethod
    def _conditions(cls, value: list[str]) -> list[str]:
        return [" ".join(item.split()) for item in value]


class FundsFlowSpec(Spec):
    """`funds_flow:`: the account the purchasers wire to (`received_into`, a party: the
    company's by default, or the escrow agent's), the deductions and the disbursements."""

    received_into: str = Field(default=COMPANY, max_length=100)
    deductions: list[DeductionSpec] = Field(default=[], max_length=50)
    disbursements: list[DisbursementSpec] = Field(default=[], max_length=50)


class Notices(Spec):
    attention: Attention = None
    address: Address = None
    facsimile: Facsimile = None
    email: Email = None


class Dwac(Spec):
    dtc_number: DtcNumber = None
    account_number: DwacAccount = None
    reference: DwacReference = None


class PurchaserSpec(Spec):
    name: str = Field(min_length=1, max_length=200)
    slug: Slug | None = None
    shares: Count = Field(gt=0)
    purchase_price: Money = Field(gt=0)
    warrant_shares: Count = Field(ge=0)
    notices: Notices = Notices()
    dwac: Dwac = Dwac()
    contact: ContactText = None  # who to reach on the day
    time_zone: str | None = None  # for steps due at close of business in the purchaser's zone
    holidays: list[str] = Field(default=[])  # for steps whose calendars include `purchaser`
    aliases: list[str] = Field(default=[])  # other names its bank may send wires under

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)

    @field_validator("holidays")
    @classmethod
    def _known_holidays(cls, value: list[str]) -> list[str]:
        return _check_calendars(value, allow_purchaser=False)

    @field_validator("purchase_price")
    @classmethod
    def _whole_cents(cls, value: Decimal) -> Decimal:
        if value != value.quantize(Decimal("0.01")):
            raise ValueError(f"purchase price {value} has fractions of a cent")
        return value

    @model_validator(mode="after")
    def _has_a_key(self) -> PurchaserSpec:
        if not self.slug and not slugify(self.name):
            raise ValueError(
                f"no slug can be made of the name {self.name!r} (it has no letters a to z or "
                "digits); give the purchaser a `slug:` to type in commands"
            )
        return self

    @property
    def key(self) -> str:
        return self.slug or slugify(self.name)


class Schedule1File(Spec):
    """Schedule 1 read from a spreadsheet (`purchasers: {file: PATH}`): the path as the deal file
    gives it and the SHA-256 of the file's bytes (so a changed spreadsheet is a changed deal)."""

    file: str
    sha256: str


class ReportSettings(Spec):
    """`closing report`'s settings: a folder of the deal's own templates (`memo.html.j2`,
    `memo.md.j2`), found before the package's; relative to the deal file."""

    templates: str | None = None


class MemoSettings(Spec):
    """The closing memorandum's heading (`closing report --author/--firm/--to/--legend` win)."""

    author: str | None = Field(default=None, max_length=200)
    firm: str | None = Field(default=None, max_length=200)
    addressees: list[str] = Field(default=[], max_length=20)
    legend: str | None = Field(default=None, max_length=200)  # "Privileged and confidential"


class DealTerms(Spec, TermsCommon):
    """Everything about a deal but its purchasers: stored with the deal, read by every command."""

    slug: Slug
    title: str
    agreement_date: Day
    closing_date: Day
    key_dates: dict[StepId, Day] = Field(default={}, max_length=50)  # signing, pricing, ...
    cutoff: Cutoff
    business_days: BusinessDays
    company: Company
    securities: Securities
    registration: Registration
    governing_law: str
    steps: list[Step] = Field(min_length=1, max_length=200)
    alerts: AlertRules = AlertRules()
    report: ReportSettings | None = None
    outside_date: Day | None = None  # the closing lapses if not closed by the end of this day
    parties: dict[str, PartySpec] = Field(default={}, max_length=1000)
    documents: list[DocumentSpec] = Field(default=[], max_length=200)  # the closing set
    schedule_1: Schedule1File | None = None  # set by the loader from `purchasers: {file: ...}`
    funds_flow: FundsFlowSpec | None = None  # where the money goes
    memo: MemoSettings | None = None  # the memo's author, firm, addressees and legend

    def calendar_names(self, purchasers: Sequence[PurchaserSpec] = ()) -> set[str]:
        """Every calendar the deal's deadlines can use (for the snapshot stored with it)."""
        names = set(self.business_days.calendars)
        for cutoff in (self.cutoff, *(c for s in self.steps for c in (s.cutoff, s.practical))):
            if cutoff is not None and cutoff.market:
                names.update(MARKET_CUTOFFS[cutoff.market].calendars)
        for step in self.steps:
            names.update(name for name in step.calendars or () if name != PURCHASER)
        for item in self.funds_flow.disbursements if self.funds_flow else ():
            if item.cutoff is not None and item.cutoff.market:
                names.update(MARKET_CUTOFFS[item.cutoff.market].calendars)
        for purchaser in purchasers:
            names.update(purchaser.holidays)
        return names
