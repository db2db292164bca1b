"""ISO 20022 camt.054 (bank to customer debit/credit notification) and camt.053 (statement), any
version, read with lxml and nothing resolved: no DTD, no entities, no network, no huge trees. A
document with a DTD or an entity declaration is refused before it is parsed.

Only booked entries are money: pending (`PDNG`) and information-only (`INFO`) entries are
reported as pending and never matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from closing.domain.bankfiles import CREDIT, DEBIT, BankFileError, Entry
from closing.domain.bankfiles.details import read_wire_text

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:"
FORMATS = {"camt.054": "BkToCstmrDbtCdtNtfctn/Ntfctn", "camt.053": "BkToCstmrStmt/Stmt"}
_AMOUNT = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,5})?$")
_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def safe_parser() -> Any:
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_pis=True,
    )


def parse_camt(data: bytes, name: str, zone: ZoneInfo) -> tuple[str, list[Entry]]:
    """(`camt.054` or `camt.053`, every booked or pending entry of every account)."""
    from lxml import etree

    forbidden = _FORBIDDEN.search(data)
    if forbidden:
        where = data[: forbidden.start()].count(b"\n") + 1
        raise BankFileError(
            name, where, "a DTD or entity declaration is not allowed in a bank file"
        )
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as error:
        at: int | None = error.lineno or (error.position[0] if error.position else None)
        raise BankFileError(name, at, f"not well-formed XML: {error.msg}") from None
    namespace = etree.QName(root).namespace or ""
    kind = namespace.removeprefix(NAMESPACE)[:8]
    if not namespace.startswith(NAMESPACE) or kind not in FORMATS:
        raise BankFileError(
            name,
            root.sourceline,
            f"not a camt.054 or camt.053 document (its namespace is {namespace or 'none'!r})",
        )
    reader = _Reader(namespace, name, zone)
    containers = reader.all(root, FORMATS[kind])
    if not containers:
        raise BankFileError(
            name, root.sourceline, f"a {kind} document needs a {FORMATS[kind].split('/')[-1]}"
        )
    entries: list[Entry] = []
    for container in containers:
        entries += reader.entries(container)
    return kind, entries


class _Reader:
    def __init__(self, namespace: str, name: str, zone: ZoneInfo) -> None:
        self.ns = {"c": namespace}
        self.name = name
        self.zone = zone

    def _path(self, path: str) -> str:
        return "/".join(f"c:{part}" for part in path.split("/"))

    def all(self, element: Any, path: str) -> list[Any]:
        return list(element.findall(self._path(path), self.ns))

    def first(self, element: Any, *paths: str) -> Any:
        for path in paths:
            found = element.find(self._path(path), self.ns)
            if found is not None:
                return found
        return None

    def text(self, element: Any, *paths: str) -> str | None:
        for path in paths:
            found = element.find(self._path(path), self.ns)
            if found is not None and found.text and found.text.strip():
                return " ".join(found.text.split())
        return None

    def fail(self, element: Any, message: str) -> BankFileError:
        return BankFileError(self.name, element.sourceline, message)

    def entries(self, container: Any) -> Iterator[Entry]:
        account = self.text(container, "Acct/Id/IBAN", "Acct/Id/Othr/Id")
        if account is None:
            raise self.fail(container, "an account (Acct/Id/IBAN or Acct/Id/Othr/Id) is missing")
        account_currency = self.text(container, "Acct/Ccy")
        for entry in self.all(container, "Ntry"):
            yield from self._entry(entry, account, account_currency)

    def _entry(self, entry: Any, account: str, account_currency: str | None) -> Iterator[Entry]:
        indicator = self.text(entry, "CdtDbtInd")
        if indicator not in ("CRDT", "DBIT"):
            raise self.fail(entry, f"CdtDbtInd must be CRDT or DBIT, not {indicator!r}")
        status_code = self.text(entry, "Sts/Cd", "Sts")
        status = "booked" if status_code in (None, "BOOK") else "pending"
        amount_element = self.first(entry, "Amt")
        if amount_element is None:
            raise self.fail(entry, "an entry (Ntry) has no amount (Amt)")
        amount, currency = self._amount(amount_element, account_currency)
        value_date = self._date(entry, "ValDt")
        booked_at = self._moment(entry, "BookgDt")
        entry_reference = self.text(entry, "AcctSvcrRef") or self.text(entry, "NtryRef")
        extra = self.text(entry, "AddtlNtryInf") or ""
        details = self.all(entry, "NtryDtls/TxDtls")
        if len(details) <= 1:
            parts = [(details[0] if details else None, amount, currency)]
        else:  # a batch: each transaction has its own amount
            parts = []
            for detail in details:
                own = self.first(detail, "Amt", "AmtDtls/TxAmt/Amt")
                if own is None:
                    raise self.fail(detail, "a transaction (TxDtls) of a batch has no amount")
                parts.append((detail, *self._amount(own, account_currency)))
        for index, (detail, part_amount, part_currency) in enumerate(parts):
            yield self._credit(
                entry,
                detail,
                index,
                len(parts),
                indicator,
                status,
                part_amount,
                part_currency,
                account,
                value_date,
                booked_at,
                entry_reference,
                extra,
            )

    def _credit(
        self,
        entry: Any,
        detail: Any,
        index: int,
        count: int,
        indicator: str,
        status: str,
        amount: Decimal,
        currency: str,
        account: str,
        value_date: date | None,
        booked_at: datetime | None,
        entry_reference: str | None,
        extra: str,
    ) -> Entry:
        texts = [extra] if extra else []
        customer = imad = omad = None
        references: list[str] = []
        reference = None
        if detail is not None:
            reference = self.text(detail, "Refs/AcctSvcrRef")
            clearing = self.text(detail, "Refs/ClrSysRef")
            for tag in ("EndToEndId", "InstrId", "TxId", "MsgId"):
                found = self.text(detail, f"Refs/{tag}")
                if found and found.upper() != "NOTPROVIDED":
                    references.append(found)
            customer = self.text(
                detail,
                "RltdPties/Dbtr/Pty/Nm",
                "RltdPties/Dbtr/Nm",
                "RltdPties/UltmtDbtr/Pty/Nm",
                "RltdPties/UltmtDbtr/Nm",
            )
            references += [
                " ".join(u.text.split())
                for u in self.all(detail, "RmtInf/Ustrd")
                if u.text and u.text.strip()
            ]
            more = self.text(detail, "AddtlTxInf")
            if more:
                texts.append(more)
            if clearing and re.fullmatch(r"[0-9]{8}[A-Z0-9]{8}[0-9]{6}", clearing):
                imad = clearing
            elif clearing:
                references.append(clearing)
        wire = read_wire_text(" ".join(texts))
        customer = customer or wire.originator
        imad = imad or wire.imad
        omad = omad or wire.omad
        references += list(wire.references)
        key = reference or (
            f"{entry_reference}/{index + 1}" if entry_reference and count > 1 else entry_reference
        )
        key = key or imad or (references[0] if references else None)
        if not key:
            raise self.fail(
                detail if detail is not None else entry,
                "an entry has no reference to know it by (AcctSvcrRef, NtryRef or Refs)",
            )
        line = (detail if detail is not None else entry).sourceline or entry.sourceline
        return Entry(
            direction=CREDIT if indicator == "CRDT" else DEBIT,
            amount=amount,
            currency=currency,
            account=account,
            bank_reference=key,
            line=line,
            value_date=value_date,
            booked_at=booked_at,
            ordering_customer=customer,
            imad=imad,
            omad=omad,
            references=tuple(references),
            type_code=self.text(entry, "BkTxCd/Prtry/Cd"),
            status=status,
        )

    def _amount(self, element: Any, fallback: str | None) -> tuple[Decimal, str]:
        text = (element.text or "").strip()
        if not _AMOUNT.match(text):
            raise self.fail(element, f"amount {text!r} is not a number like 450000.00")
        currency = element.get("Ccy") or fallback
        if not currency or not re.fullmatch(r"[A-Z]{3}", currency):
            raise self.fail(element, 'an amount needs its currency (Ccy="USD")')
        return Decimal(text), currency

    def _date(self, entry: Any, path: str) -> date | None:
        day = self.text(entry, f"{path}/Dt")
        if day is not None:
            try:
                return date.fromisoformat(day)
            except ValueError:
                raise self.fail(self.first(entry, f"{path}/Dt"), f"{day!r} is not a date") from None
        moment = self._moment(entry, path)
        return moment.astimezone(self.zone).date() if moment else None

    def _moment(self, entry: Any, path: str) -> datetime | None:
        text = self.text(entry, f"{path}/DtTm")
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(
                self.first(entry, f"{path}/DtTm"), f"{text!r} is not a date and time"
            ) from None
        # ISO 20022 times without an offset are the bank's local time: read in the given zone.
        return moment if moment.tzinfo else moment.replace(tzinfo=self.zone)
