"""An outgoing wire of the funds flow, pure: the `disbursed` event `closing mark-sent` makes (or
the refusal naming the release conditions not met, unless `--out-of-order --reason`), and a
debit of the bank's own file matched to a disbursement, as a `disbursement_confirmed` event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

import orjson

from closing.domain.bankfiles.details import IMAD
from closing.domain.breach import OUT_OF_ORDER
from closing.domain.clock import LocalTime, resolve_local
from closing.domain.errors import RefusedError
from closing.domain.events import (
    DISBURSED,
    DISBURSEMENT_CONFIRMED,
    Event,
    Purchaser,
    Standing,
    deal_event,
    on_behalf,
)
from closing.domain.funds import DisbursementRow, Sent
from closing.domain.money import format_money


@dataclass(frozen=True)
class SendRequest:
    """`closing mark-sent DISBURSEMENT --imad ... --omad ... [--amount] [--at]`."""

    disbursement: str
    imad: str | None
    omad: str | None
    amount: Decimal | None
    at: LocalTime | None  # as typed (`--at`): in the deal's zone unless it has an offset
    actor: str
    host: str
    on_behalf_of: str | None = None
    out_of_order: bool = False
    reason: str | None = None
    note: str | None = None


def decide_sent(
    row: DisbursementRow,
    company: Purchaser,
    standing: Standing,
    request: SendRequest,
    now: datetime,
    zone: ZoneInfo,
    others: Sequence[DisbursementRow] = (),
) -> Event:
    """The `disbursed` event, or `RefusedError`: already sent, an IMAD that is not one or that
    `others` (the flow's other disbursements) were sent with, an amount other than the flow's
    (unless `--out-of-order`), or release conditions not met (naming them) without
    `--out-of-order --reason`."""
    item = row.disbursement
    if row.sent is not None:
        raise RefusedError(
            f"cannot record {item.id} as sent: it was sent already (#{row.sent.seq}, "
            f"{format_money(row.sent.amount)}); nothing recorded"
        )
    if not (request.imad or request.omad):
        raise RefusedError(
            f"cannot record {item.id} as sent: give the Fed references (--imad, --omad); "
            "nothing recorded"
        )
    amount = row.amount if request.amount is None else request.amount
    flags: list[str] = []
    if amount != row.amount:
        flags.append(
            f"out of order: sent {format_money(amount)} of the flow's {format_money(row.amount)}"
        )
    flags += [f"out of order: {item.id} before {missing}" for missing in row.missing]
    if flags and not (request.out_of_order and request.reason and request.reason.strip()):
        raise RefusedError(
            f"cannot record {item.id} as sent: "
            + (
                f"its release conditions are not met: {'; '.join(row.missing)}"
                if row.missing
                else flags[0].removeprefix("out of order: ")
            )
            + f"; to record it as it happened add {OUT_OF_ORDER}; nothing recorded"
        )
    if request.imad and not IMAD.fullmatch(request.imad):
        raise RefusedError(
            f"cannot record {item.id} as sent: --imad is not a Fedwire IMAD (the cycle date, the "
            "sender's 8 characters and a 6-digit sequence, 22 in all: 20190628QMGFT015000123); "
            "nothing recorded"
        )
    for other in others:
        sent = other.sent
        named = None if sent is None else same_reference(sent, request.imad, request.omad)
        if named is not None and sent is not None and other.disbursement.id != item.id:
            raise RefusedError(
                f"cannot record {item.id} as sent: {other.disbursement.id} was sent with "
                f"{named} (#{sent.seq}); one Fed message is one wire; nothing recorded"
            )
    at = now if request.at is None else resolve_local(request.at, zone, now)
    if at > now:
        raise RefusedError(f"cannot record {item.id} as sent in the future; nothing recorded")
    evidence = orjson.dumps(
        {"disbursement": item.id, "imad": request.imad, "omad": request.omad, "flags": flags}
    ).decode()
    note = "; ".join(t for t in (request.reason, request.note) if t and t.strip()) or None
    event = deal_event(
        company,
        standing.last_seq + 1,
        DISBURSED,
        at,
        request.actor,
        request.host,
        note,
        "disbursement",
        evidence,
        on_behalf(request.actor, request.on_behalf_of),
    )
    return event._replace(amount=amount, recorded_at=now)


def same_reference(sent: Sent, imad: str | None, omad: str | None) -> str | None:
    """`IMAD ...` or `OMAD ...` when `sent` was recorded with this Fed reference; else None."""
    if imad and sent.imad == imad:
        return f"IMAD {imad}"
    if omad and sent.omad == omad:
        return f"OMAD {omad}"
    return None


class DebitMatch(NamedTuple):
    disbursement: str | None
    reason: str


def match_debit(
    imad: str | None,
    omad: str | None,
    amount: Decimal,
    rows: Sequence[DisbursementRow],
    taken: set[str],
) -> DebitMatch:
    """Which disbursement a debit of the bank's file is: the one sent with its IMAD or OMAD, else
    the one sent (or pending) of exactly its amount when only one is."""
    open_rows = [r for r in rows if r.confirmed is None and r.disbursement.id not in taken]
    named = [
        row
        for row in open_rows
        if row.sent is not None and same_reference(row.sent, imad, omad) is not None
    ]
    if len(named) > 1:
        listed = ", ".join(r.disbursement.id for r in named)
        return DebitMatch(None, f"its Fed reference was recorded for {listed}")
    if named:
        (row,) = named
        sent = row.sent
        assert sent is not None
        if sent.amount != amount:  # one wire, but not the one recorded: a person looks
            return DebitMatch(
                None,
                f"same Fed reference as {row.disbursement.id}, sent for "
                f"{format_money(sent.amount)}, but the bank's debit is {format_money(amount)}",
            )
        return DebitMatch(row.disbursement.id, "same Fed reference as mark-sent recorded")
    same = [r for r in open_rows if (r.sent.amount if r.sent else r.amount) == amount]
    if len(same) == 1:
        return DebitMatch(
            same[0].disbursement.id, f"the one disbursement of {format_money(amount)}"
        )
    if same:
        return DebitMatch(None, f"{len(same)} disbursements of {format_money(amount)}")
    return DebitMatch(None, "no disbursement of that amount or Fed reference")


def confirm_event(
    company: Purchaser,
    seq: int,
    disbursement: str,
    amount: Decimal,
    bank_reference: str,
    file: str,
    imad: str | None,
    at: datetime,
    actor: str,
    host: str,
    reason: str,
) -> Event:
    evidence = orjson.dumps(
        {"disbursement": disbursement, "bank_reference": bank_reference, "file": file, "imad": imad}
    ).decode()
    event = deal_event(
        company, seq, DISBURSEMENT_CONFIRMED, at, actor, host, reason, "bank", evidence
    )
    return event._replace(amount=amount)
