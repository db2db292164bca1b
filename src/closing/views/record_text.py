"""The record as text: the event history (`closing history`), the deal list (`closing deals`)
and the alert ledger (`closing alerts list`). Values from data go through
`closing.domain.text.neutral` and into Rich only as `Text` (see `closing.views.board_text`).
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rich.text import Text

from closing.domain.events import FUNDS_EVENTS, LINK_EVENTS
from closing.domain.money import format_money
from closing.domain.proposals import link_words
from closing.domain.text import neutral
from closing.domain.timefmt import local

if TYPE_CHECKING:
    from closing.domain.alert_ledger import LedgerEntry
    from closing.domain.history import DealSummary, HistoryEntry


def history_view(entries: list[HistoryEntry], zone: ZoneInfo, width: int = 80) -> Text:
    """One block an event, which nothing in it can imitate: a head line at the margin (its
    number, when it was recorded, what, whose: a long name cut with `…`, whole in --json), then
    its details indented, wrapped here at `width` and each continuation indented further, so a
    note can never start a line where an event starts. A wire reference is read whole."""
    width = max(width, 40)
    lines = Text()
    for entry in entries:
        event = entry.event
        number = f"#{entry.number}  "  # its number in the deal, not the database's id
        when = local(event.logged_at, zone)
        what = neutral(f"{event.kind} {event.step}".rstrip())  # a withdrawal has no step
        room = width - len(number) - len(when) - len(what) - 4
        head = Text.assemble(
            (number, "dim"),
            when,
            "  ",
            (what, "bold" if event.kind == "mark" else "yellow bold"),
            f"  {_cut(neutral(entry.purchaser.name), room)}\n",
        )
        by = f"by {neutral(event.actor)}@{neutral(event.host)}"
        if event.on_behalf_of:
            by += f" for {neutral(event.on_behalf_of)}"
        if event.actor_declared:
            by += " (self-declared)"  # recorded before closing knew who its operators were
        details = [by]
        if event.occurred_at != event.logged_at:
            details.append(f"happened {local(event.occurred_at, zone)}")
        if event.evidence and event.kind in ("attach", "release"):
            from closing.domain.documents import evidence_words

            details.append(neutral(evidence_words(event)))
        elif event.evidence and event.kind in LINK_EVENTS:
            details.append(neutral(link_words(event)))
        elif event.evidence and event.kind in FUNDS_EVENTS:
            from closing.domain.funds import funds_words

            details.append(neutral(funds_words(event)))
        elif event.evidence:
            details.append(neutral(f"{event.evidence_kind or 'evidence'} {event.evidence}"))
        if event.amount is not None:
            details.append(format_money(event.amount))
        if event.note:
            label = "reason" if event.kind in _CORRECTIONS else "note"  # given with --reason
            details.append(f"{label}: {neutral(event.note)}")
        if event.rehearsal_at is not None:  # recorded under CLOSING_NOW: --json has both times
            details.append("rehearsal")
        lines.append(head)
        wrapped = textwrap.wrap(
            " · ".join(details),
            width,
            initial_indent="    ",
            subsequent_indent="      ",
            break_on_hyphens=False,
        )
        lines.append("\n".join(wrapped or ["    "]) + "\n")
    lines.rstrip()
    return lines


def _cut(text: str, room: int) -> str:
    """`text` in `room` characters, cut with `…` (at least a few shown)."""
    room = max(room, 12)
    return text if len(text) <= room else text[: room - 1] + "…"


_CORRECTIONS = ("undo", "reverse", "waive", "withdraw")


def deals_view(summaries: list[DealSummary]) -> Text:
    lines = Text()
    for s in summaries:
        lines.append(neutral(s.slug), "bold")
        lines.append(
            f"  closing {s.closing_date:%a %Y-%m-%d}, cutoff {s.cutoff:%H:%M %Z}\n"
            f"    {neutral(s.title)}\n    {s.purchasers:,} purchasers · {s.events:,} events\n"
        )
    lines.rstrip()
    return lines


def ledger_view(entries: list[LedgerEntry]) -> Text:
    """Two lines an alert: when it was due, for whom, its status; then each channel's delivery."""
    lines = Text()
    for e in entries:
        style = {"failed": "red bold", "retrying": "yellow bold"}.get(e.status, "bold")
        lines.append(f"#{e.id}  ", "dim")
        if e.step == "@digest":
            what = f"digest of {e.title.split(': ', 1)[-1].split(' steps')[0]} alerts {e.rule}"
        else:
            what = f"{e.purchaser} {e.step} {e.rule}"
        lines.append(f"due {local(e.due_at, e.zone)}  {neutral(what)}  ")
        lines.append(neutral(e.status), style)
        lines.append("\n")
        deliveries = [neutral(e.deal)]
        for d in e.deliveries:
            text = f"{d['channel']} {d['status']}"
            sent_at = d.get("delivered_at")
            if d["status"] == "sent" and isinstance(sent_at, datetime):
                text += f" {sent_at.astimezone(e.zone):%H:%M:%S %Z}"
            if d["status"] == "sending":
                text += f" (attempt {d['attempts']}, may have been sent)"
            if d.get("digest"):
                text += f" in digest #{d['digest']}"
            if d["status"] not in ("sent", "sending") and d["last_error"]:
                tries = "1 try" if d["attempts"] == 1 else f"{d['attempts']} tries"
                text += f" after {tries}: {d['last_error']}"
            deliveries.append(neutral(text))
        lines.append(f"    {' · '.join(deliveries)}\n")
    lines.rstrip()
    return lines
