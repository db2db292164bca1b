"""The cross-checks of the deal file's `funds_flow:` (its models are in `schema`): ids unique,
the deductions a disbursement pays known and paid once, one `rest` per account, every party named
one of `parties:`, every release condition a step."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from closing.domain.dealfile.located import Located
from closing.domain.funds import condition_step, planned_amounts
from closing.domain.money import format_money
from closing.domain.terms import COMPANY

if TYPE_CHECKING:
    from closing.domain.dealfile.schema import FundsFlowSpec

DEDUCTION_KINDS = ("fee", "expense", "escrow")


def check_funds_flow(
    located: Located,
    flow: FundsFlowSpec,
    steps: dict[str, str],
    parties: set[str],
    gross: Decimal | None = None,
) -> None:
    """Ids unique; the deductions a disbursement pays exist and are paid once; one `rest` per
    account; every party named is one of `parties:` (or `company`); every condition names a step
    (`steps`: step id -> its party); with Schedule 1's `gross`, no rest of an account below
    nothing (fixed amounts and deductions larger than what comes in)."""
    known = parties | {COMPANY}
    where_flow = ("funds_flow",)
    found_before = len(located.problems)
    if flow.received_into not in known:
        located.problem((*where_flow, "received_into"), _unknown_party(flow.received_into))
    deductions = {d.id for d in flow.deductions}
    if len(deductions) != len(flow.deductions):
        located.problem((*where_flow, "deductions"), "duplicate deduction ids")
    seen: set[str] = set()
    paid: set[str] = set()
    rests: set[str] = set()
    for index, deduction in enumerate(flow.deductions):
        payee = deduction.payee
        if payee is not None and payee not in known:
            located.problem((*where_flow, "deductions", index, "payee"), _unknown_party(payee))
    for index, item in enumerate(flow.disbursements):
        where = (*where_flow, "disbursements", index)
        if item.id in seen:
            located.problem((*where, "id"), f"duplicate disbursement {item.id!r}")
        seen.add(item.id)
        for key, party in (("to", item.to), ("from", item.from_account)):
            if party is not None and party not in known:
                located.problem((*where, key), _unknown_party(party))
        for paying in item.pays:
            if paying not in deductions:
                located.problem((*where, "pays"), f"unknown deduction {paying!r}")
            elif paying in paid:
                located.problem((*where, "pays"), f"deduction {paying!r} is paid twice")
            paid.add(paying)
        account = item.from_account or flow.received_into
        if item.rest:
            if account in rests:
                located.problem((*where, "rest"), f"two disbursements take the rest of {account}")
            rests.add(account)
        for condition in item.release_when:
            if condition_step(condition) not in steps:
                located.problem(
                    (*where, "release_when"),
                    f"disbursement {item.id!r} names unknown step {condition_step(condition)!r}",
                )
    if gross is None or len(located.problems) > found_before:  # planned on a sound flow only
        return
    planned = planned_amounts(flow, gross)
    for index, item in enumerate(flow.disbursements):
        left = planned.get(item.id)
        if item.rest and left is not None and left < 0:
            account = item.from_account or flow.received_into
            located.problem(
                (*where_flow, "disbursements", index, "rest"),
                f"the rest of {account} would be {format_money(left)}: the other disbursements "
                f"from it come to more than it receives (Schedule 1's {format_money(gross)})",
            )


def _unknown_party(name: str) -> str:
    return f"unknown party {name!r}: name one of parties: (or company)"
