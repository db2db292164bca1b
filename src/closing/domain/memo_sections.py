"""The parts of the closing memorandum a partner reads first, before the record's detail: the
heading (author, firm, addressees, legend), the narrative of the closing, the parties with their
counsel, transfer agent and banks, the funds flow, Schedule 1's DWAC credits, the post-closing
items, and the words people use for the tool's names (calendars, parties' roles).

Pure, like `closing.domain.memo`, which places these in the memo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from closing.domain.funds import Statement, disbursement_state, party_name
from closing.domain.memo_steps import StepRecord
from closing.domain.money import format_money
from closing.domain.terms import StoredMemoSettings, StoredTerms

# The calendars as people name them.
CALENDAR_WORDS = {
    "NYSE": "New York Stock Exchange",
    "XFED": "Federal Reserve",
    "SEC": "SEC (U.S. federal holiday)",
}
ROLE_WORDS = {
    "company_counsel": "Company counsel",
    "placement_agent": "Placement agent",
    "transfer_agent": "Transfer agent",
    "escrow_agent": "Escrow agent",
    "purchaser_counsel": "Purchasers' counsel",
}
FORM_WORDS = {
    "fax": "facsimile",
    "pdf": "PDF by e-mail",
    "original": "originals",
    "original-scan": "scanned originals",
    "esign": "electronic signature",
}
NO_LEGEND = ("", "none")
GROSS_ROWS = 10  # purchasers listed one by one in the funds flow; more are in Schedule 1 only


def calendar_words(names: Sequence[str]) -> str:
    """`New York Stock Exchange and Federal Reserve business days`."""
    words = [CALENDAR_WORDS.get(name, f"{name} holiday calendar") for name in names]
    joined = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"{joined} business days"


@dataclass(frozen=True)
class Heading:
    to: tuple[str, ...]
    author: str
    firm: str | None
    legend: str | None


def memo_heading(
    settings: StoredMemoSettings | None,
    author: str | None = None,
    firm: str | None = None,
    to: Sequence[str] = (),
    legend: str | None = None,
) -> Heading:
    """The heading from the deal file's `memo:`, each option given on the command line winning
    (`--legend none` drops the deal file's legend)."""
    given = settings or StoredMemoSettings(None, None, [], None)
    chosen_legend = legend if legend is not None else given.legend
    if chosen_legend is not None and chosen_legend.strip().casefold() in NO_LEGEND:
        chosen_legend = None
    return Heading(
        tuple(to) or tuple(given.addressees) or ("The closing binder",),
        author or given.author or "Author not given (memo.author, or report --author)",
        firm or given.firm,
        chosen_legend,
    )


@dataclass(frozen=True)
class Line:
    """A label and its text (a party, a bank, a figure)."""

    label: str
    value: str


def party_lines(
    terms: StoredTerms, purchasers: Sequence[str], bank: str | None
) -> tuple[Line, ...]:
    """The company, the purchasers, each named party by its role (counsel, transfer agent,
    placement and escrow agents), and the banks: the account the purchasers wire to (masked)."""
    company = terms.company
    lines = [
        Line(
            "Company",
            company.name + (f" (attention: {company.attention})" if company.attention else ""),
        ),
        Line(
            "Purchasers",
            "; ".join(purchasers)
            if len(purchasers) <= GROSS_ROWS
            else f"{len(purchasers)} purchasers, named in Schedule 1",
        ),
    ]
    named = {
        party.role or key: party.name or "not named in the deal file"
        for key, party in terms.parties.items()
        if (party.role or key) in ROLE_WORDS
    }
    for role, words in ROLE_WORDS.items():
        if role in named:
            lines.append(Line(words, named[role]))
        elif role in ("company_counsel", "transfer_agent"):
            lines.append(Line(words, "not named in the deal file"))
    lines.append(Line("Bank (funds in)", bank or "no wire instructions in the deal file"))
    return tuple(lines)


def narrative(
    terms: StoredTerms, complete: bool, accepted: Sequence[tuple[str, str]]
) -> tuple[str, ...]:
    """The closing in a few sentences: when and how, deliveries deemed simultaneous, and what
    was late or waived with who accepted it (`accepted`: party, sentence)."""
    zone = terms.zone
    cutoff = datetime.combine(terms.closing_date, terms.cutoff.time, zone)
    forms = dict.fromkeys(FORM_WORDS[d.form] for d in terms.documents if d.form in FORM_WORDS)
    manner = (
        "documents delivered by " + " and by ".join(forms) + ", funds by wire transfer"
        if forms
        else "exchange of documents and wire transfer of funds"
    )
    day = f"{terms.closing_date:%A}, {terms.closing_date:%B} {terms.closing_date.day}, "
    day += str(terms.closing_date.year)
    hour = cutoff.strftime("%I:%M %p %Z").lstrip("0")
    sentences = [
        f"The closing {'took' if complete else 'was to take'} place on {day}, by the close of "
        f"business ({hour}): {manner}. All deliveries at the closing are deemed to have "
        "been made simultaneously, and none is deemed made until all are.",
    ]
    sentences += [f"{party}: {sentence}." for party, sentence in accepted]
    return tuple(sentences)


def dwac_cell(steps: Sequence[StepRecord], closing_day: str = "") -> str:
    """Schedule 1's DWAC column: when the purchaser's shares were credited, the transfer agent's
    confirmation (the evidence of the DWAC step's mark), or where the step stands; a time on
    `closing_day` (`Fri 2002-06-07`) is shown without it."""
    step = next((s for s in steps if "dwac" in s.step), None)
    if step is None:
        return "no DWAC step"
    if step.status not in ("done", "done_late"):
        return step.verdict
    done = next((e for e in reversed(step.events) if e.what.startswith("done")), None)
    if done is None:
        return step.verdict
    confirmation = "; ".join(d for d in done.details if not d.startswith("recorded "))
    at = done.when.removeprefix(closing_day).strip() if closing_day else done.when
    return f"credited {at}" + (f" ({confirmation})" if confirmation else "")


@dataclass(frozen=True)
class FundsLine:
    label: str
    amount: str
    detail: str = ""


def funds_lines(found: Statement, zone: ZoneInfo) -> tuple[FundsLine, ...]:
    """The funds flow as the memo's table: gross by purchaser, deductions, net, each
    disbursement with its accounts, status and Fed references, and what is left."""
    many = len(found.gross) > GROSS_ROWS
    lines = [
        FundsLine(f"Gross proceeds: {row.purchaser}", format_money(row.price))
        for row in ([] if many else found.gross)
    ]
    lines.append(
        FundsLine(
            "Gross proceeds"
            + (f" ({len(found.gross)} purchasers: see Schedule 1)" if many else ""),
            format_money(found.gross_total),
        )
    )
    lines += [
        FundsLine(
            f"Less: {d.title} ({d.basis}, computed)" if d.basis != "fixed" else f"Less: {d.title}",
            format_money(-d.amount),
        )
        for d in found.deductions
    ]
    lines.append(FundsLine("Net proceeds to the company", format_money(found.net)))
    for row in found.disbursements:
        lines.append(
            FundsLine(
                f"{row.title}: {party_name(row.from_account)} to {party_name(row.to)}",
                format_money(row.amount),
                disbursement_state(row, zone),
            )
        )
    for account, left in found.balances.items():
        lines.append(FundsLine(f"Left with the {party_name(account)}", format_money(left)))
    return tuple(lines)
