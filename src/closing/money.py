"""Money and share counts from text, exactly. Floats are refused, never rounded."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")


def parse_money(value: object) -> Decimal:
    """`"$450,000"`, `"450000.00"` or a `Decimal` -> `Decimal`; floats and junk raise ValueError."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected an amount like 450000.00, got {value!r}")
    if isinstance(value, float):
        raise ValueError("money must be written as text, not a floating-point number")
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise ValueError(f"expected an amount like 450000.00, got {value!r}")
    text = value.strip().replace(",", "").replace("_", "")
    if text.startswith("$"):
        text = text[1:]
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount; write it like 450000.00") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount; write it like 450000.00")
    return amount


def parse_count(value: object) -> int:
    """A whole number of shares, `"1,935,483"` or `1935483`."""
    if isinstance(value, bool | float):
        raise ValueError("a share count must be a whole number")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a whole number like 1,935,483, got {value!r}")
    text = value.strip().replace(",", "").replace("_", "")
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{value!r} is not a whole number; write it like 1,935,483")
    return int(text)


def format_money(amount: Decimal) -> str:
    """`$1,380,000.00`, `-$0.01`: cents always shown."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount).quantize(CENT):,}"


def money_text(amount: Decimal) -> str:
    """`1380000.00`: the JSON form, exact, cents always shown."""
    return str(amount.quantize(CENT))
