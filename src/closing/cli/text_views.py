"""The Rich status board, history and deal list. Only the CLI calls these.

Every value that comes from data (a deal file, the command line, the database) goes through
`closing.text.neutral` and into Rich only as `Text`, never as a markup string: Rich markup in a name
is shown as written, and control characters, escape sequences and bidi overrides are shown as
visible escapes (`\\x1b`, `\\u202e`, `\\n`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from closing.board import (
    DONE_LATE,
    DONE_STATUS,
    DUE_SOON_STATUS,
    OVERDUE,
    PENDING,
    STATUSES,
    WAIVED_STATUS,
    Board,
    PurchaserStatus,
    StepStatus,
    attention_first,
)
from closing.calendar import cutoff_on
from closing.money import format_money
from closing.operations import DealSummary, HistoryEntry
from closing.text import neutral
from closing.timefmt import duration, local

if TYPE_CHECKING:
    from closing.alerts.outbox import LedgerEntry

FINISHED_STATUSES = (DONE_STATUS, DONE_LATE, WAIVED_STATUS)
STYLES = {
    DONE_STATUS: "green",
    DONE_LATE: "red",
    WAIVED_STATUS: "dim",
    PENDING: "",
    DUE_SOON_STATUS: "yellow bold",
    OVERDUE: "red bold",
}
BLOCKED_MARK = "⚑"  # a detail the step needs is missing from the deal file
ATTENTION_MARK = "⚠"  # something it stands on was reversed
BLOCKED_STYLE = "magenta"
LEGEND = "✓ done · ! due within 2h · ✗ late by · ⚑ blocked: a detail is missing · ⚠ needs attention"


def step_cell(status: StepStatus, board: Board, withdrawn: bool = False) -> Text:
    """A short cell: `✓ 08:30`, `✓ 17:30 late`, `7h30m`, `! 1h30m ⚑`, `✗ 2h05m`, `waived`."""
    zone = board.terms.zone
    now = board.as_of
    if status.finished and status.status != WAIVED_STATUS:
        assert status.done_at is not None
        done_at = status.done_at.astimezone(zone)
        same_day = done_at.date() == now.astimezone(zone).date()
        text = "✓ " + done_at.strftime("%H:%M" if same_day else "%a %H:%M")
        if status.status == DONE_LATE:
            text += " late"
    elif status.status == WAIVED_STATUS:
        text = "waived"
    elif withdrawn:
        return Text("—", style="dim")
    else:
        left = status.deadline - now
        if status.status == OVERDUE:
            text = f"✗ {duration(left, 'compact')}"
        elif status.status == DUE_SOON_STATUS:
            text = f"! {duration(left, 'compact')}"
        else:
            text = duration(left, "compact")
    cell = Text(text, style=STYLES[status.status])
    if status.blocked_by and not status.finished:
        cell.append(f" {BLOCKED_MARK}", style=BLOCKED_STYLE)
    if status.attention:
        cell.append(f" {ATTENTION_MARK}", style="red bold")
    return cell


def company_line(board: Board) -> Text | None:
    """`Company: Prospectus ✓ 07:45 · 424(b)(5) 4d1h`: the deal's own steps, on one line."""
    steps = board.company.steps
    if not steps:
        return None
    line = Text("Company: ", style="bold")
    for n, (step_id, status) in enumerate(steps.items()):
        if n:
            line.append(" · ")
        line.append(f"{neutral(board.terms.step(step_id).heading)} ")
        line.append_text(step_cell(status, board))
    return line


def board_view(
    board: Board, max_rows: int | None = None, width: int = 80, label: str = "now"
) -> RenderableType:
    """The board; with `max_rows`, the purchasers needing attention first and a summary."""
    terms = board.terms
    zone = terms.zone
    totals = board.totals
    cutoff = cutoff_on(terms.closing_date, terms.cutoff.time, zone).astimezone(zone)
    header = Text.assemble(
        (neutral(terms.title), "bold"),
        f"\n{neutral(terms.slug)} · closing {terms.closing_date.strftime('%a %Y-%m-%d')} · cutoff "
        f"{cutoff.strftime('%H:%M %Z')}\n",
        f"{label} {local(board.as_of, zone)} · times in {neutral(terms.cutoff.time_zone)}",
        ("  DEAL CLOSED" if board.closed else "", "bold green"),
        "\n",
    )
    rows = board.purchasers
    shown = rows
    if max_rows is not None and len(rows) > max_rows:
        shown = attention_first(board)[:max_rows]
    # Size the columns to what they hold, so that step cells are never cut: the purchaser's name
    # gets the room that is left, and shares and price appear when there is room for them.
    steps = terms.purchaser_steps
    step_cells = [
        [step_cell(row.steps[step.id], board, row.withdrawn is not None) for step in steps]
        for row in shown
    ]
    footers = [
        f"{sum(totals.by_status[step.id][s] for s in FINISHED_STATUSES)}/{totals.purchasers}"
        for step in steps
    ]
    headings = [Text(neutral(step.heading)) for step in steps]
    step_widths = [
        max([headings[n].cell_len, len(footer)] + [cells[n].cell_len for cells in step_cells])
        for n, footer in enumerate(footers)
    ]
    money = [(f"{p.purchaser.shares:,}", format_money(p.purchaser.purchase_price)) for p in shown]
    shares_width = max([len("Shares"), len(f"{totals.shares:,}")] + [len(m[0]) for m in money])
    price_width = max([len(format_money(totals.purchase_price))] + [len(m[1]) for m in money])
    names = [
        Text(neutral(p.purchaser.name) + (" (withdrawn)" if p.withdrawn is not None else ""))
        for p in shown
    ]
    name_width = max([len("Purchaser")] + [name.cell_len for name in names])
    gap = 3  # a column's padding on both sides and the divider between columns
    steps_need = sum(step_widths) + gap * len(step_widths)
    money_need = shares_width + price_width + 2 * gap
    wide = width - steps_need - money_need >= name_width
    room = width - steps_need - (money_need if wide else 0)
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
        footer=f"{totals.closed}/{totals.purchasers} closed",
        no_wrap=True,
        overflow="ellipsis",
        max_width=max(12, min(name_width, room)),
    )
    if wide:
        table.add_column("Shares", justify="right", footer=f"{totals.shares:,}", no_wrap=True)
        table.add_column(
            "Price", justify="right", footer=format_money(totals.purchase_price), no_wrap=True
        )
    for heading, footer, step_width in zip(headings, footers, step_widths, strict=True):
        table.add_column(heading, footer=footer, no_wrap=True, min_width=step_width)
    for name, cells, (shares, price) in zip(names, step_cells, money, strict=True):
        table.add_row(name, *([Text(shares), Text(price)] if wide else []), *cells)
    parts: list[RenderableType] = [header]
    company = company_line(board)
    if company is not None:
        parts.append(company)
    parts.append(table)
    if len(shown) < len(rows):
        parts.append(summary_view(board, len(shown)))
    parts.append(
        Text(
            f"{totals.shares:,} shares · {totals.warrant_shares:,} warrant shares\n"
            f"Received {format_money(totals.amount_received)} of "
            f"{format_money(totals.purchase_price)}"
        )
    )
    if board.failing_alerts:
        parts.append(
            Text(
                f"{board.failing_alerts} alert deliveries failing: see closing alerts list",
                style=STYLES[OVERDUE],
            )
        )
    notes = money_lines(shown) + attention_lines(shown, board)
    if notes:
        parts.append(Text("\n".join(notes), style=STYLES[OVERDUE]))
    blocked = blocked_lines(shown, board)
    if blocked:
        parts.append(Text("\n".join(blocked), style=BLOCKED_STYLE))
    parts.append(Text(LEGEND, style="dim"))
    return Group(*parts)


def money_lines(rows: list[PurchaserStatus]) -> list[str]:
    """Partial receipts of open payments, and completed payments short within tolerance."""
    lines = []
    for row in rows:
        price = row.purchaser.purchase_price
        for status in row.steps.values():
            if status.received is None:
                continue
            if not status.finished and status.received:
                lines.append(
                    f"Partial: {neutral(row.purchaser.name)}: {format_money(status.received)} of "
                    f"{format_money(price)} received"
                )
            elif status.finished and row.shortfall:
                lines.append(
                    f"Short: {neutral(row.purchaser.name)}: {format_money(row.amount_received)} "
                    "received, "
                    f"{format_money(row.shortfall)} short of {format_money(price)} (within "
                    "tolerance)"
                )
    return lines


def attention_lines(rows: list[PurchaserStatus], board: Board, limit: int = 10) -> list[str]:
    """`Attention: <purchaser>: Faxed: wired was reversed: wire returned` for the rows shown."""
    lines = [
        f"Attention: {neutral(row.purchaser.name)}: "
        f"{neutral(board.terms.step(step_id).heading)}: " + neutral("; ".join(status.attention))
        for row in rows
        for step_id, status in row.steps.items()
        if status.attention
    ]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit:,} more"]
    return lines


def blocked_lines(rows: list[PurchaserStatus], board: Board, limit: int = 10) -> list[str]:
    """`Blocked: <purchaser>: Faxed needs notice facsimile number; ...` for the rows shown."""
    lines = []
    for row in rows:
        reasons = [
            f"{neutral(board.terms.step(step_id).heading)} needs "
            + ", ".join(reason.removesuffix(" missing") for reason in status.blocked_by)
            for step_id, status in row.steps.items()
            if status.blocked_by and not status.finished
        ]
        if reasons:
            lines.append(f"Blocked: {neutral(row.purchaser.name)}: {'; '.join(reasons)}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit:,} more blocked purchasers"]
    return lines


def summary_view(board: Board, shown: int) -> RenderableType:
    totals = board.totals
    title = Text(
        f"\nShowing {shown:,} of {totals.purchasers:,} purchasers, most urgent first "
        "(--all or --json for every one)\n"
    )
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Step")
    order = STATUSES
    for status in order:
        table.add_column(status.replace("_", " "), justify="right")
    for step in board.terms.purchaser_steps:
        counts = totals.by_status[step.id]
        table.add_row(Text(neutral(step.heading)), *(Text(f"{counts[s]:,}") for s in order))
    return Group(title, table)


def history_view(entries: list[HistoryEntry], zone: ZoneInfo) -> Text:
    """Two lines an event: when it was recorded, what and by whom; then its evidence. Long values
    wrap rather than being cut: a wire reference must be read whole."""
    lines = Text()
    for entry in entries:
        event = entry.event
        head = Text.assemble(
            (f"#{event.id}  ", "dim"),
            local(event.recorded_at, zone),
            "  ",
            (
                neutral(f"{event.kind} {event.step}"),
                "bold" if event.kind == "mark" else "yellow bold",
            ),
            f"  {neutral(entry.purchaser.name)}\n",
        )
        details = [f"by {neutral(event.actor)}@{neutral(event.host)}"]
        if event.occurred_at != event.recorded_at:
            details.append(f"happened {local(event.occurred_at, zone)}")
        if event.evidence:
            details.append(neutral(f"{event.evidence_kind or 'evidence'} {event.evidence}"))
        if event.amount is not None:
            details.append(format_money(event.amount))
        if event.note:
            details.append(f"{'reason' if event.kind == 'undo' else 'note'}: {neutral(event.note)}")
        lines.append(head)
        lines.append(f"    {' · '.join(details)}\n")
    lines.rstrip()
    return lines


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
        lines.append(
            f"due {local(e.due_at, e.zone)}  {neutral(e.purchaser)} {neutral(e.step)} "
            f"{neutral(e.rule)}  "
        )
        lines.append(neutral(e.status), style)
        lines.append("\n")
        deliveries = [neutral(e.deal)]
        for d in e.deliveries:
            text = f"{d['channel']} {d['status']}"
            if d["status"] != "sent" and d["last_error"]:
                tries = "1 try" if d["attempts"] == 1 else f"{d['attempts']} tries"
                text += f" after {tries}: {d['last_error']}"
            deliveries.append(neutral(text))
        lines.append(f"    {' · '.join(deliveries)}\n")
    lines.rstrip()
    return lines
