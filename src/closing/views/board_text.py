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
)
from closing.domain.calendar import cutoff_on
from closing.domain.cutoffs import practical_title
from closing.domain.lapse import lapse_line
from closing.domain.money import format_money
from closing.domain.proposals import (
    detail_label,
    pending_details,
    sent_words,
    shown,
    wire_report,
)
from closing.domain.text import neutral, plural, shortened
from closing.domain.timefmt import local
from closing.views.board_cells import (
    ATTENTION_MARK,
    BLOCKED_STYLE,
    STYLES,
    company_line,
    step_cell,
)
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
    if board.reloaded_since:
        parts.append(Text(reloaded_line(board), style="yellow"))
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
    notes += (
        market_lines(board)
        + money_lines(shown, board)
        + breach_lines(shown, board)
        + attention_lines(shown, board)
    )
    notes += [
        f"Remediate: {neutral(row.purchaser.name)}: {neutral(', '.join(row.remediation))}"
        for row in rows
        if row.remediation
    ]
    lapsed = lapse_line(terms, board.as_of) if board.lapsed else None
    notes += [lapsed] if lapsed else []
    notes += [
        f"Lapsed: {neutral(row.purchaser.name)}: its part of the closing"
        for row in rows
        if row.lapsed
    ]
    if notes:
        parts.append(Text("\n".join(notes), style=STYLES[OVERDUE]))
    blocked = blocked_lines(shown, board) + link_lines(shown, board)
    if blocked:
        parts.append(Text("\n".join(blocked), style=BLOCKED_STYLE))
    if any(copy.pages for copy in board.documents):
        parts.append(Text(documents_line(board)))
    parts.append(Text(LEGEND, style="dim"))
    return Unpadded(Group(*parts))


def documents_line(board: Board) -> str:
    """`Documents: 1 released, 1 received (held), 8 pending (closing documents)`, and a line
    for each document released against a step not done now (`⚠ spa of <purchaser>: released
    against wired, since reversed: funds returned`)."""
    counts: dict[str, int] = {}
    for copy in board.documents:
        counts[copy.state] = counts.get(copy.state, 0) + 1
    said = ", ".join(f"{count} {state}" for state, count in counts.items())
    flagged = [
        f"\n{ATTENTION_MARK} {copy.document.id}{f' {copy.number}' if copy.number else ''} of "
        f"{neutral(copy.party.name)}: {neutral(words)}"
        for copy in board.documents
        for words in copy.undone
    ]
    return f"Documents: {said} (closing documents)" + "".join(flagged)


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


def reloaded_line(board: Board) -> str:
    """`Terms as loaded now: the deal file was reloaded since (2002-06-07 17:30 PDT: ...)`."""
    zone = board.terms.zone
    shown = [
        f"{local(at, zone)}: {neutral(shortened(changes, 200))}"
        for at, changes in board.reloaded_since[:3]
    ]
    more = len(board.reloaded_since) - len(shown)
    return (
        "Terms and deadlines as loaded now: the deal file was reloaded since ("
        + "; ".join(shown)
        + (f"; and {plural(more, 'reload')} more" if more else "")
        + ")"
    )


def money_lines(rows: list[PurchaserStatus], board: Board) -> list[str]:
    """Partial receipts of open payments, and completed payments short within tolerance (or
    exactly what Schedule 1's shares cost at the price per share)."""
    from closing.domain.breach import OUTSIDE_PRICE, schedule_cost

    per_share = board.terms.securities.common_stock.price_per_share
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
                shares = row.purchaser.shares
                if status.received == schedule_cost(shares, per_share):
                    lines.append(
                        f"Paid: {neutral(row.purchaser.name)}: {format_money(status.received)} = "
                        f"{shares:,} shares x ${per_share}, {format_money(row.shortfall)} under "
                        f"{format_money(price)}"
                    )
                    continue
                # A payment outside the price (a price changed after it was recorded) is flagged
                # on its step: short, and not within any tolerance.
                outside = any(flag.startswith(OUTSIDE_PRICE) for flag in status.breach)
                lines.append(
                    f"Short: {neutral(row.purchaser.name)}: {format_money(row.shortfall)} short of "
                    f"{format_money(price)}" + ("" if outside else ", within the tolerance")
                )
    return lines


def market_lines(board: Board) -> list[str]:
    """`Wired: Fedwire closed 15:00 PDT; Fedwire is closed: a wire sent now arrives Monday`: each
    step whose market cutoff has passed with the step still open."""
    zone = board.terms.zone
    lines = []
    for step_id, cutoff, words in board.markets_closed:
        step = board.terms.step(step_id)
        market = practical_title(step.practical.market if step.practical else None)
        local = cutoff.astimezone(zone)
        same_day = local.date() == board.as_of.astimezone(zone).date()
        at = local.strftime("%H:%M %Z" if same_day else "%a %H:%M %Z")
        lines.append(f"{neutral(step.heading)}: {market} closed {at}; {words}")
    return lines


def breach_lines(rows: list[PurchaserStatus], board: Board, limit: int = 10) -> list[str]:
    """`⚑ <purchaser>: out of order: wired before prospectus_delivered`: each mark recorded
    out of order (`closing mark --out-of-order`), the company's first."""
    named = [("Company", board.company.steps)]
    named += [(neutral(row.purchaser.name), row.steps) for row in rows]
    lines = [
        f"⚑ {name}: {neutral(flag)}"
        for name, steps in named
        for status in steps.values()
        for flag in status.breach
    ]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit:,} more"]
    return lines


def attention_lines(rows: list[PurchaserStatus], board: Board, limit: int = 10) -> list[str]:
    """`Attention: <purchaser>: wired was reversed: funds sent back (Wired, Faxed, DWAC)`: each
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


def link_lines(rows: list[PurchaserStatus], board: Board) -> list[str]:
    """What purchasers sent through their links and the team has yet to act on: `Proposed:`
    details awaiting `closing details accept`, and a `Reported:` wire the bank has not confirmed
    (a report, never money received)."""
    lines = []
    zone = board.terms.zone
    for row in rows:
        if not row.link_events or row.withdrawn is not None:
            continue
        name = neutral(row.purchaser.name)
        pending = pending_details(row.link_events)
        if pending:
            said = ", ".join(
                f"{detail_label(f)} {shown(f, item.value)}" for f, item in pending.items()
            )
            lines.append(
                f"Proposed: {name}: {neutral(said)} (closing details accept {row.purchaser.slug})"
            )
        report = wire_report(row.link_events)
        paid = [s for s in row.steps.values() if s.received is not None and not s.finished]
        if report is not None and paid:
            sent = sent_words(report.sent_at, zone, board.as_of)
            lines.append(
                f"Reported: {name}: wire reported sent {sent} · IMAD {neutral(report.imad)}, "
                "not yet confirmed by the bank"
            )
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


def attention_first(board: Board) -> list[PurchaserStatus]:
    """Purchasers sorted worst first (overdue, due soon, pending, closed, withdrawn), those with
    a blocked or flagged step first among equals, then the furthest behind, then Schedule 1."""

    def behind(row: PurchaserStatus) -> tuple[int, int, int, int]:
        flagged = any(s.blocked_by or s.attention or s.breach for s in row.steps.values())
        done = sum(1 for status in row.steps.values() if status.finished)
        return (row.urgency, 0 if flagged else 1, done, row.purchaser.position)

    return sorted(board.purchasers, key=behind)
