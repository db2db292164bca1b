"""A step's cell on the text board (`✓ 08:30`, `! 1h30m ⚑`, `✗ 2h05m`) and what is built from
cells: the company's line, the order of steps that want a look first, and entries packed into
lines that end in `+N more`.

Values from data go through `closing.domain.text.neutral` and into Rich only as `Text` (see
`closing.views.board_text`).
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from closing.domain.board import (
    DONE_LATE,
    DONE_STATUS,
    DUE_SOON_STATUS,
    OVERDUE,
    PENDING,
    WAIVED_STATUS,
    Board,
    StepStatus,
)
from closing.domain.cutoffs import practical_title
from closing.domain.delivery import HELD
from closing.domain.text import neutral
from closing.domain.timefmt import duration

STYLES = {
    DONE_STATUS: "green",
    DONE_LATE: "red",
    WAIVED_STATUS: "dim",
    PENDING: "",
    DUE_SOON_STATUS: "yellow bold",
    OVERDUE: "red bold",
    HELD: "dim",
}
BLOCKED_MARK = "⚑"  # a detail the step needs is missing from the deal file
ATTENTION_MARK = "⚠"  # something it stands on was reversed
BLOCKED_STYLE = "magenta"


def step_cell(status: StepStatus, board: Board, withdrawn: bool = False) -> Text:
    """A short cell: `✓ 08:30`, `✓ 17:30 late`, `7h30m`, `! 1h30m ⚑`, `✗ 2h05m`, `waived`; when a
    market's cutoff comes first and is near or past, its name: `✗ 30m Fedwire`."""
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
    elif status.status == HELD:
        text = "held"
    else:
        left = status.due_by - now
        if status.status == OVERDUE:
            text = f"✗ {duration(left, 'compact')}"
        elif status.status == DUE_SOON_STATUS:
            text = f"! {duration(left, 'compact')}"
        else:
            text = duration(left, "compact")
        if status.market_first and status.status in (OVERDUE, DUE_SOON_STATUS):
            # the market's cutoff counts, not the agreement's: say whose (the notes say when)
            practical = board.terms.step(status.step).practical
            text += f" {practical_title(practical.market if practical else None)}"
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
    HELD: 4,
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
        return (LOOK_FIRST[status.status], bool(status.waiting_on), status.due_by, n)

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
