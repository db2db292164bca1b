"""The tables and their column types, declared once with SQLModel: what `closing init` and
`closing db upgrade` build through Alembic (`closing.store.migrate`), and what a test holds the
migrations against on both backends. The statements themselves are SQL on the driver's
connection (`closing.store.connection`); nothing a command runs imports this module.

Money goes in exactly (text on SQLite, NUMERIC on PostgreSQL) and datetimes come out time-zone
aware (UTC).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

from closing.store.values import moment_to_store, money, money_to_store, stored_moment


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal stored exactly: NUMERIC on PostgreSQL, its text on SQLite (whose NUMERIC is a
    float)."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        return money_to_store(value, dialect.name != "postgresql")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return money(value)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored as UTC; naive values are refused.

    PostgreSQL keeps it as `timestamptz`. SQLite has no date type: it is UTC text in the format
    SQLAlchemy's DATETIME uses, read back with `fromisoformat` in one step (a wake-up of the alert
    sender on a large deal reads tens of thousands of them).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        return None if value is None else moment_to_store(value, dialect.name != "postgresql")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else stored_moment(value)


def _money() -> Any:
    return Field(sa_column=Column(ExactDecimal(), nullable=False))


def _moment(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


class DealRow(SQLModel, table=True):
    __tablename__ = "deal"
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    title: str
    terms_json: str = Field(sa_column=Column(Text, nullable=False))
    closures_json: str = Field(sa_column=Column(Text, nullable=False))
    source_path: str
    source_sha256: str
    created_at: datetime = _moment()
    updated_at: datetime = _moment()


class PurchaserRow(SQLModel, table=True):
    __tablename__ = "purchaser"
    __table_args__ = (
        UniqueConstraint("deal_id", "slug"),
        Index("ix_purchaser_deal_position", "deal_id", "position"),  # Schedule 1 order
    )
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    slug: str = Field(sa_column=Column(String(200), nullable=False))
    name: str
    position: int
    shares: int = Field(sa_column=Column(BigInteger, nullable=False))
    purchase_price: Decimal = _money()
    warrant_shares: int = Field(sa_column=Column(BigInteger, nullable=False))
    details_json: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = True
    # "purchaser", or "company" for the one row per deal that holds the deal's own steps
    role: str = Field(sa_column=Column(String(20), nullable=False, server_default="purchaser"))
    # The head of this party's event chain, moved by every append in the same transaction: a
    # deleted last event shows as a chain shorter than its head.
    head_seq: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))
    head_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class EventRow(SQLModel, table=True):
    """One mark or undo. Never updated, never deleted: a correction is a new `undo` event."""

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("purchaser_id", "seq"),
        Index("ix_event_deal_recorded", "deal_id", "recorded_at"),
        Index("ix_event_deal_party_seq", "deal_id", "purchaser_id", "seq"),  # a deal's, in order
        Index("ix_event_deal_id", "deal_id", "id"),  # a deal's newest event: one probe
    )
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    purchaser_id: int = Field(foreign_key="purchaser.id")
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    kind: str  # mark, undo, reverse, waive, receipt, withdraw
    step: str
    occurred_at: datetime = _moment()
    recorded_at: datetime = _moment()
    actor: str
    host: str
    evidence_kind: str | None = None
    evidence: str | None = None
    amount: Decimal | None = Field(default=None, sa_column=Column(ExactDecimal(), nullable=True))
    note: str | None = None
    # The tamper-evident chain (closing.domain.chain): the previous event's hash and this one's.
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Who: `actor` is the authenticated identity (the OS account on SQLite, the database role on
    # PostgreSQL, checked by a trigger), `on_behalf_of` the `--by` text beside it; events
    # recorded before migration 0008 keep their typed actor, `actor_declared`.
    on_behalf_of: str | None = None
    actor_declared: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    # `recorded_at` is the machine's time; in a rehearsal or replay (`CLOSING_NOW`) the
    # rehearsal clock's time is kept here too (migration 0013).
    rehearsal_at: datetime | None = _moment(nullable=True)


class AlertRow(SQLModel, table=True):
    """The alert ledger: one row per occurrence decided, written in the same transaction as the
    decision. The unique key is what makes an alert go out once."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("deal_id", "purchaser_id", "step", "rule", "deadline"),
        Index("ix_alert_deal_id", "deal_id", "id"),  # a deal's newest alert: one probe
    )
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    purchaser_id: int = Field(foreign_key="purchaser.id")
    step: str
    rule: str
    deadline: datetime = _moment()
    due_at: datetime = _moment()
    decided_at: datetime = _moment()
    superseded: bool = False  # collapsed into a later alert of the same step
    key: str = Field(sa_column=Column(Text, nullable=False))
    fields_json: str = Field(sa_column=Column(Text, nullable=False))  # the log line's fields
    title: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))


class DeliveryRow(SQLModel, table=True):
    """One alert to one channel. The channel is kept by a hash and a masked name: no secrets."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel_key"),
        Index("ix_delivery_status", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id")
    channel_key: str
    channel: str
    status: str  # pending, sending, sent, retrying, failed
    attempts: int = 0
    next_attempt_at: datetime = _moment()
    claimed_at: datetime | None = _moment(nullable=True)
    claimed_by: str | None = None  # the sender that claimed it (shared senders, PostgreSQL)
    delivered_at: datetime | None = _moment(nullable=True)
    last_error: str | None = None


class WireInstructionsRow(SQLModel, table=True):
    """One version of the company's wire instructions and callback numbers, as the deal file gave
    them: never the account number, only its masked form and the fingerprint. Written with the
    `instructions` event that records the change; its verification fills the `verified_*`
    columns in the transaction that appends the `instructions_verified` event."""

    __tablename__ = "wire_instructions"
    __table_args__ = (UniqueConstraint("deal_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    version: int = Field(sa_column=Column(Integer, nullable=False))
    event_id: int = Field(foreign_key="event.id")
    fingerprint: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    bank: str | None = None
    aba: str | None = None
    account_masked: str | None = None
    account_name: str | None = None
    swift: str | None = None
    reference: str | None = None
    callback_numbers: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    entered_by: str
    entered_at: datetime = _moment()
    verified_event_id: int | None = Field(default=None, foreign_key="event.id")
    verified_by: str | None = None
    verified_at: datetime | None = _moment(nullable=True)
    callback_number: str | None = None
    spoke_with: str | None = None


class VerificationRow(SQLModel, table=True):
    """Each `closing verify`: when, whether the log held, and the first break if not."""

    __tablename__ = "verification"
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id", index=True)
    verified_at: datetime = _moment()
    ok: bool
    events: int
    detail: str = Field(sa_column=Column(Text, nullable=False))


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


PURCHASERS = _table("purchaser")
EVENTS = _table("event")
WIRE_INSTRUCTIONS = _table("wire_instructions")
VERIFICATIONS = _table("verification")


class DealRevisionRow(SQLModel, table=True):
    """Each load of a deal file that changed something, with what it changed (append-only)."""

    __tablename__ = "deal_revision"
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id", index=True)
    loaded_at: datetime = _moment()
    source_sha256: str
    changes: str = Field(sa_column=Column(Text, nullable=False))


class SenderLockRow(SQLModel, table=True):
    """Who sends alerts for this database (the lease on SQLite; a record next to the advisory
    lock on PostgreSQL)."""

    __tablename__ = "alert_sender"
    name: str = Field(primary_key=True)
    holder: str
    host: str
    pid: int
    started_at: datetime = _moment()
    heartbeat_at: datetime = _moment()


class DealLeaseRow(SQLModel, table=True):
    """Which of the senders sharing the deals sends one deal's alerts (PostgreSQL), renewed by
    its heartbeat; a stale one is taken over."""

    __tablename__ = "alert_deal_lease"
    deal_id: int = Field(foreign_key="deal.id", primary_key=True)
    holder: str
    heartbeat_at: datetime = _moment()


class BankCreditRow(SQLModel, table=True):
    """A credit to the company's verified account read from a bank file, and what became of it:
    `recorded` (a wired mark or a partial receipt, `event_id`), or `left` for a person with the
    reason. The bank's reference is the key: the same credit in a second file is not taken
    again."""

    __tablename__ = "bank_credit"
    __table_args__ = (
        UniqueConstraint("deal_id", "bank_reference"),
        Index("ix_bank_credit_deal_imad", "deal_id", "imad"),  # an import looks up every IMAD
    )
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    bank_reference: str = Field(sa_column=Column(String(200), nullable=False))
    file_name: str
    file_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    file_format: str = Field(sa_column=Column(String(20), nullable=False))
    line: int = Field(sa_column=Column(Integer, nullable=False))
    amount: Decimal = _money()
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    value_date: str | None = Field(default=None, sa_column=Column(String(10), nullable=True))
    ordering_customer: str | None = None
    imad: str | None = None
    details: str = Field(sa_column=Column(Text, nullable=False))  # the wire's references
    account_masked: str
    imported_at: datetime = _moment()
    imported_by: str
    status: str = Field(sa_column=Column(String(20), nullable=False))  # recorded, left
    reason: str = Field(sa_column=Column(Text, nullable=False))
    purchaser_id: int | None = Field(default=None, foreign_key="purchaser.id")
    event_id: int | None = Field(default=None, foreign_key="event.id")


class ShareRow(SQLModel, table=True):
    """A link to the live board in a browser: the whole deal (the team's) or one purchaser's
    row. Only the SHA-256 of its token is kept, and its first characters to tell links
    apart."""

    __tablename__ = "share"
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id", index=True)
    purchaser_id: int | None = Field(default=None, foreign_key="purchaser.id")  # None: the team
    token_sha256: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    token_start: str = Field(sa_column=Column(String(8), nullable=False))
    created_at: datetime = _moment()
    created_by: str
    revoked_at: datetime | None = _moment(nullable=True)
    revoked_by: str | None = None
    # May send details, a signature page and a wire report (a purchaser's link, not --read-only)
    can_act: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )


class TeamMemberRow(SQLModel, table=True):
    """A member of a deal's team: a login (the OS account on SQLite, the database role on
    PostgreSQL) and its roles, comma-separated. Each change is also a `team` event on the deal's
    chain, which is what the record keeps."""

    __tablename__ = "team_member"
    __table_args__ = (UniqueConstraint("deal_id", "login"),)
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    login: str = Field(sa_column=Column(String(200), nullable=False))
    roles: str = Field(sa_column=Column(Text, nullable=False))
    name: str | None = None
    email: str | None = None
    changed_at: datetime = _moment()


class StoredFileRow(SQLModel, table=True):
    """A file of the closing set (`closing attach`), kept once by the SHA-256 of its bytes; the
    `attach` event names it by that hash, so `closing verify` can prove the bytes unchanged."""

    __tablename__ = "stored_file"
    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    stored_at: datetime = _moment()


class WebSigninLinkRow(SQLModel, table=True):
    """A one-time sign-in link to the web board (`closing team invite`): its token's SHA-256
    only, for one member of one deal's team, good once and for 15 minutes."""

    __tablename__ = "web_signin_link"
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    login: str = Field(sa_column=Column(String(200), nullable=False))
    token_sha256: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = _moment()
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    expires_at: datetime = _moment()
    used_at: datetime | None = _moment(nullable=True)


class WebSessionRow(SQLModel, table=True):
    """A signed-in member's web session: its token's SHA-256, its CSRF secret, how and when they
    signed in, when it was last used, its absolute end, and when and how it ended."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_login", "login"),)
    id: int | None = Field(default=None, primary_key=True)
    token_sha256: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    login: str = Field(sa_column=Column(String(200), nullable=False))
    how: str = Field(sa_column=Column(String(200), nullable=False))
    csrf: str = Field(sa_column=Column(String(64), nullable=False))
    signed_in_at: datetime = _moment()
    last_seen_at: datetime = _moment()
    expires_at: datetime = _moment()
    ended_at: datetime | None = _moment(nullable=True)
    ended_how: str | None = Field(sa_column=Column(String(200), nullable=True))
    # Opened with a sign-in link: that link's deal (the only one the session works on) and who
    # made the link; None for a passkey's sign-in (migration 0015)
    deal_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    link_by: str | None = Field(sa_column=Column(String(200), nullable=True))


class WebPasskeyRow(SQLModel, table=True):
    """A member's passkey (WebAuthn): its credential id and public key (base64url), and the
    authenticator's signature counter."""

    __tablename__ = "web_passkey"
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(sa_column=Column(String(200), nullable=False))
    credential_id: str = Field(sa_column=Column(String(1400), nullable=False, unique=True))
    public_key: str = Field(sa_column=Column(Text, nullable=False))
    sign_count: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = _moment()
    last_used_at: datetime | None = _moment(nullable=True)


class WebChallengeRow(SQLModel, table=True):
    """A WebAuthn challenge handed to a browser: used once, within minutes."""

    __tablename__ = "web_challenge"
    challenge: str = Field(sa_column=Column(String(100), primary_key=True))
    purpose: str = Field(sa_column=Column(String(20), nullable=False))
    login: str | None = Field(sa_column=Column(String(200), nullable=True))
    expires_at: datetime = _moment()


class WebDealPolicyRow(SQLModel, table=True):
    """Whether a deal's members with the money, verifier or admin role must sign in to the web
    board with a passkey to record anything there (`closing team passkeys required`)."""

    __tablename__ = "web_deal_policy"
    deal_id: int = Field(foreign_key="deal.id", primary_key=True)
    passkeys_required: bool = Field(sa_column=Column(Boolean, nullable=False))
    changed_at: datetime = _moment()
    changed_by: str = Field(sa_column=Column(String(200), nullable=False))


class WebSecretRow(SQLModel, table=True):
    """The web server's own secrets (the cookie-signing key), shared by every `closing serve`
    on the database."""

    __tablename__ = "web_secret"
    name: str = Field(sa_column=Column(String(64), primary_key=True))
    value: str = Field(sa_column=Column(String(200), nullable=False))


class FactRow(SQLModel, table=True):
    """The record of facts (closing.domain.facts): each stored fact row's hash as written, in a
    chain of its own per deal whose head joins the record digest (append-only). `row_hash` is
    null for a row gone; `tbl` `@adopt` (no hashes) marks a deal loaded before facts were kept."""

    __tablename__ = "fact"
    __table_args__ = (
        UniqueConstraint("deal_id", "seq"),
        Index("ix_fact_deal_key", "deal_id", "tbl", "row_key"),  # a fact's entries
    )
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    recorded_at: datetime = _moment()
    tbl: str = Field(sa_column=Column(String(60), nullable=False))
    row_key: str = Field(sa_column=Column(Text, nullable=False))
    row_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class JudgementRow(SQLModel, table=True):
    """A mark judged against a deadline that a reload accepted with --accept-changes moved: the
    deadline it was judged against, which the board keeps for it (a fact of the record)."""

    __tablename__ = "judgement"
    __table_args__ = (UniqueConstraint("deal_id", "event_id"),)
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id")
    event_id: int = Field(foreign_key="event.id")
    deadline: datetime = _moment()
    recorded_at: datetime = _moment()


class MetaRow(SQLModel, table=True):
    __tablename__ = "closing_meta"
    key: str = Field(primary_key=True)
    value: str


SHARES = _table("share")
