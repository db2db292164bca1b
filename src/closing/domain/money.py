"""Money and share counts from text, exactly. Floats are refused, never rounded.

An amount is written the way a person writes a cheque: ASCII digits without leading zeros, an
optional `$`, commas only every three digits (or none), and at most two decimals: `930000`,
`$930,000`, `930,000.00`. Everything else (`9,3,0,0,0,0`, full-width digits, `9.3e5`,
`930,000.`, `-5`) is refused, as is anything of a trillion dollars or more. Prices per share and
fractions (`0.2325`, `0.10`) follow the same grammar with up to eight decimals.
"""

from __future__ import annotations

import re
from decimal import Decimal

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # under a trillion dollars
MAX_COUNT = 999_999_999_999  # shares
PRICE_PLACES = 8

# No leading zeros: `0.50` is fifty cents, `007` is not an amount anyone writes.
_WHOLE = r"(?:0|[1-9][0-9]{0,2}(?:,[0-9]{3})+|[1-9][0-9]*)"
_AMOUNT = re.compile(rf"\$?({_WHOLE})(?:\.([0-9]{{1,2}}))?")
_PRICE = re.compile(rf"\$?({_WHOLE})(?:\.([0-9]{{1,{PRICE_PLACES}}}))?")
_COUNT = re.compile(_WHOLE)
# Readable as a number, but negative or with fractions of a cent: said so, not "not an amount".
_UNPAYABLE = re.compile(rf"(-)?\$?(-)?{_WHOLE}(?:\.([0-9]+))?")
_HOW = "write it like 450000.00"


def _shown(value: str) -> str:
    from closing.domain.text import shortened

    return shortened(value, 40)


def parse_money(value: object) -> Decimal:
    """An amount in whole cents: `"$450,000"`, `"450000.00"`, a `Decimal` or an `int` ->
    `Decimal`. Floats, other spellings and amounts of a trillion or more raise ValueError."""
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, bool | float):
        raise ValueError("money must be written as text, not a floating-point number")
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        match = _AMOUNT.fullmatch(text)
        if match is None:
            unpayable = _UNPAYABLE.fullmatch(text)
            if unpayable and (
                unpayable.group(1) or unpayable.group(2) or len(unpayable.group(3) or "") > 2
            ):
                raise ValueError(
                    f"amount {_shown(text)} is not a positive amount in whole cents; {_HOW}"
                )
            raise ValueError(f"'{_shown(value)}' is not an amount; {_HOW}")
        whole, cents = match.groups()
        amount = Decimal(whole.replace(",", "") + ("." + cents if cents else ""))
    else:
        raise ValueError(f"expected an amount like 450000.00, got {type(value).__name__}")
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{amount} is not an amount; {_HOW}")
    if amount > MAX_AMOUNT:
        raise ValueError(
            f"amount {_shown(str(value))} is too large; amounts are under $1,000,000,000,000"
        )
    return amount


def parse_price(value: object) -> Decimal:
    """A price per share or a fraction (`0.2325`, `$0.275`, `0.10`): the grammar of an amount with
    up to eight decimals, under a trillion."""
    if isinstance(value, Decimal):
        price = value
    elif isinstance(value, bool | float):
        raise ValueError("a price must be written as text, not a floating-point number")
    elif isinstance(value, int):
        price = Decimal(value)
    elif isinstance(value, str):
        match = _PRICE.fullmatch(value.strip())
        if match is None:
            raise ValueError(
                f"'{_shown(value)}' is not a price; write it like 0.2325 (digits, at most "
                f"{PRICE_PLACES} decimals)"
            )
        whole, places = match.groups()
        price = Decimal(whole.replace(",", "") + ("." + places if places else ""))
    else:
        raise ValueError(f"expected a price like 0.2325, got {type(value).__name__}")
    if not price.is_finite() or price < 0 or price > MAX_AMOUNT:
        raise ValueError(f"'{_shown(str(value))}' is not a price under $1,000,000,000,000")
    return price


def parse_count(value: object) -> int:
    """A whole number of shares, `"1,935,483"` or `1935483`, under a trillion."""
    if isinstance(value, bool | float):
        raise ValueError("a share count must be a whole number")
    if isinstance(value, int):
        count = value
    elif isinstance(value, str):
        text = value.strip()
        if not _COUNT.fullmatch(text):
            raise ValueError(f"'{_shown(value)}' is not a whole number; write it like 1,935,483")
        count = int(text.replace(",", ""))
    else:
        raise ValueError(f"expected a whole number like 1,935,483, got {type(value).__name__}")
    if not 0 <= count <= MAX_COUNT:
        raise ValueError(f"{count:,} is not a share count from 0 to {MAX_COUNT:,}")
    return count


def format_money(amount: Decimal) -> str:
    """`$1,380,000.00`, `-$0.01`: cents always shown."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount).quantize(CENT):,}"


DEAL_CURRENCY = "USD"  # the currency every price and payment of a deal is in


def format_amount(amount: Decimal, currency: str) -> str:
    """An amount in its own currency: `$450,000.00` in dollars, `EUR 450,000.00` otherwise (a
    credit in another currency is never shown as dollars)."""
    if currency == DEAL_CURRENCY:
        return format_money(amount)
    sign = "-" if amount < 0 else ""
    return f"{currency} {sign}{abs(amount).quantize(CENT):,}"


def money_text(amount: Decimal) -> str:
    """`1380000.00`: the JSON form, exact, cents always shown."""
    return str(amount.quantize(CENT))
