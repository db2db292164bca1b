"""Loading or reloading a deal file (`closing init`, and the alert sender when a file changes).

A load runs in one transaction: read what is stored, let `closing.domain.reloads` decide what
the change would lose, write the deal, its parties and a revision (and a `revision` event on the
company's chain). Nothing here prints, reads the real clock or knows about the command line: the
caller passes the `Database` and the moment `now`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from closing.domain import reloads
from closing.domain.breach import schedule_notes
from closing.domain.calendar import calendar_snapshot
from closing.domain.deal import Deal
from closing.domain.dealfile.load import DealFile, load_deal_file
from closing.domain.dealfile.notify_urls import variables_note
from closing.domain.dealfile.schema import DealTerms, PurchaserSpec
from closing.domain.errors import DealFileError, Problem, RefusedError
from closing.domain.events import (
    COMPANY_SLUG,
    REVISION,
    Event,
    Purchaser,
    deal_event,
    on_behalf,
    replay,
)
from closing.domain.machine import Refusal, machine_for
from closing.domain.team import ADMIN
from closing.domain.text import plural
from closing.store import deals as stored_deals
from closing.store import events as log
from closing.store.connection import Connection, Database
from closing.store.facts import record_facts, require_facts
from closing.store.identity import actor


@dataclass(frozen=True)
class LoadResult:
    slug: str
    created: bool
    changes: list[str]
    purchasers: int
    wire_instructions: list[str] = field(default_factory=list)  # a new, unverified version
    notes: list[str] = field(default_factory=list)  # Schedule 1's arithmetic, in words


def notify_notes(terms: DealTerms) -> list[str]:
    """A note for each notification URL (the deal's, a party's) that reads the environment."""
    urls = [*terms.alerts.notify, *(u for party in terms.parties.values() for u in party.notify)]
    return [note for url in dict.fromkeys(urls) if (note := variables_note(url)) is not None]


def _snapshot(deal_file: DealFile) -> str:
    terms = deal_file.terms
    return calendar_snapshot(terms.calendar_names(deal_file.purchasers), terms.closing_date)


def _details(spec: PurchaserSpec) -> str:
    # The e-mail and contact only when given: a deal file without them stores what it did before.
    notices = spec.notices.model_dump(exclude=set() if spec.notices.email else {"email"})
    details: dict[str, Any] = {"notices": notices, "dwac": spec.dwac.model_dump()}
    if spec.contact:
        details["contact"] = spec.contact
    if spec.time_zone:
        details["time_zone"] = spec.time_zone
    if spec.holidays:
        details["holidays"] = spec.holidays
    if spec.aliases:
        details["aliases"] = spec.aliases
    return json.dumps(details, sort_keys=True)


def _company_row(terms: DealTerms) -> dict[str, Any]:
    """The row that holds the deal's own steps (the company's deliveries) and their events."""
    return {
        "slug": COMPANY_SLUG,
        "name": terms.company.name,
        "position": -1,
        "shares": 0,
        "purchase_price": Decimal(0),
        "warrant_shares": 0,
        "details_json": "{}",
        "active": True,
        "role": "company",
    }


def _purchaser_values(spec: PurchaserSpec, position: int) -> dict[str, Any]:
    """A purchaser row's columns that come from the deal file."""
    return {
        "name": spec.name,
        "position": position,
        "shares": spec.shares,
        "purchase_price": spec.purchase_price,
        "warrant_shares": spec.warrant_shares,
        "details_json": _details(spec),
        "active": True,
        "role": "purchaser",
    }


def _new_purchasers(specs: list[tuple[int, PurchaserSpec]]) -> list[dict[str, Any]]:
    return [{"slug": spec.key, **_purchaser_values(spec, position)} for position, spec in specs]


def load_deal(
    database: Database,
    path: str,
    now: datetime,
    accept_changes: bool = False,
    on_behalf_of: str | None = None,
    host: str = "unknown",
) -> LoadResult:
    """`closing init FILE`: create the deal, or update its terms and say what changed.

    Reloading an unchanged file writes nothing. A change that would lose sight of recorded facts
    (a different deal over the slug, a purchaser with events removed or renamed, a price changed
    after money was recorded) is refused with the list, unless `accept_changes`; one that would
    strand recorded events (a removed step) is refused with the file's path. Every change is
    recorded in words as a `revision` event of the deal (in `history` and the event chain). New
    or changed wire instructions are recorded as a version entered by whoever is signed in,
    unverified (`closing.services.wires`).
    """
    from closing.services.funds import record_beneficiaries
    from closing.services.team import first_admin, require
    from closing.services.wires import record_instructions

    deal_file = load_deal_file(path)
    terms = deal_file.terms
    digest = hashlib.sha256(deal_file.text.encode()).hexdigest()
    with database.transaction() as connection:
        stored = stored_deals.deal_source(connection, terms.slug)
        if stored is None:
            deal_id = stored_deals.insert_deal(
                connection,
                slug=terms.slug,
                title=terms.title,
                terms_json=terms.model_dump_json(),
                closures_json=_snapshot(deal_file),
                source_path=str(deal_file.path),
                source_sha256=digest,
                now=now,
            )
            stored_deals.insert_purchasers(
                connection,
                deal_id,
                [_company_row(terms), *_new_purchasers(list(enumerate(deal_file.purchasers)))],
            )
            loaded = [f"loaded {len(deal_file.purchasers)} purchasers"]
            stored_deals.insert_revision(connection, deal_id, now, digest, json.dumps(loaded))
            deal = stored_deals.deal_by_id(connection, deal_id)
            first_admin(connection, deal, now, host, on_behalf_of)
            wired = record_instructions(connection, deal_id, deal_file, on_behalf_of, host, now)
            wired += record_beneficiaries(connection, deal_id, deal_file, on_behalf_of, host, now)
            notes = schedule_notes(
                [(p.name, p.shares, p.purchase_price) for p in deal_file.purchasers],
                terms.securities.common_stock.price_per_share,
            )
            notes += notify_notes(terms)
            record_facts(connection, deal_id, now)
            return LoadResult(terms.slug, True, [], len(deal_file.purchasers), wired, notes)
        require(connection, stored.id, ADMIN, f"reload the deal file of {terms.slug}")
        require_facts(connection, stored.id, f"reload the deal file of {terms.slug}")
        old_terms = DealTerms.model_validate_json(stored.terms_json)
        checked, judged = _review(connection, stored.id, old_terms, deal_file, now)
        risky = checked.risky + _details_conflicts(connection, stored.id, deal_file)
        if risky and not accept_changes:
            listed = "".join(f"\n  - {item}" for item in risky)
            raise RefusedError(
                f"closing init {deal_file.path} would lose sight of recorded facts:{listed}\n"
                "nothing was changed; to make these changes deliberately (they are recorded in "
                "the deal's history): closing init FILE --accept-changes"
            )
        changes = checked.changes
        changes += _sync_purchasers(connection, stored.id, deal_file, terms, now, host)
        company = stored_deals.party_where(connection, stored.id)
        if company is None:  # a deal loaded by an older closing
            stored_deals.insert_purchasers(connection, stored.id, [_company_row(terms)])
            company = stored_deals.party_where(connection, stored.id)
            assert company is not None
        if stored.source_path != str(deal_file.path):
            stored_deals.update_deal(connection, stored.id, source_path=str(deal_file.path))
        wired = record_instructions(connection, stored.id, deal_file, on_behalf_of, host, now)
        wired += record_beneficiaries(connection, stored.id, deal_file, on_behalf_of, host, now)
        if changes or wired:
            stored_deals.update_deal(
                connection,
                stored.id,
                title=terms.title,
                terms_json=terms.model_dump_json(),
                closures_json=_snapshot(deal_file),
                source_sha256=digest,
                updated_at=now,
            )
            stored_deals.insert_revision(
                connection, stored.id, now, digest, json.dumps([*changes, *wired])
            )
            if changes:
                _record_revision(
                    connection, stored.id, company, changes, risky, now, on_behalf_of, host
                )
            stored_deals.keep_judgements(
                connection,
                stored.id,
                [(j.mark.id, j.before) for j in judged if j.mark and j.mark.id and j.before],
                now,
            )
        record_facts(connection, stored.id, now)
        return LoadResult(terms.slug, False, changes, len(deal_file.purchasers), wired)


def _review(
    connection: Connection, deal_id: int, old: DealTerms, deal_file: DealFile, now: datetime
) -> tuple[reloads.Review, list[reloads.Judged]]:
    """What the reload changes, which changes need --accept-changes, and the marks whose
    deadlines it moves."""
    machine = machine_for(old)
    events = log.events_by_party(connection, deal_id)
    stored = []
    judged: list[tuple[Purchaser, dict[str, Event], Decimal]] = []
    # Those taken off Schedule 1 too: one put back is held to its record like any other.
    purchasers, company = stored_deals.parties(connection, deal_id, active_only=False)
    for row in purchasers:
        history = events.get(row.id, [])
        done: frozenset[str] = frozenset()
        try:
            standing = replay(machine, history)
            paid = standing.amount_received if history else Decimal(0)
            done = frozenset(standing.done)
            if row.active:
                judged.append((row, dict(standing.done), paid))
        except Refusal:
            paid = Decimal(0)
        stored.append(
            reloads.StoredPurchaser(
                row.slug,
                row.name,
                row.purchase_price,
                len(history),
                paid,
                row.shares,
                row.warrant_shares,
                row.details,
                done,
                row.active,
            )
        )
    if company is not None:
        try:
            standing = replay(machine_for(old, company=True), events.get(company.id, []))
            judged.append((company, dict(standing.done), Decimal(0)))
        except Refusal:
            pass
    found = reloads.review(
        old, deal_file.terms, stored, deal_file.purchasers, lambda spec: json.loads(_details(spec))
    )
    before = stored_deals.deal_by_id(connection, deal_id)
    after = Deal.from_stored(
        deal_id,
        before.slug,
        deal_file.terms.model_dump_json(),
        _snapshot(deal_file),
        before.created_at,
    )
    marks = reloads.judged_changes(before, after, judged, now)
    found.risky.extend(reloads.judged_words(marks))
    return found, marks


def _record_revision(
    connection: Connection,
    deal_id: int,
    company: Purchaser,
    changes: list[str],
    accepted: list[str],
    now: datetime,
    on_behalf_of: str | None,
    host: str,
) -> None:
    """The reload as an event of the deal's own chain: `history` shows it in words."""
    deal = stored_deals.deal_by_id(connection, deal_id)
    seq, head = log.lock_chain_head(connection, company.id)
    note = "; ".join(changes)
    if accepted:
        note = "accepted: " + "; ".join(accepted) + " | " + note
    who = actor(connection)
    event = deal_event(
        company, seq + 1, REVISION, now, who, host, note, on_behalf_of=on_behalf(who, on_behalf_of)
    )
    log.append_event(connection, deal.id, deal.slug, company, event, head)


def _details_conflicts(connection: Connection, deal_id: int, deal_file: DealFile) -> list[str]:
    """Each detail accepted from a purchaser that the deal file now writes otherwise: both shown,
    and the reload asks (`--accept-changes` takes the file's)."""
    from closing.services.proposals import details_over_file

    rows = {p.slug: p for p in stored_deals.parties(connection, deal_id, active_only=False)[0]}
    events = log.events_by_party(connection, deal_id)  # once: a large deal has thousands
    found = []
    for spec in deal_file.purchasers:
        row = rows.get(spec.key)
        if row is not None and row.id in events:
            history = events[row.id]
            for words in details_over_file(_details(spec), history, keep_file=False)[1]:
                found.append(f"{spec.name}: {words}")
    return found


def _sync_purchasers(
    connection: Connection,
    deal_id: int,
    deal_file: DealFile,
    terms: DealTerms,
    now: datetime,
    host: str,
) -> list[str]:
    from closing.services.proposals import details_over_file, record_file_details

    rows = {p.slug: p for p in stored_deals.parties(connection, deal_id, active_only=False)[0]}
    events = log.events_by_party(connection, deal_id)
    stranded = []
    company = stored_deals.party_where(connection, deal_id)
    for row in [*rows.values(), *([company] if company else [])]:
        try:
            replay(machine_for(terms, company=row.is_company), events.get(row.id, []))
        except Refusal as refusal:
            stranded.append(f"{row.name}: {refusal}")
    if stranded:
        raise DealFileError(
            [
                Problem(
                    str(deal_file.path),
                    1,
                    f"the new steps do not fit events already recorded ({problem}); "
                    "record an undo first or keep the steps",
                )
                for problem in stranded[:10]
            ]
        )
    changes: list[str] = []
    new_specs: list[tuple[int, PurchaserSpec]] = []
    seen = set()
    for position, spec in enumerate(deal_file.purchasers):
        seen.add(spec.key)
        existing = rows.get(spec.key)
        if existing is None:
            new_specs.append((position, spec))
            changes.append(f"purchaser added: {spec.name}")
            continue
        updates = {}
        values = _purchaser_values(spec, position)
        # The details accepted from the purchaser stay over the file's (a conflict was asked)
        values["details_json"], _, taken = details_over_file(
            values["details_json"], events.get(existing.id, []), keep_file=True
        )
        if taken:
            record_file_details(connection, deal_id, existing, taken, now, host)
        for name, value in values.items():
            old = getattr(existing, name)
            if old != value:
                if name == "details_json":
                    changed = reloads.detail_changes(existing.details, json.loads(value))
                    changes.append(
                        f"{spec.name}: details changed ({', '.join(changed) or 'their form'})"
                    )
                elif name != "position":
                    changes.append(f"{spec.name}: {name} {old} -> {value}")
                updates[name] = value
        if updates:
            stored_deals.update_purchaser(connection, existing.id, **updates)
    for slug, row in rows.items():
        if slug not in seen and row.active:
            stored_deals.update_purchaser(connection, row.id, active=False)
            kept = len(events.get(row.id, []))
            kept_text = f"{plural(kept, 'event')} {'is' if kept == 1 else 'are'} kept"
            changes.append(f"purchaser removed: {row.name} (its {kept_text})")
    stored_deals.insert_purchasers(connection, deal_id, _new_purchasers(new_specs))
    return changes
