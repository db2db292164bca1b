"""`load_deal_file`: read a deal file, validate each section on its own, run the cross-checks,
and raise one `DealFileError` with every problem found, or return the `DealFile`.

Each section is validated on its own, so one bad purchaser does not hide another's problem, and
the cross-checks (Schedule 1 arithmetic, step graph) run on every part that did validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from closing.domain.dealfile.checks import check_dates, check_schedule_1, check_steps
from closing.domain.dealfile.documents import check_documents
from closing.domain.dealfile.fields import slugify
from closing.domain.dealfile.funds import check_funds_flow
from closing.domain.dealfile.located import Located
from closing.domain.dealfile.parties import check_owners
from closing.domain.dealfile.schema import DealTerms, PurchaserSpec, ReportSettings
from closing.domain.dealfile.spreadsheet import Schedule, read_schedule
from closing.domain.dealfile.yaml_reader import Composer, Refused, read_deal_text
from closing.domain.errors import DealFileError, Problem
from closing.domain.text import neutral


@dataclass(frozen=True)
class DealFile:
    """A deal file read and validated: its terms, its purchasers (Schedule 1), its path and text."""

    terms: DealTerms
    purchasers: list[PurchaserSpec]
    path: Path
    text: str = field(repr=False)


def load_deal_file(path: str | Path) -> DealFile:
    """Read and validate a deal file; raise `DealFileError` listing every problem.

    A hostile file is refused quickly and in bounded memory: at most `MAX_FILE_BYTES` are read,
    and the YAML is built from its parse events with every node counted (an alias counts as all
    the nodes it stands for), so an alias bomb stops at `MAX_NODES` instead of expanding."""
    file = Path(path)
    shown = neutral(str(path))
    located = Located(shown)
    text = read_deal_text(file, shown)
    try:
        data = Composer(located, text).document()
    except Refused as refused:
        raise DealFileError([Problem(shown, refused.line, refused.message)]) from None
    if not isinstance(data, dict):
        raise DealFileError(
            [Problem(shown, 1, "a deal file is a mapping of keys like closing_date:")]
        )
    data.setdefault("slug", slugify(file.stem))
    raw_purchasers = data.pop("purchasers", None)

    if "schedule_1" in data:  # written by the loader from `purchasers: {file: ...}` only
        located.problem(("schedule_1",), "unknown key 'schedule_1'")
        data.pop("schedule_1")
    schedule = _read_sheet(located, file, raw_purchasers)
    if schedule is not None:
        data["schedule_1"] = {"file": str(raw_purchasers.get("file")), "sha256": schedule.sha256}
        raw_purchasers = schedule.rows or None
    terms, good = _validate_terms(located, data)
    purchasers = (
        _validate_purchasers(located, raw_purchasers) if schedule is None or schedule.rows else []
    )
    if "steps" in good:
        check_steps(located, good["steps"], good.get("key_dates", {}))
        if "documents" in good:
            steps = {step.id: step.party for step in good["steps"]}
            check_documents(located, good["documents"], steps)
        if good.get("funds_flow") is not None:
            steps = {step.id: step.party for step in good["steps"]}
            gross = sum((p.purchase_price for _, p in purchasers), Decimal(0)) or None
            parties = set(good.get("parties") or {})
            check_funds_flow(located, good["funds_flow"], steps, parties, gross)
    if {"agreement_date", "closing_date", "business_days"} <= good.keys():
        check_dates(located, good["agreement_date"], good["closing_date"], good["business_days"])
        outside = good.get("outside_date")
        if outside is not None and outside < good["closing_date"]:
            located.problem(
                ("outside_date",),
                f"outside_date {outside} is before closing_date {good['closing_date']}",
            )
    check_schedule_1(located, good.get("securities"), purchasers)
    if "steps" in good:
        slugs = {purchaser.key for _, purchaser in purchasers}
        check_owners(located, good["steps"], good.get("parties") or {}, slugs)

    if terms is not None and terms.report is not None and terms.report.templates:
        folder = file.parent / Path(terms.report.templates).expanduser()
        if not folder.is_dir():
            located.problem(("report", "templates"), f"report.templates: no folder {folder}")
        terms = terms.model_copy(update={"report": ReportSettings(templates=str(folder.resolve()))})
    if located.problems or located.sheet_problems:
        raise DealFileError(located.render())
    assert terms is not None
    return DealFile(terms=terms, purchasers=[p for _, p in purchasers], path=file, text=text)


def _validate_terms(
    located: Located, data: dict[str, Any]
) -> tuple[DealTerms | None, dict[str, Any]]:
    """Each top-level field on its own, so every field's problems are reported; returns the
    terms (when all is well) and every field that did validate, for the cross-checks."""
    fields = DealTerms.model_fields
    good: dict[str, Any] = {}
    complete = True
    for key in data:
        if key not in fields:
            located.problem((key,), f"unknown key {key!r}")
            complete = False
    for name, info in fields.items():
        if name not in data:
            if info.is_required():
                located.problem((), f"missing required field {name!r}")
                complete = False
            continue
        annotation: Any = info.annotation
        if info.metadata:  # constraints such as `steps`' min_length=1
            annotation = Annotated[(annotation, *info.metadata)]
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        try:
            good[name] = adapter.validate_python(data[name])
        except ValidationError as error:
            complete = False
            for item in error.errors():
                located.report((name,), item)
    terms = DealTerms.model_validate(good) if complete else None
    return terms, good


def _read_sheet(located: Located, file: Path, raw: Any) -> Schedule | None:
    """`purchasers: {file: PATH}`: Schedule 1 read from a spreadsheet beside the deal file; its
    problems at its cells (the file's own, at the deal file's `purchasers` line)."""
    if not isinstance(raw, dict):
        return None
    given = raw.get("file")
    if set(raw) != {"file"} or not isinstance(given, str) or not given.strip():
        located.problem(
            ("purchasers",),
            "purchasers is a list (Schedule 1), or {file: PATH} naming a .xlsx or .csv file",
        )
        return Schedule(neutral(str(given)), "")
    where = Path(given).expanduser()
    if not where.is_absolute():
        where = file.parent / where
    schedule = read_schedule(where, neutral(str(where)))
    located.sheet = schedule
    for problem in schedule.problems:
        if problem.where is None:
            located.problem(
                ("purchasers", "file"), f"purchasers.file {schedule.path} {problem.message}"
            )
        else:
            located.sheet_problems.append((problem.order, problem.where, problem.message))
    if not schedule.rows and not schedule.problems:
        located.problem(
            ("purchasers", "file"), f"purchasers.file {schedule.path} has no purchasers"
        )
    return schedule


def _validate_purchasers(located: Located, raw: Any) -> list[tuple[int, PurchaserSpec]]:
    if raw is None:
        located.problem((), "missing required field 'purchasers' (Schedule 1)")
        return []
    if not isinstance(raw, list) or not raw:
        located.problem(("purchasers",), "purchasers must be a non-empty list (Schedule 1)")
        return []
    result: list[tuple[int, PurchaserSpec]] = []
    for index, item in enumerate(raw):
        purchaser = located.validate(PurchaserSpec, item, ("purchasers", index))
        if purchaser is not None:
            result.append((index, purchaser))
    return result
