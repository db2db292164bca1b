"""What a purchaser's link sends (its details, its wire report) and the team's answer (`closing
details accept|reject`): each one transaction on the `Database`, each an event on the purchaser's
chain (`closing.domain.proposals`). A link's event is appended by whoever runs the server (the
authenticated actor) on behalf of the link, named by its id, never its token.

A link may act only while it is active and was made to act (`share.can_act`); its submissions are
counted against `LINK_RATE` an hour. Accepted details are written over the purchaser's stored
details at once (the board's ⚑ goes) and again at every reload of the deal file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from closing.domain.deal import Deal
from closing.domain.detail_rules import plain_line
from closing.domain.documents import media_type
from closing.domain.errors import NotFoundError, RateLimited, RefusedError, UsageError
from closing.domain.events import ACCEPTED, PROPOSAL, REJECTED, WIRE_REPORT, Event, Purchaser
from closing.domain.events import on_behalf as behalf_of
from closing.domain.proposals import (
    DETAILS_EVIDENCE,
    REPORT_EVIDENCE,
    Pending,
    accepted_details,
    answer_evidence,
    apply_accepted,
    check_details,
    check_report,
    check_sent_at,
    choose,
    detail_label,
    pending_details,
    proposal_evidence,
    proposal_note,
    reload_conflicts,
    report_evidence,
    report_note,
)
from closing.domain.share_link import ShareRecord, link_name
from closing.domain.signature_page import check_page
from closing.domain.team import OPERATOR
from closing.services.documents import Attached, AttachRequest, attach_file
from closing.services.mark import Locked, locked
from closing.services.team import require
from closing.store import deals as stored_deals
from closing.store import events as log
from closing.store.connection import Connection, Database
from closing.store.facts import fact_table, record_facts
from closing.store.identity import actor
from closing.store.shares import share_by_id

LINK_RATE = 30  # submissions a link may make in an hour
RATE_WINDOW = timedelta(hours=1)


# --- what a link sends -------------------------------------------------------------------------


def acting_link(connection: Connection, share_id: int, now: datetime) -> tuple[ShareRecord, Locked]:
    """The link, checked again inside the transaction (revoked a moment ago: refused), with its
    purchaser locked; refused when it may not act or has used its hour's submissions."""
    share = share_by_id(connection, share_id)
    if share is None or not share.active or share.purchaser_slug is None:
        raise NotFoundError("this link is not valid; ask the deal team for a new one")
    if not share.can_act:
        raise RefusedError("this link is read-only: it shows the board but cannot send anything")
    deal = stored_deals.deal_by_id(connection, share.deal_id)
    found = locked(connection, deal.slug, share.purchaser_slug)
    if found.standing.withdrawn is not None:
        raise RefusedError(f"{found.party.name} withdrew from the deal; nothing can be sent")
    name = link_name(share)
    since = now - RATE_WINDOW
    recent = sum(
        1
        for event in log.party_events(connection, found.party.id)
        if event.on_behalf_of == name and event.logged_at > since
    )
    if recent >= LINK_RATE:
        raise RateLimited(
            f"this link has sent {LINK_RATE} submissions in the last hour, the most it may; "
            "try again later or write to the deal team"
        )
    return share, found


def _link_event(
    connection: Connection,
    share: ShareRecord,
    found: Locked,
    kind: str,
    evidence_kind: str,
    evidence: str,
    note: str,
    now: datetime,
    host: str,
) -> Event:
    event = Event(
        id=0,
        purchaser_id=found.party.id,
        seq=found.standing.last_seq + 1,
        kind=kind,
        step="",
        occurred_at=now,
        recorded_at=now,
        actor=actor(connection),
        host=host,
        evidence_kind=evidence_kind,
        evidence=evidence,
        note=note,
        on_behalf_of=link_name(share),
    )
    deal = found.deal
    return log.append_event(connection, deal.id, deal.slug, found.party, event, found.head)


def propose_details(
    database: Database, share_id: int, given: dict[str, str], now: datetime, host: str = "web"
) -> Event:
    """Record the details a purchaser's link proposes (checked first: nothing written if one is
    wrong)."""
    details = check_details(given)
    with database.transaction() as connection:
        share, found = acting_link(connection, share_id, now)
        evidence = proposal_evidence(share.id, details)
        return _link_event(
            connection,
            share,
            found,
            PROPOSAL,
            DETAILS_EVIDENCE,
            evidence,
            proposal_note(details),
            now,
            host,
        )


def report_wire(
    database: Database,
    share_id: int,
    amount: str,
    bank: str,
    imad: str,
    sent_at: datetime,
    now: datetime,
    host: str = "web",
) -> Event:
    """Record the purchaser's report that its wire left: a report, never money received."""
    value, bank_text, imad_text = check_report(amount, bank, imad)
    with database.transaction() as connection:
        share, found = acting_link(connection, share_id, now)
        terms = found.deal.terms
        zone = terms.zone
        check_sent_at(sent_at, terms.agreement_date, zone, now)
        evidence = report_evidence(share.id, value, bank_text, imad_text, sent_at)
        note = report_note(value, imad_text, sent_at, zone, now)
        return _link_event(
            connection, share, found, WIRE_REPORT, REPORT_EVIDENCE, evidence, note, now, host
        )


def upload_page(
    database: Database, share_id: int, name: str, content: bytes, now: datetime, host: str = "web"
) -> Attached:
    """Keep the signature page a purchaser's link sends, held in escrow, as the purchaser's page
    of the document it signs (checked first: nothing written if it is refused)."""
    kind = media_type("", content[:16])  # by its bytes alone: a link's file name can lie
    check_page(name, content, kind)
    with database.transaction(write=False) as connection:
        share = share_by_id(connection, share_id)
        if share is None or not share.active or share.purchaser_slug is None:
            raise NotFoundError("this link is not valid; ask the deal team for a new one")
        deal = stored_deals.deal_by_id(connection, share.deal_id)
    document = next(
        (
            d
            for d in deal.terms.documents
            if d.per_purchaser and any(s.party == "purchaser" for s in d.signatories)
        ),
        None,
    )
    if document is None:
        raise RefusedError("this deal has no document a purchaser signs; write to the deal team")

    def authorise(connection: Connection) -> str:
        return link_name(acting_link(connection, share_id, now)[0])

    request = AttachRequest(
        party=share.purchaser_slug,
        document=document.id,
        name=name,
        content=content,
        signatory="purchaser",
        hold=True,
        host=host,
    )
    return attach_file(database, deal.slug, request, now, link=authorise)


# --- the team's answer -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    party: Purchaser
    event: Event
    details: dict[str, Pending]
    warnings: list[str]


def answer_details(
    database: Database,
    deal_name: str | None,
    party_text: str,
    fields: list[str],
    accept: bool,
    now: datetime,
    reason: str | None = None,
    from_revoked_link: bool = False,
    on_behalf_of: str | None = None,
    host: str = "unknown",
) -> Answered:
    """`closing details accept|reject P [FIELD ...]`: the proposed details named (all, when none
    is) accepted, and applied over the deal file's at once, or rejected with the reason."""
    if not accept:
        if reason is None:
            raise UsageError("say why: closing details reject P [FIELD ...] --reason TEXT")
        try:
            reason = plain_line(reason, "the reason", 500)
        except ValueError as problem:
            raise UsageError(str(problem)) from None
    with database.transaction() as connection:
        verb = "accept" if accept else "reject"

        def allowed(deal: Deal, party: Purchaser) -> None:
            require(connection, deal.id, OPERATOR, f"{verb} the details proposed for {party.name}")

        found = locked(connection, deal_name, party_text, allowed)
        party, deal = found.party, found.deal
        chosen = choose(pending_details(found.standing.link_events), fields)
        warnings = _revoked(connection, chosen)
        if warnings and accept and not from_revoked_link:
            raise RefusedError(
                "; ".join(warnings) + ": a revoked link's proposals are no longer eligible; "
                "nothing accepted; to accept them anyway: closing details accept "
                f"{party.slug} --from-revoked-link"
            )
        values = {field: item.value for field, item in chosen.items()}
        links = [item.link_id for item in chosen.values()]
        words = ", ".join(detail_label(field) for field in chosen)
        note = f"{verb}ed {words}" + (f": {reason}" if reason else "")
        if warnings and accept:
            note += " (warning: " + "; ".join(warnings) + ")"
        who = actor(connection)
        event = Event(
            id=0,
            purchaser_id=party.id,
            seq=found.standing.last_seq + 1,
            kind=ACCEPTED if accept else REJECTED,
            step="",
            occurred_at=now,
            recorded_at=now,
            actor=who,
            host=host,
            evidence_kind=DETAILS_EVIDENCE,
            evidence=answer_evidence(values, links),
            note=note,
            on_behalf_of=behalf_of(who, on_behalf_of),
        )
        event = log.append_event(connection, deal.id, deal.slug, party, event, found.head)
        if accept:
            merged = apply_accepted(party.details, values)
            stored_deals.update_purchaser(
                connection, party.id, details_json=json.dumps(merged, sort_keys=True)
            )
            record_facts(connection, deal.id, now, fact_table("purchaser"))  # Schedule 1's row
    return Answered(party, event, chosen, warnings)


def _revoked(connection: Connection, chosen: dict[str, Pending]) -> list[str]:
    said = []
    for link_id in sorted({item.link_id for item in chosen.values()}):
        share = share_by_id(connection, link_id)
        if share is not None and not share.active:
            said.append(f"share link #{link_id} that proposed them was revoked")
    return said


# --- a reload of the deal file -----------------------------------------------------------------


def details_over_file(
    file_json: str, events: list[Event], keep_file: bool
) -> tuple[str, list[str], dict[str, str]]:
    """A purchaser's details as a reload stores them: the file's, with the accepted ones over them.
    Also each accepted detail the file now writes otherwise (in words), and, with `keep_file`, the
    file's values that then take their place (recorded as accepted from the deal file)."""
    accepted = accepted_details(events)
    if not accepted:
        return file_json, [], {}
    file_details: dict[str, Any] = json.loads(file_json)
    conflicts = reload_conflicts(file_details, accepted)
    words = [
        f"{detail_label(field)}: the deal file says {written!r}, the purchaser's accepted detail "
        f"is {value!r}"
        for field, written, value in conflicts
    ]
    taken = {field: written for field, written, _ in conflicts} if keep_file else {}
    kept = {field: value for field, value in accepted.items() if field not in taken}
    merged = apply_accepted(file_details, kept)
    return json.dumps(merged, sort_keys=True), words, taken


def record_file_details(
    connection: Connection,
    deal_id: int,
    party: Purchaser,
    taken: dict[str, str],
    now: datetime,
    host: str,
) -> None:
    """The deal file's values accepted in place of the purchaser's (a reload with
    --accept-changes): the next reload then agrees."""
    deal = stored_deals.deal_by_id(connection, deal_id)
    seq, head = log.lock_chain_head(connection, party.id)
    event = Event(
        id=0,
        purchaser_id=party.id,
        seq=seq + 1,
        kind=ACCEPTED,
        step="",
        occurred_at=now,
        recorded_at=now,
        actor=actor(connection),
        host=host,
        evidence_kind=DETAILS_EVIDENCE,
        evidence=answer_evidence(taken, []),
        note="accepted from the deal file (closing init --accept-changes): "
        + ", ".join(detail_label(field) for field in taken),
    )
    log.append_event(connection, deal.id, deal.slug, party, event, head)
