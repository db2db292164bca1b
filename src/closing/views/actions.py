"""What the signed-in team's pages offer, from the status document: each party's steps with the
buttons that act on them (`Mark Warrant faxed for BNC Bach International, Ltd.`, `Undo ...`,
`Reverse ...`, `Waive ...`, `Withdraw ...`, `Verify wire instructions`, `Accept proposed details
for ...`, `Reject proposed details for ...`, `Attach spa for ...`, `Release held signature pages
for ...`) and the fields of each
action's form, labelled as the CLI's options are named. Offering a button decides nothing: the
services decide when the form is recorded, as for the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from closing.domain.board import DONE_LATE, DONE_STATUS, URGENCY, WAIVED_STATUS
from closing.domain.detail_rules import DETAIL_RULES
from closing.domain.documents import HELD
from closing.domain.events import COMPANY_SLUG
from closing.domain.mark_commands import BY_STEP, GENERIC

MARK, UNDO, REVERSE, WAIVE, WITHDRAW, VERIFY = (
    "mark",
    "undo",
    "reverse",
    "waive",
    "withdraw",
    "verify",
)
ACCEPT, REJECT = "accept", "reject"  # the details a purchaser proposed through its link
ATTACH, RELEASE = "attach", "release"  # the closing set's files (`closing attach|release`)
KINDS = (MARK, UNDO, REVERSE, WAIVE, WITHDRAW, VERIFY, ACCEPT, REJECT, ATTACH, RELEASE)
COMPANY = "company"
_VERBS = {MARK: "Mark", UNDO: "Undo", REVERSE: "Reverse", WAIVE: "Waive", WITHDRAW: "Withdraw"}


@dataclass(frozen=True)
class FormField:
    name: str  # the form field
    label: str  # `Evidence`, `Amount`, `Reason`, `At`, ...
    required: bool = False
    hint: str = ""
    checkbox: bool = False  # a yes/no (`--partial`), else one line of text
    file: bool = False  # a file to upload (the form is then multipart/form-data)


AT = FormField("at", "At", hint="Empty: now. 08:30 or 2002-06-07 08:30 in the deal's zone.")
REASON = FormField("reason", "Reason", required=True)
ATTACH_FIELDS = (
    FormField("file", "File", required=True, hint="A PDF, PNG or JPEG.", file=True),
    FormField(
        "signatory",
        "Signatory",
        hint="Whose page it is: purchaser, company or a name; empty: the one still missing.",
    ),
    FormField("hold", "Hold", hint="Received in escrow: held until released.", checkbox=True),
)


@dataclass(frozen=True)
class Action:
    kind: str
    party: str  # the party's slug, or `company`
    step: str  # the step's id, or the document's to attach ('' for the party as a whole)
    name: str  # the button's accessible name
    fields: tuple[FormField, ...]
    said: tuple[str, ...] = ()  # what the action answers (the proposed details), in words


VERIFY_ACTION = Action(
    VERIFY,
    COMPANY,
    "",
    "Verify wire instructions",
    (
        FormField("callback_number", "Callback number", required=True),
        FormField("spoke_with", "Spoke with", required=True),
    ),
)


@dataclass(frozen=True)
class StepLine:
    title: str
    status: str
    done_by: str | None
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class PartyPage:
    slug: str
    name: str
    steps: tuple[StepLine, ...]
    actions: tuple[Action, ...]  # of the party as a whole (withdraw, verify)
    documents: tuple[tuple[str, str, Action], ...] = ()  # (document, where it stands, Attach)


def _mark_fields(step_id: str) -> tuple[FormField, ...]:
    spec = BY_STEP.get(step_id, GENERIC)
    fields = [AT, FormField("evidence", "Evidence", hint=spec.evidence_help)]
    if spec.takes_amount:
        fields.append(FormField("amount", "Amount", hint="Default: what is still owed."))
        fields.append(
            FormField(
                "partial", "Partial", hint="Part of the price: the step stays open.", checkbox=True
            )
        )
    return tuple(fields)


def _step_actions(party: str, name: str, step: dict[str, Any], status: str) -> tuple[Action, ...]:
    title = step["title"]
    kinds: tuple[str, ...]
    if status in (DONE_STATUS, DONE_LATE):
        kinds = (UNDO, REVERSE)
    elif status == WAIVED_STATUS:
        kinds = (UNDO,)
    else:
        kinds = (MARK, WAIVE)
    return tuple(_step_action(kind, party, name, step["id"], title) for kind in kinds)


def _step_action(kind: str, party: str, name: str, step_id: str, title: str) -> Action:
    fields = _mark_fields(step_id) if kind == MARK else (AT, REASON)
    return Action(kind, party, step_id, f"{_VERBS[kind]} {title} for {name}", fields)


def party_page(document: dict[str, Any], party: str) -> PartyPage | None:
    """The page of one party (`company` or a purchaser's slug); None when there is none."""
    steps = document["deal"]["steps"]
    if party == COMPANY:
        name = document["company"]["name"]
        states = document["company"]["steps"]
        own = [s for s in steps if s["party"] == COMPANY]
        extra: tuple[Action, ...] = ()
        wires = document.get("wire_instructions") or {}
        if wires.get("present") and not wires.get("verified"):
            extra = (VERIFY_ACTION,)
    else:
        row = next((p for p in document["purchasers"] if p["slug"] == party), None)
        if row is None:
            return None
        name = row["name"]
        states = row["steps"]
        own = [s for s in steps if s["party"] != COMPANY]
        extra = answers(row)
        if not row["withdrawn"]:
            extra += (Action(WITHDRAW, party, "", f"Withdraw {name}", (AT, REASON)),)
    lines = []
    for step in own:
        state = states.get(step["id"])
        if state is None:
            continue
        status = state["status"]
        lines.append(
            StepLine(
                step["title"],
                status.replace("_", " "),
                state.get("done_by"),
                _step_actions(party, name, step, status),
            )
        )
    documents = tuple(
        (d["document"], d["state"], _attach(party, name, d["document"]))
        for d in document.get("documents") or ()
        if d["party"] == (COMPANY_SLUG if party == COMPANY else party)
    )
    if any(state == HELD for _, state, _ in documents):
        extra += (_release(party, name),)
    return PartyPage(party, name, tuple(lines), extra, documents)


def _attach(party: str, name: str, document_id: str) -> Action:
    return Action(ATTACH, party, document_id, f"Attach {document_id} for {name}", ATTACH_FIELDS)


def _release(party: str, name: str) -> Action:
    return Action(RELEASE, party, "", f"Release held signature pages for {name}", (REASON,))


def find_action(document: dict[str, Any], party: str, kind: str, step: str) -> Action | None:
    """The action a form names, whatever the step's state now (the service decides whether it
    may be recorded); None for a party, step or kind the deal does not have."""
    page = party_page(document, party)
    if page is None or kind not in KINDS:
        return None
    if kind == VERIFY:
        return VERIFY_ACTION if party == COMPANY and not step else None
    if kind == ATTACH:
        found_document = next((d for d, _, _ in page.documents if d == step), None)
        return None if found_document is None else _attach(party, page.name, step)
    if kind == RELEASE:
        return None if step else _release(party, page.name)
    if kind in (ACCEPT, REJECT):
        row = next((p for p in document["purchasers"] if p["slug"] == party), None)
        found = () if row is None or step else answers(row, always=True)
        return next((a for a in found if a.kind == kind), None)
    if kind == WITHDRAW:
        return next((a for a in page.actions if a.kind == kind), None) if not step else None
    titles = {s["id"]: s["title"] for s in document["deal"]["steps"]}
    if step not in titles or kind not in _VERBS:
        return None
    return _step_action(kind, party, page.name, step, titles[step])


def answers(row: dict[str, Any], always: bool = False) -> tuple[Action, ...]:
    """`Accept proposed details for P` and `Reject proposed details for P` (with its `Reason`),
    for a purchaser's row of the status document with details proposed (`always`: even with
    none, for a form posted after they were answered: the service then says so)."""
    proposed = row.get("proposed_details") or {}
    if not proposed and not always:
        return ()
    said = tuple(
        f"{DETAIL_RULES.get(field, (field,))[0]} {item.get('value')} (proposed by {item.get('by')})"
        for field, item in proposed.items()
        if isinstance(item, dict)
    )
    name, slug = row["name"], row["slug"]
    return (
        Action(ACCEPT, slug, "", f"Accept proposed details for {name}", (), said),
        Action(REJECT, slug, "", f"Reject proposed details for {name}", (REASON,), said),
    )


def party_links(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(slug, name) of the company and every purchaser, for the deal page's list."""
    return [(COMPANY, document["company"]["name"])] + [
        (p["slug"], p["name"]) for p in document["purchasers"]
    ]


@dataclass(frozen=True)
class MyItem:
    """One open step of "My items": whose, what, its status and deadline, and its Mark button."""

    party_name: str
    title: str
    status: str
    deadline: str | None
    mark: Action


def my_items(document: dict[str, Any]) -> list[MyItem]:
    """The open steps of a board cut to the member's party (`status --mine`), most urgent first
    (late, blocked, due soon, pending; then by deadline)."""
    titles = {s["id"]: s["title"] for s in document["deal"]["steps"]}
    rows = [(COMPANY, document["company"]["name"], document["company"]["steps"])]
    rows += [(p["slug"], p["name"], p["steps"]) for p in document["purchasers"]]
    found: list[tuple[int, str, MyItem]] = []
    for slug, name, steps in rows:
        for step_id, state in steps.items():
            status = state["status"]
            if status in (DONE_STATUS, DONE_LATE, WAIVED_STATUS) or step_id not in titles:
                continue
            mark = _step_action(MARK, slug, name, step_id, titles[step_id])
            item = MyItem(name, titles[step_id], status.replace("_", " "), state["deadline"], mark)
            found.append((URGENCY.get(status, len(URGENCY)), state["deadline"] or "~", item))
    found.sort(key=lambda entry: (entry[0], entry[1]))
    return [item for _, _, item in found]
