"""The team's passkeys (WebAuthn, through the `webauthn` package): a signed-in member registers
one, then signs in with it. Each ceremony's challenge is kept in the database (any `closing
serve` on it may get the answer) and used once, within five minutes; the expired ones are
deleted as each new one is made, and at most `MOST_CHALLENGES` are out at once (anyone may ask
for a sign-in's). The relying party is the host the browser opened (its origin checked by
`webauthn` against the server's own)."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_client_data_json
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from closing.domain.errors import RateLimited, RefusedError
from closing.domain.web_session import WebSession
from closing.services.web_auth import open_session
from closing.store import passkeys as store
from closing.store.connection import Connection, Database

CHALLENGE_LIFETIME = timedelta(minutes=5)
REGISTER, SIGN_IN = "register", "signin"
MOST_CHALLENGES = 1000  # unanswered at once (two servers at one instant may each add one more)
REFUSED = "that passkey was not accepted; sign in with a one-time link (closing team invite)"


def _new_challenge(connection: Connection, purpose: str, login: str | None, now: datetime) -> bytes:
    """A challenge kept for `purpose` (and `login`), the expired ones deleted first; refused
    when `MOST_CHALLENGES` are out (the web answers 429), nothing kept."""
    store.forget_expired_challenges(connection, now)
    if store.challenges_out(connection) >= MOST_CHALLENGES:
        raise RateLimited(
            f"{MOST_CHALLENGES:,} passkey sign-ins are under way, the most there may be; try "
            "again in a few minutes, or sign in with a one-time link (closing team invite)"
        )
    challenge = secrets.token_bytes(32)
    expires = now + CHALLENGE_LIFETIME
    store.add_challenge(connection, bytes_to_base64url(challenge), purpose, login, expires)
    return challenge


def registration_options(database: Database, session: WebSession, rp_id: str, now: datetime) -> str:
    """The options (JSON) for the browser's `navigator.credentials.create`."""
    with database.transaction() as connection:
        known = store.credential_ids(connection, session.login)
        challenge = _new_challenge(connection, REGISTER, session.login, now)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name="closing board",
        user_name=session.login,
        user_id=session.login.encode(),
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in known
        ],
    )
    return str(options_to_json(options))


def _challenge_of(credential: dict[str, Any]) -> str:
    try:
        client_data = base64url_to_bytes(credential["response"]["clientDataJSON"])
        return bytes_to_base64url(parse_client_data_json(client_data).challenge)
    except Exception:  # anything a browser (or not one) sent
        raise RefusedError(REFUSED) from None


def register(
    database: Database,
    session: WebSession,
    credential: dict[str, Any],
    rp_id: str,
    origin: str,
    now: datetime,
) -> int:
    """Keep the passkey the browser made for the signed-in member; its id."""
    challenge = _challenge_of(credential)
    with database.transaction() as connection:
        taken = store.take_challenge(connection, challenge, REGISTER, now)
        if taken is None or taken[0] != session.login:
            raise RefusedError("the passkey's challenge has expired; try again")
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=rp_id,
                expected_origin=origin,
            )
        except Exception as error:  # webauthn's own errors: a refusal, in one line
            raise RefusedError(f"the passkey was not registered: {error}") from None
        return store.add_passkey(
            connection,
            session.login,
            bytes_to_base64url(verified.credential_id),
            bytes_to_base64url(verified.credential_public_key),
            verified.sign_count,
            now,
        )


def signin_options(database: Database, rp_id: str, now: datetime) -> str:
    """The options (JSON) for `navigator.credentials.get` (a discoverable passkey: no name
    asked, none revealed)."""
    with database.transaction() as connection:
        challenge = _new_challenge(connection, SIGN_IN, None, now)
    options = generate_authentication_options(
        rp_id=rp_id, challenge=challenge, user_verification=UserVerificationRequirement.PREFERRED
    )
    return str(options_to_json(options))


def sign_in_with_passkey(
    database: Database, credential: dict[str, Any], rp_id: str, origin: str, now: datetime
) -> tuple[str, WebSession]:
    """A new session for the passkey's member (its counter moved on)."""
    challenge = _challenge_of(credential)
    credential_id = credential.get("rawId") or credential.get("id")
    if not isinstance(credential_id, str):
        raise RefusedError(REFUSED)
    with database.transaction() as connection:
        if store.take_challenge(connection, challenge, SIGN_IN, now) is None:
            raise RefusedError("the sign-in's challenge has expired; try again")
        found = store.passkey(connection, credential_id)
        if found is None:
            raise RefusedError(REFUSED)
        passkey_id, login, public_key, count = found
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=base64url_to_bytes(public_key),
                credential_current_sign_count=count,
            )
        except Exception:
            raise RefusedError(REFUSED) from None
        store.used_passkey(connection, passkey_id, verified.new_sign_count, now)
        return open_session(connection, login, f"passkey #{passkey_id}", now)


def parse_credential(body: bytes) -> dict[str, Any]:
    """The credential a browser posted (JSON), or a refusal."""
    try:
        found = json.loads(body)
    except ValueError:
        raise RefusedError(REFUSED) from None
    if not isinstance(found, dict):
        raise RefusedError(REFUSED)
    return found


def passkey_count(database: Database, login: str) -> int:
    """How many passkeys `login` has registered."""
    with database.transaction(write=False) as connection:
        return len(store.credential_ids(connection, login))
