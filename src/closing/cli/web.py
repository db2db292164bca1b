"""`closing share` (links to the board in a browser) and `closing serve` (the web server).

Neither imports the database or the web server until it runs, so `closing --help` stays fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from closing.cli.app import (
    ROW_ID,
    App,
    deal_option,
    for_whom,
    long_running,
    pass_app,
    web_url_option,
)
from closing.domain.errors import DatabaseError, UsageError
from closing.domain.text import neutral, plural, shortened

if TYPE_CHECKING:
    from closing.domain.share_link import ShareRecord

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def base_url(url: str | None, host: str, port: int) -> str:
    """The board's address: `--url` (CLOSING_WEB_URL) as given, an http(s) address of a host and
    perhaps a path (nothing a link printed from it could be read otherwise), else HOST:PORT."""
    if url:
        from urllib.parse import urlsplit

        shown = neutral(shortened(url, 80))
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--url {shown!r} must start with http:// or https://")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (a port that is not a number raises)
        except ValueError:
            parts = None
        plain = all(c.isascii() and c.isprintable() and c not in " \"'<>`{}|\\^" for c in url)
        if parts is None or not parts.hostname or parts.query or parts.fragment or not plain:
            raise UsageError(
                f"--url {shown!r} is not a plain web address (like https://closing.example.com "
                "or https://example.com/closing): a host, perhaps a path, no query, no quotes or "
                "spaces"
            )
        return url.rstrip("/")
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def audience(record: ShareRecord) -> str:
    return "the team (whole deal)" if record.team else f"{record.purchaser_name} only"


@click.command()
@click.argument("who", required=False, metavar="team|PURCHASER")
@deal_option
@click.option("--list", "show_list", is_flag=True, help="List the deal's links (tokens masked).")
@click.option("--revoke", type=ROW_ID, metavar="ID", help="Revoke link ID; it answers 404 at once.")
@web_url_option("The address people open (e.g. https://closing.example.com behind a TLS proxy).")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="closing serve's --host.")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="closing serve's --port.",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="A purchaser's link that only shows (by default it may send details, a signature page "
    "and a wire report; the team's link is always read-only).",
)
@click.option("--by", metavar="NAME", help="Who makes the link (default CLOSING_OPERATOR).")
@pass_app
def share(
    app: App,
    who: str | None,
    deal_name: str | None,
    show_list: bool,
    revoke: int | None,
    url: str | None,
    host: str,
    port: int,
    read_only: bool,
    by: str | None,
) -> None:
    """A link to the live board: for the team (read-only), or one purchaser's row only (which
    may send its details, signature page and wire report, unless --read-only)."""
    from closing.domain import share_link
    from closing.domain.timefmt import local
    from closing.services import shares

    chosen = sum([bool(who), show_list, revoke is not None])
    if chosen != 1:
        raise UsageError(
            "say what to share: closing share team, closing share PURCHASER, "
            "closing share --list or closing share --revoke ID"
        )
    if revoke is not None:
        record = shares.revoke(app.existing_database, revoke, for_whom(by), app.now())
        click.echo(neutral(f"Revoked link #{record.id} ({audience(record)}); it now answers 404."))
        return
    if show_list:
        deal, records = shares.list_shares(app.existing_database, deal_name)
        if not records:
            click.echo(neutral(f"No links to {deal.slug} yet; make one with: closing share team"))
            return
        zone = deal.terms.zone
        for record in records:
            state = (
                ("active, may act" if record.can_act else "active")
                if record.revoked_at is None
                else f"revoked {local(record.revoked_at, zone)} by {record.revoked_by}"
            )
            click.echo(
                neutral(
                    f"#{record.id}  {share_link.masked(record)}  {audience(record)}  made "
                    f"{local(record.created_at, zone)} by {record.created_by}  {state}"
                )
            )
        active = sum(1 for record in records if record.active)
        click.echo(neutral(f"{plural(active, 'active link')} to {deal.slug}."))
        return
    assert who is not None
    link = base_url(url, host, port)
    made = shares.create_share(
        app.existing_database, deal_name, who, for_whom(by), app.now(), read_only
    )
    record = made.record
    whom = (
        f"the whole deal {made.deal.slug}, for the deal team"
        if record.team
        else f"{record.purchaser_name}'s own row only, no other purchaser"
    )
    acts = "may send its details, signature page and wire report" if record.can_act else "read-only"
    click.echo(neutral(f"Link #{record.id}: {whom} ({acts}):"))
    click.echo(share_link.link(link, made.token))
    click.echo(
        "Shown once; only its hash is kept. Open it while closing serve runs; revoke: "
        f"closing share --revoke {record.id}"
    )


@click.command()
@click.argument("deal", required=False)
@deal_option
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    help="Address to listen on; anything but 127.0.0.1 exposes the board beyond this machine.",
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free one, printed).",
)
@click.option(
    "--poll",
    default=0.3,
    show_default=True,
    type=click.FloatRange(0.05, 10),
    metavar="SECONDS",
    help="How often to look for new marks.",
)
@click.option(
    "--proxy-headers",
    is_flag=True,
    help="Behind a reverse proxy on this machine that terminates TLS: trust its "
    "X-Forwarded-Proto/For (session cookies are then Secure).",
)
@web_url_option(
    "The address people open (e.g. https://closing.example.com behind a TLS proxy): the "
    "sign-in links the server mails start with it (default: the address it listens on)."
)
@pass_app
def serve(
    app: App,
    deal: str | None,
    deal_name: str | None,
    host: str,
    port: int,
    poll: float,
    proxy_headers: bool,
    url: str | None,
) -> None:
    """The live board in a browser: for the links of closing share (a purchaser's may send its
    details, signature page and wire report), and for the team signed in (closing team invite)
    their deals, with marks and corrections."""
    import logging

    from closing.services.live_board import BoardFeed
    from closing.services.web_auth import cookie_key, first_deal
    from closing.web.app import listen, serve_board
    from closing.web.auth import SignIn
    from closing.web.collector import without_full_collections
    from closing.web.live import LiveBoard
    from closing.web.team_pages import TeamSite

    database = app.existing_database
    # Every deal is served (the team's pages, each deal's share links); the one named, or the
    # only one, or the first by slug is the board it starts with.
    feed = BoardFeed(database, deal or deal_name or first_deal(database))
    live = LiveBoard(feed, app.clock, poll=poll)
    try:
        key: str | None = cookie_key(database)
    except DatabaseError:  # a member's role on PostgreSQL: it may not keep sessions
        key = None
    base_url(url, host, port)  # a --url that is not http(s) is refused before listening
    try:
        sock = listen(host, port)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise UsageError(
            f"cannot listen on {host}:{port}: {reason}; choose another --port or --host"
        ) from None
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s", level="INFO")
    port = sock.getsockname()[1]  # the port it got (--port 0: the system chose it)
    where = base_url(None, host, port)
    public = base_url(url, host, port)  # never the Host a request names: links are mailed
    sign_in = SignIn(database, app.clock.now, key, public) if key else None
    team = TeamSite(database, app.clock, sign_in, poll) if sign_in else None
    click.echo(f"Serving the board of {live.slug} at {where}/b/<token> (Ctrl-C to stop).")
    click.echo(
        "Links: closing share team, closing share PURCHASER; list them: closing share --list"
    )
    if team is not None:
        click.echo(
            f"The team signs in at {public}/ with a link from: closing team invite LOGIN --print"
        )
    else:
        click.echo(
            "The team's sign-in is off: this database role cannot keep web sessions; run "
            "closing serve as the server's own role (the tables' owner, a member of the team's)."
        )
    if host not in LOOPBACK:
        click.echo(
            f"Warning: listening on {host}, beyond this machine, over plain HTTP: anyone on the "
            "way can read the links; put it behind a TLS proxy and give closing share --url."
        )
    long_running()
    without_full_collections()  # made at quiet moments instead (`closing.web.collector`)
    serve_board(live, sock, team, proxy_headers)
    click.echo("Stopped.")


COMMANDS = [share, serve]
