"""The one redaction rule: how a secret is shown in any output. Account numbers (`••••6789`: the
mask and the last four letters or digits, never the whole), account numbers inside free text (a
note, evidence, a deal-file change), and the passwords and tokens of database and notification
URLs.

Pure: text in, text out. Every account number the program prints or stores goes through
`mask_account`, with the one `MASK`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from closing.domain.text import neutral

if TYPE_CHECKING:
    from closing.domain.deal import Deal
    from closing.domain.events import Purchaser

MASK = "••••"
TAIL = 4  # the characters of an account number shown after the mask

_NOT_ACCOUNT = re.compile(r"[^0-9A-Za-z]")


def normalise_account(account: str) -> str:
    """`0001 2345-6789` -> `000123456789`: what banks print around an account number removed."""
    return _NOT_ACCOUNT.sub("", account).upper()


def mask_account(number: str, *, canonical: bool = False) -> str:
    """`1234-56789` -> `••••6789`: the mask and the last four letters or digits, never more.

    Two forms, kept apart because each is already written somewhere:
    - printed (the default; the memo and the export): the characters' case as written, and
      nothing after the mask when the number has four characters or fewer (the tail would be
      the whole number);
    - `canonical` (kept with each version of the company's wire instructions and each bank
      credit, and compared with a bank file's account): upper case as the fingerprint
      normalises it, and the last four always, as every stored version has them.
    """
    if canonical:
        return MASK + normalise_account(number)[-TAIL:]
    kept = _NOT_ACCOUNT.sub("", number)
    return MASK + (kept[-TAIL:] if len(kept) > TAIL else "")


_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
_LABELLED = re.compile(
    r"(?i)\b(acc(?:oun)?t|a/c)(\.?\s*(?:no\.?|number|#)?\s*[:#]?\s*)"
    r"((?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{3,})"  # at least one digit: "account holder" stays
)


class Masker:
    """Masks account numbers in free text (evidence, notes): every account number the deal file
    gives, anything shaped like an IBAN, and whatever follows "account", "acct" or "a/c"."""

    def __init__(self, numbers: Iterable[str]) -> None:
        found = {n.strip() for n in numbers if n and len(n.strip()) >= 4}
        self.numbers = sorted(found, key=len, reverse=True)

    def __call__(self, text: str | None) -> str:
        if not text:
            return text or ""
        for number in self.numbers:
            if number in text:
                text = text.replace(number, mask_account(number))
        text = _IBAN.sub(lambda m: mask_account(m.group(0)), text)
        return _LABELLED.sub(
            lambda m: (
                m.group(1) + m.group(2) + mask_account(m.group(3))
                if not m.group(3).startswith(MASK)
                else m.group(0)
            ),
            text,
        )


def account_numbers(deal: Deal, parties: Iterable[Purchaser]) -> list[str]:
    """Every value the deal file keeps under a key naming an account number (the purchasers'
    DWAC accounts; the company's wire instructions when the deal file has them)."""
    found: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                walk(inner, str(name))
        elif isinstance(value, list):
            for inner in value:
                walk(inner, key)
        elif isinstance(value, str) and key in ("account", "account_number", "iban"):
            found.append(value)

    walk(vars(deal.terms.company))
    for party in parties:
        walk(party.details)
    return found


def masked_url(url: str) -> str:
    """A database URL with any password replaced by `***`, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return neutral(url)
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return neutral(urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}")))
    except ValueError:
        return f"{neutral(url.split('://')[0])}://… (not a database URL like sqlite:///closing.db)"


# Schemes whose host is a server (a web hook's, a mail server): shown. Every other service
# (Pushbullet `pbul://TOKEN`, Pushover `pover://USER@TOKEN`, Telegram `tgram://BOT_TOKEN/...`,
# Slack `slack://TokenA/...`) carries a secret where a host would be.
_SERVER_SCHEMES = frozenset(
    {"http", "https", "json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos"}
)


def mask_url(url: str) -> str:
    """A notification URL as `scheme://host:port/…`: user, password, path tokens and query are
    hidden (they carry the channel's secrets), and so is the host of a service whose host is a
    token (`pbul://…`)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unreadable URL>"
    scheme = parts.scheme.lower()
    if scheme not in _SERVER_SCHEMES:
        return f"{neutral(scheme)}://…"
    rest = "/…" if (parts.path.strip("/") or parts.query or parts.username) else ""
    return f"{scheme}://{host}{port}{rest}"
