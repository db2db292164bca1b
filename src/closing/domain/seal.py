"""A seal: the record's digest and every chain's head, written to a small text file that the
operator signs with an SSH key (SSHSIG, namespace `closing-record`), so that the record is
anchored outside the database.

Pure: the seal file's text and reading it back, the key a signature names (its fingerprint, as
`ssh-keygen -l` prints it), and whether a chain still holds a sealed head. A rewrite of the log
that recomputes every later hash and head passes `closing verify`, but no longer holds the heads a
seal pinned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from closing.domain.alert_plan import AlertText
from closing.domain.chain import record_digest
from closing.domain.errors import RecordBrokenError
from closing.domain.events import SEAL, Event
from closing.domain.terms import StoredTerms
from closing.domain.text import neutral
from closing.domain.timefmt import local

SEAL_STEP = "@seal"  # the step of a seal notice's ledger row: no deal file step can be it
NAMESPACE = "closing-record"  # the SSHSIG namespace: a seal's signature means nothing elsewhere
TITLE = "closing record seal"
_HASH = re.compile(r"[0-9a-f]{64}")
_ARMOR = ("-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----")


@dataclass(frozen=True)
class SealedHead:
    """One chain's head as sealed: its party, its event's number in the chain, its hash."""

    party: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Seal:
    """What a seal file says: the deal, when it was sealed, and every chain's head."""

    deal: str
    sealed_at: str  # ISO 8601 with the deal's offset, as written
    events: int
    heads: tuple[SealedHead, ...]

    @property
    def digest(self) -> str:
        """The record digest `closing verify` prints for these heads."""
        return record_digest({head.party: head.hash for head in self.heads})

    def text(self) -> str:
        """The seal file: the text that is signed (ASCII, one fact a line)."""
        lines = [
            TITLE,
            f"deal: {self.deal}",
            f"sealed at: {self.sealed_at}",
            f"events: {self.events}",
            f"digest: {self.digest}",
            *(f"head: {head.party} {head.seq} {head.hash}" for head in self.heads),
        ]
        return "\n".join(lines) + "\n"


def make_seal(deal: str, at: datetime, events: int, heads: dict[str, tuple[int, str]]) -> Seal:
    """The seal of `heads` (party -> (seq, hash)) as of `at` (zone-aware)."""
    return Seal(
        deal,
        at.isoformat(timespec="seconds"),
        events,
        tuple(SealedHead(party, seq, hash_) for party, (seq, hash_) in heads.items()),
    )


def read_seal(text: str, where: str) -> Seal:
    """A seal file read back; a file that is not one, or whose digest does not match its heads,
    is refused (exit 8: it cannot prove anything)."""

    def bad(why: str) -> RecordBrokenError:
        return RecordBrokenError(f"{where} is not a closing seal: {why}")

    lines = text.splitlines()
    if not lines or lines[0] != TITLE:
        raise bad(f"its first line is not {TITLE!r}")
    fields: dict[str, str] = {}
    heads: list[SealedHead] = []
    for number, line in enumerate(lines[1:], start=2):
        key, sep, value = line.partition(": ")
        if not sep:
            raise bad(f"line {number} is not 'key: value'")
        if key == "head":
            party, seq, hash_ = [*value.split(" "), "", ""][:3]
            if not party or not seq.isdigit() or not _HASH.fullmatch(hash_):
                raise bad(f"line {number} is not 'head: PARTY NUMBER HASH'")
            heads.append(SealedHead(party, int(seq), hash_))
        elif key in ("deal", "sealed at", "events", "digest") and key not in fields:
            fields[key] = value
        else:
            raise bad(f"line {number} has an unknown or repeated key {key!r}")
    missing = [key for key in ("deal", "sealed at", "events", "digest") if key not in fields]
    if missing or not fields["events"].isdigit():
        raise bad(f"it lacks {', '.join(missing) or 'a number of events'}")
    seal = Seal(fields["deal"], fields["sealed at"], int(fields["events"]), tuple(heads))
    if seal.digest != fields["digest"]:
        raise bad("its digest does not match its heads")
    return seal


def first_gone(head: SealedHead, chain: Sequence[tuple[int, str | None]]) -> str | None:
    """None when the chain (each entry's seq and hash as stored, in seq order) still holds the
    sealed head unchanged; else what became of it."""
    if head.seq == 0:
        return None
    if head.seq > len(chain):
        return f"the chain now ends at #{len(chain)}"
    seq, stored = chain[head.seq - 1]
    if seq != head.seq:
        return f"event #{head.seq} is missing"
    if stored != head.hash:
        return f"event #{head.seq} now has hash {(stored or 'none')[:12]}…"
    return None


@dataclass(frozen=True)
class SignerKey:
    """The public key a signature was made with, as `ssh-keygen -l` names it."""

    kind: str  # ED25519, RSA, ECDSA...
    fingerprint: str  # SHA256:base64, unpadded

    def __str__(self) -> str:
        return f"{self.kind} key {self.fingerprint}"


def signer_key(armored: str) -> SignerKey:
    """The key an SSHSIG signature (armored, as `ssh-keygen -Y sign` writes it) carries: the
    envelope is `SSHSIG`, a version, then the public key (OpenSSH's PROTOCOL.sshsig)."""
    body = armored.strip()
    if not (body.startswith(_ARMOR[0]) and body.endswith(_ARMOR[1])):
        raise RecordBrokenError("the signature is not an SSH signature (-----BEGIN SSH SIGNATURE)")
    try:
        blob = base64.b64decode("".join(body[len(_ARMOR[0]) : -len(_ARMOR[1])].split()))
    except binascii.Error as error:
        raise RecordBrokenError(f"the SSH signature is not base64: {error}") from None
    if blob[:6] != b"SSHSIG" or len(blob) < 14:
        raise RecordBrokenError("the SSH signature has no SSHSIG envelope")
    length = int.from_bytes(blob[10:14], "big")
    key = blob[14 : 14 + length]
    kind_length = int.from_bytes(key[:4], "big")
    kind = key[4 : 4 + kind_length].decode("ascii", "replace")
    digest = base64.b64encode(hashlib.sha256(key).digest()).decode().rstrip("=")
    name = kind.removeprefix("ssh-").split("-")[0].upper()
    return SignerKey("ECDSA" if name.startswith("ECDSA") else name, f"SHA256:{digest}")


def seal_notices(
    terms: StoredTerms, events: Sequence[Event], sent: set[str]
) -> list[tuple[str, Event, AlertText]]:
    """A notice of each seal among the company chain's `events` whose ledger rule (`seal-N`,
    N its number in the chain) is not in `sent`, with that rule: the digest people keep in their
    mailboxes, to compare with the seal file's later."""
    found = []
    for event in events:
        rule = f"seal-{event.seq}"
        if event.kind != SEAL or rule in sent:
            continue
        key = f"{terms.slug}/seal/{event.seq}"
        title = f"{neutral(terms.slug)}: record sealed, digest {(event.evidence or '')[:12]}…"
        body = "\n".join(
            [
                f"Deal: {neutral(terms.slug)} ({neutral(terms.title)})",
                f"Sealed: {local(event.logged_at, terms.zone)} by {neutral(event.actor)}",
                f"Record digest: {neutral(event.evidence or '')}",
                f"Seal: {neutral(event.note or '')}",
                "Keep this message: the digest must match the seal file's "
                "(closing verify --seal FILE --allowed-signers FILE checks the record against it)",
                f"Alert: {key}",
            ]
        )
        found.append((rule, event, AlertText(title, body, key)))
    return found
