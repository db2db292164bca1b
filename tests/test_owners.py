"""Parties with roles and owners: the deal file's `parties:`, each step's `owner` (by default the
company for its steps and each purchaser for its own), `owner` in `status --json`, `status --owner
PARTY` and `--mine` (the party whose `members` name the operator), alerts to the owner's own
channels, and owners in the memo's open items."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from closing.domain.errors import ExitCode
from tests.alert_receivers import http_receiver
from tests.helpers import ROOT, Cli, board_json

FRI = "2002-06-07T{}:00-07:00"
EXAMPLE = ROOT / "workflows" / "examples" / "registered-direct-60-steps.yaml"
PRICED = "2019-06-28T08:00:00-07:00"


def owners(steps: dict[str, Any]) -> dict[str, str]:
    return {step: s["owner"] for step, s in steps.items()}


def with_parties(seed_path: Path, notify: str = "") -> Path:
    """The seed with a transfer agent that credits DWAC, alice acting for the company."""
    text = seed_path.read_text().replace(
        "governing_law: California\n",
        "governing_law: California\n\nparties:\n  company:\n    members: [alice]\n"
        f"  transfer_agent:\n    name: The transfer agent\n    notify: [{notify}]\n",
    )
    text = text.replace(
        "    remedy: DWAC withdrawal\n", "    remedy: DWAC withdrawal\n    owner: transfer_agent\n"
    )
    seed_path.write_text(text)
    return seed_path


def test_the_defaults_reproduce_the_current_release(seeded: Cli) -> None:
    """Without `parties:` the company owns its steps and each purchaser its own (`purchaser`:
    the row's own)."""
    document = board_json(seeded, FRI.format("09:00"))
    assert set(owners(document["company"]["steps"]).values()) == {"company"}
    for row in document["purchasers"]:
        assert set(owners(row["steps"]).values()) == {"purchaser"}


def test_the_sixty_step_example_has_its_owners(cli: Cli) -> None:
    """The placement agent gives the Reg M notice, company counsel files the 424(b), the
    transfer agent credits DWAC, the escrow agent releases the escrow."""
    assert cli("init", str(EXAMPLE), now=PRICED).code == 0
    document = board_json(cli, PRICED)
    company = owners(document["company"]["steps"])
    assert company["reg_m_notice"] == "placement_agent"
    assert company["prospectus_filed"] == "company_counsel"
    assert company["escrow_release"] == "escrow_agent"
    assert company["board_resolutions"] == "company"
    first = document["purchasers"][0]
    assert owners(first["steps"])["dwac_credited"] == "transfer_agent"
    assert owners(first["steps"])["wired"] == "purchaser"
    agent = board_json(cli, PRICED, "--owner", "placement_agent")
    assert sorted(agent["company"]["steps"]) == [
        "finra_filing",
        "finra_no_objection",
        "placement_agreement",
        "reg_m_notice",
    ]
    assert all(row["steps"] == {} for row in agent["purchasers"])
    board = cli("status", "--owner", "transfer_agent", now=PRICED)
    assert board.code == 0, board.err
    assert "DWAC" in board.out and "Wired" not in board.out


def test_mine_is_the_operators_party(cli: Cli, seed_path: Path) -> None:
    """alice is a member of the company: `--mine` shows the company's steps only; bob is a
    member of none and is told how to become one. Who "mine" is is the authenticated operator,
    never CLOSING_OPERATOR (which says for whom one acts)."""
    assert cli("init", str(with_parties(seed_path)), now=FRI.format("07:00")).code == 0
    mine = board_json(cli, FRI.format("09:00"), "--mine")
    assert sorted(mine["company"]["steps"]) == ["prospectus_delivered", "prospectus_filed"]
    assert all(row["steps"] == {} for row in mine["purchasers"])
    cli.monkeypatch.setenv("CLOSING_OPERATOR", "bob")
    assert board_json(cli, FRI.format("09:00"), "--mine") == mine  # still alice's
    refused = cli("@bob", "status", "--mine", now=FRI.format("09:00"))
    assert refused.code == ExitCode.NOT_FOUND
    assert "bob is a member of no party" in refused.err
    own = board_json(cli, FRI.format("09:00"), "--owner", "stonestreet")
    assert [row["slug"] for row in own["purchasers"]] == ["stonestreet"]
    assert (own["totals"]["purchasers"], own["totals"]["purchase_price"]) == (1, "450000.00")
    assert sorted(own["purchasers"][0]["steps"]) == [
        "signed",
        "warrant_delivered",
        "warrant_faxed",
        "wired",
    ]
    unknown = cli("status", "--owner", "nobody", now=FRI.format("09:00"))
    assert unknown.code == ExitCode.NOT_FOUND
    assert "has no party 'nobody'" in unknown.err


def test_an_owner_that_is_no_party_is_a_deal_file_problem(cli: Cli, seed_path: Path) -> None:
    text = seed_path.read_text().replace(
        "    remedy: DWAC withdrawal\n", "    remedy: DWAC withdrawal\n    owner: registrar\n"
    )
    seed_path.write_text(text)
    result = cli("init", str(seed_path), now=FRI.format("07:00"))
    assert result.code == ExitCode.DEAL_FILE
    assert "step 'dwac_credited' is owned by 'registrar', not a party of the deal" in result.err


def alerts_at_1645(cli: Cli, path: Path, bnc_wired: bool) -> None:
    """The deal in `path` loaded at 07:00, the prospectus delivered, both purchasers signed and
    Stonestreet (and with `bnc_wired`, BNC) wired at 08:00; the alerts due at 16:45 sent."""
    assert cli("init", str(path), now=FRI.format("07:00")).code == 0
    marks = [
        ("mark", "company", "prospectus_delivered"),
        ("mark-signed", "stonestreet"),
        ("mark-wired", "stonestreet"),
        ("mark-signed", "bnc"),
        *([("mark-wired", "bnc")] if bnc_wired else []),
    ]
    for args in marks:
        assert cli(*args, now=FRI.format("08:00")).code == 0
    checked = cli("alerts", "check", now=FRI.format("16:45"))
    assert checked.code == 0, checked.err


def test_alerts_also_go_to_the_owners_channels(cli: Cli, seed_path: Path) -> None:
    """The transfer agent's own webhook gets the alerts of the DWAC credits it owns, and not the
    purchasers' wires."""
    with http_receiver() as receiver:
        alerts_at_1645(cli, with_parties(seed_path, receiver.url()), bnc_wired=False)
        titles = sorted(hook.payload["title"] for hook in receiver.received())
    assert titles == [
        "Stonestreet Limited Partnership: Shares credited through DWAC not done, cutoff in 15m"
    ]


def test_an_owners_alerts_reach_it_when_the_deals_channels_get_a_digest(
    cli: Cli, seed_path: Path
) -> None:
    """Both faxes and both DWAC credits fall due at one moment: the deal's webhook gets one digest
    of the four, and the transfer agent, which owns the DWAC credits, still gets each of those on
    its own channel (not the digest, which would show it the company's faxes too)."""
    with http_receiver() as agent, http_receiver() as team:
        path = with_parties(seed_path, agent.url())
        text = path.read_text().replace(
            "  notify: []\n", f'  notify: ["{team.url()}"]\n  digest_over: 1\n', 1
        )
        path.write_text(text)
        alerts_at_1645(cli, path, bnc_wired=True)
        to_agent = sorted(hook.payload["title"] for hook in agent.received())
        to_team = [hook.payload["title"] for hook in team.received()]
    assert to_agent == [
        "BNC Bach International, Ltd.: Shares credited through DWAC not done, cutoff in 15m",
        "Stonestreet Limited Partnership: Shares credited through DWAC not done, cutoff in 15m",
    ]
    assert to_team == ["neotherapeutics-2002-06-07: 4 steps not done, cutoff in 15m"]


def test_the_memo_lists_open_items_with_their_owners(cli: Cli, seed_path: Path) -> None:
    """What is left after the closing says whose it is."""
    assert cli("init", str(with_parties(seed_path)), now=FRI.format("07:00")).code == 0
    memo = cli("report", "--format", "md", now=FRI.format("09:00")).out
    assert "Prospectus supplement filed with the SEC under Rule 424(b)(5): due" in memo
    assert "; owner company" in memo
    assert "Shares credited through DWAC: held until Purchase price wired is in" in memo
    assert "; owner transfer\\_agent" in memo


def test_loading_a_deal_says_which_environment_variables_its_notify_urls_read(
    cli: Cli, seed_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deal file's notify URL may read ${VAR} from the alert sender's environment: loading it
    names the address (masked) and each variable it reads, never the value, so that whoever
    loads a deal file from elsewhere sees it before any alert goes out."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leaked-value-7781")
    url = "json://hooks.example.com/closing?key=${AWS_SECRET_ACCESS_KEY}"
    seed_path.write_text(seed_path.read_text().replace("  notify: []", f'  notify: ["{url}"]', 1))
    loaded = cli("init", str(seed_path), now=FRI.format("07:00"))
    assert loaded.code == 0, loaded.err
    assert (
        "Note: alerts to json://hooks.example.com/… read ${AWS_SECRET_ACCESS_KEY} from the alert "
        "sender's environment; check that each is a secret meant for that address."
    ) in loaded.out
    assert "leaked-value-7781" not in loaded.out + loaded.err
