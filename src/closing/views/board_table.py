"""The table of the text board: a column per step when they fit (drawn line by line, as Rich
would draw it, for speed), else each purchaser's steps still open or late in one column.

Values from data go through `closing.domain.text.neutral` and into Rich only as `Text` (see
`closing.views.board_text`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from rich.text import Text

from closing.domain.board import (
    DONE_LATE,
    DONE_STATUS,
    WAIVED_STATUS,
    Board,
    PurchaserStatus,
    Totals,
)
from closing.domain.money import format_money
from closing.domain.text import neutral
from closing.views.board_cells import STYLES, packed_lines, worst_first

if TYPE_CHECKING:
    from rich.table import Table

FINISHED_STATUSES = (DONE_STATUS, DONE_LATE, WAIVED_STATUS)
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
