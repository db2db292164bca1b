"""The one redaction rule (`closing.domain.redaction`): an account number is shown as the mask and
at most its last four characters, in both of its forms and inside free text; URLs lose their
secrets."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from closing.domain.redaction import MASK, Masker, mask_account, mask_url, masked_url

DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=8)
# An account number as people write it: groups of digits (and a letter or two) with separators.
ACCOUNTS = st.builds(
    lambda groups, separator: separator.join(groups),
    st.lists(
        st.text(alphabet="0123456789ABCDEFab", min_size=1, max_size=8), min_size=1, max_size=4
    ),
    st.sampled_from(["", "-", " ", "/", "."]),
)
# Free text around an account number, without digits of its own.
PROSE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,;:()'", max_size=30)


def characters(number: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", number)


@given(ACCOUNTS)
def test_a_masked_account_shows_the_mask_and_at_most_its_last_four(number: str) -> None:
    """Printed: the mask, then the last four letters or digits as written, and nothing after the
    mask when that would be the whole number."""
    shown = mask_account(number)
    kept = characters(number)
    assert shown.startswith(MASK)
    tail = shown.removeprefix(MASK)
    assert tail == (kept[-4:] if len(kept) > 4 else "")


@given(ACCOUNTS)
def test_the_canonical_form_is_the_upper_case_last_four(number: str) -> None:
    """Kept with the wire instructions and each bank credit: the last four, upper case."""
    assert mask_account(number, canonical=True) == MASK + characters(number).upper()[-4:]


@given(st.lists(DIGITS, min_size=1, max_size=4), st.sampled_from(["", "-", " "]), PROSE, PROSE)
def test_no_digit_run_of_the_account_survives_but_the_shown_tail(
    groups: list[str], separator: str, before: str, after: str
) -> None:
    """Whatever text an account number of the deal file sits in, what comes out holds no run of
    its digits but the last four shown after the mask."""
    number = separator.join(groups)
    digits = characters(number)
    text = f"{before}{number}{after}"
    shown = Masker([number])(text)
    runs = re.findall(r"\d+", shown)
    if len(number.strip()) < 4:  # too short to be an account number: left as written
        return
    assert all(len(run) <= 4 and digits.endswith(run) for run in runs), shown
    assert len(runs) <= 1


def test_the_masker_masks_account_numbers_and_nothing_else() -> None:
    """Known numbers anywhere, IBANs, and what follows "account"/"acct"/"a/c" when it has a
    digit; a Fed reference, a fax confirmation and "account holder" stay as they are."""
    mask = Masker(["0012345678"])
    assert mask("to 0012345678 today") == "to ••••5678 today"
    assert mask("Account No.: 99-1234567") == "Account No.: ••••4567"
    assert mask("a/c 55501234; acct #A1234567") == "a/c ••••1234; acct #••••4567"
    assert mask("IBAN GB82 WEST 1234 5698 7654 32") == "IBAN ••••5432"
    for kept in ("FED 20020607B1Q8021C000123", "fax 4471", "the account holder called"):
        assert mask(kept) == kept


def test_urls_lose_their_secrets() -> None:
    """A database URL keeps everything but its password; a notification URL only its scheme,
    host and port."""
    assert masked_url("postgresql+psycopg://app:s3cret@db:5432/closing") == (
        "postgresql+psycopg://app:***@db:5432/closing"
    )
    assert masked_url("sqlite:///closing.db") == "sqlite:///closing.db"
    # A service whose host is a token keeps only its scheme (Slack's TokenA, Pushbullet's access
    # token, Pushover's user and application tokens).
    assert mask_url("slack://T000/B000/XXXXXXXX") == "slack://…"
    assert mask_url("pbul://o.Gn5kj6nfhv736I7jC3cj3QLRiyhgl98b") == "pbul://…"
    assert mask_url("pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi") == (
        "pover://…"
    )
    assert (
        mask_url("json://hooks.example.com:8080/abc?token=x") == "json://hooks.example.com:8080/…"
    )
    assert mask_url("mailtos://user:pass@smtp.example.com:587?to=a@b.c") == (
        "mailtos://smtp.example.com:587/…"
    )
