"""Finding the deal and the party a command names (`open_deal`, `find_purchaser`, inside the
caller's transaction), and the list of deals (`closing deals`). Loading a deal file is
`closing.services.load`."""

from __future__ import annotations

from closing.domain.deal import Deal
from closing.domain.errors import NotFoundError
from closing.domain.events import Purchaser
from closing.domain.history import DealSummary
from closing.domain.terms import COMPANY
from closing.store import deals as stored_deals
from closing.store.connection import Connection, Database

# --- finding a deal and listing them ------------------------------------------------------------


def open_deal(connection: Connection, wanted: str | None) -> Deal:
    """The deal named (slug or unambiguous prefix), or the only deal there is."""
    if wanted:
        found = stored_deals.deals(connection, slug=wanted)
        if not found:
            found = stored_deals.deals(connection, slug_prefix=wanted)
            if len(found) > 1:
                raise NotFoundError(
                    f"deal {wanted!r} is ambiguous: {', '.join(d.slug for d in found)}; "
                    "give more of its name"
                )
            if not found:
                raise NotFoundError(f"no deal {wanted!r}; {_deal_hint(connection)}")
        return found[0]
    found = stored_deals.deals(connection, limit=2)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFoundError("no deal loaded yet; load one with: closing init FILE")
    count = stored_deals.deal_count(connection)
    slugs = stored_deals.deal_slugs(connection, limit=10)
    more = f" and {count - len(slugs):,} more" if count > len(slugs) else ""
    raise NotFoundError(
        f"{count:,} deals are loaded ({', '.join(slugs)}{more}); name one with --deal SLUG "
        "or CLOSING_DEAL (closing deals lists them all)"
    )


def _deal_hint(connection: Connection) -> str:
    slugs = stored_deals.deal_slugs(connection, limit=10)
    if not slugs:
        return "no deal loaded yet; load one with: closing init FILE"
    return f"loaded deals: {', '.join(slugs)}"


def deal_summaries(database: Database) -> list[DealSummary]:
    """Every deal loaded, by slug, with its active purchasers and events counted."""
    with database.transaction(write=False) as connection:
        loaded = stored_deals.deals(connection)
        purchasers, events = stored_deals.counts_by_deal(connection)
    return [
        DealSummary(
            deal.slug,
            deal.terms.title,
            deal.terms.closing_date,
            deal.deadline(deal.terms.purchaser_steps[0], {}).astimezone(deal.terms.zone),
            purchasers.get(deal.id, 0),
            events.get(deal.id, 0),
        )
        for deal in loaded
    ]


# --- finding a party ---------------------------------------------------------------------------


MIN_PREFIX = 3


def find_purchaser(connection: Connection, deal: Deal, text: str) -> Purchaser:
    """By slug, or an unambiguous case-insensitive prefix (3 characters at least) of the name or
    slug; the word `company` names the deal's own steps."""
    wanted = text.strip()
    if wanted.casefold() == COMPANY:
        company = stored_deals.party_where(connection, deal.id)
        if company is None:
            raise NotFoundError(f"deal {deal.slug} has no company steps; reload its deal file")
        return company
    exact = stored_deals.party_where(connection, deal.id, wanted)
    if exact is not None and not exact.is_company:
        return exact
    if 0 < len(wanted) < MIN_PREFIX:
        raise NotFoundError(
            f"purchaser {text!r} is too short to name a purchaser of {deal.slug}: give its slug "
            f"or at least {MIN_PREFIX} characters of its name"
        )
    matches = stored_deals.purchasers_by_prefix(connection, deal.id, wanted, limit=11)
    active = [m for m in matches if m.active] or matches
    if len(active) == 1 and wanted:
        return active[0]
    if not active or not wanted:
        slugs = stored_deals.active_purchaser_slugs(connection, deal.id, limit=11)
        listed = ", ".join(slugs[:10]) + (", ..." if len(slugs) > 10 else "")
        raise NotFoundError(f"no purchaser {text!r} in {deal.slug}; the purchasers are: {listed}")
    names = ", ".join(f"{m.slug} ({m.name})" for m in active[:10])
    more = " and more" if len(active) > 10 else ""
    raise NotFoundError(
        f"purchaser {text!r} is ambiguous in {deal.slug}: {names}{more}; give more of the name"
    )
