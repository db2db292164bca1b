"""The deal team in the browser (issue 24): sign-in by a one-time link, marks and corrections
through the CLI's services as the signed-in member, the same refusals, CSRF and origin checks,
revoked sessions. Real server on 127.0.0.1 (browsed as localhost), real Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Cli, board_json, purchaser_row
from tests.team_web import TeamServer, serve_team
from tests.test_web_browser import chromium, errors_of, keep

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

ROOT = Path(__file__).resolve().parents[1]
WIRES = ROOT / "tests" / "fixtures" / "neotherapeutics-wires.yaml"
NOW = "2002-06-07T10:00:00-07:00"
MOMENT = datetime.fromisoformat(NOW)
BNC = "BNC Bach International, Ltd."
VERIFY = (
    "wire-instructions",
    "verify",
    "--callback-number",
    "+1 949 788 6700",
    "--spoke-with",
    "CFO",
)

pytestmark = pytest.mark.skipif(chromium() is None, reason="no Chromium found")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium())
        yield launched
        launched.close()


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def team(cli: Cli) -> Cli:
    """The deal with wire instructions, loaded by alice (its first admin: she entered them);
    bob a verifier and operator, carol an operator."""
    assert cli("init", str(WIRES), now="2002-06-07T07:00:00-07:00").code == 0
    assert cli("mark", "company", "prospectus_delivered", now="2002-06-07T07:30:00-07:00").code == 0
    for login, roles in (("bob", ("verifier", "operator")), ("carol", ("operator",))):
        args = [a for role in roles for a in ("--role", role)]
        result = cli("team", "add", login, *args, now="2002-06-07T07:40:00-07:00")
        assert result.code == 0, result.err
    return cli


def invite(cli: Cli, served: TeamServer, login: str, now: str = NOW) -> str:
    deal = ("--deal", "neotherapeutics-2002-06-07")
    result = cli("team", "invite", login, "--print", "--url", served.base, *deal, now=now)
    assert result.code == 0, result.err
    lines = result.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{served.base}/signin/")
    return lines[0]


def mailing_deal(cli: Cli, tmp_path: Path, mail_url: str, role: str, email: str) -> None:
    """The deal with its alerts (and sign-in links) mailed through `mail_url`, loaded by alice;
    bob on the team with `role` and the address `email`."""
    deal = tmp_path / "mail.yaml"
    deal.write_text(WIRES.read_text().replace("  notify: []", f'  notify: ["{mail_url}"]', 1))
    assert cli("init", str(deal), now="2002-06-07T07:00:00-07:00").code == 0
    added = cli("team", "add", "bob", "--role", role, "--email", email)
    assert added.code == 0, added.err


def sign_in(browser: Any, cli: Cli, served: TeamServer, login: str) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(invite(cli, served, login))
    page.get_by_role("button", name=f"Sign in as {login}").click()
    page.wait_for_url(f"{served.base}/")
    assert f"Signed in as {login}" in page.inner_text("nav")
    return context, page


def open_party(page: Any, served: TeamServer, party_name: str) -> None:
    page.goto(f"{served.base}/")
    page.get_by_role("link", name="NeoTherapeutics").first.click()
    page.get_by_role("link", name=party_name, exact=True).click()


def test_alice_marks_from_the_browser_and_bob_sees_it_live(
    browser: Any, team: Cli, tmp_path: Path
) -> None:
    """alice signs in by a printed link and marks BNC's fax; `status --json` says alice did;
    bob's open board changes without a reload; no console errors (strict CSP)."""
    verified = team("@bob", *VERIFY, now="2002-06-07T08:00:00-07:00")
    assert verified.code == 0, verified.err
    for command in ("mark-signed", "mark-wired"):
        assert team(command, "bnc", now="2002-06-07T09:00:00-07:00").code == 0
    with serve_team(team.database_url, MOMENT) as served:
        bob_context, bob = sign_in(browser, team, served, "bob")
        bob_errors = errors_of(bob)
        bob.get_by_role("link", name="NeoTherapeutics").first.click()
        bob.wait_for_selector("#live[data-state=live]", timeout=5000)
        bob.evaluate("window.loadedOnce = true")
        faxed = 'tr[data-slug="bnc-bach"] td[data-step="warrant_faxed"]'
        assert bob.get_attribute(faxed, "data-status") != "done"

        alice_context, alice = sign_in(browser, team, served, "alice")
        errors = errors_of(alice)
        open_party(alice, served, BNC)
        alice.get_by_role("button", name=f"Mark Warrant faxed for {BNC}").click()
        alice.get_by_label("Evidence").fill("fax confirmation 0612")
        shot = tmp_path / "mark.png"
        alice.screenshot(path=str(shot), full_page=True)
        keep(shot)
        alice.get_by_role("button", name="Record").click()
        alice.wait_for_url(f"{served.base}/d/*/p/bnc-bach")
        assert "done (by alice)" in alice.inner_text("main")

        row = purchaser_row(board_json(team, NOW), "bnc-bach")
        assert row["steps"]["warrant_faxed"]["status"] == "done"
        assert row["steps"]["warrant_faxed"]["done_by"] == "alice"

        bob.wait_for_selector(f'{faxed}[data-status="done"]', timeout=3000)
        assert bob.evaluate("window.loadedOnce") is True
        shot = tmp_path / "board.png"
        bob.screenshot(path=str(shot), full_page=True)
        keep(shot)
        alice_context.close()
        bob_context.close()
    assert errors == [] and bob_errors == []


def test_the_two_person_rule_and_roles_hold_in_the_browser(browser: Any, team: Cli) -> None:
    """alice entered the wire instructions: her own verification is refused with the two-person
    message; bob verifies them; carol (operator) is refused a payment, naming the role."""
    with serve_team(team.database_url, MOMENT) as served:
        alice_context, alice = sign_in(browser, team, served, "alice")
        open_party(alice, served, "NeoTherapeutics, Inc.")
        alice.get_by_role("button", name="Verify wire instructions").click()
        alice.get_by_label("Callback number").fill("+1 949 788 6700")
        alice.get_by_label("Spoke with").fill("Samuel Gulko, CFO")
        alice.get_by_role("button", name="Record").click()
        alert = alice.get_by_role("alert")
        assert "two-person rule" in alert.inner_text()
        assert "nothing recorded" in alert.inner_text() or "alice" in alert.inner_text()

        bob_context, bob = sign_in(browser, team, served, "bob")
        open_party(bob, served, "NeoTherapeutics, Inc.")
        bob.get_by_role("button", name="Verify wire instructions").click()
        bob.get_by_label("Callback number").fill("+1 949 788 6700")
        bob.get_by_label("Spoke with").fill("Samuel Gulko, CFO")
        bob.get_by_role("button", name="Record").click()
        bob.wait_for_url(f"{served.base}/d/*/p/company")
        shown = board_json(team, NOW)["wire_instructions"]
        assert shown["verified"] and shown["verified_by"] == "bob"

        carol_context, carol = sign_in(browser, team, served, "carol")
        open_party(carol, served, BNC)
        carol.get_by_role("button", name=f"Mark Purchase price wired for {BNC}").click()
        carol.get_by_role("button", name="Record").click()
        refusal = carol.get_by_role("alert").inner_text()
        assert "carol needs the money role" in refusal and "nothing recorded" in refusal
        for context in (alice_context, bob_context, carol_context):
            context.close()
    row = purchaser_row(board_json(team, NOW), "bnc-bach")
    assert row["steps"]["wired"]["status"] != "done"


def test_a_foreign_origin_or_a_missing_token_gets_403_and_writes_nothing(
    browser: Any, team: Cli
) -> None:
    """A page on another origin posting a mark (the browser's own form post) gets 403; so does
    a post with the session's cookie but another Origin, or without the CSRF token."""
    with serve_team(team.database_url, MOMENT) as served:
        context, alice = sign_in(browser, team, served, "alice")
        before = team("history", "bnc", now=NOW).out
        action = f"{served.base}/d/neotherapeutics-2002-06-07/p/bnc-bach/act"
        evil = f"http://127.0.0.1:{served.port}/evil"  # another origin: the IP, not localhost
        form = (
            f'<form method="post" action="{action}"><input name="do" value="mark">'
            '<input name="step" value="signed"><button>Go</button></form>'
        )
        alice.route(evil, lambda route: route.fulfill(body=form, content_type="text/html"))
        alice.goto(evil)
        with alice.expect_response(action) as answer:
            alice.get_by_role("button", name="Go").click()
        assert answer.value.status == 403

        cookies = {c["name"]: c["value"] for c in context.cookies()}
        context.close()
        client = httpx.Client(cookies=cookies)
        page = client.get(
            f"{served.base}/d/neotherapeutics-2002-06-07/p/bnc-bach/act",
            params={"do": "mark", "step": "signed"},
        )
        assert page.status_code == 200
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        fields = {"do": "mark", "step": "signed", "csrf": csrf}
        foreign = client.post(action, data=fields, headers={"origin": "http://evil.example"})
        assert foreign.status_code == 403
        no_token = client.post(
            action, data={**fields, "csrf": "x"}, headers={"origin": served.base}
        )
        assert no_token.status_code == 403
        assert team("history", "bnc", now=NOW).out == before
        good = client.post(action, data=fields, headers={"origin": served.base})
        assert good.status_code == 303  # the same request from its own page is recorded
        assert team("history", "bnc", now=NOW).out != before


def test_used_and_expired_links_get_a_clear_page_and_revoked_sessions_are_refused(
    browser: Any, team: Cli
) -> None:
    with serve_team(team.database_url, MOMENT) as served:
        link = invite(team, served, "bob")
        client = httpx.Client()
        token = link.rsplit("/", 1)[1]
        used = client.post(
            f"{served.base}/signin", data={"token": token}, headers={"origin": served.base}
        )
        assert used.status_code == 303
        cookies = dict(used.cookies)
        assert "HttpOnly" in used.headers["set-cookie"]
        assert "SameSite=strict" in used.headers["set-cookie"] or (
            "samesite=strict" in used.headers["set-cookie"].lower()
        )
        again = client.get(link)
        assert again.status_code == 410 and "has been used or has expired" in again.text
        expired = invite(team, served, "carol", now="2002-06-07T09:44:00-07:00")  # 16 min ago
        page = browser.new_page()
        page.goto(expired)
        assert "has been used or has expired" in page.get_by_role("alert").inner_text()
        page.close()

        home = httpx.get(f"{served.base}/", cookies=cookies)
        assert "Signed in as <strong>bob</strong>" in home.text
        sessions = team("team", "sessions", now=NOW)
        assert "bob  by sign-in link" in sessions.out
        revoked = team("team", "revoke", "bob", "operator", now=NOW)
        assert revoked.code == 0 and "Ended bob's 1 web session" in revoked.out
        after = httpx.get(f"{served.base}/d/neotherapeutics-2002-06-07/", cookies=cookies)
        assert after.status_code == 303 and after.headers["location"] == "/"
        assert "bob" not in team("team", "sessions", now=NOW).out


def test_alice_registers_a_passkey_and_signs_in_with_it(
    browser: Any, team: Cli, tmp_path: Path
) -> None:
    """After a first sign-in by link, alice registers a passkey (Chromium's virtual
    authenticator, CDP WebAuthn.addVirtualAuthenticator), signs out, and signs in with it."""
    with serve_team(team.database_url, MOMENT) as served:
        context, page = sign_in(browser, team, served, "alice")
        errors = errors_of(page)
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                }
            },
        )
        page.get_by_role("button", name="Register a passkey").click()
        page.wait_for_selector("#passkey-status:has-text('Passkey registered')", timeout=5000)
        page.reload()
        assert "You have 1 passkey." in page.inner_text("main")
        shot = tmp_path / "passkey.png"
        page.screenshot(path=str(shot), full_page=True)
        keep(shot)
        page.get_by_role("button", name="Sign out").click()
        assert "You are signed out" in page.inner_text("main")
        page.goto(f"{served.base}/")
        page.get_by_role("button", name="Sign in with a passkey").click()
        page.wait_for_selector("nav:has-text('Signed in as alice')", timeout=5000)
        sessions = team("team", "sessions", now=NOW).out
        assert "alice  by passkey #1" in sessions
        context.close()
    assert errors == []


def test_one_server_serves_every_deal_to_whoever_is_on_its_team(team: Cli, tmp_path: Path) -> None:
    """`/` lists the deals a member is on; another deal's board is not found for them; every
    deal's share links work on the one server."""
    other = tmp_path / "other.yaml"
    other.write_text(
        WIRES.read_text().replace("slug: neotherapeutics-2002-06-07", "slug: aaa-other")
    )
    assert team("init", str(other), now="2002-06-07T07:00:00-07:00").code == 0
    made = team("share", "team", "--deal", "aaa-other", now=NOW)
    assert made.code == 0, made.err
    token = made.out.splitlines()[1].rsplit("/", 1)[1]
    with serve_team(team.database_url, MOMENT) as served:
        assert served.live.slug == "aaa-other"  # the first by slug; every deal is served
        client = httpx.Client()
        for login, expected in (("alice", 2), ("bob", 1)):
            link = invite(team, served, login)
            signed = client.post(
                f"{served.base}/signin",
                data={"token": link.rsplit("/", 1)[1]},
                headers={"origin": served.base},
            )
            cookie = {"cookie": signed.headers["set-cookie"].split(";")[0]}
            home = httpx.get(f"{served.base}/", headers=cookie).text
            assert home.count('href="/d/') == expected
            other_board = httpx.get(f"{served.base}/d/aaa-other/", headers=cookie)
            assert other_board.status_code == (200 if login == "alice" else 404)
        shared = httpx.get(f"{served.base}/b/{token}")
        assert shared.status_code == 200 and "aaa-other" in shared.text


def link_client(served: TeamServer, link: str) -> httpx.Client:
    """An HTTP client signed in with `link`."""
    client = httpx.Client()
    signed = client.post(
        f"{served.base}/signin",
        data={"token": link.rsplit("/", 1)[1]},
        headers={"origin": served.base},
    )
    assert signed.status_code == 303, signed.text[:300]
    return client


def test_a_link_made_before_a_change_of_roles_no_longer_signs_in(team: Cli) -> None:
    """alice prints bob a link, then takes his operator role away: the unused link gets the
    used-or-expired page (410) and no session; a member left with no role gets none either."""
    with serve_team(team.database_url, MOMENT) as served:
        link = invite(team, served, "bob")
        revoked = team("team", "revoke", "bob", "operator", now="2002-06-07T10:01:00-07:00")
        assert revoked.code == 0, revoked.err
        refused = httpx.post(
            f"{served.base}/signin",
            data={"token": link.rsplit("/", 1)[1]},
            headers={"origin": served.base},
        )
        assert refused.status_code == 410 and "set-cookie" not in refused.headers
        fresh = invite(team, served, "bob", now="2002-06-07T10:02:00-07:00")
        assert link_client(served, fresh).get(f"{served.base}/").status_code == 200
        later = invite(team, served, "carol")
        assert (
            team("team", "revoke", "carol", "operator", now="2002-06-07T10:03:00-07:00").code == 0
        )
        gone = httpx.post(
            f"{served.base}/signin",
            data={"token": later.rsplit("/", 1)[1]},
            headers={"origin": served.base},
        )
        assert gone.status_code == 410


def test_only_an_admin_of_every_deal_of_a_member_makes_its_sign_in_link(
    team: Cli, tmp_path: Path
) -> None:
    """A sign-in link opens every deal of its member's: dave, the admin of another deal bob is
    also on, cannot make bob's link (exit 4, nothing made), or he could act on alice's deal as
    bob; alice, an admin of both, can."""
    other = tmp_path / "other.yaml"
    other.write_text(
        WIRES.read_text().replace("slug: neotherapeutics-2002-06-07", "slug: aaa-other")
    )
    assert team("init", str(other), now="2002-06-07T07:00:00-07:00").code == 0
    for login, role in (("dave", "admin"), ("bob", "viewer")):
        added = team("team", "add", login, "--role", role, "--deal", "aaa-other", now=NOW)
        assert added.code == 0, added.err
    with serve_team(team.database_url, MOMENT) as served:
        made = ("team", "invite", "bob", "--print", "--url", served.base, "--deal", "aaa-other")
        refused = team("@dave", *made, now=NOW)
        assert refused.code == 4
        assert refused.err == (
            "Error: cannot invite bob: bob is also on neotherapeutics-2002-06-07, where dave is "
            "not an admin, and a sign-in link opens every deal of bob's; an admin of every one of "
            "them makes it (or the member signs in with a passkey); nothing made\n"
        )
        assert team("@alice", *made, now=NOW).code == 0


def test_an_invitation_is_mailed_through_the_deals_mail_channel(cli: Cli, tmp_path: Path) -> None:
    """Without --print the link goes by e-mail (the deal's mailto:// alert channel) to the
    member's address; its text has the link, which works once."""
    from tests.alert_receivers import smtp_receiver

    with smtp_receiver() as smtp:
        mailing_deal(cli, tmp_path, smtp.url(), "viewer", "bob@firm.example")
        sent = cli("team", "invite", "bob", "--url", "https://closing.example.com", now=NOW)
        assert sent.code == 0, sent.err
        assert (
            sent.out
            == "Sent bob a sign-in link to bob@firm.example (works once, for 15 minutes).\n"
        )
        (mail,) = smtp.received()
        assert mail.rcpt_tos == ("bob@firm.example",)
        assert "https://closing.example.com/signin/" in mail.text
        assert "https://closing.example.com/signin/" not in sent.out + sent.err
        nowhere = cli("team", "invite", "carol", now=NOW)
        assert nowhere.code == 4 and "not on the team" in nowhere.err


def signed_in_client(cli: Cli, served: TeamServer, login: str) -> tuple[httpx.Client, str]:
    """An HTTP client with `login`'s session cookie and this server's Origin, and its CSRF token."""
    link = invite(cli, served, login)
    signed = httpx.post(
        f"{served.base}/signin",
        data={"token": link.rsplit("/", 1)[1]},
        headers={"origin": served.base},
    )
    cookie = signed.headers["set-cookie"].split(";")[0]
    client = httpx.Client(headers={"cookie": cookie, "origin": served.base})
    page = client.get(f"{served.base}/").text
    return client, page.split('name="csrf" value="')[1].split('"')[0]


def test_a_partial_wire_and_a_reversal_from_the_browser(team: Cli) -> None:
    """An amount with Partial records part of the price (the step stays open); Reverse with a
    Reason is recorded as alice; a correction without a reason is the CLI's refusal."""
    assert team("@bob", *VERIFY, now="2002-06-07T08:00:00-07:00").code == 0
    assert team("mark-signed", "bnc", now="2002-06-07T09:00:00-07:00").code == 0
    with serve_team(team.database_url, MOMENT) as served:
        client, csrf = signed_in_client(team, served, "alice")
        action = f"{served.base}/d/neotherapeutics-2002-06-07/p/bnc-bach/act"
        part = {"csrf": csrf, "do": "mark", "step": "wired", "amount": "500,000.00", "partial": "1"}
        assert client.post(action, data=part).status_code == 303
        row = purchaser_row(board_json(team, NOW), "bnc-bach")
        assert row["amount_received"] == "500000.00" and row["steps"]["wired"]["status"] != "done"
        rest = {"csrf": csrf, "do": "mark", "step": "wired", "at": "09:45"}
        assert client.post(action, data=rest).status_code == 303
        no_reason = client.post(action, data={"csrf": csrf, "do": "reverse", "step": "wired"})
        assert no_reason.status_code == 400 and 'role="alert"' in no_reason.text
        reverse = {"csrf": csrf, "do": "reverse", "step": "wired", "reason": "funds recalled"}
        assert client.post(action, data=reverse).status_code == 303
    history = team("history", "bnc", now=NOW).out
    assert "funds recalled" in history and "by alice" in history


def test_my_items_lists_the_open_steps_of_the_members_party(cli: Cli, tmp_path: Path) -> None:
    """alice acts for the company (`parties: company: members: [alice]`): My items lists the
    company's open steps with their Mark buttons; bob, of no party, is told how to become one."""
    deal = tmp_path / "parties.yaml"
    deal.write_text(
        WIRES.read_text().replace(
            "governing_law: California\n",
            "governing_law: California\n\nparties:\n  company:\n    members: [alice]\n",
        )
    )
    assert cli("init", str(deal), now="2002-06-07T07:00:00-07:00").code == 0
    assert cli("team", "add", "bob", "--role", "viewer").code == 0
    with serve_team(cli.database_url, MOMENT) as served:
        mine = f"{served.base}/d/neotherapeutics-2002-06-07/mine"
        alice, _ = signed_in_client(cli, served, "alice")
        page = alice.get(mine).text
        assert "Mark Prospectus supplement delivered for NeoTherapeutics, Inc." in page
        assert "Stonestreet" not in page  # the purchasers' own steps are theirs
        bob, _ = signed_in_client(cli, served, "bob")
        assert "bob is a member of no party" in bob.get(mine).text


def test_a_deal_can_require_passkeys_of_its_money_verifier_and_admin_members(team: Cli) -> None:
    """With `closing team passkeys required`, alice (admin, money, verifier) signed in by a link
    is refused in the browser, naming the rule; carol (operator) records as before; `optional`
    lifts it. Each change is a `team` event."""
    required = team("team", "passkeys", "required", now=NOW)
    assert required.code == 0, required.err
    refused_cli = team("@carol", "team", "passkeys", "optional", now=NOW)
    assert refused_cli.code == 4 and "carol needs the admin role" in refused_cli.err
    with serve_team(team.database_url, MOMENT) as served:
        action = f"{served.base}/d/neotherapeutics-2002-06-07/p/bnc-bach/act"
        alice, csrf = signed_in_client(team, served, "alice")
        fields = {"csrf": csrf, "do": "mark", "step": "signed"}
        refused = alice.post(action, data=fields)
        assert refused.status_code == 403
        assert "the deal requires alice, who has the money, verifier, admin role, to sign in " in (
            refused.text
        )
        carol, carol_csrf = signed_in_client(team, served, "carol")
        marked = carol.post(action, data={**fields, "csrf": carol_csrf})
        assert marked.status_code == 303
        assert team("team", "passkeys", "optional", now=NOW).code == 0
        undone = {"csrf": csrf, "do": "undo", "step": "signed", "reason": "wrong purchaser"}
        assert alice.post(action, data=undone).status_code == 303
    history = team("history", "company", now=NOW).out
    assert "passkeys required in the browser for the money, verifier, admin roles" in history


def test_a_member_asks_for_a_link_by_email_and_the_page_never_tells_who_is_one(
    cli: Cli, tmp_path: Path
) -> None:
    """The sign-in page mails a member a new link (through the deal's mailto:// channel), at
    most one every 5 minutes; an unknown address gets the same page and no mail."""
    from tests.alert_receivers import smtp_receiver

    with smtp_receiver() as smtp:
        mailing_deal(cli, tmp_path, smtp.url(), "viewer", "Bob@Firm.example")
        with serve_team(cli.database_url, MOMENT) as served:
            ask = f"{served.base}/signin/email"
            origin = {"origin": served.base}
            pages = [
                httpx.post(ask, data={"email": address}, headers=origin)
                for address in ("bob@firm.example", "bob@firm.example", "nobody@firm.example")
            ]
            assert {page.status_code for page in pages} == {200}
            assert len({page.text for page in pages}) == 1  # the same page, whoever asked
            assert httpx.post(ask, data={"email": "bob@firm.example"}).status_code == 403
            (mail,) = smtp.received()  # one: the second ask came within 5 minutes
            assert mail.rcpt_tos == ("bob@firm.example",)
            link = mail.text.split(f"{served.base}/signin/")[1].split()[0]
            signed = httpx.post(f"{served.base}/signin", data={"token": link}, headers=origin)
            assert signed.status_code == 303


def test_a_mailed_link_points_at_the_servers_own_address_whatever_host_the_request_names(
    cli: Cli, tmp_path: Path
) -> None:
    """Anyone may ask for bob's link with `Host: evil.example` and the matching Origin (a client
    that is not a browser sets both): the mail bob gets still points at the server's configured
    address, so his click cannot hand his one-time token to evil.example."""
    from tests.alert_receivers import smtp_receiver

    with smtp_receiver() as smtp:
        mailing_deal(cli, tmp_path, smtp.url(), "money", "bob@firm.example")
        with serve_team(cli.database_url, MOMENT) as served:
            evil = {"host": "evil.example", "origin": "http://evil.example"}
            asked = httpx.post(
                f"{served.base}/signin/email", data={"email": "bob@firm.example"}, headers=evil
            )
            assert asked.status_code == 200
            (mail,) = smtp.received()
    assert "evil.example" not in mail.text
    assert f"{served.base}/signin/" in mail.text


def test_a_revoked_members_open_stream_ends_at_the_next_change(team: Cli) -> None:
    """bob's board is open when an admin takes a role away: at the next change his stream ends
    (and the browser's reconnection is refused)."""
    from tests.web_helpers import Stream

    with serve_team(team.database_url, MOMENT) as served:
        bob, _ = signed_in_client(team, served, "bob")
        events = f"{served.base}/d/neotherapeutics-2002-06-07/events"
        with Stream(events, headers={"cookie": bob.headers["cookie"]}) as stream:
            stream.next(timeout=5)
            assert team("team", "revoke", "bob", "operator", now=NOW).code == 0
            assert team("mark-signed", "bnc", now=NOW).code == 0
            assert stream.wait_ended(5)
        assert httpx.get(events, headers={"cookie": bob.headers["cookie"]}).status_code == 404


def test_the_team_pages_show_hostile_stored_data_as_text(team: Cli) -> None:
    """A purchaser's name stored behind closing's back with a bidi override, a C1 control and an
    escape sequence (as an older closing or another writer could have left it) reaches the
    signed-in team's board page and its stream escaped, as the share links' board shows it."""
    from tests.helpers import tampering
    from tests.test_neutral_output import BIDI_AND_SEPARATORS, C1

    with tampering(team.database_url) as connection:
        connection.execute(
            "UPDATE purchaser SET name = ? WHERE slug = 'bnc-bach'",
            ("BNC \u202elatot\u202c \x9b31m \x1b[2J Bach",),
        )
    with serve_team(team.database_url, MOMENT) as served:
        client, _ = signed_in_client(team, served, "alice")
        page = client.get(f"{served.base}/d/neotherapeutics-2002-06-07/")
        assert page.status_code == 200
        assert 'href="/d/neotherapeutics-2002-06-07/p/bnc-bach">BNC' in page.text  # its party link
        with client.stream("GET", f"{served.base}/d/neotherapeutics-2002-06-07/events") as events:
            first = ""
            for line in events.iter_lines():
                first += line + "\n"
                if line.startswith("data:") and "</table>" in line:
                    break
        party = client.get(f"{served.base}/d/neotherapeutics-2002-06-07/p/bnc-bach")
    for html in (page.text, first, party.text):
        assert "latot" in html, html[:2000]
        assert not BIDI_AND_SEPARATORS.search(html) and not C1.search(html) and "\x1b" not in html


def test_a_members_stream_gets_the_changed_row_not_the_whole_board(team: Cli) -> None:
    """The signed-in team's stream starts with the whole board, then a mark anywhere (here the
    CLI) sends only the changed purchaser's row and the parts that changed, as htmx out-of-band
    swaps; the row keeps its buttons' address."""
    from tests.web_helpers import Stream

    with serve_team(team.database_url, MOMENT) as served:
        client, _ = signed_in_client(team, served, "alice")
        cookie = {"cookie": client.headers["cookie"]}
        with Stream(f"{served.base}/d/neotherapeutics-2002-06-07/events", cookie) as stream:
            first = stream.next(5)
            assert first.event == "board" and first.data.count('<tr class="purchaser') == 2
            assert team("mark-signed", "bnc", now=NOW).code == 0
            patch = stream.next(5)
    assert patch.event == "patch", patch
    assert "tr[data-slug='bnc-bach']" in patch.data and 'data-slug="stonestreet"' not in patch.data
    assert "<table" not in patch.data and len(patch.data) < len(first.data) / 2
