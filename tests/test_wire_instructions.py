"""Wire instructions under change control, without a database: the fingerprint, the mask, the
deal file's checks (ABA, IBAN, BIC) and the two-person rule as decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from closing.domain.dealfile.load import load_deal_file
from closing.domain.errors import DealFileError, RefusedError
from closing.domain.events import INSTRUCTIONS, INSTRUCTIONS_VERIFIED, Purchaser, Standing
from closing.domain.redaction import mask_account
from closing.domain.wire_instructions import (
    Instructions,
    Verification,
    Version,
    decide_instructions,
    decide_verification,
    fingerprint,
    is_company_account,
    payment_gate,
    propose,
    short,
    trusted_numbers,
    wire_status,
)
from tests.helpers import ROOT

WIRES = ROOT / "tests" / "fixtures" / "neotherapeutics-wires.yaml"
SLUG = "neotherapeutics-2002-06-07"
AT = datetime(2002, 6, 7, 14, tzinfo=UTC)
PACIFIC = ZoneInfo("America/Los_Angeles")
COMPANY = Purchaser(9, "@company", "NeoTherapeutics, Inc.", -1, 0, 0, 0, role="company")  # type: ignore[arg-type]
BANK = Instructions("Bank of America, N.A.", "121000358", "4881-016789", "NeoTherapeutics, Inc.")


def version(number: int, numbers: tuple[str, ...], by: str = "alice", **more: object) -> Version:
    proposed = propose(load_deal_file(WIRES).terms.company.wire_instructions, numbers, SLUG)
    values: dict[str, object] = {
        "number": number,
        "fingerprint": proposed.fingerprint,
        "bank": proposed.bank,
        "aba": proposed.aba,
        "account_masked": proposed.account_masked,
        "account_name": proposed.account_name,
        "swift": proposed.swift,
        "reference": proposed.reference,
        "callback_numbers": numbers,
        "entered_by": by,
        "entered_at": AT,
        **more,
    }
    return Version(**values)  # type: ignore[arg-type]


def test_the_fingerprint_follows_the_instructions_not_their_spelling() -> None:
    """Spacing, case and dashes do not change it; another account, bank or deal does."""
    same = Instructions(
        "BANK OF AMERICA,  N.A.", "121000358", "4881016789", "neotherapeutics, inc."
    )
    assert fingerprint(BANK, SLUG) == fingerprint(same, SLUG)
    other = Instructions(
        "Bank of America, N.A.", "121000358", "4881-016780", "NeoTherapeutics, Inc."
    )
    assert fingerprint(other, SLUG) != fingerprint(BANK, SLUG)
    assert fingerprint(BANK, "another-deal") != fingerprint(BANK, SLUG)
    assert len(fingerprint(BANK, SLUG)) == 32
    assert short("ae970a46574365d3ffff") == "AE97-0A46-5743-65D3"


def test_the_account_is_masked_and_never_in_a_repr() -> None:
    assert mask_account("4881-016789", canonical=True) == "••••6789"
    assert "016789" not in repr(BANK)
    spec = load_deal_file(WIRES).terms.company.wire_instructions
    assert spec is not None and "016789" not in repr(spec)
    assert "016789" not in load_deal_file(WIRES).terms.model_dump_json()


def test_a_bank_files_account_is_recognised_by_the_fingerprint_alone() -> None:
    """What the database keeps (masked form, fingerprint) is enough to tell the company's account
    in a bank file, and nothing else passes."""
    kept = version(1, ("+1 949 788 6700",))
    assert is_company_account("4881016789", kept, SLUG)
    assert is_company_account("4881-016789", kept, SLUG)
    assert not is_company_account("9991016789", kept, SLUG)  # same last four
    assert not is_company_account("4881016780", kept, SLUG)


def test_a_new_version_is_an_instructions_event_and_unverified() -> None:
    proposed = propose(
        load_deal_file(WIRES).terms.company.wire_instructions, ("+1 949 788 6700",), SLUG
    )
    event = decide_instructions(COMPANY, Standing(last_seq=4), None, proposed, "alice", "h", AT)
    assert event is not None and event.kind == INSTRUCTIONS and event.seq == 5
    assert event.evidence_kind == "fingerprint" and event.evidence == short(
        proposed.fingerprint or ""
    )
    assert "••••6789" in (event.note or "") and "016789" not in (event.note or "").replace(
        "••••6789", ""
    )
    current = version(1, ("+1 949 788 6700",))
    assert decide_instructions(COMPANY, Standing(), current, proposed, "bob", "h", AT) is None
    status = wire_status([current])
    assert status.pending and not status.verified
    assert "NOT VERIFIED" in (status.warning() or "")


def test_the_same_operator_cannot_verify_their_own_change() -> None:
    with pytest.raises(RefusedError) as refused:
        decide_verification(
            COMPANY,
            Standing(),
            [version(1, ("+1 949 788 6700",))],
            Verification("+1 949 788 6700", "Samuel Gulko", "Alice", "h"),
            AT,
            PACIFIC,
        )
    assert "alice entered this change; another operator must call back" in refused.value.message


def test_another_operator_verifies_by_a_number_known_before_the_change() -> None:
    """On the first load the file's own numbers count; after a change only the numbers of the
    last verified version do, so a changed file cannot bring its own callback number."""
    first = version(1, ("+1 949 788 6700",), verified_by="bob", verified_at=AT)
    changed = version(2, ("+1 702 555 0199",), by="mallory")
    assert trusted_numbers([first, changed]) == ("+1 949 788 6700",)
    request = Verification("+1 702 555 0199", "someone", "bob", "h")
    with pytest.raises(RefusedError) as refused:
        decide_verification(COMPANY, Standing(), [first, changed], request, AT, PACIFIC)
    assert "'+1 702 555 0199' is not a callback number the record held before this change" in (
        refused.value.message
    )
    ok = Verification("(949) 788-6700", "Samuel Gulko", "bob", "h")
    event = decide_verification(COMPANY, Standing(last_seq=7), [first, changed], ok, AT, PACIFIC)
    assert event.kind == INSTRUCTIONS_VERIFIED and event.seq == 8
    assert event.evidence == "(949) 788-6700, spoke with Samuel Gulko"


def test_an_unverified_change_holds_payments_unless_the_operator_says_so() -> None:
    pending = wire_status([version(1, ("+1 949 788 6700",))])
    with pytest.raises(RefusedError) as refused:
        payment_gate(pending, False, "mark wired for BNC")
    assert "are not verified" in refused.value.message
    assert "--unverified-instructions-ok" in (payment_gate(pending, True, "mark wired") or "")
    verified = wire_status([version(1, ("+1 949 788 6700",), verified_by="bob", verified_at=AT)])
    assert payment_gate(verified, False, "mark wired") is None
    assert payment_gate(wire_status([]), False, "mark wired") is None  # none at all: not held


def deal_with(tmp_path: Path, old: str, new: str) -> Path:
    text = WIRES.read_text()
    assert text.count(old) == 1
    path = tmp_path / "deal.yaml"
    path.write_text(text.replace(old, new))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(DealFileError) as caught:
        load_deal_file(path)
    return [str(p) for p in caught.value.problems]


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_bad_aba_checksum_is_a_deal_file_problem(tmp_path: Path) -> None:
    path = deal_with(tmp_path, 'aba: "121000358"', 'aba: "121000359"')
    assert problems(path) == [
        f"{path}:{line_of(path, 'aba:')}: company.wire_instructions.aba: '121000359' is not a "
        "valid ABA routing number (the number's checksum or check digit is invalid)"
    ]


def test_a_bad_iban_or_bic_is_a_problem_and_the_account_is_never_repeated(tmp_path: Path) -> None:
    path = deal_with(tmp_path, 'account: "4881-016789"', 'account: "CH9300762011623852958"')
    [iban] = problems(path)
    assert iban.endswith("the account looks like an IBAN but is not a valid one")
    assert "CH93" not in iban
    path = deal_with(tmp_path, "swift: BOFAUS3N", "swift: BOFAUS3")
    [bic] = problems(path)
    assert "company.wire_instructions.swift: 'BOFAUS3' is not a valid SWIFT/BIC code" in bic
    path = deal_with(tmp_path, '"+1 949 788 6020"', '"call Sam"')
    [phone] = problems(path)
    assert "'call Sam' is not a telephone number" in phone
