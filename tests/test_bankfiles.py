"""Reading the bank's own files: BAI2 (through the `bai2` package) and ISO 20022 camt.054 and
camt.053, each credit and debit with its amount exact, its references and where it is in the
file; a malformed file refused with the line that is wrong."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from closing.domain.bankfiles import CREDIT, DEBIT, BankFileError
from closing.domain.bankfiles.detect import read_bank_file
from tests.bank_files import Account, Detail, bai2_text
from tests.helpers import ROOT

PACIFIC = ZoneInfo("America/Los_Angeles")
FIXTURES = ROOT / "tests" / "fixtures"
BAI2 = FIXTURES / "company-bank-2002-06-07.bai2"
CAMT054 = FIXTURES / "company-bank-2002-06-07.camt054.xml"
SAMPLES = sorted((FIXTURES / "bai2-package").glob("*.bai2"))


def refused(path: Path) -> str:
    with pytest.raises(BankFileError) as caught:
        read_bank_file(path, PACIFIC)
    return caught.value.message


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_the_company_banks_bai2_file_of_june_7() -> None:
    """Stonestreet's $450,000.00, BNC's $929,985.00 (less a $15 fee), an unrelated $12,000.00
    and a debit, each with its bank reference, IMAD, ordering customer and line."""
    read = read_bank_file(BAI2, PACIFIC)
    assert read.format == "bai2"
    summary = [
        (e.direction, e.amount, e.bank_reference, e.imad, e.ordering_customer, e.line)
        for e in read.entries
    ]
    assert summary == [
        (
            CREDIT,
            Decimal("450000.00"),
            "0607FW000123",
            "20020607B1Q8021C000123",
            "STONESTREET LIMITED PARTNERSHIP",
            4,
        ),
        (
            CREDIT,
            Decimal("12000.00"),
            "0607FW000201",
            "20020607B1Q8021C000201",
            "PACIFIC BIOLABS INC",
            9,
        ),
        (DEBIT, Decimal("25000.00"), "0607FW000077", "20020607QMGFT015000311", None, 14),
        (
            CREDIT,
            Decimal("929985.00"),
            "0607FW000388",
            "20020607B1Q8021C000388",
            "BNC BACH INTERNATIONAL LTD",
            17,
        ),
    ]
    stonestreet = read.entries[0]
    assert stonestreet.omad == "20020607L1B7031C002077"
    assert "NEOTHERAPEUTICS SPA 06/07/02 SHARES AND WARRANTS" in stonestreet.references
    assert stonestreet.account_masked == "••••6789"
    assert "4881016789" not in repr(stonestreet)
    assert stonestreet.booked_at is not None and stonestreet.booked_at.isoformat() == (
        "2002-06-07T16:30:00-07:00"
    )


def test_the_camt054_carries_the_same_credits_under_the_same_references() -> None:
    """The bank's XML notification of the same day: same amounts, same keys (so importing both
    records nothing twice), booking times of their own."""
    xml = read_bank_file(CAMT054, PACIFIC)
    bai2 = read_bank_file(BAI2, PACIFIC)
    assert xml.format == "camt.054"
    assert [(e.direction, e.amount, e.bank_reference) for e in xml.entries] == [
        (e.direction, e.amount, e.bank_reference) for e in bai2.entries
    ]
    bnc = xml.entries[3]
    assert bnc.ordering_customer == "BNC BACH INTERNATIONAL LTD"
    assert bnc.imad == "20020607B1Q8021C000388"
    assert bnc.booked_at is not None and bnc.booked_at.isoformat() == "2002-06-07T15:52:19-07:00"
    assert bnc.account_masked == "••••6789"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_the_bai2_packages_own_samples_parse_cleanly(sample: Path) -> None:
    """The four sample files of the `bai2` package's source distribution (UK and US banks,
    continuation records, value-dated funds, a blank trailer amount) read without a problem."""
    read = read_bank_file(sample, PACIFIC)
    assert read.format == "bai2"
    expected = {
        "account_trailer_amount_blank_example.bai2": 0,
        "citi_example.bai2": 1,
        "nwb_example.bai2": 5,
        "svb_us_example.bai2": 2,
    }
    assert len(read.entries) == expected[sample.name]
    assert all(e.amount >= 0 and e.bank_reference for e in read.entries)


def test_a_wrong_control_total_is_refused_at_the_account_trailer(tmp_path: Path) -> None:
    """A file whose numbers do not add up is refused at the trailer that says so."""
    text = BAI2.read_text().replace("49,883583924,20/", "49,883583925,20/")
    message = refused(write(tmp_path, "bad.bai2", text))
    assert message.startswith(f"{tmp_path / 'bad.bai2'}:22: invalid account control total")
    assert message.endswith("; nothing recorded")


def test_a_file_cut_short_is_refused_where_it_ends(tmp_path: Path) -> None:
    lines = BAI2.read_text().splitlines()
    message = refused(write(tmp_path, "short.bai2", "\n".join(lines[:-2]) + "\n"))
    assert message == (
        f"{tmp_path / 'short.bai2'}:22: the file ends here, without the trailers that close it "
        "(49, 98, 99): it is cut short; nothing recorded"
    )


def test_records_out_of_order_are_refused_where_the_order_breaks(tmp_path: Path) -> None:
    lines = BAI2.read_text().splitlines()
    del lines[2]  # the account identifier (03)
    message = refused(write(tmp_path, "order.bai2", "\n".join(lines)))
    assert message == (
        f"{tmp_path / 'order.bai2'}:3: expected an account identifier (03) record here, found "
        "a transaction detail (16): records are out of order; nothing recorded"
    )


def test_a_line_that_is_no_record_is_refused_with_its_line(tmp_path: Path) -> None:
    lines = BAI2.read_text().splitlines()
    lines.insert(6, "ORG: a line someone pasted")
    message = refused(write(tmp_path, "pasted.bai2", "\n".join(lines)))
    assert message.startswith(f"{tmp_path / 'pasted.bai2'}:7: not a BAI2 record: 'ORG: a line")


def test_an_amount_that_is_no_number_is_refused_with_its_line(tmp_path: Path) -> None:
    text = BAI2.read_text().replace("16,195,1200000,0,", "16,195,12000.00,0,")
    message = refused(write(tmp_path, "amount.bai2", text))
    assert message.startswith(f"{tmp_path / 'amount.bai2'}:9: ")


def test_camt_that_is_not_well_formed_is_refused_with_its_line(tmp_path: Path) -> None:
    text = CAMT054.read_text().replace("</Ntfctn>", "</Ntfctn", 1)
    message = refused(write(tmp_path, "bad.xml", text))
    assert message.startswith(f"{tmp_path / 'bad.xml'}:")
    assert "not well-formed XML" in message


def test_a_camt_amount_that_is_no_number_is_refused_at_its_element(tmp_path: Path) -> None:
    text = CAMT054.read_text().replace(">12000.00<", ">12,000.00<")
    message = refused(write(tmp_path, "amount.xml", text))
    assert message == (
        f"{tmp_path / 'amount.xml'}:48: amount '12,000.00' is not a number like 450000.00; "
        "nothing recorded"
    )


def test_xml_with_a_dtd_or_entities_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    """No entity is ever expanded, no external resource ever fetched (XXE, billion laughs)."""
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">&b;</Document>\n'
    )
    assert refused(write(tmp_path, "bomb.xml", bomb)) == (
        f"{tmp_path / 'bomb.xml'}:2: a DTD or entity declaration is not allowed in a bank file; "
        "nothing recorded"
    )


def test_other_xml_and_other_formats_are_named(tmp_path: Path) -> None:
    other = write(
        tmp_path, "pain.xml", '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>'
    )
    assert "not a camt.054 or camt.053 document" in refused(other)
    mt940 = write(tmp_path, "stmt.sta", ":20:STMT0607\n:25:4881016789\n:28C:1/1\n")
    assert "looks like a SWIFT MT940 statement" in refused(mt940)
    csv = write(tmp_path, "export.csv", "date,amount\n2002-06-07,450000.00\n")
    assert refused(csv).endswith(
        "export.csv:1: not a BAI2 file (starts with 01,) or an ISO 20022 camt.053/camt.054 XML "
        "document; nothing recorded"
    )
    assert refused(tmp_path / "missing.bai2").endswith(
        "no such file; check the path; nothing recorded"
    )


def test_a_camt053_statement_and_pending_entries(tmp_path: Path) -> None:
    """A statement (camt.053) reads like a notification; an entry the bank has not booked is
    reported as pending and never counted as money."""
    text = (
        CAMT054.read_text()
        .replace("camt.054.001.02", "camt.053.001.02")
        .replace("BkToCstmrDbtCdtNtfctn", "BkToCstmrStmt")
        .replace("Ntfctn>", "Stmt>")
        .replace(
            "<Sts>BOOK</Sts>\n        <BookgDt><DtTm>2002-06-07T11",
            "<Sts>PDNG</Sts>\n        <BookgDt><DtTm>2002-06-07T11",
        )
    )
    read = read_bank_file(write(tmp_path, "stmt.xml", text), PACIFIC)
    assert read.format == "camt.053"
    assert [e.status for e in read.entries] == ["booked", "pending", "booked", "booked"]
    assert [e.bank_reference for e in read.credits] == ["0607FW000123", "0607FW000388"]


def test_a_generated_file_has_its_totals_right(tmp_path: Path) -> None:
    """The test writer's files pass the package's integrity checks (the benchmark uses it)."""
    accounts = [
        Account(
            "4881016789",
            [Detail("195", 100 * n, f"REF{n}", "", [f"ORG: BUYER {n}"]) for n in range(1, 6)],
        )
    ]
    read = read_bank_file(write(tmp_path, "gen.bai2", bai2_text(accounts)), PACIFIC)
    assert [e.amount for e in read.entries] == [Decimal(n) for n in range(1, 6)]
