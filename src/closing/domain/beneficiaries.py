"""A disbursement's beneficiary bank details under the same change control as the company's wire
instructions (`closing.domain.wire_instructions`): normalised, fingerprinted (salted with the deal
and the disbursement), masked, and held until a second person calls back a number the record
held before the change. Each version is a `beneficiary` event on the company's chain, and each
callback a `beneficiary_verified` event, so the chain covers them; `versions` reads them back as
the wire instructions' own `Version`s, and the same rules (`wire_status`, `trusted_numbers`)
apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from closing.domain.errors import RefusedError
from closing.domain.events import (
    BENEFICIARY,
    BENEFICIARY_VERIFIED,
    Event,
    Purchaser,
    deal_event,
    on_behalf,
)
from closing.domain.wire_instructions import (
    Proposed,
    Verification,
    Version,
    WireStatus,
    differs,
    propose,
    short,
    verification_refusal,
    wire_status,
)

if TYPE_CHECKING:
    from closing.domain.dealfile.schema import DisbursementSpec


def salt(deal_slug: str, disbursement: str) -> str:
    return f"{deal_slug} disbursement {disbursement}"


def proposed_for(item: DisbursementSpec, deal_slug: str) -> Proposed:
    return propose(item.beneficiary, item.callback_numbers, salt(deal_slug, item.id))


def versions(events: Sequence[Event], disbursement: str) -> list[Version]:
    """Every version of a disbursement's beneficiary details, oldest first, from the company's
    events."""
    found: list[Version] = []
    for event in events:
        if event.kind not in (BENEFICIARY, BENEFICIARY_VERIFIED):
            continue
        data: dict[str, Any] = orjson.loads(event.evidence or "{}")
        if data.get("disbursement") != disbursement:
            continue
        if event.kind == BENEFICIARY:
            proposed = data["proposed"]
            proposed["callback_numbers"] = tuple(proposed["callback_numbers"])
            found.append(
                Version(
                    len(found) + 1, **proposed, entered_by=event.actor, entered_at=event.occurred_at
                )
            )
        elif found:
            found[-1] = replace(
                found[-1],
                verified_by=event.actor,
                verified_at=event.occurred_at,
                callback_number=data.get("callback_number"),
                spoke_with=data.get("spoke_with"),
            )
    return found


def beneficiary_status(
    events: Sequence[Event], disbursement: str, as_of: datetime | None = None
) -> WireStatus:
    return wire_status(versions(events, disbursement), as_of=as_of)


def decide_beneficiary(
    company: Purchaser,
    seq: int,
    disbursement: str,
    known: Sequence[Version],
    proposed: Proposed,
    actor: str,
    host: str,
    now: datetime,
) -> Event | None:
    """The `beneficiary` event a deal file's changed details make, or None when unchanged."""
    current = known[-1] if known else None
    if not differs(current, proposed):
        return None
    shown = Version(0, **asdict(proposed), entered_by=actor, entered_at=now)
    note = (
        f"{disbursement}: {shown.summary()}; callback numbers: "
        f"{', '.join(proposed.callback_numbers) or 'none'}; unverified until another operator "
        "calls back"
    )
    evidence = orjson.dumps({"disbursement": disbursement, "proposed": asdict(proposed)}).decode()
    return deal_event(company, seq, BENEFICIARY, now, actor, host, note, "beneficiary", evidence)


def decide_beneficiary_verified(
    company: Purchaser,
    seq: int,
    disbursement: str,
    known: Sequence[Version],
    request: Verification,
    now: datetime,
) -> Event:
    """The `beneficiary_verified` event, or `RefusedError` by the wire instructions' own rules."""
    what = f"the beneficiary of {disbursement}"
    if not known or not known[-1].present:
        raise RefusedError(
            f"cannot verify {what}: the deal file gives no beneficiary bank details for it"
        )
    verification_refusal(known, request, what)
    current = known[-1]
    evidence = orjson.dumps(
        {
            "disbursement": disbursement,
            "fingerprint": current.fingerprint,
            "callback_number": request.callback_number.strip(),
            "spoke_with": request.spoke_with.strip(),
        }
    ).decode()
    note = f"{disbursement}: fingerprint {short(current.fingerprint or '')}, {current.summary()}"
    if request.note:
        note += f"; {request.note.strip()}"
    return deal_event(
        company,
        seq,
        BENEFICIARY_VERIFIED,
        now,
        request.actor,
        request.host,
        note,
        "beneficiary",
        evidence,
        on_behalf(request.actor, request.on_behalf_of),
    )


def beneficiary_words(event: Event) -> str:
    data: dict[str, Any] = orjson.loads(event.evidence or "{}")
    if event.kind == BENEFICIARY:
        fingerprint = data["proposed"].get("fingerprint")
        return f"beneficiary of {data['disbursement']}: fingerprint {short(fingerprint or '')}"
    return (
        f"beneficiary of {data['disbursement']} verified: called {data.get('callback_number')}, "
        f"spoke with {data.get('spoke_with')}"
    )
