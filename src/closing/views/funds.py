"""The funds flow as a statement (`closing funds-flow`): plain text to the cent, and JSON with
every amount as exact text."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from closing.domain.funds import Statement, disbursement_state, party_name
from closing.domain.money import format_money, money_text
from closing.domain.text import neutral
from closing.domain.timefmt import local

_WIDTH = 16  # an amount's column: -$10,000,000.00 and room
_LABEL = 64  # at most, before an amount


def _lines(rows: list[tuple[int, str, str]]) -> list[str]:
    """Labels (indented) and amounts, the amounts right-aligned in one column; a row with no
    amount is a heading or a note."""
    room = min(
        _LABEL, max((indent + len(label) for indent, label, amount in rows if amount), default=0)
    )
    lines = []
    for indent, label, amount in rows:
        if not amount:
            lines.append(f"{' ' * indent}{neutral(label)}".rstrip())
            continue
        shown = f"{' ' * indent}{neutral(label)}"
        if len(shown) > room:
            lines.append(shown)
            shown = ""
        lines.append(f"{shown:<{room}}{amount:>{_WIDTH}}")
    return lines


def statement_text(found: Statement, slug: str, zone: ZoneInfo, as_of: bool) -> list[str]:
    when = local(found.as_of, zone)
    rows: list[tuple[int, str, str]] = [(0, "Gross proceeds", "")]
    for gross_row in found.gross:
        received = (
            ""
            if gross_row.received == gross_row.price
            else f" (received {format_money(gross_row.received)})"
        )
        rows.append((2, gross_row.purchaser + received, format_money(gross_row.price)))
    rows.append((0, "Gross proceeds", format_money(found.gross_total)))
    if found.deductions:
        rows += [(0, "", ""), (0, "Deductions", "")]
        for deduction in found.deductions:
            rows.append(
                (2, f"{deduction.title} ({deduction.basis})", format_money(-deduction.amount))
            )
        rows.append((0, "Total deductions", format_money(-found.deductions_total)))
    rows += [(0, "", ""), (0, "Net proceeds to the company", format_money(found.net))]
    rows += [(0, "", ""), (0, "Disbursements", "")]
    for row in found.disbursements:
        rows.append(
            (
                2,
                f"{row.disbursement.id}: {row.title}, {party_name(row.from_account)} to "
                f"{party_name(row.to)}",
                format_money(row.amount),
            )
        )
        rows.append((4, disbursement_state(row, zone), ""))
    rows += [(0, "", ""), (0, "Left in each account: now, and once every disbursement is sent", "")]
    for account in dict.fromkeys([*found.balances, *found.planned_left]):
        now = found.balances.get(account)
        later = found.planned_left.get(account)
        rows.append(
            (
                2,
                f"{party_name(account)}: {format_money(now) if now is not None else '-'} now",
                format_money(later) if later is not None else "-",
            )
        )
    return [f"Funds flow of {slug}, {'as of' if as_of else 'at'} {when}", "", *_lines(rows)]


def statement_json(found: Statement, slug: str, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "deal": slug,
        "as_of": found.as_of.astimezone(zone).isoformat(),
        "received_into": found.received_into,
        "gross": [
            {
                "purchaser": row.purchaser,
                "price": money_text(row.price),
                "received": money_text(row.received),
            }
            for row in found.gross
        ],
        "gross_total": money_text(found.gross_total),
        "received_total": money_text(found.received_total),
        "deductions": [
            {
                "id": d.id,
                "title": d.title,
                "kind": d.kind,
                "basis": d.basis,
                "amount": money_text(d.amount),
                "payee": d.payee,
            }
            for d in found.deductions
        ],
        "deductions_total": money_text(found.deductions_total),
        "net": money_text(found.net),
        "disbursements": [
            {
                "id": row.disbursement.id,
                "title": row.title,
                "to": row.to,
                "from": row.from_account,
                "amount": money_text(row.amount),
                "due": row.due.astimezone(zone).isoformat(),
                "status": row.status,
                "sent": None
                if row.sent is None
                else {
                    "at": row.sent.at.astimezone(zone).isoformat(),
                    "amount": money_text(row.sent.amount),
                    "imad": row.sent.imad,
                    "omad": row.sent.omad,
                    "by": row.sent.who,
                    "flags": list(row.sent.flags),
                },
                "confirmed": None
                if row.confirmed is None
                else {
                    "bank_reference": row.confirmed.bank_reference,
                    "amount": money_text(row.confirmed.amount),
                    "file": row.confirmed.file,
                },
                "waiting_for": list(row.missing),
            }
            for row in found.disbursements
        ],
        "balances": {k: money_text(v) for k, v in found.balances.items()},
        "left_once_sent": {k: money_text(v) for k, v in found.planned_left.items()},
    }
