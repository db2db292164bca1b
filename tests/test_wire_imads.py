"""One wire reported twice by the bank: in its BAI2 file (no bank reference in the 16 record: the
credit is known by its IMAD) and in its camt.054 notification (known by its AcctSvcrRef). One
Fedwire message is one wire: the second import says it was imported before, by its IMAD."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bank_files import Account, Detail, bai2_text
from tests.helpers import VERIFY_INSTRUCTIONS, WIRES_DEAL, Cli, load_wires_deal, run_all

FRI = "2002-06-07T{}:00-07:00"
IMAD = "20020607B1Q8021C000123"
CAMT = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
 <BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>M1</MsgId><CreDtTm>2002-06-07T16:30:00-07:00</CreDtTm></GrpHdr>
  <Ntfctn><Id>N1</Id><CreDtTm>2002-06-07T16:30:00-07:00</CreDtTm>
   <Acct><Id><Othr><Id>4881016789</Id></Othr></Id><Ccy>USD</Ccy></Acct>
   <Ntry><Amt Ccy="USD">200000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><DtTm>2002-06-07T10:02:41-07:00</DtTm></BookgDt><ValDt><Dt>2002-06-07</Dt></ValDt>
    <AcctSvcrRef>0607FW000123</AcctSvcrRef>
    <NtryDtls><TxDtls><Refs><AcctSvcrRef>0607FW000123</AcctSvcrRef><ClrSysRef>{IMAD}</ClrSysRef></Refs>
     <RltdPties><Dbtr><Nm>STONESTREET LIMITED PARTNERSHIP</Nm></Dbtr></RltdPties>
     <AddtlTxInf>OMAD: 20020607L1B7031C002077</AddtlTxInf></TxDtls></NtryDtls></Ntry>
  </Ntfctn></BkToCstmrDbtCdtNtfctn></Document>
"""


def test_one_wire_in_a_bai2_file_and_a_camt054_is_recorded_once(cli: Cli, tmp_path: Path) -> None:
    deal = tmp_path / WIRES_DEAL.name
    deal.write_text(
        WIRES_DEAL.read_text().replace(
            'payment: {tolerance: "50.00"}', 'payment: {tolerance: "50.00", partial: true}'
        )
    )
    load_wires_deal(cli, deal)
    run_all(cli, [(VERIFY_INSTRUCTIONS, "09:30")])
    bai2 = tmp_path / "bank.bai2"
    bai2.write_text(
        bai2_text(
            [
                Account(
                    "4881016789",
                    [
                        Detail(
                            "195",
                            20_000_000,
                            "",
                            "",
                            [
                                f"FEDWIRE CREDIT IMAD: {IMAD} OMAD: 20020607L1B7031C002077",
                                "ORG: /0010937788 STONESTREET LIMITED PARTNERSHIP",
                            ],
                        )
                    ],
                )
            ]
        )
    )
    camt = tmp_path / "bank.camt054.xml"
    camt.write_text(CAMT)
    first = cli("wires", "import", str(bai2), "--apply", now=FRI.format("16:35"))
    assert first.code == 0, first.err
    second = cli("wires", "import", str(camt), "--apply", now=FRI.format("16:36"))
    assert second.code == 0, second.err
    summary = "Recorded 0 wires; 0 left for a person; 1 imported before."
    assert second.out.splitlines()[-1] == summary
    assert f"imported before (IMAD {IMAD})" in " ".join(second.out.split()), second.out
    board = json.loads(cli("status", "--json", now=FRI.format("16:40")).out)
    stone = next(p for p in board["purchasers"] if p["slug"] == "stonestreet")
    assert stone["amount_received"] == "200000.00", f"received {stone['amount_received']}"


def test_a_partial_wire_recorded_by_hand_with_its_imad_is_not_recorded_again(
    cli: Cli, tmp_path: Path
) -> None:
    """$100,000 of Stonestreet's price marked by hand with the Fed's IMAD as its reference, then
    the bank's file with that credit: the file confirms the wire, it does not pay it twice."""
    deal = tmp_path / WIRES_DEAL.name
    deal.write_text(WIRES_DEAL.read_text())
    load_wires_deal(cli, deal)
    run_all(cli, [(VERIFY_INSTRUCTIONS, "09:30")])
    hand = cli(
        "mark-wired",
        "stonestreet",
        "--amount",
        "100,000",
        "--partial",
        "--reference",
        f"FED IMAD {IMAD}",
        now=FRI.format("10:15"),
    )
    assert hand.code == 0, hand.err
    bank = tmp_path / "bank.bai2"
    credit = Detail(
        "195",
        10_000_000,
        "0607FW000123",
        IMAD,
        [
            f"FEDWIRE CREDIT IMAD: {IMAD} OMAD: 20020607L1B7031C002077",
            "ORG: /0010937788 STONESTREET LIMITED PARTNERSHIP",
        ],
    )
    bank.write_text(bai2_text([Account("4881016789", [credit])]))
    result = cli("wires", "import", str(bank), "--apply", now=FRI.format("16:35"))
    assert result.code == 0, result.err
    assert "recorded before by hand as event #" in " ".join(result.out.split()), result.out
    board = json.loads(cli("status", "--json", now=FRI.format("16:40")).out)
    stone = next(p for p in board["purchasers"] if p["slug"] == "stonestreet")
    assert stone["amount_received"] == "100000.00"
