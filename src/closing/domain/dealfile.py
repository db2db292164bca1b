"""The deal file: its schema, and a loader that reports every problem at once as `path:line: msg`.

Scalars are read from the YAML as text (never as floats), so `0.2325` stays exactly `0.2325`.
Each section is validated on its own, so one bad purchaser does not hide another's problem, and
the cross-checks (Schedule 1 arithmetic, step graph) run on every part that did validate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from closing.domain.calendar import calendar_problem
from closing.domain.errors import DealFileError, Problem
from closing.domain.money import format_money, parse_count, parse_price
from closing.domain.text import describe, neutral, one_line_problem
from closing.domain.timefmt import duration

# Dates a deal can be on: nobody closes in year 1 or 9999, and date arithmetic overflows there.
FIRST_YEAR = 1900
LAST_YEAR = 2199
MAX_SLUG = 100


def _sane_date(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"{value} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


# Prices, fractions and purchase prices are exact Decimals read from text; see closing.domain.money.
Money = Annotated[Decimal, BeforeValidator(parse_price)]
Count = Annotated[int, BeforeValidator(parse_count)]
Day = Annotated[date, AfterValidator(_sane_date)]
StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=MAX_SLUG)]

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
RESERVED_STEP_IDS = (CLOSING, COMPANY)


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


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Cutoff(Spec):
    time: time
    time_zone: str

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class StepCutoff(Spec):
    """A step's own close of business: a wall-clock time in an IANA zone, or in the purchaser's
    zone (`time_zone: purchaser`)."""

    time: time
    time_zone: str

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


def phone_digits(value: str) -> str:
    """`(949) 788-6700` -> `9497886700`; `+1 949 788 6700` -> `+19497886700`."""
    return re.sub(r"[\s().\-/]", "", value)


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


class DueAfter(Spec):
    """Due at the cutoff on the n-th business day after the day `after` was done, or after the
    closing date (`after: closing`)."""

    after: StepId
    business_days: int = Field(default=1, ge=0, le=366)


class PaymentRule(Spec):
    """The step whose amount must match the purchase price; a total short of it by at most
    `tolerance` (an incoming-wire fee, say) completes it too."""

    tolerance: Money = Field(default=Decimal("0"), ge=0)
    partial: bool = False  # wires in parts are expected: an import may record part of the price


class Step(Spec):
    id: StepId
    title: str
    label: str | None = Field(default=None, max_length=12)  # the board's column heading
    party: Literal["purchaser", "company"] = "purchaser"
    requires: list[StepId] = Field(default=[], max_length=100)
    due: Literal["closing_cutoff"] | DueAfter = "closing_cutoff"
    cutoff: StepCutoff | None = None  # else the deal's
    calendars: list[str] | None = None  # else the deal's business_days.calendars
    needs: list[str] = []
    payment: bool | PaymentRule = False
    alerts: StepAlerts | None = None  # replaces the deal's `before`, `at_deadline`, `overdue`
    note: str | None = None

    @property
    def heading(self) -> str:
        return self.label or self.id

    @property
    def is_payment(self) -> bool:
        return self.payment is not False

    @property
    def tolerance(self) -> Decimal:
        return self.payment.tolerance if isinstance(self.payment, PaymentRule) else Decimal("0")

    @property
    def allows_partial(self) -> bool:
        return isinstance(self.payment, PaymentRule) and self.payment.partial

    @property
    def for_company(self) -> bool:
        return self.party == COMPANY

    @property
    def per_purchaser_deadline(self) -> bool:
        """Whether the deadline depends on the purchaser's zone or holidays."""
        zone = self.cutoff.time_zone if self.cutoff else None
        return zone == PURCHASER or PURCHASER in (self.calendars or ())

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


class Notices(Spec):
    attention: str | None = None
    address: str | None = None
    facsimile: str | None = None


class Dwac(Spec):
    dtc_number: str | None = None
    account_number: str | None = None
    reference: str | None = None


class PurchaserSpec(Spec):
    name: str = Field(min_length=1)
    slug: Slug | None = None
    shares: Count = Field(gt=0)
    purchase_price: Money = Field(gt=0)
    warrant_shares: Count = Field(ge=0)
    notices: Notices = Notices()
    dwac: Dwac = Dwac()
    time_zone: str | None = None  # for steps due at close of business in the purchaser's zone
    holidays: list[str] = []  # for steps whose calendars include `purchaser`
    aliases: list[str] = []  # other names its bank may send wires under

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

    @property
    def key(self) -> str:
        return self.slug or slugify(self.name)


_DURATION = re.compile(
    r"^(?:(\d{1,15})d)?\s*(?:(\d{1,15})h)?\s*(?:(\d{1,15})m)?\s*(?:(\d{1,15})s)?$"
)
MAX_DURATION = timedelta(days=31)


def parse_duration(value: object) -> timedelta:
    """`2h`, `30m`, `1h30m`, `45s`, `0m` -> timedelta; at most 31 days."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().replace(" ", "")
    match = _DURATION.match(text)
    if not text or not match or not any(match.groups()):
        raise ValueError(
            f"'{neutral(text[:40])}' is not a duration; write it like 2h, 30m, 1h30m or 45s"
        )
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total > MAX_DURATION.total_seconds():
        raise ValueError(f"{text} is longer than {MAX_DURATION.days} days")
    return timedelta(seconds=total)


def _spelled(value: timedelta) -> str:
    return duration(value, style="exact")


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(_spelled, return_type=str)
]


# apprise services whose URL holds their tokens: in the host and path (Slack, Teams, Discord,
# Telegram, Pushover, Pushbullet, Join, IFTTT) or in the path after a host name (Gotify,
# Mattermost). Only numbers, #channels and @users may be written out in those places.
TOKEN_IN_HOST = frozenset(
    ("slack", "msteams", "discord", "tgram", "pover", "pbul", "join", "ifttt")
)
TOKEN_IN_PATH = frozenset(("gotify", "gotifys", "mmost", "mmosts"))
_SECRET_QUERY = re.compile(
    r"pass|password|pwd|passwd|token|\w+_token|secret|\w+_secret|api_?key|key|auth|sig|signature",
    re.IGNORECASE,
)
_ENV_VAR = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def secret_in_url(url: str) -> str | None:
    """Why `url` holds a literal secret (None when every secret in it is a `${VAR}`): a password,
    a secret query parameter, or a token-bearing service's tokens written out."""
    from urllib.parse import parse_qsl

    def literal(part: str) -> bool:
        return bool(_ENV_VAR.sub("", part))

    scheme, _, rest = url.strip().partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    after = rest[len(authority) :]
    path, _, query = after.partition("#")[0].partition("?")
    userinfo, _, host = authority.rpartition("@")
    if ":" in userinfo and literal(userinfo.split(":", 1)[1]):
        return "has a password in it"
    for name, value in parse_qsl(query, keep_blank_values=True):
        if _SECRET_QUERY.fullmatch(name) and literal(value):
            return f"has a secret in its ?{neutral(name[:20])}= parameter"
    kind = scheme.lower()
    if kind in TOKEN_IN_HOST or kind in TOKEN_IN_PATH:
        parts = [host, *path.split("/")] if kind in TOKEN_IN_HOST else path.split("/")
        for part in parts:
            if part and literal(part) and not re.fullmatch(r"[#@%].*|-?\d+", part):
                return f"has the service's tokens in it ({scheme.lower()}:// URLs carry them)"
    return None


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


class AlertRules(Spec):
    """When and to whom deadline alerts go: before each step's deadline, at it, and after."""

    before: list[Duration] = Field(
        default=[timedelta(hours=2), timedelta(minutes=30)], max_length=20
    )
    at_deadline: bool = True
    overdue: OverdueRepeat | None = None
    quiet_hours: QuietHours | None = None
    notify: list[str] = Field(default=[], max_length=20)
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

    @field_validator("notify")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
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


class ReportSettings(Spec):
    """`closing report`'s settings: a folder of the deal's own templates (`memo.html.j2`,
    `memo.md.j2`), found before the package's; relative to the deal file."""

    templates: str | None = None


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


Step.model_rebuild()


class DealTerms(Spec):
    """Everything about a deal but its purchasers: stored with the deal, read by every command."""

    slug: Slug
    title: str
    agreement_date: Day
    closing_date: Day
    cutoff: Cutoff
    business_days: BusinessDays
    company: Company
    securities: Securities
    registration: Registration
    governing_law: str
    steps: list[Step] = Field(min_length=1, max_length=200)
    alerts: AlertRules = AlertRules()
    report: ReportSettings | None = None

    @property
    def zone(self) -> ZoneInfo:
        return self.cutoff.zone

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def step_ids(self) -> list[str]:
        return [step.id for step in self.steps]

    @property
    def purchaser_steps(self) -> list[Step]:
        return [step for step in self.steps if not step.for_company]

    @property
    def company_steps(self) -> list[Step]:
        return [step for step in self.steps if step.for_company]

    def calendar_names(self, purchasers: Sequence[PurchaserSpec] = ()) -> set[str]:
        """Every calendar the deal's deadlines can use (for the snapshot stored with it)."""
        names = set(self.business_days.calendars)
        for step in self.steps:
            names.update(name for name in step.calendars or () if name != PURCHASER)
        for purchaser in purchasers:
            names.update(purchaser.holidays)
        return names


@dataclass(frozen=True)
class DealFile:
    terms: DealTerms
    purchasers: list[PurchaserSpec]
    path: Path
    text: str = field(repr=False)


def slugify(name: str) -> str:
    """`Stonestreet Limited Partnership` -> `stonestreet-limited-partnership`, at most 100
    characters."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower())[:MAX_SLUG].strip("-")


# --- reading YAML with line numbers -------------------------------------------------------------

Loc = tuple[str | int, ...]
_NULLS = {"", "~", "null", "Null", "NULL"}


class _Located:
    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[Loc, int] = {}
        self.problems: list[tuple[int, str]] = []

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append((self.line(loc), message))

    def line(self, loc: Loc) -> int:
        for end in range(len(loc), -1, -1):
            found = self.lines.get(loc[:end])
            if found is not None:
                return found
        return 1

    def validate(self, model: type[BaseModel], data: Any, loc: Loc) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            for item in error.errors():
                self.report(loc, item)
            return None

    def report(self, base: Loc, item: Any) -> None:
        parts = item["loc"]
        given = item.get("input")
        # `due` is either `closing_cutoff` or a mapping: report only the form that was written.
        if isinstance(given, dict) and any(str(p).startswith("literal[") for p in parts):
            return
        if parts and parts[-1] == "DueAfter" and not isinstance(given, dict):
            return
        loc: Loc = (*base, *(p for p in parts if p != "DueAfter"))
        kind = item["type"]
        if kind == "missing":
            parent, name = loc[:-1], loc[-1]
            self.problem(parent, f"missing required field {_where(parent, name)!r}")
        elif kind == "extra_forbidden":
            self.problem(loc, f"unknown key {_where(loc[:-1], loc[-1])!r}")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            if kind.startswith(("date_", "time_")) or kind in ("date_type", "time_type"):
                value = item.get("input")
                message = f"{value!r} is not a valid {kind.split('_')[0]}" + (
                    "; write it as YYYY-MM-DD" if kind.startswith("date") else "; write it as HH:MM"
                )
            self.problem(loc, f"{_dotted(loc)}: {message}")

    def render(self) -> list[Problem]:
        return [
            Problem(self.path, line, neutral(message)) for line, message in sorted(self.problems)
        ]


class _Refused(Exception):
    """A file refused as a whole (too large, not text, not YAML, an alias bomb): one problem."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# Limits that keep a hostile file from costing more than a moment and a few megabytes. A deal
# of 10,000 purchasers is about 3 MB and 250,000 nodes.
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_NODES = 1_000_000  # keys, values and items; an alias counts as every node it stands for
MAX_ALIASES = 10_000
MAX_DEPTH = 32
# What YAML allows in a file (YAML 1.1 "printable"); libyaml refuses anything else with an error
# that has no line number, so it is found first. Compiled on first use (by `re`'s own cache):
# the compilation of its ranges costs milliseconds that commands reading no deal file skip.
_NOT_YAML_TEXT = "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _read_text(file: Path, shown: str) -> str:
    """The file's text: at most `MAX_FILE_BYTES`, UTF-8, and only characters YAML allows."""
    try:
        with file.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise DealFileError([Problem(shown, None, "no such file; check the path")]) from None
    except OSError as error:
        reason = neutral(error.strerror or type(error).__name__)
        raise DealFileError([Problem(shown, None, f"cannot read the file: {reason}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // (1024 * 1024)
        raise DealFileError(
            [Problem(shown, 1, f"the file is larger than {limit} MB; a deal file is at most that")]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        byte = raw[error.start]
        raise DealFileError(
            [Problem(shown, line, f"not UTF-8 text (byte 0x{byte:02x}); save it as UTF-8")]
        ) from None
    bad = re.search(_NOT_YAML_TEXT, text)
    if bad is not None:
        line = _line_at(text, bad.start())
        raise DealFileError(
            [Problem(shown, line, f"contains {describe(bad.group())}; a deal file is plain text")]
        )
    return text


class _Composer:
    """Plain Python values from YAML parse events (PyYAML's composer without its node graph),
    recording the line of every key and item.

    Every node is counted as it is read; an alias adds the count of the node it refers to and
    shares its value instead of copying it, so nine levels of nine aliases are refused at the
    first alias past `MAX_NODES`, having cost nothing. Scalars stay text; plain `null`/`~` and
    `true`/`false` become None and booleans, as before. A text value that is too long or holds a
    line break, a control or an invisible formatting character is a problem on its line."""

    def __init__(self, located: _Located, text: str) -> None:
        import yaml

        self.yaml = yaml
        self.located = located
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self.events = yaml.parse(text, Loader=loader)
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.nodes = 0
        self.aliases = 0

    def document(self) -> Any:
        yaml = self.yaml
        try:
            self._next()  # StreamStart
            event = self._next()
            if isinstance(event, yaml.StreamEndEvent):
                return None
            root = self._node(self._next(), (), 0)
            self._next()  # DocumentEnd
            event = self._next()
            if not isinstance(event, yaml.StreamEndEvent):
                raise _Refused(
                    event.start_mark.line + 1,
                    "not valid YAML: a deal file is one document (remove the second ---)",
                )
            return root
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else 1
            raise _Refused(line, f"not valid YAML: {neutral(error.problem or '')}") from None
        except yaml.YAMLError as error:
            raise _Refused(1, f"not valid YAML: {neutral(str(error).splitlines()[0])}") from None

    def _next(self) -> Any:
        return next(self.events)

    def _count(self, nodes: int, line: int) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            raise _Refused(
                line,
                f"more than {MAX_NODES:,} keys, values and items (counting what each alias "
                "stands for); a deal file is not that large",
            )

    def _node(self, event: Any, loc: Loc, depth: int) -> Any:
        yaml = self.yaml
        line = event.start_mark.line + 1
        if depth > MAX_DEPTH:
            raise _Refused(line, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event.anchor, line)
        anchor = event.anchor
        if anchor is not None:
            if anchor in self.anchors or anchor in self.open_anchors:
                raise _Refused(line, f"not valid YAML: found duplicate anchor {neutral(anchor)!r}")
            self.open_anchors.add(anchor)
        first = self.nodes
        self._count(1, line)
        value: Any
        if isinstance(event, yaml.ScalarEvent):
            value = self._scalar(event, loc)
        elif isinstance(event, yaml.SequenceStartEvent):
            items: list[Any] = []
            item = self._next()
            while not isinstance(item, yaml.SequenceEndEvent):
                index = len(items)
                self.located.lines[(*loc, index)] = item.start_mark.line + 1
                items.append(self._node(item, (*loc, index), depth + 1))
                item = self._next()
            value = items
        else:
            value = self._mapping(loc, depth)
        if anchor is not None:
            self.open_anchors.discard(anchor)
            self.anchors[anchor] = (value, self.nodes - first)
        return value

    def _alias(self, anchor: str, line: int) -> Any:
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise _Refused(line, f"more than {MAX_ALIASES:,} aliases (*name)")
        if anchor in self.open_anchors:
            raise _Refused(line, f"alias *{neutral(anchor)} refers to a node that contains it")
        if anchor not in self.anchors:
            raise _Refused(line, f"not valid YAML: found undefined alias {neutral(anchor)!r}")
        value, nodes = self.anchors[anchor]
        self._count(nodes, line)
        return value

    def _mapping(self, loc: Loc, depth: int) -> dict[str, Any]:
        yaml = self.yaml
        result: dict[str, Any] = {}
        event = self._next()
        while not isinstance(event, yaml.MappingEndEvent):
            key = self._key(event, loc)
            self.located.lines[(*loc, key)] = event.start_mark.line + 1
            value = self._node(self._next(), (*loc, key), depth + 1)
            if key in result:
                self.located.problem((*loc, key), f"duplicate key {_where(loc, key)!r}")
            else:
                result[key] = value
            event = self._next()
        return result

    def _key(self, event: Any, loc: Loc) -> str:
        """A mapping key as written (`true:` is the key 'true'); keys are plain text."""
        yaml = self.yaml
        line = event.start_mark.line + 1
        key: Any
        if isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                raise _Refused(line, "an anchor (&name) on a key is not supported")
            self._count(1, line)
            key = event.value
        elif isinstance(event, yaml.AliasEvent):
            key = self._alias(event.anchor, line)
        else:
            key = None
        if not isinstance(key, str):
            raise _Refused(line, f"{_dotted(loc) or 'the file'}: a key must be plain text")
        problem = one_line_problem(key, 200)
        if problem:
            raise _Refused(line, f"{_dotted(loc) or 'the file'}: a key {problem}")
        return key

    def _scalar(self, event: Any, loc: Loc) -> Any:
        value: str = event.value
        plain = event.style in (None, "")
        if plain and value in _NULLS:
            return None
        if plain and value in ("true", "True", "false", "False"):
            return value.lower() == "true"
        problem = one_line_problem(value.strip())
        if problem:
            self.located.lines.setdefault(loc, event.start_mark.line + 1)
            self.located.problem(loc, f"{_dotted(loc)}: {problem}")
        return value


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _where(parent: Loc, name: str | int) -> str:
    return _dotted((*parent, name))


def load_deal_file(path: str | Path) -> DealFile:
    """Read and validate a deal file; raise `DealFileError` listing every problem.

    A hostile file is refused quickly and in bounded memory: at most `MAX_FILE_BYTES` are read,
    and the YAML is built from its parse events with every node counted (an alias counts as all
    the nodes it stands for), so an alias bomb stops at `MAX_NODES` instead of expanding."""
    file = Path(path)
    shown = neutral(str(path))
    located = _Located(shown)
    text = _read_text(file, shown)
    try:
        data = _Composer(located, text).document()
    except _Refused as refused:
        raise DealFileError([Problem(shown, refused.line, refused.message)]) from None
    if not isinstance(data, dict):
        raise DealFileError(
            [Problem(shown, 1, "a deal file is a mapping of keys like closing_date:")]
        )
    data.setdefault("slug", slugify(file.stem))
    raw_purchasers = data.pop("purchasers", None)

    terms, good = _validate_terms(located, data)
    purchasers = _validate_purchasers(located, raw_purchasers)
    if "steps" in good:
        _check_steps(located, good["steps"])
    if {"agreement_date", "closing_date", "business_days"} <= good.keys():
        _check_dates(located, good["agreement_date"], good["closing_date"], good["business_days"])
    _check_schedule_1(located, good.get("securities"), purchasers)

    if terms is not None and terms.report is not None and terms.report.templates:
        folder = file.parent / Path(terms.report.templates).expanduser()
        if not folder.is_dir():
            located.problem(("report", "templates"), f"report.templates: no folder {folder}")
        terms = terms.model_copy(update={"report": ReportSettings(templates=str(folder.resolve()))})
    if located.problems:
        raise DealFileError(located.render())
    assert terms is not None
    return DealFile(terms=terms, purchasers=[p for _, p in purchasers], path=file, text=text)


def _validate_terms(
    located: _Located, data: dict[str, Any]
) -> tuple[DealTerms | None, dict[str, Any]]:
    """Each top-level field on its own, so every field's problems are reported; returns the
    terms (when all is well) and every field that did validate, for the cross-checks."""
    fields = DealTerms.model_fields
    good: dict[str, Any] = {}
    complete = True
    for key in data:
        if key not in fields:
            located.problem((key,), f"unknown key {key!r}")
            complete = False
    for name, info in fields.items():
        if name not in data:
            if info.is_required():
                located.problem((), f"missing required field {name!r}")
                complete = False
            continue
        annotation: Any = info.annotation
        if info.metadata:  # constraints such as `steps`' min_length=1
            annotation = Annotated[(annotation, *info.metadata)]
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        try:
            good[name] = adapter.validate_python(data[name])
        except ValidationError as error:
            complete = False
            for item in error.errors():
                located.report((name,), item)
    terms = DealTerms.model_validate(good) if complete else None
    return terms, good


def _validate_purchasers(located: _Located, raw: Any) -> list[tuple[int, PurchaserSpec]]:
    if raw is None:
        located.problem((), "missing required field 'purchasers' (Schedule 1)")
        return []
    if not isinstance(raw, list) or not raw:
        located.problem(("purchasers",), "purchasers must be a non-empty list (Schedule 1)")
        return []
    result: list[tuple[int, PurchaserSpec]] = []
    for index, item in enumerate(raw):
        purchaser = located.validate(PurchaserSpec, item, ("purchasers", index))
        if purchaser is not None:
            result.append((index, purchaser))
    return result


def _check_steps(located: _Located, steps: list[Step]) -> None:
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
        if isinstance(step.due, DueAfter) and step.due.after != CLOSING:
            after = step.due.after
            if after == step.id:
                located.problem(
                    (*where, "due"),
                    f"step {step.id!r} is due after itself; use after: closing or another step",
                )
            elif after not in seen:
                located.problem(
                    (*where, "due"), f"step {step.id!r} is due after unknown step {after!r}"
                )
            elif party[after] != step.party:
                located.problem(
                    (*where, "due"),
                    f"step {step.id!r} is due after {after!r}, a step of another party; use "
                    "after: closing or a step of the same party",
                )
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
    cycle = _find_cycle(steps)
    if cycle:
        first = seen[cycle[0]]
        located.problem(
            ("steps", first, "requires"),
            f"steps form a cycle: {' -> '.join([*cycle, cycle[0]])}",
        )


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


def _check_dates(
    located: _Located, agreement_date: date, closing_date: date, business_days: BusinessDays
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


def _check_schedule_1(
    located: _Located, securities: Securities | None, purchasers: list[tuple[int, PurchaserSpec]]
) -> None:
    by_key: dict[str, int] = {}
    by_name: dict[str, int] = {}
    for index, purchaser in purchasers:
        loc: Loc = ("purchasers", index)
        name_key = purchaser.name.casefold()
        duplicate_name = name_key in by_name
        if duplicate_name:
            located.problem(
                (*loc, "name"),
                f"duplicate purchaser {purchaser.name!r} (also purchasers[{by_name[name_key]}])",
            )
        else:
            by_name[name_key] = index
        if purchaser.key in by_key:
            if not duplicate_name:
                located.problem(
                    (*loc, "slug" if purchaser.slug else "name"),
                    f"duplicate purchaser slug {purchaser.key!r} (also purchasers"
                    f"[{by_key[purchaser.key]}]); give one of them a distinct slug",
                )
        else:
            by_key[purchaser.key] = index
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
