"""Money from bank files cannot be mis-booked, on both backends: a credit in another currency
is never dollars (refused by `wires match`, shown in its currency), a bank reference reused
with other content is a conflict kept and shown (never dropped), and a NUL or a 5,000-character
reference is stored the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from closing.domain.errors import ExitCode
from tests.helpers import ROOT, VERIFY_INSTRUCTIONS, WIRES_DEAL, Cli, load_wires_deal, run_all

FRI = "2002-06-07T{}:00-07:00"
BAI2 = ROOT / "tests" / "fixtures" / "company-bank-2002-06-07.bai2"
CAMT054 = ROOT / "tests" / "fixtures" / "company-bank-2002-06-07.camt054.xml"


@pytest.fixture
def verified(cli: Cli, tmp_path: Path) -> Cli:
    copy = tmp_path / WIRES_DEAL.name
    shutil.copy(WIRES_DEAL, copy)
    return run_all(load_wires_deal(cli, copy), [(VERIFY_INSTRUCTIONS, "09:30")])


def listed(cli: Cli) -> dict[str, Any]:
    result = cli("wires", "list", "--json", now=FRI.format("17:00"))
    assert result.code == 0, result.err
    return {c["bank_reference"]: c for c in json.loads(result.out)}


def in_euros(tmp_path: Path) -> Path:
    euros = tmp_path / "euros.xml"
    euros.write_text(
        CAMT054.read_text().replace('Ccy="USD"', 'Ccy="EUR"').replace("<Ccy>USD<", "<Ccy>EUR<")
    )
    return euros


def test_a_credit_in_euros_is_never_recorded_as_dollars(verified: Cli, tmp_path: Path) -> None:
    result = verified(
        "wires", "import", str(in_euros(tmp_path)), "--apply", now=FRI.format("16:35")
    )
    assert result.code == 0, result.err
    assert "$" not in "".join(line for line in result.out.splitlines() if "EUR" in line)
    assert "EUR 450,000.00" in result.out
    credits = listed(verified)
    assert {c["currency"] for c in credits.values()} == {"EUR"}
    assert all(c["status"] == "left" for c in credits.values())
    text = verified("wires", "list", now=FRI.format("17:00")).out
    assert "EUR 450,000.00" in text and "$450,000.00" not in text
    reference = next(iter(credits))
    match = verified("wires", "match", reference, "stonestreet", now=FRI.format("16:40"))
    assert match.code == ExitCode.REFUSED
    assert match.err.startswith("Error: cannot match credit ") and "in EUR, not the deal's USD" in (
        match.err
    )
    assert len(match.err.splitlines()) == 1
    assert listed(verified)[reference]["status"] == "left"


def test_a_reused_bank_reference_with_other_content_is_a_conflict_kept_and_shown(
    verified: Cli, tmp_path: Path
) -> None:
    first = verified("wires", "import", str(CAMT054), "--apply", now=FRI.format("16:35"))
    assert first.code == 0, first.err
    later = tmp_path / "later.xml"
    later.write_text(
        CAMT054.read_text().replace(
            '<Amt Ccy="USD">12000.00</Amt>', '<Amt Ccy="USD">12500.00</Amt>'
        )
    )
    again = verified("wires", "import", str(later), "--apply", now=FRI.format("16:50"))
    assert again.code == 0, again.err
    assert "1 conflict (a bank reference imported before with other content" in again.out
    assert "CONFLICT" in again.out
    credits = listed(verified)
    conflicts = [c for c in credits.values() if c["status"] == "conflict"]
    assert len(conflicts) == 1 and conflicts[0]["amount"] == "12500.00"
    assert conflicts[0]["bank_reference"].startswith("0607FW000201~")
    assert "imported before with other content" in conflicts[0]["reason"]
    assert "CONFLICT" in verified("wires", "list", now=FRI.format("17:00")).out
    third = verified("wires", "import", str(later), "--apply", now=FRI.format("16:55"))
    assert third.code == 0 and "conflict" not in third.out.split("\n")[-2].lower()
    assert len(listed(verified)) == len(credits)  # the same conflict is not kept twice
    assert verified("verify", now=FRI.format("17:00")).code == 0


@pytest.mark.parametrize(
    ("reference", "stored"),
    [
        ("0607FW\x00000999", "0607FW\\x00000999"),
        ("R" * 5000, None),
    ],
    ids=["nul", "5000-characters"],
)
def test_nul_and_long_references_are_stored_alike_on_both_backends(
    verified: Cli, tmp_path: Path, reference: str, stored: str | None
) -> None:
    path = tmp_path / "odd.bai2"
    path.write_text(BAI2.read_text().replace("0607FW000201", reference, 1))
    result = verified("wires", "import", str(path), "--apply", now=FRI.format("16:35"))
    assert result.code == 0, result.err
    assert "Traceback" not in result.err and "Internal error" not in result.err
    keys = list(listed(verified))
    if stored is not None:
        assert stored in keys
    else:
        (long,) = [k for k in keys if k.startswith("RRR")]
        assert len(long) == 200 and "…" in long
