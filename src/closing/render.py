"""The Rich status board, history and deal list. Only the CLI calls these."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from closing.board import (
    BLOCKED,
    DONE,
    DUE_SOON_STATUS,
    OVERDUE,
    PENDING,
    Board,
    PurchaserStatus,
    StepStatus,
    attention_first,
)
from closing.calendar import cutoff_on
from closing.money import format_money
from closing.operations import DealSummary, HistoryEntry
from closing.timefmt import duration, local

if TYPE_CHECKING:
    from closing.alerting import LedgerEntry

STYLES = {
    DONE: "green",
    PENDING: "",
    DUE_SOON_STATUS: "yellow bold",
    OVERDUE: "red bold",
    BLOCKED: "magenta",
}
WIDE = 135  # below this many columns the board drops the share and price columns


def step_cell(status: StepStatus, board: Board) -> Text:
    """A short cell: `✓ 08:30`, `7h 30m`, `! 1h 30m`, `✗ late 2h 05m`, `blocked`."""
    zone = board.terms.zone
    now = board.as_of
    if status.status == DONE:
        assert status.done_at is not None
        done_at = status.done_at.astimezone(zone)
        same_day = done_at.date() == now.astimezone(zone).date()
        return Text(
            "✓ " + done_at.strftime("%H:%M" if same_day else "%a %H:%M"), style=STYLES[DONE]
        )
    left = status.deadline - now
    if status.status == OVERDUE:
        text = f"✗ late {duration(left)}"
    elif status.status == BLOCKED:
        text = "blocked"
    elif status.status == DUE_SOON_STATUS:
        text = f"! {duration(left)}"
    else:
        text = duration(left)
    return Text(text, style=STYLES[status.status])


def board_view(board: Board, max_rows: int | None = None, width: int = 80) -> RenderableType:
    """The board; with `max_rows`, the purchasers needing attention first and a summary."""
    terms = board.terms
    zone = terms.zone
    totals = board.totals
    cutoff = cutoff_on(terms.closing_date, terms.cutoff.time, zone).astimezone(zone)
    wide = width >= WIDE
    header = Text.assemble(
        (terms.title, "bold"),
        f"\n{terms.slug} · closing {terms.closing_date.strftime('%a %Y-%m-%d')} · cutoff "
        f"{cutoff.strftime('%H:%M %Z')}\n",
        f"now {local(board.as_of, zone)} · times in {terms.cutoff.time_zone}",
        ("  DEAL CLOSED" if board.closed else "", "bold green"),
        "\n",
    )
    table = Table(
        show_footer=True,
        header_style="bold",
        footer_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    table.add_column(
        "Purchaser",
        footer=f"Total ({totals.closed}/{totals.purchasers} closed)",
        no_wrap=True,
        overflow="ellipsis",
        max_width=30 if wide else 24,
    )
    if wide:
        table.add_column("Shares", justify="right", footer=f"{totals.shares:,}", no_wrap=True)
        table.add_column(
            "Price", justify="right", footer=format_money(totals.purchase_price), no_wrap=True
        )
    for step in terms.steps:
        counts = totals.by_status[step.id]
        table.add_column(step.heading, footer=f"{counts[DONE]}/{totals.purchasers}", no_wrap=True)
    rows = board.purchasers
    shown = rows
    if max_rows is not None and len(rows) > max_rows:
        shown = attention_first(board)[:max_rows]
    for row in shown:
        table.add_row(*purchaser_cells(row, board, wide))
    parts: list[RenderableType] = [header, table]
    if len(shown) < len(rows):
        parts.append(summary_view(board, len(shown)))
    parts.append(
        Text(
            f"{totals.shares:,} shares · {format_money(totals.purchase_price)} · "
            f"{totals.warrant_shares:,} warrant shares · received "
            f"{format_money(totals.amount_received)}"
        )
    )
    if board.failing_alerts:
        parts.append(
            Text(
                f"{board.failing_alerts} alert deliveries failing: see closing alerts list",
                style=STYLES[OVERDUE],
            )
        )
    blocked = blocked_lines(shown, board)
    if blocked:
        parts.append(Text("\n".join(blocked), style=STYLES[BLOCKED]))
    return Group(*parts)


def blocked_lines(rows: list[PurchaserStatus], board: Board, limit: int = 10) -> list[str]:
    """`Blocked: <purchaser>: Faxed needs notice facsimile number; ...` for the rows shown."""
    lines = []
    for row in rows:
        reasons = [
            f"{board.terms.step(step_id).heading} needs "
            + ", ".join(reason.removesuffix(" missing") for reason in status.blocked_by)
            for step_id, status in row.steps.items()
            if status.status == BLOCKED
        ]
        if reasons:
            lines.append(f"Blocked: {row.purchaser.name}: {'; '.join(reasons)}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit:,} more blocked purchasers"]
    return lines


def purchaser_cells(row: PurchaserStatus, board: Board, wide: bool) -> list[Text | str]:
    purchaser = row.purchaser
    money = [f"{purchaser.shares:,}", format_money(purchaser.purchase_price)] if wide else []
    return [
        purchaser.name,
        *money,
        *(step_cell(row.steps[step.id], board) for step in board.terms.steps),
    ]


def summary_view(board: Board, shown: int) -> RenderableType:
    totals = board.totals
    title = Text(
        f"\nShowing {shown:,} of {totals.purchasers:,} purchasers, most urgent first "
        "(--all or --json for every one)\n"
    )
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Step")
    order = (OVERDUE, BLOCKED, DUE_SOON_STATUS, PENDING, DONE)
    for status in order:
        table.add_column(status.replace("_", " "), justify="right")
    for step in board.terms.steps:
        counts = totals.by_status[step.id]
        table.add_row(step.heading, *(f"{counts[s]:,}" for s in order))
    return Group(title, table)


def history_view(entries: list[HistoryEntry], board_zone: object) -> Table:
    from zoneinfo import ZoneInfo

    assert isinstance(board_zone, ZoneInfo)
    table = Table(header_style="bold")
    for name in ("#", "Recorded", "Purchaser", "Event", "Happened", "By", "Evidence", "Note"):
        table.add_column(name)
    for entry in entries:
        event = entry.event
        evidence = ""
        if event.evidence:
            evidence = f"{event.evidence_kind or 'evidence'} {event.evidence}"
        if event.amount is not None:
            evidence = (evidence + " " if evidence else "") + format_money(event.amount)
        table.add_row(
            str(event.id),
            local(event.recorded_at, board_zone),
            entry.purchaser.name,
            f"{event.kind} {event.step}",
            local(event.occurred_at, board_zone),
            f"{event.actor}@{event.host}",
            evidence,
            event.note or "",
        )
    return table


def deals_view(summaries: list[DealSummary]) -> Table:
    table = Table(header_style="bold")
    for name in ("Deal", "Title", "Closing date", "Cutoff", "Purchasers", "Events"):
        table.add_column(name)
    for s in summaries:
        table.add_row(
            s.slug,
            s.title,
            s.closing_date.isoformat(),
            s.cutoff.strftime("%H:%M %Z"),
            f"{s.purchasers:,}",
            f"{s.events:,}",
        )
    return table


def ledger_view(entries: list[LedgerEntry]) -> Table:
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("#", "Due", "Purchaser", "Step", "Rule", "Status", "Deliveries"):
        table.add_column(name)
    for e in entries:
        deliveries = ", ".join(
            f"{d['channel']} {d['status']}"
            + (
                f" ({d['attempts']} tries: {d['last_error']})"
                if d["status"] != "sent" and d["last_error"]
                else ""
            )
            for d in e.deliveries
        )
        style = {"failed": "red bold", "retrying": "yellow"}.get(e.status, "")
        table.add_row(
            str(e.id),
            local(e.due_at, e.zone),
            e.purchaser,
            e.step,
            e.rule,
            Text(e.status, style=style),
            deliveries,
        )
    return table
