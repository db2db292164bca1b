"""From the `closing status --json` document to what a page shows. Pure: dicts in, values out.

The web board is drawn from that document (`closing.views.status_document.board_json`) rather
than from the board objects, so a field or a step status added there shows up here without a
change: an unknown status is shown by its name, with a CSS class named after it.

`for_purchaser` is the one place that decides what a purchaser's link may see: that purchaser's
row and the deal's public heading, nothing else (no other name, amount, status or total).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from closing.domain.board import DUE_SOON
from closing.domain.detail_rules import DETAIL_RULES
from closing.domain.money import format_money
from closing.domain.proposals import sent_words
from closing.domain.timefmt import duration

# What a purchaser's link shows of the deal's own entry: its public heading (the agreement, the
# company, the closing date and cutoff, the steps). Whatever else the document gains later
# (totals, whether the deal has closed, ...) stays with the team until added here.
PUBLIC_DEAL_KEYS = ("slug", "title", "company", "closing_date", "cutoff", "steps")

STATUS_LABELS = {"overdue": "Late"}  # others: the status's own name, "due_soon" -> "Due soon"
STATUS_SYMBOLS = {
    "done": "✓",
    "done_late": "✓",
    "waived": "–",
    "overdue": "✗",
    "due_soon": "!",
    "blocked": "⚑",
}
# Statuses whose cell shows the time left to the deadline (or how late it is).
OPEN_STATUSES = {"pending", "due_soon", "overdue", "blocked"}
# Statuses that count as done in the per-step footer.
DONE_STATUSES = {"done", "done_late", "waived"}
# Worst first, for large boards that show those furthest behind first; unknown statuses rank
# with "pending".
URGENCY = {"overdue": 0, "blocked": 1, "due_soon": 2, "pending": 3}
DONE_RANK = 4
SUMMARY_ORDER = (
    "overdue",
    "blocked",
    "due_soon",
    "pending",
    "held",
    "done_late",
    "done",
    "waived",
)
# Under the board: each colour and bar a cell can have (its CSS classes) in the cells' own words.
LEGEND = (
    ("status-done", "✓ Done"),
    ("status-done_late", "✓ Done late"),
    ("status-due_soon", f"! Due soon: within {duration(DUE_SOON, style='exact')} of the cutoff"),
    ("status-overdue", "✗ Late: past the cutoff"),
    ("blocked", "Purple bar: ⚑ needs a detail the deal file does not have yet"),
    ("attention", "Red bar: attention, something recorded needs a person"),
)


def for_purchaser(document: Mapping[str, Any], slug: str) -> dict[str, Any]:
    """What the link of purchaser `slug` may see, built by taking only what is allowed (never by
    removing what is not)."""
    deal = document.get("deal", {})
    allowed: dict[str, Any] = {
        "deal": {key: deal[key] for key in PUBLIC_DEAL_KEYS if key in deal},
        "as_of": document.get("as_of"),
        "purchasers": [row for row in document.get("purchasers", []) if row.get("slug") == slug],
    }
    company = document.get("company")
    if isinstance(company, Mapping) and "steps" in company:
        # The company's own deliveries (issue 8) are the same for every purchaser.
        allowed["company"] = {"steps": company["steps"]}
    return allowed


def css_name(status: str) -> str:
    """`status-due_soon`: a class named after the status, whatever it is, safe in an attribute."""
    return "status-" + (re.sub(r"[^a-z0-9_-]", "-", status.lower()) or "unknown")


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status) or status.replace("_", " ").capitalize() or "Unknown"


@dataclass(frozen=True)
class Cell:
    step: str
    heading: str
    status: str
    css: str
    label: str
    symbol: str
    detail: str
    notes: tuple[str, ...] = ()
    flags: str = ""  # more CSS classes: "blocked", "attention"


@dataclass(frozen=True)
class Row:
    name: str
    slug: str
    state: str
    badges: tuple[str, ...]
    shares: str
    purchase_price: str
    received: str
    cells: tuple[Cell, ...]
    urgency: int
    notes: tuple[str, ...] = ()  # under the name: why withdrawn, a shortfall
    proposed: bool = False  # details proposed through its link await the team's answer


@dataclass(frozen=True)
class Summary:
    statuses: tuple[tuple[str, str, str], ...]  # (status, label, css)
    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (step heading, counts)


@dataclass(frozen=True)
class View:
    """Everything a page shows, as text: the templates only lay it out."""

    team: bool
    title: str
    company: str
    slug: str
    closing: str
    cutoff: str
    as_of: str
    time_zone: str
    closed: bool
    steps: tuple[tuple[str, str], ...]  # (id, heading)
    rows: tuple[Row, ...]
    shown: int
    total: int
    company_cells: tuple[Cell, ...] = ()
    footer: tuple[str, ...] = ()  # "N/M closed", then each step's "done/total"
    footer_money: tuple[str, ...] = ()  # total shares, purchase price, received
    totals: tuple[str, ...] = ()
    summary: Summary | None = None
    warnings: tuple[str, ...] = ()
    alerts: tuple[tuple[str, str], ...] = ()  # (when, title)
    legend: tuple[tuple[str, str], ...] = LEGEND  # (CSS classes, words)
    needed: tuple[str, ...] = ()  # a purchaser's page: the details its steps still lack


def _zone(document: Mapping[str, Any]) -> ZoneInfo | None:
    name = document.get("deal", {}).get("cutoff", {}).get("time_zone")
    try:
        return ZoneInfo(name) if isinstance(name, str) else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    return _parse_moment(text)


@lru_cache(maxsize=4096)  # thousands of purchasers share a few deadlines
def _parse_moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _local(moment: datetime, zone: ZoneInfo | None, fmt: str) -> str:
    return (moment.astimezone(zone) if zone else moment).strftime(fmt).strip()


def _money(text: object) -> str:
    try:
        return format_money(Decimal(str(text)))
    except (InvalidOperation, ValueError):
        return str(text) if text is not None else ""


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))


def _texts(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, Sequence):
        return [str(item) for item in value if item]
    return [str(value)] if value else []


def cell(
    step_id: str,
    heading: str,
    data: Mapping[str, Any],
    as_of: datetime | None,
    zone: ZoneInfo | None,
    headings: Mapping[str, str] | None = None,
    withdrawn: bool = False,
) -> Cell:
    """One step of one purchaser: a label and a detail in words (never colour alone), and notes:
    what needs attention, what is missing (⚑), what it waits for, what part of a payment came.
    A withdrawn purchaser's open steps say so, as on the text board: they are no longer due."""
    status = str(data.get("status") or "unknown")
    if withdrawn and status not in DONE_STATUSES:
        received = data.get("received")
        came = (f"{_money(received)} received",) if received not in (None, "", "0", "0.00") else ()
        return Cell(step_id, heading, "withdrawn", css_name("withdrawn"), "Withdrawn", "", "", came)
    detail = ""
    done_at = _moment(data.get("done_at"))
    deadline = _moment(data.get("deadline"))
    practical = _moment(data.get("practical_deadline"))
    if deadline is not None and practical is not None and practical < deadline:
        deadline = practical  # an open step is judged against the market's cutoff when earlier
    if status in OPEN_STATUSES and deadline is not None and as_of is not None:
        left = deadline - as_of
        detail = f"{duration(left)} left" if left.total_seconds() >= 0 else f"by {duration(left)}"
    elif done_at is not None:
        same_day = as_of is not None and _local(done_at, zone, "%x") == _local(as_of, zone, "%x")
        detail = _local(done_at, zone, "%H:%M" if same_day else "%a %d %b %H:%M")
    late_by = data.get("late_by")
    if isinstance(late_by, int | float) and late_by > 0:
        detail = f"{detail}, {duration(timedelta(seconds=late_by))} late".lstrip(", ")
    attention = _texts(data.get("attention"))
    notes = [f"attention: {text}" for text in attention]
    notes += [f"⚑ {text}" for text in _texts(data.get("breach"))]
    needs = [text.removesuffix(" missing") for text in _texts(data.get("blocked_by"))]
    if needs:
        notes.append("⚑ needs " + ", ".join(needs))
    open_step = status not in DONE_STATUSES
    waiting = [(headings or {}).get(s, s) for s in _texts(data.get("waiting_on"))]
    if waiting and open_step:
        notes.append("after " + ", ".join(waiting))
    received = data.get("received")
    if received not in (None, "", "0", "0.00") and open_step:
        notes.append(f"{_money(received)} received")
    flags = " ".join(name for name, on in (("blocked", needs), ("attention", attention)) if on)
    return Cell(
        step_id,
        heading,
        status,
        css_name(status),
        status_label(status),
        STATUS_SYMBOLS.get(status, ""),
        detail,
        tuple(notes),
        flags,
    )


def _row(
    data: Mapping[str, Any],
    steps: Sequence[tuple[str, str]],
    as_of: datetime | None,
    zone: ZoneInfo | None,
) -> Row:
    step_data = data.get("steps") or {}
    headings = dict(steps)
    cells = tuple(
        cell(
            step_id,
            heading,
            step_data.get(step_id) or {},
            as_of,
            zone,
            headings,
            bool(data.get("withdrawn")),
        )
        for step_id, heading in steps
    )
    cells = _reported(cells, data, step_data, zone, as_of)
    notes = [
        f"proposed by the purchaser: {DETAIL_RULES.get(field, (field,))[0]} {item.get('value')}"
        for field, item in (data.get("proposed_details") or {}).items()
        if isinstance(item, Mapping)
    ]
    if data.get("withdrawn") and data.get("withdrawn_reason"):
        notes.append(f"withdrawn: {data['withdrawn_reason']}")
    shortfall = data.get("shortfall")
    if shortfall not in (None, "", "0", "0.00"):
        notes.append(f"short {_money(shortfall)}")
    badges = []
    state = str(data.get("state") or "")
    if data.get("withdrawn"):
        badges.append("Withdrawn")
    elif state == "closed":
        badges.append("Closed")
    return Row(
        name=str(data.get("name") or data.get("slug") or ""),
        slug=str(data.get("slug") or ""),
        state=state,
        badges=tuple(badges),
        shares=_count(data.get("shares")),
        purchase_price=_money(data.get("purchase_price")),
        received=_money(data.get("amount_received")),
        cells=cells,
        urgency=row_urgency(data, steps)[0],
        notes=tuple(notes),
        proposed=bool(data.get("proposed_details")),
    )


def _reported(
    cells: tuple[Cell, ...],
    data: Mapping[str, Any],
    step_data: Mapping[str, Any],
    zone: ZoneInfo | None,
    as_of: datetime | None,
) -> tuple[Cell, ...]:
    """The purchaser's report of its wire, on its open payment step (the one that counts what
    was received): `reported sent 14:05 · IMAD ...`, never as money received."""
    report = data.get("wire_report")
    sent = _moment(report.get("sent_at")) if isinstance(report, Mapping) else None
    if sent is None or not isinstance(report, Mapping):
        return cells
    when = (
        sent_words(sent, zone, as_of)
        if zone is not None and as_of is not None
        else _local(sent, zone, "%H:%M")
    )
    words = f"reported sent {when} · IMAD {report.get('imad')}"
    return tuple(
        replace(c, notes=(*c.notes, words))
        if "received" in (step_data.get(c.step) or {}) and c.status not in DONE_STATUSES
        else c
        for c in cells
    )


def _needed(entries: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The purchaser's own details its steps still lack (not the company's), in plain words."""
    found: dict[str, None] = {}
    for entry in entries:
        for step in (entry.get("steps") or {}).values():
            for text in _texts(step.get("blocked_by")) if isinstance(step, Mapping) else ():
                if not text.startswith("company "):
                    found[text.removesuffix(" missing")] = None
    return tuple(found)


def row_urgency(data: Mapping[str, Any], steps: Sequence[tuple[str, str]]) -> tuple[int, int]:
    """(how urgent its worst step is, how many steps are done) of one purchaser's entry: a step
    needing attention counts as late; a withdrawn purchaser comes last."""
    if data.get("withdrawn"):
        return DONE_RANK + 1, 0
    step_data = data.get("steps") or {}
    worst, done = DONE_RANK, 0
    for step_id, _ in steps:
        step = step_data.get(step_id) or {}
        status = step.get("status")
        if status in DONE_STATUSES:
            done += 1
            rank = DONE_RANK
        else:
            rank = URGENCY.get(str(status), URGENCY["pending"])
        worst = min(worst, 0 if step.get("attention") else rank)
    return worst, done


def _heading(step: Mapping[str, Any]) -> str:
    return str(step.get("label") or step.get("title") or step.get("id"))


def _done(counts: Mapping[str, Any], step_id: str) -> int:
    by = counts.get(step_id) or {}
    return sum(int(n) for status, n in by.items() if status in DONE_STATUSES)


def _steps(document: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The purchaser steps, in order, with the heading a column shows."""
    steps = []
    for step in document.get("deal", {}).get("steps", []):
        if isinstance(step, Mapping) and step.get("id"):
            party = step.get("party")
            if party not in (None, "purchaser"):
                continue  # a company step: drawn in its own table
            steps.append(
                (str(step["id"]), str(step.get("label") or step.get("title") or step["id"]))
            )
    return tuple(steps)


def _summary(totals: Mapping[str, Any], steps: Sequence[tuple[str, str]]) -> Summary | None:
    counts = totals.get("steps")
    if not isinstance(counts, Mapping):
        return None
    seen = {status for by in counts.values() if isinstance(by, Mapping) for status in by}
    order = [s for s in SUMMARY_ORDER if s in seen] + sorted(seen - set(SUMMARY_ORDER))
    rows = []
    for step_id, heading in steps:
        by = counts.get(step_id) or {}
        rows.append((heading, tuple(f"{int(by.get(status, 0)):,}" for status in order)))
    return Summary(tuple((s, status_label(s), css_name(s)) for s in order), tuple(rows))


def view(
    document: Mapping[str, Any],
    team: bool,
    max_rows: int | None = None,
    recent_alerts: Sequence[tuple[datetime, str]] = (),
) -> View:
    """The page for a (possibly filtered) status document. With `max_rows`, a large deal shows
    the purchasers furthest behind first, and a per-step summary of all of them."""
    deal = document.get("deal", {})
    zone = _zone(document)
    as_of = _moment(document.get("as_of"))
    steps = _steps(document)
    entries = document.get("purchasers", [])
    chosen = entries
    summary = None
    totals = document.get("totals") if team else None
    if max_rows is not None and len(entries) > max_rows:
        # Only the rows shown are drawn: on a large deal most are not.
        order = sorted(range(len(entries)), key=lambda n: (*row_urgency(entries[n], steps), n))
        chosen = [entries[n] for n in order[:max_rows]]
        summary = _summary(totals or {}, steps)
    shown = [_row(data, steps, as_of, zone) for data in chosen]
    cutoff = deal.get("cutoff", {})
    cutoff_text = str(cutoff.get("time", ""))
    closing_day = str(deal.get("closing_date", ""))
    if as_of is not None and zone is not None and cutoff_text and closing_day:
        try:
            moment = datetime.fromisoformat(f"{closing_day}T{cutoff_text}").replace(tzinfo=zone)
            cutoff_text = moment.strftime("%H:%M %Z")
            closing_day = moment.strftime("%a %Y-%m-%d")
        except ValueError:
            pass
    company_steps = (document.get("company") or {}).get("steps") or {}
    step_titles = {
        str(s.get("id")): _heading(s) for s in deal.get("steps", []) if isinstance(s, Mapping)
    }
    company_cells = tuple(
        cell(step_id, step_titles.get(step_id, step_id), data or {}, as_of, zone, step_titles)
        for step_id, data in company_steps.items()
    )
    footer: tuple[str, ...] = ()
    footer_money: tuple[str, ...] = ()
    total_lines: tuple[str, ...] = ()
    warnings: list[str] = []
    if team and isinstance(totals, Mapping):
        counts = totals.get("steps") or {}
        purchasers = int(totals.get("purchasers") or 0)
        withdrawn = totals.get("withdrawn")
        footer = (
            f"{_count(totals.get('closed'))}/{_count(purchasers)} closed"
            + (f", {withdrawn:,} withdrawn" if isinstance(withdrawn, int) and withdrawn else ""),
            *(f"{_done(counts, step_id):,}/{purchasers:,} done" for step_id, _ in steps),
        )
        footer_money = (
            _count(totals.get("shares")),
            _money(totals.get("purchase_price")),
            _money(totals.get("amount_received")),
        )
        total_lines = (
            f"{_count(totals.get('shares'))} shares · "
            f"{_count(totals.get('warrant_shares'))} warrant shares",
            f"Received {_money(totals.get('amount_received'))} of "
            f"{_money(totals.get('purchase_price'))}",
        )
        failing = (document.get("alerts") or {}).get("failing_deliveries")
        if isinstance(failing, int) and failing:
            deliveries = "alert delivery" if failing == 1 else "alert deliveries"
            warnings.append(f"{failing:,} {deliveries} failing: see closing alerts list")
    return View(
        team=team,
        title=str(deal.get("title", "")),
        company=str(deal.get("company", "")),
        slug=str(deal.get("slug", "")),
        closing=closing_day,
        cutoff=cutoff_text,
        as_of=_local(as_of, zone, "%Y-%m-%d %H:%M %Z") if as_of else "",
        time_zone=str(cutoff.get("time_zone", "")),
        closed=bool(team and deal.get("closed")),
        steps=steps,
        rows=tuple(shown),
        shown=len(shown),
        total=len(entries),
        company_cells=company_cells,
        footer=footer,
        footer_money=footer_money,
        totals=total_lines,
        summary=summary,
        warnings=tuple(warnings),
        alerts=tuple((_local(when, zone, "%a %H:%M %Z"), title) for when, title in recent_alerts),
        needed=() if team else _needed(entries),
    )
