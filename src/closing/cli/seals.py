"""`closing verify`: the record checked, its digest and heads printed (and, with --seal, checked
against a seal); `closing seal`: the record's digest and heads signed with the operator's SSH key
into a file kept outside the database."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from closing.cli.app import App, deal_option, for_whom, pass_app
from closing.domain.errors import RecordBrokenError, UsageError
from closing.domain.text import neutral, plural

if TYPE_CHECKING:
    from closing.domain.chain import Break

# The record of facts' name among the heads (closing.domain.facts.FACTS: not imported at the top,
# so that `closing --help` loads none of the domain's rules).
FACTS = "@facts"

HEADS_SHOWN = 20


@click.command()
@click.argument("deal", required=False)
@deal_option
@click.option("--json", "as_json", is_flag=True, help="The result and every chain's head, as JSON.")
@click.option("--seal", type=click.Path(path_type=Path), help="Check against a closing seal.")
@click.option("--allowed-signers", type=click.Path(path_type=Path), help="Who may seal (OpenSSH).")
@pass_app
def verify(app: App, /, deal: str | None, deal_name: str | None, as_json: bool, **kw: Any) -> None:
    """Check that the event log holds: recompute every event's hash chain.

    Prints the head hashes (keep them: they prove the record later), or names the first event
    that breaks (exit 8). With --seal FILE: the record still extends the sealed heads and an
    allowed signer signed FILE.sig (exit 8 otherwise)."""
    from closing.services.verify import verify_log

    if kw["seal"] is not None or kw["allowed_signers"] is not None:
        return verify_seal(app, deal or deal_name, as_json, kw["seal"], kw["allowed_signers"])

    result = verify_log(app.existing_database, deal or deal_name, app.now())
    broken = result.broken
    if as_json:
        app.print_json(
            {
                "deal": result.deal.slug,
                "ok": result.ok,
                "events": result.events,
                "digest": result.digest,
                "heads": result.heads,
                "broken": None
                if broken is None
                else {
                    "party": broken.party,
                    "seq": broken.seq,
                    "event_id": broken.event_id,
                    "number": result.number,
                    "what": broken.what,
                    "detail": broken.detail,
                },
            }
        )
    elif broken is None:
        chains = len([party for party in result.heads if party != FACTS])
        click.echo(
            f"The event log of {result.deal.slug} holds: {plural(result.events, 'event')} in "
            f"{plural(chains, 'chain')}, and every fact stands as recorded "
            f"({plural(result.lengths.get(FACTS, 0), 'entry', 'entries')}).\n"
            f"Record digest: {result.digest}\nHeads:"
        )
        shown = list(result.heads.items())
        for party, head in shown[:HEADS_SHOWN]:
            click.echo(f"  {party.lstrip('@')}: {head}")
        if len(shown) > HEADS_SHOWN:
            click.echo(f"  ... and {len(shown) - HEADS_SHOWN:,} more (closing verify --json)")
    if broken is not None:
        raise RecordBrokenError(broken_text(result.deal.slug, broken, result.number))


def broken_text(slug: str, broken: Break, number: int | None) -> str:
    """What `verify` says of the first break: an event of a chain (with the number `closing
    history` shows it by, `number`), or a fact."""
    if broken.party == FACTS:
        return f"the record of {slug} does not hold: {broken.what}: {broken.detail}"
    event = f"event #{broken.seq} of {broken.party.lstrip('@')}"
    if number is not None:
        event += f" (history #{number})"
    return f"the event log of {slug} does not hold: {event} is {broken.what}: {broken.detail}"


@click.command()
@click.argument("deal", required=False)
@deal_option
@click.option(
    "--key",
    "key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SSH key to sign with: a private key file, or KEY.pub when ssh-agent holds it.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The seal file (default DEAL-YYYYMMDD-HHMM here); its signature goes to FILE.sig.",
)
@pass_app
def seal(app: App, deal: str | None, deal_name: str | None, key: Path, output: Path | None) -> None:
    """Seal the record: sign its digest and every chain's head with an SSH key.

    Writes FILE (the digest and heads as text) and FILE.sig (SSHSIG, namespace closing-record),
    and records a seal event. Keep both outside the database: `closing verify --seal FILE
    --allowed-signers FILE` (or ssh-keygen -Y verify) proves the record against them later."""
    from closing.services.seals import seal_record

    done = seal_record(
        app.existing_database,
        deal or deal_name,
        key,
        output,
        app.now(),
        for_whom(None),
        socket.gethostname(),
    )
    click.echo(
        f"Sealed {done.seal.deal}: {plural(done.seal.events, 'event')} in "
        f"{plural(len([h for h in done.seal.heads if h.party != FACTS]), 'chain')} and the record "
        f"of facts, signed with {done.key}.\n"
        f"Record digest: {done.seal.digest}\n"
        f"Wrote {neutral(str(done.path))} and {neutral(str(done.signature))}."
    )


def verify_seal(
    app: App,
    deal_name: str | None,
    as_json: bool,
    seal_path: Path | None,
    allowed_signers: Path | None,
) -> None:
    """`closing verify --seal FILE --allowed-signers FILE`: exit 0 when the signature is by an
    allowed signer and the log holds every sealed head; 8 naming the first one gone."""
    from closing.services.seals import check_seal

    if seal_path is None or allowed_signers is None:
        raise UsageError("--seal FILE and --allowed-signers FILE (ssh-keygen's format) go together")
    found = check_seal(app.existing_database, deal_name, seal_path, allowed_signers, app.now())
    broken, gone, seal = found.log.broken, found.log.gone, found.seal
    slug = found.log.deal.slug
    problem = None
    if broken is not None:
        problem = broken_text(slug, broken, found.log.number)
    elif gone is not None:
        head, what = gone
        problem = (
            f"the record of {slug} no longer extends the seal of {seal.sealed_at}: the sealed "
            f"head of {head.party.lstrip('@')} (event #{head.seq}, {head.hash[:12]}…) is gone: "
            f"{what}"
        )
    if as_json:
        app.print_json(
            {
                "deal": slug,
                "ok": problem is None,
                "sealed_at": seal.sealed_at,
                "digest": seal.digest,
                "signer": found.principal,
                "key": str(found.key),
                "heads": {head.party: {"seq": head.seq, "hash": head.hash} for head in seal.heads},
                "gone": None
                if gone is None
                else {"party": gone[0].party, "seq": gone[0].seq, "what": gone[1]},
                "problem": problem,
            }
        )
    elif problem is None:
        count = len(seal.heads)
        click.echo(
            f"The record of {slug} extends the seal of {seal.sealed_at}: "
            f"{plural(count, 'sealed head')} still in "
            f"{'its chain' if count == 1 else 'their chains'}, unchanged.\n"
            f"Signed by {neutral(found.principal)} with {found.key}.\n"
            f"Sealed digest: {seal.digest}"
        )
    if problem is not None:
        raise RecordBrokenError(problem)


COMMANDS = [verify, seal]
