"""The Rich status board of `closing status`, `watch` and `demo`: the deal's header, the company's
line, the table, the totals, and the notes (partial and short payments, steps needing attention,
blocked steps); with a row limit, the most urgent purchasers and a count by step and status.

Every value that comes from data (a deal file, the command line, the database) goes through
`closing.domain.text.neutral` and into Rich only as `Text`, never as a markup string: Rich markup
in a name is shown as written, and control characters, escape sequences and bidi overrides are
shown as visible escapes (`\\x1b`, `\\u202e`, `\\n`).

No line of the board ends in spaces: Rich pads a table's cells to the column widths, and
`Unpadded` drops that padding at the end of each line, so a copied board diffs clean.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.text import Text

from closing.domain.board import (
    OVERDUE,
    STATUSES,
    Board,
    PurchaserStatus,
    attention_first,
)
from closing.domain.calendar import cutoff_on
from closing.domain.money import format_money
from closing.domain.text import neutral, plural
from closing.domain.timefmt import local
from closing.views.board_cells import BLOCKED_STYLE, STYLES, company_line, step_cell
from closing.views.board_table import open_steps_table, step_grid

LEGEND = "✓ done · ! due within 2h · ✗ late by · ⚑ blocked: a detail is missing · ⚠ needs attention"


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
    warning = board.wire_instructions.warning(short=True) if board.wire_instructions else None
    if warning:
        header.append(warning + "\n", style="red bold")
    rows = board.purchasers
    shown = rows
    if max_rows is not None and len(rows) > max_rows:
        shown = attention_first(board)[:max_rows]
    steps = terms.purchaser_steps
    step_cells = [
        [step_cell(row.steps[step.id], board, row.withdrawn is not None) for step in steps]
        for row in shown
    ]
    table = step_grid(board, shown, step_cells, width) or open_steps_table(
        board, shown, step_cells, width
    )
    parts: list[RenderableType] = [header]
    if board.record_warning:
        parts.append(Text(neutral(board.record_warning), style="red bold"))
    company = company_line(board, width)
    if company is not None:
        parts.append(company)
    parts.append(table)
    if len(shown) < len(rows):
        parts.append(summary_view(board, len(shown)))
    parts.append(
        Text(
            f"{totals.shares:,} shares · {totals.warrant_shares:,} warrant shares"
            + (f" · {totals.withdrawn:,} withdrawn" if totals.withdrawn else "")
            + "\n"
            f"Received {format_money(totals.amount_received)} of "
            f"{format_money(totals.purchase_price)}"
        )
    )
    if board.failing_alerts:
        parts.append(
            Text(
                f"{plural(board.failing_alerts, 'alert delivery', 'alert deliveries')} failing: "
                "see closing alerts list",
                style=STYLES[OVERDUE],
            )
        )
    notes = [
        f"Unreadable: {neutral(row.purchaser.name)}: its events cannot be read "
        f"({neutral(row.unreadable)}); "
        "run closing verify"
        for row in shown
        if row.unreadable
    ]
    notes += money_lines(shown) + attention_lines(shown, board)
    if notes:
        parts.append(Text("\n".join(notes), style=STYLES[OVERDUE]))
    blocked = blocked_lines(shown, board)
    if blocked:
        parts.append(Text("\n".join(blocked), style=BLOCKED_STYLE))
    if any(copy.pages for copy in board.documents):
        parts.append(Text(documents_line(board)))
    parts.append(Text(LEGEND, style="dim"))
    return Unpadded(Group(*parts))


def documents_line(board: Board) -> str:
    """`Documents: 1 released, 1 received (held), 8 pending (closing documents)`."""
    counts: dict[str, int] = {}
    for copy in board.documents:
        counts[copy.state] = counts.get(copy.state, 0) + 1
    said = ", ".join(f"{count} {state}" for state, count in counts.items())
    return f"Documents: {said} (closing documents)"


class Unpadded:
    """A renderable drawn line by line without the spaces that end its lines (those without a
    background colour: spaces that show are kept)."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in console.render_lines(self.inner, options, pad=False):
            yield from _without_trailing_spaces(line)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.inner)


def _without_trailing_spaces(line: list[Segment]) -> list[Segment]:
    kept = list(line)
    while kept:
        last = kept[-1]
        if last.control or (last.style is not None and last.style.bgcolor is not None):
            break
        text = last.text.rstrip(" ")
        if text:
            kept[-1] = Segment(text, last.style)
            break
        kept.pop()
    return kept


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
                    f"Short: {neutral(row.purchaser.name)}: {format_money(row.shortfall)} short of "
                    f"{format_money(price)}, within the tolerance"
                )
    return lines


def attention_lines(rows: list[PurchaserStatus], board: Board, limit: int = 10) -> list[str]:
    """`Attention: <purchaser>: wired was reversed: wire returned (Wired, Faxed, DWAC)`: each
    reason once per purchaser, with the steps it touches."""
    lines = []
    for row in rows:
        touched: dict[str, list[str]] = {}
        for step_id, status in row.steps.items():
            for reason in status.attention:
                touched.setdefault(neutral(reason), []).append(
                    neutral(board.terms.step(step_id).heading)
                )
        lines += [
            f"Attention: {neutral(row.purchaser.name)}: {reason} ({', '.join(steps)})"
            for reason, steps in touched.items()
        ]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit:,} more"]
    return lines


def blocked_lines(rows: list[PurchaserStatus], board: Board, limit: int = 10) -> list[str]:
    """`Blocked: <purchaser>: Faxed needs notice facsimile number; ...` for the rows shown."""
    lines = []
    for row in rows:
        if row.withdrawn is not None:
            continue
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
    from rich import box
    from rich.table import Table

    table = Table(header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Step")
    order = STATUSES
    for status in order:
        table.add_column(status.replace("_", " "), justify="right")
    for step in board.terms.purchaser_steps:
        counts = totals.by_status[step.id]
        table.add_row(Text(neutral(step.heading)), *(Text(f"{counts[s]:,}") for s in order))
    return Group(title, table)
