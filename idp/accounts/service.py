"""Account services: create accounts, find them, check passwords with brute-force lockout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime

from sqlalchemy import select

from idp.accounts.admin_units import check_address_units
from idp.accounts.lockout import count_failure
from idp.accounts.lockout import is_locked
from idp.accounts.models import SELF_ASSERTED
from idp.accounts.models import Account
from idp.accounts.models import AccountKind
from idp.accounts.models import AccountStatus
from idp.accounts.models import AttributeVerification
from idp.accounts.models import BusinessRepresentative
from idp.audit import record
from idp.dbtypes import utcnow
from idp.errors import IdpError
from idp.extensions import db
from idp.i18n import N_
from idp.identifiers import InvalidIdentifier
from idp.identifiers import check_personal_id
from idp.identifiers import check_tax_code
from idp.passwords import PasswordRefused
from idp.passwords import burn_verification
from idp.passwords import check_new_password
from idp.passwords import hash_secret
from idp.passwords import needs_rehash
from idp.passwords import verify_secret

PROFILE_ATTRIBUTES = ("full_name", "birthdate", "gender", "email", "phone", "street_address", "province_code",
                      "ward_code")


class AccountError(IdpError):
    """A request about an account that cannot be done; the message is shown to the person."""


class LoginLocked(IdpError):
    status = 429


@dataclass(frozen=True, slots=True)
class NewAccount:
    kind: str
    identifier: str
    full_name: str
    password: str | None = None
    birthdate: date | None = None
    gender: str | None = None
    email: str | None = None
    phone: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    street_address: str | None = None
    province_code: str | None = None
    ward_code: str | None = None


def check_identifier(kind: str, identifier: str, birthdate: date | None = None, gender: str | None = None) -> str:
    """Validate the key of an account of this kind; raise AccountError with a clear message."""
    try:
        if kind == AccountKind.BUSINESS:
            return check_tax_code(identifier)
        return check_personal_id(identifier, birthdate=birthdate, gender=gender)
    except InvalidIdentifier as exc:
        raise AccountError(exc.code, exc.message) from exc


def check_password_policy(password: str, identifiers: tuple[str, ...] = ()) -> None:
    """NIST SP 800-63B §5.1.1.2: length (after NFKC), no composition rules; refuse common passwords,
    repetitive or sequential ones, and ones containing the account's identifier (`identifiers`)."""
    try:
        check_new_password(password, identifiers)
    except PasswordRefused as exc:
        raise AccountError(exc.code, exc.message) from exc


def create_account(new: NewAccount, source: str = SELF_ASSERTED, level: int = 0,
                   verified_at: datetime | None = None) -> Account:
    """Create an account; each given attribute records `source` as its verifier. Caller commits."""
    if new.kind not in tuple(AccountKind):
        raise AccountError("unknown_kind", N_("Unknown account kind."))
    identifier = check_identifier(new.kind, new.identifier, new.birthdate, new.gender)
    if find_account(identifier) is not None:
        raise AccountError("account_exists", N_("An account with this identifier already exists."))
    if new.password is not None:
        check_password_policy(new.password, (identifier,))
    if new.province_code or new.ward_code:
        try:
            check_address_units(new.province_code or "", new.ward_code)
        except InvalidIdentifier as exc:
            raise AccountError(exc.code, exc.message) from exc
    account = Account(kind=new.kind, identifier=identifier, status=AccountStatus.ACTIVE,
                      password_hash=hash_secret(new.password) if new.password else None,
                      full_name=new.full_name.strip(), given_name=new.given_name, family_name=new.family_name,
                      birthdate=new.birthdate, gender=new.gender, email=new.email or None, phone=new.phone or None,
                      street_address=new.street_address, province_code=new.province_code, ward_code=new.ward_code)
    db.session.add(account)
    now = utcnow()
    for attribute in PROFILE_ATTRIBUTES:
        if getattr(account, attribute):
            account.verifications.append(AttributeVerification(attribute=attribute, source=source, level=level,
                                                                verified_at=verified_at or now))
    db.session.flush()
    record("account.created", account_id=account.id, kind=new.kind, source=source)
    return account


def add_representative(business: Account, citizen: Account, role: str = "legal_representative") -> None:
    """Name a citizen account as entitled to act for a business account. Caller commits."""
    if business.kind != AccountKind.BUSINESS or citizen.kind != AccountKind.CITIZEN:
        raise AccountError("wrong_account_kind", N_("A representative is a citizen account acting for a business."))
    exists = db.session.execute(select(BusinessRepresentative).where(
        BusinessRepresentative.business_id == business.id, BusinessRepresentative.citizen_id == citizen.id)).first()
    if exists:
        raise AccountError("representative_exists", N_("This person already represents this business."))
    db.session.add(BusinessRepresentative(business_id=business.id, citizen_id=citizen.id, role=role))
    record("account.representative_added", account_id=business.id, citizen_account_id=citizen.id, role=role)


def representatives_of(business: Account) -> list[Account]:
    """Return the citizen accounts that may act for a business."""
    return list(db.session.execute(
        select(Account).join(BusinessRepresentative, BusinessRepresentative.citizen_id == Account.id)
        .where(BusinessRepresentative.business_id == business.id).order_by(Account.id)).scalars())


def find_account(identifier: str) -> Account | None:
    return db.session.execute(select(Account).where(Account.identifier == identifier.strip())).scalar_one_or_none()


def authenticate_password(identifier: str, password: str) -> Account | None:
    """Return the account when the password matches; None otherwise, in the same time either way.

    Raises LoginLocked once the identifier has spent its failure budget (idp.accounts.lockout:
    shared with reset codes and second factors; counted for unknown identifiers too, so the lockout
    itself reveals nothing), and AccountError for a locked or pending account once the right
    password was given.
    """
    if is_locked(identifier):
        raise LoginLocked("login_locked", N_("Too many failed attempts. Please wait and try again later."))
    account = find_account(identifier) if identifier.strip() else None
    if account is None or account.password_hash is None:
        burn_verification(password)
        count_failure(identifier, None, "pwd")
        return None
    if not verify_secret(account.password_hash, password):
        count_failure(identifier, account, "pwd")
        return None
    if account.status != AccountStatus.ACTIVE:
        record("login.refused", account_id=account.id, reason=f"account_{account.status}")
        raise AccountError("account_not_active", N_("This account is locked or not yet active. Contact support."))
    if needs_rehash(account.password_hash):
        account.password_hash = hash_secret(password)
    return account
