"""`closing share`: links with random tokens, kept only as hashes, listed masked, revocable."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from closing.domain.errors import ExitCode
from closing.domain.share_link import ShareRecord, match, new_token, token_digest
from tests.helpers import Cli

NOW = "2002-06-07T15:30:00-07:00"
LINK = re.compile(r"^http://127\.0\.0\.1:8080/b/([A-Za-z0-9_-]{43})$")


def test_share_prints_a_link_once_and_keeps_only_its_hash(seeded: Cli) -> None:
    """`closing share team` and `closing share PURCHASER` print a link with a fresh 256-bit
    token; the database holds its SHA-256 and first four characters, never the token."""
    team = seeded("share", "team", now=NOW)
    bnc = seeded("share", "bnc", now=NOW)
    assert (team.code, bnc.code) == (0, 0)
    team_lines, bnc_lines = team.out.splitlines(), bnc.out.splitlines()
    assert team_lines[0] == (
        "Link #1: the whole deal neotherapeutics-2002-06-07, for the deal team (read-only):"
    )
    assert bnc_lines[0] == (
        "Link #2: BNC Bach International, Ltd.'s own row only, no other purchaser "
        "(may send its details, signature page and wire report):"
    )
    assert team_lines[2] == (
        "Shown once; only its hash is kept. Open it while closing serve runs; revoke: "
        "closing share --revoke 1"
    )
    tokens = []
    for lines in (team_lines, bnc_lines):
        found = LINK.match(lines[1])
        assert found is not None
        tokens.append(found.group(1))
    assert len(base64.urlsafe_b64decode(tokens[0] + "=")) * 8 == 256
    assert tokens[0] != tokens[1]
    engine = create_engine(seeded.database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM share ORDER BY id")).mappings().all()
    engine.dispose()
    stored = " ".join(str(value) for row in rows for value in row.values())
    for token in tokens:
        assert token not in stored
    assert [row["token_sha256"] for row in rows] == [
        hashlib.sha256(token.encode()).hexdigest() for token in tokens
    ]
    assert [row["token_start"] for row in rows] == [token[:4] for token in tokens]


def test_share_takes_the_address_people_open(seeded: Cli) -> None:
    """--host/--port build the link like `closing serve`'s; --url (or CLOSING_WEB_URL) gives the
    address of a proxy in front of it."""
    port = seeded("share", "team", "--host", "::1", "--port", "9000", now=NOW)
    assert port.out.splitlines()[1].startswith("http://[::1]:9000/b/")
    proxied = seeded("share", "stone", "--url", "https://closing.example.com/", now=NOW)
    assert proxied.out.splitlines()[1].startswith("https://closing.example.com/b/")
    seeded.monkeypatch.setenv("CLOSING_WEB_URL", "https://board.example.com")
    assert (
        seeded("share", "team", now=NOW)
        .out.splitlines()[1]
        .startswith("https://board.example.com/b/")
    )
    bad = seeded("share", "team", "--url", "board.example.com", now=NOW)
    assert (bad.code, bad.err) == (
        ExitCode.USAGE,
        "Error: --url 'board.example.com' must start with http:// or https://\n",
    )


def test_links_are_listed_masked_and_revoked(seeded: Cli) -> None:
    """`--list` shows each link's id, first four characters, whom it shows, who made it and
    whether it is revoked; `--revoke ID` revokes it once."""
    assert seeded("share", "--list", now=NOW).out == (
        "No links to neotherapeutics-2002-06-07 yet; make one with: closing share team\n"
    )
    team = LINK.match(seeded("share", "team", now=NOW).out.splitlines()[1])
    stone = LINK.match(seeded("share", "stonestreet", now=NOW).out.splitlines()[1])
    assert team is not None and stone is not None
    revoked = seeded("share", "--revoke", "2", "--by", "bob", now="2002-06-07T16:00:00-07:00")
    assert (revoked.code, revoked.out) == (
        0,
        "Revoked link #2 (Stonestreet Limited Partnership only); it now answers 404.\n",
    )
    listed = seeded("share", "--list", now=NOW)
    assert listed.out == (
        f"#1  {team.group(1)[:4]}…  the team (whole deal)  made 2002-06-07 15:30 PDT by alice  "
        "active\n"
        f"#2  {stone.group(1)[:4]}…  Stonestreet Limited Partnership only  made 2002-06-07 "
        "15:30 PDT by alice  revoked 2002-06-07 16:00 PDT by alice for bob\n"
        "1 active link to neotherapeutics-2002-06-07.\n"
    )
    assert team.group(1) not in listed.out
    again = seeded("share", "--revoke", "2", now=NOW)
    assert (again.code, again.err) == (
        ExitCode.REFUSED,
        "Error: share link #2 was already revoked\n",
    )
    unknown = seeded("share", "--revoke", "99", now=NOW)
    assert (unknown.code, unknown.err) == (
        ExitCode.NOT_FOUND,
        "Error: no share link #99; see closing share --list\n",
    )


def test_share_refuses_what_it_cannot_do(seeded: Cli) -> None:
    """Nothing to share, two things at once, an unknown purchaser or the company: one line,
    nothing made."""
    usage = (
        "Error: say what to share: closing share team, closing share PURCHASER, closing share "
        "--list or closing share --revoke ID\n"
    )
    for args in [(), ("team", "--list"), ("--list", "--revoke", "1")]:
        result = seeded("share", *args, now=NOW)
        assert (result.code, result.err) == (ExitCode.USAGE, usage)
    unknown = seeded("share", "nobody", now=NOW)
    assert unknown.code == ExitCode.NOT_FOUND
    assert unknown.err.startswith("Error: no purchaser 'nobody' in neotherapeutics-2002-06-07")
    company = seeded("share", "company", now=NOW)
    assert (company.code, company.err) == (
        ExitCode.NOT_FOUND,
        "Error: the company's steps are on every link; share the board with: closing share team, "
        "or closing share PURCHASER\n",
    )
    assert seeded("share", "--list", now=NOW).out.startswith("No links")


def record(token: str, share_id: int = 1, revoked: bool = False) -> ShareRecord:
    moment = datetime(2002, 6, 7, tzinfo=UTC)
    return ShareRecord(
        share_id,
        1,
        None,
        None,
        None,
        token_digest(token),
        token[:4],
        moment,
        "alice",
        moment if revoked else None,
        "bob" if revoked else None,
    )


def test_a_token_matches_only_its_own_active_share() -> None:
    """The presented token is hashed and compared with every active share; a near miss, a
    malformed token or a revoked share matches nothing."""
    first, second = new_token(), new_token()
    shares = [record(first, 1), record(second, 2)]
    assert match(first, shares) == shares[0]
    assert match(second, shares) == shares[1]
    assert match(first[:-1] + ("A" if first[-1] != "A" else "B"), shares) is None
    assert match(first + "x", shares) is None
    assert match("", shares) is None
    assert match("../" + first, shares) is None
    assert match(first, [record(first, 1, revoked=True)]) is None


def test_help_imports_neither_the_database_nor_the_web_server() -> None:
    """`closing --help` stays fast: no SQLAlchemy, Starlette, uvicorn or Jinja2 is imported."""
    probe = (
        "import sys\n"
        "from closing.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'starlette', 'uvicorn', 'jinja2', 'sse_starlette')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
    assert "share" in done.stdout and "serve" in done.stdout
