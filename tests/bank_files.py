"""Writing bank files for tests and benchmarks: BAI2 with every count and control total right,
so the parser's integrity checks pass (or fail where a test breaks them on purpose)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Detail:
    """One BAI2 transaction detail (16) and its text (88 continuation records)."""

    type_code: str  # 195 incoming money transfer, 495 outgoing, ...
    cents: int
    bank_reference: str
    customer_reference: str = ""
    text: list[str] = field(default_factory=list)

    def records(self) -> list[str]:
        head = (
            f"16,{self.type_code},{self.cents},0,{self.bank_reference},{self.customer_reference}/"
        )
        return [head, *(f"88,{line}" for line in self.text)]


@dataclass
class Account:
    number: str
    details: list[Detail]
    opening_cents: int = 0
    currency: str = "USD"

    def records(self) -> list[str]:
        credits = sum(d.cents for d in self.details if d.type_code < "400")
        debits = sum(d.cents for d in self.details if d.type_code >= "400")
        closing = self.opening_cents + credits - debits
        summary = [(10, self.opening_cents), (15, closing), (100, credits), (400, debits)]
        fields = ",".join(f"{code:03d},{cents},," for code, cents in summary)
        rows = [f"03,{self.number},{self.currency},{fields}/"]
        for detail in self.details:
            rows += detail.records()
        total = sum(cents for _, cents in summary) + sum(d.cents for d in self.details)
        self.control_total = total
        rows.append(f"49,{total},{len(rows) + 1}/")
        return rows


def bai2_text(
    accounts: list[Account],
    as_of: str = "020607",
    as_of_time: str = "1630",
    sender: str = "121000358",
    receiver: str = "NEOTHERAP",
    file_id: str = "0607A1",
) -> str:
    """A whole BAI2 file (one group) with its counts and control totals."""
    group = [f"02,{receiver},{sender},1,{as_of},{as_of_time},USD,2/"]
    total = 0
    for account in accounts:
        group += account.records()
        total += account.control_total
    group.append(f"98,{total},{len(accounts)},{len(group) + 1}/")
    rows = [f"01,{sender},{receiver},{as_of},{as_of_time},{file_id},80,1,2/", *group]
    rows.append(f"99,{total},1,{len(rows) + 1}/")
    return "\n".join(rows) + "\n"
