"""The Rich status board, history and deal list. Only the CLI calls these.

Every value that comes from data (a deal file, the command line, the database) goes through
`closing.domain.text.neutral` and into Rich only as `Text`, never as a markup string: Rich markup
in a name
is shown as written, and control characters, escape sequences and bidi overrides are shown as
visible escapes (`\\x1b`, `\\u202e`, `\\n`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.text import Text

from closing.domain.board import (
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
    Totals,
    attention_first,
)
from closing.domain.calendar import cutoff_on
from closing.domain.money import format_money
from closing.domain.text import neutral, plural
from closing.domain.timefmt import duration, local

if TYPE_CHECKING:
    from rich.table import Table

    from closing.services.alerts.outbox import LedgerEntry
    from closing.services.board import HistoryEntry
    from closing.services.deals import DealSummary

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
        late = status.status == DONE_LATE
        if same_day:
            text = "✓ " + done_at.strftime("%H:%M") + (" late" if late else "")
        else:  # another day: the weekday, and the time unless late says more
            text = "✓ " + done_at.strftime("%a late" if late else "%a %H:%M")
    elif status.status == WAIVED_STATUS:
        text = "waived"
    elif withdrawn:
        return Text("withdrawn", style="dim")
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


def company_line(board: Board, width: int = 80, max_lines: int = 3) -> Text | None:
    """`Company: Prospectus ✓ 07:45 · 424(b)(5) 4d1h`: the deal's own steps, on one line. When
    they do not fit on one line (a real checklist has dozens): `Company: 41/46 done` and the steps
    still open, late or flagged, most urgent first, never split across lines, at most
    `max_lines` lines, the rest counted as `+N more`."""
    steps = board.company.steps
    if not steps:
        return None
    entries = [
        Text(f"{neutral(board.terms.step(step_id).heading)} ").append_text(step_cell(status, board))
        for step_id, status in steps.items()
    ]
    line = Text("Company: ", style="bold")
    if line.cell_len + sum(e.cell_len for e in entries) + 3 * (len(entries) - 1) <= width:
        return line.append_text(Text(" · ").join(entries))
    done = sum(1 for status in steps.values() if status.finished)
    line.append(f"{done}/{len(steps)} done")
    notable = [entries[n] for n in worst_first(list(steps.values()))]
    packed = packed_lines(line, notable, width, max_lines, indent=len("Company: "))
    return packed


# What wants a look first in a list of steps: late, due soon, a missed deadline on the record (a
# step done late, or one flagged because what it stood on was reversed), then the rest still open.
LOOK_FIRST = {
    OVERDUE: 0,
    DUE_SOON_STATUS: 1,
    DONE_LATE: 2,
    DONE_STATUS: 2,
    WAIVED_STATUS: 2,
    PENDING: 3,
}


def worst_first(statuses: list[StepStatus]) -> list[int]:
    """The positions of the steps that want a look (open, done late, or flagged for attention),
    in `LOOK_FIRST` order; among equals the steps that can be done now before those still
    waiting on another, then by deadline, then in the deal's order."""
    wanted = [
        n
        for n, status in enumerate(statuses)
        if not status.finished or status.status == DONE_LATE or status.attention
    ]

    def urgency(n: int) -> tuple[int, bool, datetime, int]:
        status = statuses[n]
        return (LOOK_FIRST[status.status], bool(status.waiting_on), status.deadline, n)

    return sorted(wanted, key=urgency)


def packed_lines(first: Text, entries: list[Text], width: int, max_lines: int, indent: int) -> Text:
    """`first` then ` · entry` after entry, a new line (indented) where the next would pass
    `width`; an entry is never split. Past `max_lines` lines the rest is counted: `+N more`."""
    lines = [first.copy()]
    for n, entry in enumerate(entries):
        left = len(entries) - n - 1
        # On the last line, leave room for the count of what may not fit after this entry.
        reserve = len(f" · +{left} more") if left else 0
        sep = " · " if lines[-1].cell_len else ""
        last = len(lines) == max_lines
        if lines[-1].cell_len + len(sep) + entry.cell_len + (reserve if last else 0) <= width:
            lines[-1].append(sep).append_text(entry)
            continue
        next_is_last = len(lines) + 1 == max_lines
        if not last and indent + entry.cell_len + (reserve if next_is_last else 0) <= width:
            lines.append(Text(" " * indent).append_text(entry))
            continue
        lines[-1].append(f"{sep}+{left + 1} more")
        break
    return Text("\n").join(lines)


GAP = 3  # a board column's padding on both sides and the divider between columns
MIN_NAME_WIDTH = 12  # the narrowest purchaser column (its ellipsis shows a name is cut)


def step_grid(
    board: Board, shown: list[PurchaserStatus], step_cells: list[list[Text]], width: int
) -> Text | None:
    """A column per step, when they fit beside a purchaser column of `MIN_NAME_WIDTH`; None when
    they do not. Columns are sized to what they hold, so that step cells are never cut: the
    purchaser's name gets the room that is left, and shares and price appear when there is room
    for them."""
    totals = board.totals
    steps = board.terms.purchaser_steps
    names = [Text(neutral(p.purchaser.name)) for p in shown]
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
    name_width = max([len("Purchaser")] + [name.cell_len for name in names])
    steps_need = sum(step_widths) + GAP * len(step_widths)
    if width - steps_need < MIN_NAME_WIDTH:
        return None
    money_need = shares_width + price_width + 2 * GAP
    wide = width - steps_need - money_need >= name_width
    room = width - steps_need - (money_need if wide else 0)
    columns = [
        GridColumn(Text("Purchaser"), Text(f"{totals.closed}/{totals.purchasers} closed")),
        *(
            [
                GridColumn(Text("Shares"), Text(f"{totals.shares:,}"), "right", shares_width),
                GridColumn(
                    Text("Price"), Text(format_money(totals.purchase_price)), "right", price_width
                ),
            ]
            if wide
            else []
        ),
        *(
            GridColumn(heading, Text(footer), "left", step_width)
            for heading, footer, step_width in zip(headings, footers, step_widths, strict=True)
        ),
    ]
    rows = [
        [name, *([Text(shares), Text(price)] if wide else []), *cells]
        for name, cells, (shares, price) in zip(names, step_cells, money, strict=True)
    ]
    name_cells = [columns[0].header, columns[0].footer, *names]
    columns[0] = columns[0]._replace(
        width=min(
            max(cell.cell_len for cell in name_cells), max(MIN_NAME_WIDTH, min(name_width, room))
        )
    )
    return grid(columns, rows)


class GridColumn(NamedTuple):
    header: Text
    footer: Text
    justify: str = "left"
    width: int = 0


def grid(columns: list[GridColumn], rows: list[list[Text]]) -> Text:
    """The board's table, drawn as Rich draws `Table(box=SIMPLE_HEAD, show_edge=False,
    pad_edge=False, show_footer=True)` with bold header and footer (columns three spaces apart, a
    rule under the headings, a blank line above the footers) but line by line: Rich lays out a
    thousand cells of a large board one renderable at a time, six times slower. A cell longer
    than its column ends in an ellipsis."""
    total = sum(column.width for column in columns) + GAP * (len(columns) - 1)
    out = Text(no_wrap=True, overflow="crop")

    def line(cells: list[Text], style: str = "") -> None:
        for n, (column, cell) in enumerate(zip(columns, cells, strict=True)):
            if n:
                out.append(" " * GAP)
            shown = cell.copy()
            shown.truncate(column.width, overflow="ellipsis")
            room = column.width - shown.cell_len
            if column.justify == "right":
                out.append(" " * room)
                out.append_text(_styled(shown, style))
            else:
                out.append_text(_styled(shown, style))
                out.append(" " * room)
        out.append("\n")

    line([column.header for column in columns], "bold")
    out.append("─" * total + "\n")
    for cells in rows:
        line(cells)
    out.append(" " * total + "\n")
    line([column.footer for column in columns], "bold")
    out.right_crop(1)  # the last newline
    return out


def _styled(text: Text, style: str) -> Text:
    if style:
        text.stylize(style)
    return text


MIN_LIST_WIDTH = 30  # what the "Open or late" column keeps when names are long


def open_steps_table(
    board: Board, shown: list[PurchaserStatus], step_cells: list[list[Text]], width: int
) -> Table:
    """For more steps than fit side by side (a real checklist has a dozen per purchaser): each
    purchaser's count of steps done and the steps open or late, most urgent first, each as its
    heading and its cell (`Wired ! 1h30m · Faxed 10h30m ⚑`); steps done late or flagged for
    attention stay listed. What does not fit is counted (`+3 more`), never cut silently."""
    totals = board.totals
    steps = board.terms.purchaser_steps
    count = len(steps)
    names = [Text(neutral(p.purchaser.name)) for p in shown]
    done = [f"{sum(1 for s in row.steps.values() if s.finished)}/{count}" for row in shown]
    finished = sum(totals.by_status[step.id][s] for step in steps for s in FINISHED_STATUSES)
    done_footer = f"{finished:,}/{count * totals.purchasers:,}"
    entries: list[list[Text]] = []
    for row, cells in zip(shown, step_cells, strict=True):
        if row.withdrawn is not None:
            entries.append([Text("withdrawn", style="dim")])
            continue
        worst = worst_first([row.steps[step.id] for step in steps])
        entries.append(
            [Text(f"{neutral(steps[n].heading)} ").append_text(cells[n]) for n in worst]
            or [Text("closed", style=STYLES[DONE_STATUS])]
        )
    heading = "Open or late"
    name_width = max([len("Purchaser")] + [name.cell_len for name in names])
    done_width = max([len("Done"), len(done_footer)] + [len(d) for d in done])
    list_need = max(
        [len(heading)]
        + [sum(e.cell_len for e in listed) + 3 * (len(listed) - 1) for listed in entries]
    )
    room = width - (done_width + GAP) - GAP  # for the name and the list
    name_room = min(name_width, room - min(list_need, MIN_LIST_WIDTH))
    name_room = max(MIN_NAME_WIDTH, name_room)
    list_room = max(len(heading), room - name_room)
    table = purchaser_table(totals, name_room)
    table.add_column("Done", justify="right", footer=done_footer, no_wrap=True)
    table.add_column(heading, no_wrap=True, overflow="ellipsis", max_width=list_room)
    for name, count_done, listed in zip(names, done, entries, strict=True):
        table.add_row(name, Text(count_done), packed_lines(Text(), listed, list_room, 1, 0))
    return table


def purchaser_table(totals: Totals, name_width: int) -> Table:
    """The board's table with its first column, the purchaser (and the closed count below)."""
    from rich import box
    from rich.table import Table  # only for boards too wide for a column per step

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
        max_width=name_width,
    )
    return table


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
                neutral(f"{event.kind} {event.step}".rstrip()),  # a withdrawal has no step
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
            label = "reason" if event.kind in _CORRECTIONS else "note"  # given with --reason
            details.append(f"{label}: {neutral(event.note)}")
        lines.append(head)
        lines.append(f"    {' · '.join(details)}\n")
    lines.rstrip()
    return lines


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
            if d.get("digest"):
                text += f" in digest #{d['digest']}"
            if d["status"] != "sent" and d["last_error"]:
                tries = "1 try" if d["attempts"] == 1 else f"{d['attempts']} tries"
                text += f" after {tries}: {d['last_error']}"
            deliveries.append(neutral(text))
        lines.append(f"    {' · '.join(deliveries)}\n")
    lines.rstrip()
    return lines
