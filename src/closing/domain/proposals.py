"""What a purchaser says through its own link, pure: details it proposes (checked by the deal file's
own rules, `closing.domain.detail_rules`), the team's acceptance or rejection, and its report that
its wire left; and what they add up to on a purchaser's chain.

A proposal is only words until a member accepts it: the accepted details are applied over the deal
file's (`apply_accepted`), and a reload whose file says otherwise for an accepted detail shows both
(`reload_conflicts`). A wire report is the purchaser's report, never money received: the bank's
file confirms it (the import matches by its IMAD first).

Every event names the link by its id (`closing.domain.share_link.link_name`), never its token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from closing.domain.bankfiles.details import IMAD
from closing.domain.detail_rules import DETAIL_RULES, plain_line
from closing.domain.errors import UsageError
from closing.domain.events import ACCEPTED, PROPOSAL, REJECTED, WIRE_REPORT, Event
from closing.domain.money import format_money, parse_price
from closing.domain.redaction import mask_account

DETAILS_EVIDENCE = "details"
REPORT_EVIDENCE = "wire_report"
MAX_BANK = 100


def detail_label(field: str) -> str:
    return DETAIL_RULES[field][0] if field in DETAIL_RULES else field


def shown(field: str, value: str) -> str:
    """A detail as every output shows it: a DWAC account number masked (the record keeps it)."""
    return mask_account(value) if field == "dwac.account_number" else value


def link_words(event: Event) -> str:
    """A link event's evidence in words, for `history`: the details (an account masked), or the
    wire report."""
    data = _data(event)
    if event.kind == WIRE_REPORT:
        try:
            amount = format_money(Decimal(str(data.get("amount", "0"))))
        except ArithmeticError:  # written behind closing's back: as it stands
            amount = str(data.get("amount"))
        return (
            f"reported {amount} from {data.get('bank')}, IMAD {data.get('imad')}, sent "
            f"{data.get('sent_at')}"
        )
    details = _details(data)
    return ", ".join(f"{detail_label(str(f))} {shown(str(f), str(v))}" for f, v in details.items())


def find_field(text: str) -> str:
    """A detail named as `dwac.dtc_number`, `dtc_number` or `DTC participant number`."""
    wanted = " ".join(text.replace("_", " ").replace("-", " ").split()).casefold()
    for field, (label, _) in DETAIL_RULES.items():
        names = {field.casefold(), field.rpartition(".")[2].replace("_", " "), label.casefold()}
        names.add(field.replace(".", " ").replace("_", " "))
        if wanted in names:
            return field
    raise UsageError(
        f"no detail {text!r}; name one of: {', '.join(DETAIL_RULES)}",
    )


def check_details(given: Mapping[str, str]) -> dict[str, str]:
    """The details given (by field), each checked as the deal file checks it; blank ones left
    out. One line for the first that fails; nothing given is refused too."""
    checked: dict[str, str] = {}
    for field, value in given.items():
        if field not in DETAIL_RULES:
            raise UsageError(f"no detail {field!r}; name one of: {', '.join(DETAIL_RULES)}")
        if not value.strip():
            continue
        try:
            checked[field] = DETAIL_RULES[field][1](value)
        except ValueError as problem:
            raise UsageError(f"{DETAIL_RULES[field][0]}: {problem}") from None
    if not checked:
        raise UsageError("no details given: fill in at least one field")
    return checked


def proposal_evidence(link_id: int, details: Mapping[str, str]) -> str:
    return _json({"link": link_id, "details": dict(details)})


def answer_evidence(details: Mapping[str, str], link_ids: Iterable[int]) -> str:
    return _json({"details": dict(details), "links": sorted(set(link_ids))})


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _data(event: Event) -> dict[str, Any]:
    try:
        found = orjson.loads(event.evidence or "{}")
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def _details(data: dict[str, Any]) -> dict[str, Any]:
    """An event's `details` (field -> value): nothing when its evidence has none, or has
    something else there (an event written behind closing's back; verify names it)."""
    details = data.get("details")
    return details if isinstance(details, dict) else {}


def _link_id(data: dict[str, Any]) -> int:
    """The share link an event came through (0: unknown, or not a number)."""
    try:
        return int(data.get("link") or 0)
    except (TypeError, ValueError):
        return 0


def proposal_note(details: Mapping[str, str]) -> str:
    return "proposed " + ", ".join(detail_label(field) for field in details)


@dataclass(frozen=True)
class Pending:
    """A detail proposed through a link and not yet answered."""

    field: str
    value: str
    submitted_at: datetime
    by: str  # the link, as recorded (`share link #3 of ...`)
    link_id: int
    seq: int


def pending_details(events: Sequence[Event]) -> dict[str, Pending]:
    """The proposed details awaiting an answer, by field: the latest proposal of each, until a
    member accepts or rejects it."""
    found: dict[str, Pending] = {}
    for event in events:
        data = _data(event)
        details = _details(data)
        if event.kind == PROPOSAL:
            for field, value in details.items():
                found[field] = Pending(
                    field,
                    str(value),
                    event.logged_at,
                    event.on_behalf_of or event.actor,
                    _link_id(data),
                    event.seq,
                )
        elif event.kind in (ACCEPTED, REJECTED):
            for field in details:
                found.pop(field, None)
    return found


def accepted_details(events: Sequence[Event]) -> dict[str, str]:
    """The details accepted so far, the latest of each field."""
    found: dict[str, str] = {}
    for event in events:
        if event.kind == ACCEPTED:
            found.update({str(k): str(v) for k, v in _details(_data(event)).items()})
    return found


def choose(pending: Mapping[str, Pending], fields: Sequence[str]) -> dict[str, Pending]:
    """The pending details named (all of them when none is named)."""
    if not pending:
        raise UsageError("nothing is proposed: no details await an answer")
    if not fields:
        return dict(pending)
    chosen = {}
    for text in fields:
        field = find_field(text)
        if field not in pending:
            raise UsageError(f"no {detail_label(field)} is proposed; proposed: " + _listed(pending))
        chosen[field] = pending[field]
    return chosen


def _listed(pending: Mapping[str, Pending]) -> str:
    return ", ".join(detail_label(field) for field in pending)


def apply_accepted(details: Mapping[str, Any], accepted: Mapping[str, str]) -> dict[str, Any]:
    """A purchaser's stored details (notices, dwac, ...) with the accepted ones over them."""
    merged = {
        key: dict(value) if isinstance(value, dict) else value for key, value in details.items()
    }
    for field, value in accepted.items():
        section, dot, key = field.partition(".")
        if not dot:
            merged[section] = value
        else:
            part = merged.get(section)
            merged[section] = {**(part if isinstance(part, dict) else {}), key: value}
    return merged


def reload_conflicts(
    file_details: Mapping[str, Any], accepted: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(field, the file's value, the accepted value) where the file writes a detail other than
    the one accepted from the purchaser."""
    found = []
    for field, value in accepted.items():
        section, dot, key = field.partition(".")
        part = file_details.get(section)
        written = (
            (part or {}).get(key) if dot and isinstance(part, dict) else (part if not dot else None)
        )
        if written and str(written) != value:
            found.append((field, str(written), value))
    return found


# --- the wire report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WireReport:
    amount: Decimal
    bank: str
    imad: str
    sent_at: datetime
    reported_at: datetime
    by: str
    seq: int


def check_report(amount: str, bank: str, imad: str) -> tuple[Decimal, str, str]:
    """The report's amount (exact, positive), sending bank (one line) and IMAD (Fedwire's 22
    characters: date, source, sequence), each one clear line when wrong."""
    try:
        value = parse_price(plain_line(amount, "the amount", 30))
    except ValueError as problem:
        raise UsageError(f"Amount: {problem}") from None
    if value <= 0 or value != value.quantize(Decimal("0.01")):
        raise UsageError(f"Amount: {amount.strip()!r} is not an amount in dollars and cents")
    try:
        bank_text = plain_line(bank, "the sending bank", MAX_BANK)
        imad_text = plain_line(imad, "the IMAD", 40).upper().replace(" ", "")
    except ValueError as problem:
        raise UsageError(str(problem)) from None
    if not IMAD.fullmatch(imad_text):
        raise UsageError(
            f"IMAD: {imad.strip()!r} is not a Fedwire IMAD (22 characters: the date YYYYMMDD, "
            "8 letters or digits, a 6-digit sequence)"
        )
    return value, bank_text, imad_text


def report_evidence(link_id: int, amount: Decimal, bank: str, imad: str, sent_at: datetime) -> str:
    return _json(
        {
            "link": link_id,
            "amount": str(amount),
            "bank": bank,
            "imad": imad,
            "sent_at": sent_at.isoformat(),
        }
    )


def report_note(amount: Decimal, imad: str, sent_at: datetime, zone: Any, now: datetime) -> str:
    sent = sent_words(sent_at, zone, now)
    return f"reported sent {sent} · IMAD {imad} · {format_money(amount)}"


def sent_words(sent_at: datetime, zone: Any, now: datetime) -> str:
    """When a reported wire left, in `zone`: `14:05` on the day of `now`, else with its day
    (`Thu 2002-06-06 16:00`), so that yesterday's wire does not read as today's."""
    sent = sent_at.astimezone(zone)
    if sent.date() == now.astimezone(zone).date():
        return f"{sent:%H:%M}"
    return f"{sent:%a %Y-%m-%d %H:%M}"


def check_sent_at(sent_at: datetime, agreement_date: date, zone: Any, now: datetime) -> None:
    """A reported wire left on or after the agreement's date, and not in the future (five
    minutes of a clock's drift allowed)."""
    if sent_at > now + timedelta(minutes=5):
        raise UsageError("Sent at: the wire cannot have left in the future")
    if sent_at.astimezone(zone).date() < agreement_date:
        raise UsageError(
            f"Sent at: {sent_at.astimezone(zone):%Y-%m-%d %H:%M} is before the agreement's date "
            f"({agreement_date.isoformat()}); a wire for this purchase left on or after it"
        )


def wire_report(events: Sequence[Event]) -> WireReport | None:
    """The purchaser's latest report of its wire."""
    for event in reversed(events):
        if event.kind == WIRE_REPORT:
            data = _data(event)
            try:
                return WireReport(
                    Decimal(str(data["amount"])),
                    str(data.get("bank", "")),
                    str(data["imad"]),
                    datetime.fromisoformat(str(data["sent_at"])),
                    event.logged_at,
                    event.on_behalf_of or event.actor,
                    event.seq,
                )
            except (KeyError, ValueError, ArithmeticError):
                return None
    return None


def link_json(events: Sequence[Event], stamp: Any) -> dict[str, Any]:
    """`proposed_details` and `wire_report` of a purchaser's entry in `status --json`."""
    pending = pending_details(events) if events else {}
    report = wire_report(events) if events else None
    return {
        "proposed_details": {
            field: {
                "value": shown(field, item.value),
                "submitted_at": stamp(item.submitted_at),
                "by": item.by,
            }
            for field, item in pending.items()
        },
        "wire_report": None
        if report is None
        else {
            "amount": str(report.amount),
            "imad": report.imad,
            "sent_at": stamp(report.sent_at),
            "reported_at": stamp(report.reported_at),
        },
    }
