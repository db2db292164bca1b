"""The status JSON document: what `closing status --json` prints and the web board is drawn from
(`closing.views.board_page`); with it the company's wire instructions as `wire-instructions
--json` shows them, the account masked. Money as exact strings, times as ISO 8601 with the
deal's offset (`iso`, which every JSON document uses).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from closing.domain.board import Board, PurchaserStatus, StepStatus
from closing.domain.money import money_text
from closing.domain.owners import owner_of
from closing.domain.wire_instructions import Version, WireStatus


def iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).isoformat()


def board_json(board: Board) -> dict[str, Any]:
    terms = board.terms
    zone = terms.zone
    # Thousands of purchasers share a few deadlines: format each instant once.
    seen: dict[datetime, str | None] = {}

    def stamp(moment: datetime | None) -> str | None:
        if moment is None:
            return None
        if moment not in seen:
            seen[moment] = iso(moment, zone)
        return seen[moment]

    # Most purchasers' open steps are alike (the board shares one status between them): one
    # dict serves all. Keyed by identity: hashing a status's fields costs more than its dict.
    # (The board holds every status while this runs: no id is reused.)
    shared: dict[int, dict[str, Any]] = {}
    known = shared.get
    # Each step's owner as the deal file names it: `purchaser` for a step each purchaser does
    # itself (the row's), so that one dict still serves every purchaser alike.
    step_of = {step.id: (owner_of(step), step.responsible) for step in terms.steps}
    purchasers = []
    for row in board.purchasers:
        steps: dict[str, dict[str, Any]] = {}
        for step_id, status in row.steps.items():
            made = known(id(status))
            if made is None:
                made = shared[id(status)] = step_json(status, stamp, *step_of[step_id])
            steps[step_id] = made
        purchasers.append(purchaser_json(row, steps, stamp))

    totals = board.totals
    return {
        "deal": {
            "slug": terms.slug,
            "title": terms.title,
            "company": terms.company.name,
            "closing_date": terms.closing_date.isoformat(),
            "cutoff": {
                "time": terms.cutoff.time.strftime("%H:%M"),
                "time_zone": terms.cutoff.time_zone,
            },
            "price_per_share": str(terms.securities.common_stock.price_per_share),
            "steps": [
                {"id": step.id, "title": step.title, "party": step.party} for step in terms.steps
            ],
            "closed": board.closed,
            "lapsed": board.lapsed,
            # An --as-of board: the reloads recorded since (its terms are those loaded now)
            "reloaded_since": [
                {"at": iso(at, zone), "changes": changes} for at, changes in board.reloaded_since
            ],
        },
        "as_of": iso(board.as_of, zone),
        "company": {
            "name": terms.company.name,
            "closed": board.company.closed,
            "steps": {
                step_id: step_json(status, stamp, *step_of[step_id])
                for step_id, status in board.company.steps.items()
            },
        },
        "purchasers": purchasers,
        "totals": {
            "purchasers": totals.purchasers,
            "closed": totals.closed,
            "withdrawn": totals.withdrawn,
            "shares": totals.shares,
            "purchase_price": money_text(totals.purchase_price),
            "warrant_shares": totals.warrant_shares,
            "amount_received": money_text(totals.amount_received),
            "steps": totals.by_status,
        },
        "alerts": {"failing_deliveries": board.failing_alerts},
        "record": {"warning": board.record_warning},
        "wire_instructions": wire_instructions_json(board.wire_instructions, zone),
        "documents": _documents(board),
    }


def _documents(board: Board) -> list[dict[str, Any]]:
    """The closing set's copies, when the deal has one (its view imported only then)."""
    if not board.documents:
        return []
    from closing.views.documents import document_states

    return list(document_states(board.documents))


def wire_instructions_json(status: WireStatus | None, zone: ZoneInfo) -> dict[str, Any]:
    """The company's wire instructions, masked: `{"present", "verified", "fingerprint", ...}`."""
    if status is None:
        return {"present": False, "verified": False, "versions": 0}
    return version_json(status.current, status.count, zone)


def version_json(version: Version | None, count: int, zone: ZoneInfo) -> dict[str, Any]:
    """One version of the instructions as `wire-instructions --json` shows it: the account
    masked, never in full."""
    if version is None or not version.present:
        return {"present": False, "verified": False, "versions": count}
    return {
        "present": True,
        "verified": version.verified,
        "version": version.number,
        "versions": count,
        "bank": version.bank,
        "aba": version.aba,
        "account": version.account_masked,
        "account_name": version.account_name,
        "swift": version.swift,
        "reference": version.reference,
        "fingerprint": version.short_fingerprint,
        "callback_numbers": list(version.callback_numbers),
        "entered_by": version.entered_by,
        "entered_at": iso(version.entered_at, zone),
        "verified_by": version.verified_by,
        "verified_at": iso(version.verified_at, zone),
        "callback_number": version.callback_number,
        "spoke_with": version.spoke_with,
    }


def purchaser_json(
    row: PurchaserStatus,
    steps: dict[str, dict[str, Any]],
    stamp: Callable[[datetime | None], str | None],
) -> dict[str, Any]:
    purchaser = row.purchaser
    withdrawn = row.withdrawn
    price = purchaser.purchase_price
    price_text = money_text(price)
    received = row.amount_received
    if received == price and price:  # paid in full, mostly: the price's text, nothing short
        received_text, short_text = price_text, _NOTHING_SHORT
    else:
        received_text, short_text = _money(received), _money(row.shortfall)
    found: dict[str, Any] = {
        "name": purchaser.name,
        "slug": purchaser.slug,
        "state": row.state,
        "withdrawn": withdrawn is not None,
        "withdrawn_reason": withdrawn.note if withdrawn is not None else None,
        "steps": steps,
        "shares": purchaser.shares,
        "purchase_price": price_text,
        "warrant_shares": purchaser.warrant_shares,
        "amount_received": received_text,
        "shortfall": short_text,
        "unreadable": row.unreadable,
        "remediation": list(row.remediation),
        "lapsed": row.lapsed,
        # What it said through its link: details awaiting an answer, its report of its wire
        "proposed_details": {},
        "wire_report": None,
    }
    if row.link_events:
        # Imported here: most boards have no link events, and a large board's command pays for
        # every module it imports.
        from closing.domain.proposals import link_json

        found.update(link_json(row.link_events, stamp))
    return found


_money = lru_cache(maxsize=1024)(money_text)  # received and shortfall: mostly $0.00 or the price
_NOTHING_SHORT = money_text(Decimal(0))


def step_json(
    status: StepStatus,
    stamp: Callable[[datetime | None], str | None],
    owner: str,
    responsible: str | None = None,
) -> dict[str, Any]:
    """One step's status; `owner` the party that does it (`closing.domain.owners`)."""
    # Unpacked at once: a board of 10,000 purchasers writes tens of thousands of these.
    (
        _,
        state,
        deadline,
        done_at,
        done_by,
        late_by,
        blocked_by,
        waiting_on,
        attention,
        received,
        why,
        practical,
        breach,
        behalf,
    ) = status
    found: dict[str, Any] = {
        "status": state,
        "deadline": stamp(deadline),
        "practical_deadline": None if practical is None else stamp(practical),
        "done_at": None if done_at is None else stamp(done_at),
        "done_by": done_by,
        "on_behalf_of": behalf,
        "late_by": late_by,
        "blocked_by": list(blocked_by) if blocked_by else [],
        "waiting_on": list(waiting_on) if waiting_on else [],
        "attention": list(attention) if attention else [],
        "breach": list(breach) if breach else [],
        "owner": owner,
    }
    if responsible is not None:
        found["responsible"] = responsible
    if received is not None:
        found["received"] = money_text(received)
    if why is not None:
        found["reason"] = why
    return found
