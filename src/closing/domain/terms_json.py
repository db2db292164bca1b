"""`read_terms`: the deal's stored terms (`closing.domain.terms`) from the JSON the deal file's
`DealTerms` wrote when the deal was loaded, without pydantic. Keys a deal stored before they
existed take the deal file's defaults; a stored deal is not checked again.
"""

from __future__ import annotations

import json
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from closing.domain.terms import (
    CLOSING_CUTOFF,
    PURCHASER,
    StoredAlertRules,
    StoredBusinessDays,
    StoredCommonStock,
    StoredCompany,
    StoredContact,
    StoredCutoff,
    StoredDeduction,
    StoredDisbursement,
    StoredDocument,
    StoredDue,
    StoredFundsFlow,
    StoredMemoSettings,
    StoredOverdueRepeat,
    StoredParty,
    StoredPaymentRule,
    StoredQuietHours,
    StoredRegistration,
    StoredReportSettings,
    StoredSchedule1File,
    StoredSecurities,
    StoredSignatory,
    StoredStep,
    StoredStepAlerts,
    StoredTerms,
    StoredWarrant,
)
from closing.domain.timefmt import parse_duration


def read_terms(text: str) -> StoredTerms:
    """The terms from their stored JSON (what the deal file's `DealTerms` wrote; keys a deal
    stored before they existed take the deal file's defaults)."""
    data = json.loads(text)
    days = data["business_days"]
    company = data["company"]
    stock, warrant = data["securities"]["common_stock"], data["securities"]["warrant"]
    registration, report = data["registration"], data.get("report")
    memo = data.get("memo")
    return StoredTerms(
        slug=data["slug"],
        title=data["title"],
        agreement_date=date.fromisoformat(data["agreement_date"]),
        closing_date=date.fromisoformat(data["closing_date"]),
        key_dates={
            name: date.fromisoformat(day) for name, day in data.get("key_dates", {}).items()
        },
        cutoff=_cutoff(data["cutoff"]),
        business_days=StoredBusinessDays(
            days["calendars"], [date.fromisoformat(d) for d in days.get("extra_closures", ())]
        ),
        company=StoredCompany(
            company["name"],
            company.get("attention"),
            company.get("address"),
            company.get("facsimile"),
        ),
        securities=StoredSecurities(
            StoredCommonStock(Decimal(stock["par_value"]), Decimal(stock["price_per_share"])),
            StoredWarrant(
                warrant["term_years"],
                Decimal(warrant["exercise_price"]),
                Decimal(warrant["coverage"]),
            ),
        ),
        registration=StoredRegistration(
            registration["form"],
            registration["file_number"],
            registration.get("prospectus_supplement"),
        ),
        governing_law=data["governing_law"],
        steps=[_step(step) for step in data["steps"]],
        alerts=_alert_rules(data.get("alerts") or {}),
        report=None if report is None else StoredReportSettings(report.get("templates")),
        outside_date=_day(data.get("outside_date")),
        parties={name: _party(party) for name, party in data.get("parties", {}).items()},
        documents=[_document(document) for document in data.get("documents", [])],
        schedule_1=None
        if data.get("schedule_1") is None
        else StoredSchedule1File(data["schedule_1"]["file"], data["schedule_1"]["sha256"]),
        funds_flow=_funds_flow(data.get("funds_flow")),
        memo=None
        if memo is None
        else StoredMemoSettings(
            memo.get("author"), memo.get("firm"), memo.get("addressees", []), memo.get("legend")
        ),
    )


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _funds_flow(data: dict[str, Any] | None) -> StoredFundsFlow | None:
    if data is None:
        return None
    return StoredFundsFlow(
        received_into=data.get("received_into", "company"),
        deductions=[
            StoredDeduction(
                d["id"],
                d["title"],
                d.get("kind", "fee"),
                _money(d.get("percent")),
                d.get("of", "gross"),
                _money(d.get("amount")),
                d.get("payee"),
            )
            for d in data.get("deductions", [])
        ],
        disbursements=[
            StoredDisbursement(
                id=d["id"],
                to=d["to"],
                title=d.get("title"),
                amount=_money(d.get("amount")),
                pays=d.get("pays", []),
                rest=d.get("rest", False),
                from_account=d.get("from_account"),
                due=_due(d.get("due", CLOSING_CUTOFF)),
                cutoff=_cutoff(d["cutoff"]) if d.get("cutoff") else None,
                release_when=d.get("release_when", []),
            )
            for d in data.get("disbursements", [])
        ],
    )


def _document(data: dict[str, Any]) -> StoredDocument:
    return StoredDocument(
        id=data["id"],
        title=data["title"],
        signatories=tuple(
            StoredSignatory(s["party"], s.get("name"), s.get("title"))
            for s in data.get("signatories", [])
        ),
        per_purchaser=data.get("per_purchaser", False),
        numbered=data.get("numbered"),
        form=data.get("form", "pdf"),
        holds_originals=data.get("holds_originals"),
        satisfies=data.get("satisfies", []),
        release_when=data.get("release_when", []),
        note=data.get("note"),
    )


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _party(data: dict[str, Any]) -> StoredParty:
    return StoredParty(
        name=data.get("name"),
        role=data.get("role"),
        purchaser=data.get("purchaser"),
        contacts=[
            StoredContact(c.get("name"), c.get("email"), c.get("phone"), c.get("facsimile"))
            for c in data.get("contacts", [])
        ],
        notify=data.get("notify", []),
        members=data.get("members", []),
    )


def _cutoff(data: dict[str, str]) -> StoredCutoff:
    return StoredCutoff(time.fromisoformat(data["time"]), data["time_zone"], data.get("market"))


def _due(data: str | dict[str, Any]) -> str | StoredDue:
    if isinstance(data, str):
        return data
    at = data.get("at")
    return StoredDue(
        after=data.get("after"),
        before=data.get("before"),
        business_days=data.get("business_days"),
        calendar_days=data.get("calendar_days"),
        at=None if at is None else time.fromisoformat(at),
    )


def _step(data: dict[str, Any]) -> StoredStep:
    payment = data.get("payment", False)
    cutoff, practical = data.get("cutoff"), data.get("practical")
    alerts = data.get("alerts")
    return StoredStep(
        id=data["id"],
        title=data["title"],
        label=data.get("label"),
        party=data.get("party", PURCHASER),
        requires=data.get("requires", []),
        due=_due(data.get("due", CLOSING_CUTOFF)),
        cutoff=_cutoff(cutoff) if cutoff else None,
        practical=_cutoff(practical) if practical else None,
        calendars=data.get("calendars"),
        needs=data.get("needs", []),
        payment=payment
        if isinstance(payment, bool)
        else StoredPaymentRule(
            Decimal(payment.get("tolerance", "0")), payment.get("partial", False)
        ),
        alerts=None
        if alerts is None
        else StoredStepAlerts(
            _durations(alerts.get("before")),
            alerts.get("at_deadline"),
            _overdue(alerts.get("overdue")),
        ),
        note=data.get("note"),
        held_until=data.get("held_until"),
        remedy=data.get("remedy"),
        lapses_at=_day(data.get("lapses_at")),
        owner=data.get("owner"),
        responsible=data.get("responsible"),
    )


def _durations(texts: list[str] | None) -> list[timedelta] | None:
    return None if texts is None else [parse_duration(text) for text in texts]


def _overdue(
    data: dict[str, Any] | Literal[False] | None,
) -> StoredOverdueRepeat | Literal[False] | None:
    if data is None or data is False:
        return data
    return StoredOverdueRepeat(parse_duration(data["every"]), data["times"])


def _alert_rules(data: dict[str, Any]) -> StoredAlertRules:
    quiet = data.get("quiet_hours")
    overdue = _overdue(data.get("overdue"))
    return StoredAlertRules(
        before=_durations(data.get("before", ["2h", "30m"])) or [],
        at_deadline=data.get("at_deadline", True),
        overdue=overdue or None,
        quiet_hours=None
        if quiet is None
        else StoredQuietHours(time.fromisoformat(quiet["start"]), time.fromisoformat(quiet["end"])),
        notify=data.get("notify", []),
        inbox=data.get("inbox"),
        digest=data.get("digest", True),
        digest_over=data.get("digest_over", 3),
        seals=data.get("seals", False),
    )
