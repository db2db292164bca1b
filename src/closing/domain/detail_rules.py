"""The rules of a purchaser's notice and DWAC details, written once: the deal file's models
(`closing.domain.dealfile.schema`) check a detail with these functions, and so does a detail a
purchaser proposes through its link (`closing.domain.proposals`). Pure, and free of pydantic: a
web form's check imports nothing heavy.

Each check takes the text as given and returns it cleaned (spaces trimmed), or raises ValueError
with one line saying what is wrong; that line is the deal file's problem and the form's refusal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

MAX_TEXT = 200  # a name, an attention line, a contact
MAX_ADDRESS = 300

_DTC = re.compile(r"[0-9]{4}")
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]{0,33}")
_PHONE = re.compile(r"\+?[0-9 ().-]{7,30}(?: ?(?:x|ext\.?) ?[0-9]{1,6})?")
_EMAIL = re.compile(r"[^@\s<>\"',;]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def plain_line(value: str, what: str, limit: int = MAX_TEXT) -> str:
    """Text on one line: no control or format characters (bidi overrides), at most `limit`."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for c in value):
        raise ValueError(f"{what} must be one line of plain text (no control characters)")
    kept = value.strip()
    if not kept:
        raise ValueError(f"{what} is empty")
    if len(kept) > limit:
        raise ValueError(f"{what} is {len(kept):,} characters; at most {limit:,}")
    return kept


def attention(value: str) -> str:
    return plain_line(value, "the notice attention")


def address(value: str) -> str:
    return plain_line(value, "the notice address", MAX_ADDRESS)


def facsimile(value: str) -> str:
    kept = plain_line(value, "the notice facsimile number", 40)
    if not _PHONE.fullmatch(kept) or sum(c.isdigit() for c in kept) < 7:
        raise ValueError(
            f"the notice facsimile number {kept!r} is not a telephone number "
            "(digits, spaces, + ( ) . - only, at least 7 digits)"
        )
    return kept


def email(value: str) -> str:
    kept = plain_line(value, "the notice e-mail", 254)
    if not _EMAIL.fullmatch(kept):
        raise ValueError(f"the notice e-mail {kept!r} is not an e-mail address (name@example.com)")
    return kept


def dtc_number(value: str) -> str:
    kept = plain_line(value, "the DTC participant number", 40)
    if not _DTC.fullmatch(kept):
        raise ValueError(f"the DTC participant number {kept!r} is not 4 digits (e.g. 0226)")
    return kept


def account_number(value: str) -> str:
    kept = plain_line(value, "the DWAC account number", 40)
    if not _ACCOUNT.fullmatch(kept):
        raise ValueError(
            "the DWAC account number is not an account number (letters, digits, spaces, "
            ". / - only, at most 34)"
        )
    return kept


def reference(value: str) -> str:
    return plain_line(value, "the DWAC reference", 100)


def contact(value: str) -> str:
    return plain_line(value, "the contact")


# Each detail by its dotted name: (the words a form and a message use, its check).
DETAIL_RULES: dict[str, tuple[str, Callable[[str], str]]] = {
    "notices.attention": ("Notice attention", attention),
    "notices.address": ("Notice address", address),
    "notices.facsimile": ("Notice facsimile", facsimile),
    "notices.email": ("Notice e-mail", email),
    "dwac.dtc_number": ("DTC participant number", dtc_number),
    "dwac.account_number": ("DWAC account number", account_number),
    "contact": ("Contact", contact),
}


def optional(check: Callable[[str], str]) -> Callable[[str | None], str | None]:
    """The deal file's form of a check: a blank detail is allowed (it is missing, and the board
    says so); a written one must pass."""

    def checked(value: str | None) -> str | None:
        if value is None or not str(value).strip():
            return None
        return check(str(value))

    return checked
