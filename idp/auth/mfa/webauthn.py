"""Passkeys and security keys (W3C WebAuthn Level 3, through py_webauthn): the stored credentials,
the registration and authentication ceremonies, and the second factor `FACTOR` (kind "webauthn").

The relying party is the issuer: RP ID = the issuer's host, the only accepted origin = the
issuer's origin. Challenges are 32 random bytes, stored server-side (`webauthn_challenge`), bound
to this browser's session and to the account, used once, valid 5 minutes. Attestation "none" is
accepted: there is no attestation trust store, so the provider does not claim to know which
authenticator model holds a key; it trusts the key because a logged-in person registered it.
The routes live in idp/auth/passkeys.py (passwordless login) and idp/accounts/passkeys.py
(the account page and the registration ceremony).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import session
from flask_babel import gettext as _
from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import ForeignKey
from sqlalchemy import LargeBinary
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from webauthn import generate_authentication_options
from webauthn import generate_registration_options
from webauthn import options_to_json
from webauthn import verify_authentication_response
from webauthn import verify_registration_response
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers import parse_attestation_object
from webauthn.helpers import parse_authenticator_data
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import AttestationConveyancePreference
from webauthn.helpers.structs import AuthenticatorData
from webauthn.helpers.structs import AuthenticatorSelectionCriteria
from webauthn.helpers.structs import AuthenticatorTransport
from webauthn.helpers.structs import CredentialDeviceType
from webauthn.helpers.structs import PublicKeyCredentialDescriptor
from webauthn.helpers.structs import ResidentKeyRequirement
from webauthn.helpers.structs import UserVerificationRequirement

from idp.accounts.models import Account
from idp.audit import record
from idp.auth.mfa import FactorResult
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.errors import VerificationFailed
from idp.extensions import db
from idp.i18n import N_
from idp.masking import mask_identifier
from idp.notify import notify
from idp.settings import current_settings
from idp.verifiers.base import Level

log = logging.getLogger(__name__)
KIND = "webauthn"
REGISTER, MFA, LOGIN = "register", "mfa", "login"  # challenge purposes
CHALLENGE_SECONDS = 300
TIMEOUT_MS = 120_000  # a hint to the browser; the server-side limit is CHALLENGE_SECONDS
MAX_CREDENTIAL_ID = 1023  # WebAuthn L3 §4 "Credential ID": at most 1023 bytes
MAX_NAME = 64
MAX_CLIENT_DATA = 4096
MAX_BLOB = 8192  # attestation object, authenticator data, signature
AMR_HWK, AMR_PIN = "hwk", "pin"  # RFC 8176: proof of possession of a hardware key; user verified
B64URL = re.compile(r"[A-Za-z0-9_-]*")
# Errors from the library and the CBOR/COSE decoders on hostile bytes; they are answered, never a 500.
DECODE_ERRORS = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


class WebAuthnCredential(db.Model):
    """One registered passkey or security key (a public key; nothing secret is stored)."""

    __tablename__ = "webauthn_credential"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(MAX_CREDENTIAL_ID), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))  # COSE_Key (RFC 9052 §7)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)  # 32-bit unsigned at the authenticator
    transports: Mapped[list] = mapped_column(JSON, default=list)
    aaguid: Mapped[str] = mapped_column(String(36))
    backup_eligible: Mapped[bool] = mapped_column(default=False)  # BE: a synced (multi-device) passkey
    backed_up: Mapped[bool] = mapped_column(default=False)  # BS, as last seen
    user_verified: Mapped[bool] = mapped_column(default=False)  # UV at registration
    discoverable: Mapped[bool | None]  # credProps.rk as the browser reported it (None: not said)
    added_acr: Mapped[str] = mapped_column(String(64))  # the session's level when it was added
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<WebAuthnCredential id={self.id} account_id={self.account_id}>"


class WebAuthnUser(db.Model):
    """The opaque WebAuthn user handle of an account (§14.6.1: random, never the personal ID)."""

    __tablename__ = "webauthn_user"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebAuthnChallenge(db.Model):
    """A challenge handed to a browser: used once, for one purpose (and account), until it expires."""

    __tablename__ = "webauthn_challenge"

    challenge: Mapped[str] = mapped_column(String(64), primary_key=True)  # base64url of 32 random bytes
    purpose: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CeremonyError(VerificationFailed):
    """A refused registration or assertion; `account_id` when the credential named an account."""

    def __init__(self, code: str, message: str, account_id: int | None = None) -> None:
        super().__init__(code, message)
        self.account_id = account_id


class MalformedCredential(CeremonyError):
    """The browser's JSON is not a WebAuthn response at all (bad shape, bad base64url, too large)."""


def _malformed(what: str) -> MalformedCredential:
    """`what` names the broken part for the log; the person sees one message."""
    log.info("webauthn: malformed %s", what)
    return MalformedCredential("malformed_credential", N_("The answer of the security key is malformed."))


# --- the relying party ----------------------------------------------------------------------------
def relying_party() -> tuple[str, list[str]]:
    """The RP ID (the issuer's host) and the accepted origins (the issuer's origin, default port omitted)."""
    parts = urlsplit(current_settings().issuer)
    host = (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    return host, [f"{parts.scheme}://{host}{port}"]


# --- challenges -----------------------------------------------------------------------------------
def issue_challenge(purpose: str, account: Account | None) -> bytes:
    """A new random challenge for `purpose`, replacing this browser's earlier one for the same purpose."""
    now = utcnow()
    db.session.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at <= now))
    earlier = session.pop(f"webauthn_{purpose}", None)
    if isinstance(earlier, str):
        db.session.execute(delete(WebAuthnChallenge).where(WebAuthnChallenge.challenge == earlier))
    raw = secrets.token_bytes(32)
    value = bytes_to_base64url(raw)
    db.session.add(WebAuthnChallenge(challenge=value, purpose=purpose, account_id=account.id if account else None,
                                     expires_at=now + timedelta(seconds=CHALLENGE_SECONDS)))
    session[f"webauthn_{purpose}"] = value
    return raw


def consume_challenge(purpose: str, account: Account | None) -> bytes:
    """Take this browser's challenge for `purpose` (WebAuthn §13.4.3: used once); raise if none is valid."""
    value = session.pop(f"webauthn_{purpose}", None)
    if isinstance(value, str):
        owner = (WebAuthnChallenge.account_id == account.id) if account else WebAuthnChallenge.account_id.is_(None)
        result = db.session.execute(delete(WebAuthnChallenge).where(
            WebAuthnChallenge.challenge == value, WebAuthnChallenge.purpose == purpose, owner,
            WebAuthnChallenge.expires_at > utcnow()))
        if result.rowcount == 1:
            return base64url_to_bytes(value)
    raise CeremonyError("challenge_expired", N_("This request has expired or was already used. Please try again."))


# --- the browser's JSON ---------------------------------------------------------------------------
def _b64(value: object, limit: int) -> bytes:
    """Strict base64url (RFC 4648 §5, no padding) of at most `limit` bytes."""
    if (not isinstance(value, str) or len(value) > (limit * 4 + 2) // 3 or len(value) % 4 == 1
            or not B64URL.fullmatch(value)):
        raise _malformed("base64url")
    return base64url_to_bytes(value)


def parse_credential(payload: object, fields: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Check the shape of a PublicKeyCredential in JSON (RegistrationResponseJSON or
    AuthenticationResponseJSON, WebAuthn L3 §5.1); return the cleaned JSON and the decoded bytes."""
    if isinstance(payload, str):
        if len(payload) > 4 * MAX_BLOB:
            raise _malformed("size")
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise _malformed("json") from exc
    if not isinstance(payload, dict) or payload.get("type") != "public-key":
        raise _malformed("shape")
    response = payload.get("response")
    if not isinstance(response, dict) or payload.get("id") != payload.get("rawId"):
        raise _malformed("shape")
    raw = {"rawId": _b64(payload.get("rawId"), MAX_CREDENTIAL_ID),
           "clientDataJSON": _b64(response.get("clientDataJSON"), MAX_CLIENT_DATA)}
    for name in fields:
        raw[name] = _b64(response.get(name), MAX_BLOB)
    if not raw["rawId"]:
        raise _malformed("empty id")
    handle = response.get("userHandle")
    if handle is not None:
        raw["userHandle"] = _b64(handle, 64)
    cleaned = {"id": payload["id"], "rawId": payload["rawId"], "type": "public-key",
               "response": {"clientDataJSON": response["clientDataJSON"], **{n: response[n] for n in fields}}}
    if handle:
        cleaned["response"]["userHandle"] = handle
    transports = response.get("transports")
    valid = {t.value for t in AuthenticatorTransport}
    cleaned["transports"] = [t for t in transports if t in valid][:8] if isinstance(transports, list) else []
    extensions = payload.get("clientExtensionResults")
    props = extensions.get("credProps") if isinstance(extensions, dict) else None
    rk = props.get("rk") if isinstance(props, dict) else None
    cleaned["discoverable"] = rk if isinstance(rk, bool) else None
    return cleaned, raw


def _check_client_data(data: bytes, kind: str, challenge: bytes) -> None:
    """WebAuthn §7.1 steps 7-10 / §7.2 steps 11-14: type, challenge, origin, and not cross-origin."""
    try:
        client = json.loads(data)
    except ValueError as exc:
        raise _malformed("client data") from exc
    if not isinstance(client, dict):
        raise _malformed("client data")
    if client.get("type") != kind:
        raise CeremonyError("wrong_type", N_("The security key answered another kind of request."))
    if client.get("challenge") != bytes_to_base64url(challenge):
        raise CeremonyError("challenge_mismatch", N_("This request has expired or was already used. Please try "
                                                     "again."))
    if client.get("origin") not in relying_party()[1]:
        raise CeremonyError("wrong_origin", N_("The security key was used on another website. Use it only on this "
                                               "page."))
    if client.get("crossOrigin") is True or "topOrigin" in client:
        raise CeremonyError("cross_origin", N_("The security key was used inside another website's frame."))


def _check_authenticator_data(auth: AuthenticatorData, require_uv: bool) -> None:
    """§7.1 steps 13-15 / §7.2 steps 15-17: rpIdHash, user present (UP), user verified (UV) when required."""
    if auth.rp_id_hash != hashlib.sha256(relying_party()[0].encode()).digest():
        raise CeremonyError("wrong_rp_id", N_("The security key answered for another website."))
    if not auth.flags.up:
        raise CeremonyError("user_not_present", N_("Touch your security key when it blinks, then try again."))
    if require_uv and not auth.flags.uv:
        raise CeremonyError("user_verification_required", N_(
            "Logging in with a passkey needs its PIN, fingerprint or face check. Use a key that asks for one."))


# --- registration ---------------------------------------------------------------------------------
def credentials_of(account: Account) -> list[WebAuthnCredential]:
    return list(db.session.execute(select(WebAuthnCredential).where(WebAuthnCredential.account_id == account.id)
                                   .order_by(WebAuthnCredential.created_at, WebAuthnCredential.id)).scalars())


def user_handle(account: Account, create: bool = False) -> bytes | None:
    row = db.session.get(WebAuthnUser, account.id)
    if row is None and create:
        row = WebAuthnUser(account_id=account.id, user_handle=secrets.token_bytes(32))
        db.session.add(row)
    return row.user_handle if row else None


def _descriptors(account: Account) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=c.credential_id,
                                          transports=[AuthenticatorTransport(t) for t in c.transports or []])
            for c in credentials_of(account)]


def registration_options(account: Account) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptionsJSON: a discoverable key preferred, the account's keys excluded."""
    rp_id, _origins = relying_party()
    masked = mask_identifier(account.identifier)
    options = generate_registration_options(
        rp_id=rp_id, rp_name=_("National sign-on"), user_id=user_handle(account, create=True), user_name=masked,
        user_display_name=(account.full_name or masked)[:64], challenge=issue_challenge(REGISTER, account),
        timeout=TIMEOUT_MS, attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=_descriptors(account))
    result = json.loads(options_to_json(options))
    result["extensions"] = {"credProps": True}  # WebAuthn §10.1.3: learn whether the key is discoverable
    return result


def check_name(name: object) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise CeremonyError("name_invalid", N_("Give the key a name of 1 to 64 characters."))
    return text


def register_credential(account: Account, name: object, payload: object, acr: str) -> WebAuthnCredential:
    """Verify a registration (WebAuthn §7.1) and store the credential; audit and notify.

    Raises CeremonyError (MalformedCredential for a body that is no WebAuthn response)."""
    name = check_name(name)
    cleaned, raw = parse_credential(payload, ("attestationObject",))
    challenge = consume_challenge(REGISTER, account)
    _check_client_data(raw["clientDataJSON"], "webauthn.create", challenge)
    try:
        attestation = parse_attestation_object(raw["attestationObject"])
    except DECODE_ERRORS as exc:
        raise _malformed("attestation") from exc
    _check_authenticator_data(attestation.auth_data, require_uv=False)
    rp_id, origins = relying_party()
    try:
        verified = verify_registration_response(
            credential={k: v for k, v in cleaned.items() if k not in ("transports", "discoverable")},
            expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origins)
    except DECODE_ERRORS as exc:
        raise CeremonyError("registration_invalid", N_("The security key's answer could not be verified.")) from exc
    if not 0 < len(verified.credential_id) <= MAX_CREDENTIAL_ID or verified.credential_id != raw["rawId"]:
        raise _malformed("credential id")
    if db.session.execute(select(WebAuthnCredential.id).where(
            WebAuthnCredential.credential_id == verified.credential_id)).first():
        # §7.1 step 26: a credential id registered anywhere is refused.
        raise CeremonyError("already_registered", N_("This key is already registered."))
    row = WebAuthnCredential(
        account_id=account.id, name=name, credential_id=verified.credential_id,
        public_key=verified.credential_public_key, sign_count=verified.sign_count, transports=cleaned["transports"],
        aaguid=verified.aaguid, backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up, user_verified=verified.user_verified,
        discoverable=cleaned["discoverable"], added_acr=acr, created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    record("mfa.added", account_id=account.id, kind=KIND, credential=row.id)
    notify(account, "mfa.added", kind=KIND)
    return row


# --- authentication -------------------------------------------------------------------------------
def authentication_options(purpose: str, account: Account | None) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptionsJSON: the account's keys for a second factor (UV preferred);
    any discoverable key and UV required for a passwordless login."""
    rp_id, _origins = relying_party()
    options = generate_authentication_options(
        rp_id=rp_id, challenge=issue_challenge(purpose, account), timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(account) if account else [],
        user_verification=UserVerificationRequirement.PREFERRED if account else UserVerificationRequirement.REQUIRED)
    return json.loads(options_to_json(options))


@dataclass(frozen=True, slots=True)
class Assertion:
    credential: WebAuthnCredential
    account: Account
    user_verified: bool


def check_assertion(payload: object, purpose: str, account: Account | None = None) -> Assertion:
    """Verify an assertion (WebAuthn §7.2) for `account` (a second factor) or for whoever's discoverable
    credential it is (passwordless, UV required); update the counter. Raises CeremonyError."""
    cleaned, raw = parse_credential(payload, ("authenticatorData", "signature"))
    challenge = consume_challenge(purpose, account)
    _check_client_data(raw["clientDataJSON"], "webauthn.get", challenge)
    credential = db.session.execute(select(WebAuthnCredential).where(
        WebAuthnCredential.credential_id == raw["rawId"])).scalar_one_or_none()
    # §7.2 steps 5-6: the credential must be one of the account's (second factor), or its user handle
    # must name the credential's account (passwordless).
    if credential is None or (account is not None and credential.account_id != account.id):
        raise CeremonyError("unknown_credential", N_("This key is not registered for this account."),
                            account.id if account else None)
    owner = db.session.get(Account, credential.account_id)
    handle = raw.get("userHandle")
    if (account is None and not handle) or (handle and handle != user_handle(owner)):
        raise CeremonyError("unknown_credential", N_("This key is not registered for this account."), owner.id)
    try:
        auth = parse_authenticator_data(raw["authenticatorData"])
    except DECODE_ERRORS as exc:
        raise _malformed("authenticator data") from exc
    try:
        _check_authenticator_data(auth, require_uv=account is None)
    except CeremonyError as exc:
        exc.account_id = owner.id
        raise
    rp_id, origins = relying_party()
    try:
        # The counter is checked below, after the signature: a forged low counter must not raise a
        # clone alarm. With a current count of 0 the library leaves the counter alone.
        verified = verify_authentication_response(
            credential=cleaned, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origins,
            credential_public_key=credential.public_key, credential_current_sign_count=0,
            require_user_verification=account is None)
    except DECODE_ERRORS as exc:
        raise CeremonyError("signature_invalid", N_("The security key's answer could not be verified."),
                            owner.id) from exc
    _check_counter(credential, owner, verified.new_sign_count)
    credential.last_used_at = utcnow()
    credential.backed_up = verified.credential_backed_up
    return Assertion(credential=credential, account=owner, user_verified=verified.user_verified)


def _check_counter(credential: WebAuthnCredential, owner: Account, new_count: int) -> None:
    """§7.2 step 22 (§6.1.1): a counter that is in use must grow; otherwise the key may have been cloned."""
    if new_count == 0 and credential.sign_count == 0:
        return  # an authenticator without a counter (most synced passkeys)
    grown = db.session.execute(update(WebAuthnCredential).where(
        WebAuthnCredential.id == credential.id, WebAuthnCredential.sign_count < new_count,
    ).values(sign_count=new_count).execution_options(synchronize_session=False))
    if grown.rowcount != 1:
        record("mfa.clone_suspected", account_id=owner.id, kind=KIND, credential=credential.id)
        notify(owner, "mfa.clone_suspected", kind=KIND)
        raise CeremonyError("clone_suspected", N_(
            "This key's use counter went backwards: it may have been copied. It was refused; use another key "
            "or method, and remove this key from your account if you did not expect this."), owner.id)
    credential.sign_count = new_count


# --- the account's keys ---------------------------------------------------------------------------
def remove_credential(account: Account, credential_id: int, session_acr: str) -> None:
    """Remove one of the account's keys. The last second factor goes only from a session at least at
    the level that added it (issue 4: removing the last factor needs the level that added it)."""
    from idp.auth.mfa import discard_backups
    from idp.auth.mfa import has_other_factor

    row = db.session.get(WebAuthnCredential, credential_id)
    if row is None or row.account_id != account.id:
        raise CeremonyError("unknown_credential", N_("This key is not registered for this account."))
    last = not has_other_factor(account, KIND) and not [c for c in credentials_of(account) if c.id != row.id]
    needed = Level.from_acr(row.added_acr) or Level.LOW
    if last and (Level.from_acr(session_acr) or Level.LOW) < needed:
        raise CeremonyError("level_too_low", N_(
            "This is your last second factor. Log in again at the level you had when you added it, then remove it."))
    db.session.delete(row)
    record("mfa.removed", account_id=account.id, kind=KIND, credential=row.id, last=last)
    notify(account, "mfa.removed", kind=KIND)
    if last and (discarded := discard_backups(account)):
        record("mfa.removed", account_id=account.id, kind="recovery", count=discarded)


class WebAuthnFactor:
    """A registered key as the second factor after the password: HIGH (origin-bound, resists phishing)."""

    kind = KIND

    def is_enrolled(self, account: Account) -> bool:
        return db.session.execute(select(WebAuthnCredential.id).where(
            WebAuthnCredential.account_id == account.id).limit(1)).first() is not None

    def challenge(self, account: Account) -> Mapping[str, Any]:
        options = json.dumps(authentication_options(MFA, account), separators=(",", ":"))
        # The second-step page is rendered by a GET that commits nothing: the challenge must be stored now.
        db.session.commit()
        return {"options": options}

    def verify(self, account: Account, form: Mapping[str, str]) -> FactorResult:
        used = check_assertion(form.get("credential", ""), MFA, account)
        return FactorResult(amr=(AMR_HWK, AMR_PIN) if used.user_verified else (AMR_HWK,), level=Level.HIGH)


FACTOR = WebAuthnFactor()
