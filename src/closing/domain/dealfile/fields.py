"""The value types every part of a deal file shares, and `Spec`, the base of its models.

Money and counts are exact, read from text (never floats); dates are within the years a deal can be
on; step ids and slugs have a fixed form; durations are written `2h`, `30m`, `1h30m`, `45s`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from closing.domain import detail_rules
from closing.domain.clock import FIRST_YEAR, LAST_YEAR
from closing.domain.money import parse_count, parse_money, parse_price
from closing.domain.timefmt import duration, parse_duration

MAX_SLUG = 100


def _sane_date(value: date) -> date:
    # The years of closing.domain.clock: nobody closes in year 1 or 9999, and date arithmetic
    # overflows there.
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"{value} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


# Prices, fractions and purchase prices are exact Decimals read from text; see closing.domain.money.
Money = Annotated[Decimal, BeforeValidator(parse_price)]
# What is wired: whole cents (a funds flow's fixed amounts).
Cents = Annotated[Decimal, BeforeValidator(parse_money)]
Count = Annotated[int, BeforeValidator(parse_count)]
Day = Annotated[date, AfterValidator(_sane_date)]
StepId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=MAX_SLUG)]
# A purchaser's notice and DWAC details: blank is allowed (the board says it is missing), a written
# one is checked by the rule a detail proposed through a link is checked by
# (`closing.domain.detail_rules`).
Attention = Annotated[str | None, BeforeValidator(detail_rules.optional(detail_rules.attention))]
Address = Annotated[str | None, BeforeValidator(detail_rules.optional(detail_rules.address))]
Facsimile = Annotated[str | None, BeforeValidator(detail_rules.optional(detail_rules.facsimile))]
Email = Annotated[str | None, BeforeValidator(detail_rules.optional(detail_rules.email))]
DtcNumber = Annotated[str | None, BeforeValidator(detail_rules.optional(detail_rules.dtc_number))]
DwacAccount = Annotated[
    str | None, BeforeValidator(detail_rules.optional(detail_rules.account_number))
]
DwacReference = Annotated[
    str | None, BeforeValidator(detail_rules.optional(detail_rules.reference))
]
ContactText = Annotated[str | None, BeforeValidator(detail_rules.optional(detail_rules.contact))]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _spelled(value: timedelta) -> str:
    return duration(value, style="exact")


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(_spelled, return_type=str)
]


def slugify(name: str) -> str:
    """`Stonestreet Limited Partnership` -> `stonestreet-limited-partnership`, at most 100
    characters."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower())[:MAX_SLUG].strip("-")
