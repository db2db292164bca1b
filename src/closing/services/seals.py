"""`closing seal` and `closing verify --seal`: the record's heads signed with the operator's SSH
key into a file kept outside the database, a `seal` event on the deal's chain, and the check that
the database still extends a seal's heads and that an allowed signer signed it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from closing.domain.errors import NotFoundError, RecordBrokenError, UsageError
from closing.domain.events import SEAL, deal_event, on_behalf
from closing.domain.seal import Seal, SignerKey, make_seal, read_seal, signer_key
from closing.domain.text import plural
from closing.services import ssh_signatures
from closing.services.deals import open_deal
from closing.services.verify import LogCheck, verify_log
from closing.store import deals as deal_store
from closing.store import events as log
from closing.store import identity
from closing.store.connection import Database


@dataclass(frozen=True)
class Sealed:
    """What `closing seal` wrote and recorded."""

    seal: Seal
    path: Path
    signature: Path
    key: SignerKey


def seal_record(
    database: Database,
    deal_name: str | None,
    key: Path,
    output: Path | None,
    now: datetime,
    on_behalf_of: str | None,
    host: str,
) -> Sealed:
    """Verify the record, write its heads to `output` (default `DEAL-YYYYMMDD-HHMM` here), sign
    it to `output.sig`, and record a `seal` event. The database is not held while ssh-keygen
    signs (it may ask for a passphrase); nothing is written when the record does not hold, a
    file is already there, or the key cannot sign."""
    check = verify_log(database, deal_name, now)
    if check.broken is not None:
        raise RecordBrokenError(
            f"the event log of {check.deal.slug} does not hold (closing verify says where); "
            "nothing sealed"
        )
    deal = check.deal
    at = now.astimezone(deal.terms.zone)
    path = output or Path(f"{deal.slug}-{at:%Y%m%d-%H%M}")
    signature = path.with_name(path.name + ".sig")
    for file in (path, signature):
        if file.exists():
            raise _taken(file)
    heads = {party: (check.lengths[party], head) for party, head in check.heads.items()}
    seal = make_seal(deal.slug, at, check.events, heads)
    try:
        with path.open("x", encoding="ascii") as out:  # never another's file, even now
            out.write(seal.text())
    except FileExistsError:
        raise _taken(path) from None
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None
    try:
        signer = signer_key(ssh_signatures.sign_file(path, key).read_text(encoding="ascii"))
        _record_seal(database, deal.slug, seal, signer, now, on_behalf_of, host)
    except BaseException:
        for file in (path, signature):
            with contextlib.suppress(OSError):
                file.unlink()
        raise
    return Sealed(seal, path, signature, signer)


def _taken(file: Path) -> UsageError:
    return UsageError(f"{file} already exists; a seal is never overwritten (choose -o)")


def _record_seal(
    database: Database,
    deal_name: str,
    seal: Seal,
    signer: SignerKey,
    now: datetime,
    on_behalf_of: str | None,
    host: str,
) -> None:
    with database.transaction() as connection:
        deal = open_deal(connection, deal_name)
        company = deal_store.party_where(connection, deal.id)
        if company is None:
            raise NotFoundError(f"deal {deal.slug} has no company row; reload its deal file")
        seq, head = log.lock_chain_head(connection, company.id)
        note = (
            f"signed with {signer}; {plural(len(seal.heads), 'head')}, "
            f"{plural(seal.events, 'event')}"
        )
        who = identity.actor(connection)
        event = deal_event(
            company,
            seq + 1,
            SEAL,
            now,
            who,
            host,
            note,
            "digest",
            seal.digest,
            on_behalf(who, on_behalf_of),
        )
        log.append_event(connection, deal.id, deal.slug, company, event, head)


@dataclass(frozen=True)
class SealCheck:
    """What `closing verify --seal` found: the seal, who signed it, and the log against it."""

    seal: Seal
    principal: str
    key: SignerKey
    log: LogCheck


def check_seal(
    database: Database,
    deal_name: str | None,
    seal_path: Path,
    allowed_signers: Path,
    now: datetime,
) -> SealCheck:
    """The seal's signature is by an allowed signer, and the log holds every head it pinned
    (`SealCheck.log.broken` / `.gone` say otherwise)."""
    signature = seal_path.with_name(seal_path.name + ".sig")
    try:
        # Bytes as they are (no newline translation): what ssh-keygen reads from the file.
        text = seal_path.read_bytes().decode("ascii")
        armored = signature.read_bytes().decode("ascii")
    except FileNotFoundError as error:
        raise UsageError(f"no file at {error.filename}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RecordBrokenError(f"cannot read the seal {seal_path}: {error}") from None
    seal = read_seal(text, str(seal_path))
    principal = ssh_signatures.allowed_principal(text, signature, allowed_signers)
    result = verify_log(database, deal_name or seal.deal, now, seal)
    return SealCheck(seal, principal, signer_key(armored), result)
