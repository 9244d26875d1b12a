"""One account as the admin console shows it: status, identity level, attributes with provenance,
linked sources, second factors, live sessions with their portals, consents, recent logins, staff roles.

Built once (`account_detail`) for the page and the API. Second factors are listed by name and
dates, with the number of unused recovery codes: never a secret, a public key or a credential id.
Phone and e-mail are masked and the street address is only said to be on file; the full personal
ID or tax code is included for national administrators and the helpdesk only (account_admin).
Every look is audited (`admin.account.viewed`).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import or_
from sqlalchemy import select

from idp.accounts.history import recent_logins
from idp.accounts.linking import identity_level
from idp.accounts.linking import linked_sources
from idp.accounts.lockout import is_locked
from idp.accounts.models import Account
from idp.accounts.models import LinkReview
from idp.accounts.roles import roles_of
from idp.accounts.service import PROFILE_ATTRIBUTES
from idp.admin.access import Admin
from idp.admin.account_admin import audit_read
from idp.admin.account_admin import shows_full_identifier
from idp.extensions import db
from idp.masking import MASK_OF
from idp.masking import mask_identifier
from idp.verifiers.base import Level

ATTRIBUTES = (*PROFILE_ATTRIBUTES, "agency")
MASKED = ("phone", "email")
ON_FILE_ONLY = frozenset({"street_address"})
RECENT_LOGINS = 20


def _attributes(account: Account) -> list[dict[str, Any]]:
    rows = []
    for attribute in ATTRIBUTES:
        value = getattr(account, attribute)
        provenance = sorted((v for v in account.verifications if v.attribute == attribute),
                            key=lambda v: (-v.level, v.verified_at))
        if value in (None, "") and not provenance:
            continue
        if attribute in MASKED:
            shown = MASK_OF[attribute](value) or None
        elif attribute in ON_FILE_ONLY or value is None:
            shown = None
        else:
            shown = value.isoformat() if attribute == "birthdate" else str(value)
        rows.append({"name": attribute, "value": shown, "on_file": value not in (None, ""),
                     "provenance": [{"source": v.source, "level": v.level, "verified_at": v.verified_at}
                                    for v in provenance]})
    return rows


def _second_factors(account: Account) -> dict[str, Any]:
    from idp.auth.mfa import recovery
    from idp.auth.mfa import totp
    from idp.auth.mfa import webauthn

    return {
        "totp": [{"name": row.name, "activated_at": row.activated_at, "last_used_at": row.last_used_at}
                 for row in totp.active_authenticators(account)],
        "passkeys": [{"name": row.name, "created_at": row.created_at, "last_used_at": row.last_used_at,
                      "synced": row.backup_eligible} for row in webauthn.credentials_of(account)],
        "recovery_codes_left": recovery.remaining(account),
    }


def _sessions(account: Account) -> list[dict[str, Any]]:
    from idp.accounts.sessions import _live as live_sessions  # the /accounts/sessions query (live = not run out)
    from idp.oidc.logout import session_clients

    rows = [{"created_at": row.created_at, "last_seen_at": row.last_seen_at or row.created_at,
             "level": int(Level.from_acr(row.acr) or Level.LOW),
             "portals": [{"client_id": c.client_id, "name": c.name} for c in session_clients([row.sid])]}
            for row in live_sessions(account.id)]
    return sorted(rows, key=lambda r: r["created_at"], reverse=True)


def _portal_names(client_ids: set[str]) -> dict[str, str]:
    from idp.oidc.models import Client

    if not client_ids:
        return {}
    return dict(db.session.execute(select(Client.client_id, Client.name).where(Client.client_id.in_(client_ids))).all())


def _consents(account: Account) -> list[dict[str, Any]]:
    from idp.oidc.models import Client
    from idp.oidc.models import Consent

    rows = db.session.execute(select(Consent, Client.name).join(Client, Client.client_id == Consent.client_id)
                              .where(Consent.account_id == account.id).order_by(Consent.granted_at.desc())).all()
    return [{"client_id": consent.client_id, "portal": name, "scopes": scope_to_list(consent.scope) or [],
             "granted_at": consent.granted_at, "expires_at": consent.expires_at} for consent, name in rows]


def _logins(account: Account) -> list[dict[str, Any]]:
    events = recent_logins(account.id, limit=RECENT_LOGINS)
    names = _portal_names({e.client_id for e in events if e.client_id})
    return [{"at": e.at, "client_id": e.client_id, "portal": names.get(e.client_id or "", e.client_id),
             "source": e.source, "level": e.level, "network": e.network, "device": e.device} for e in events]


def _open_reviews(account: Account) -> list[int]:
    return list(db.session.execute(select(LinkReview.id).where(
        LinkReview.status == "open",
        or_(LinkReview.candidate_account_id == account.id, LinkReview.session_account_id == account.id))
        .order_by(LinkReview.id)).scalars())


def account_detail(admin: Admin, account: Account) -> dict[str, Any]:
    """Everything the console shows about one account (datetimes as datetime); audited. The caller commits."""
    full = shows_full_identifier(admin)
    detail = {
        "id": account.id,
        "kind": account.kind,
        "status": account.status,
        "identity_level": int(identity_level(account)),
        "login_throttled": is_locked(account.identifier),
        "created_at": account.created_at,
        "identifier": account.identifier if full else None,
        "identifier_masked": mask_identifier(account.identifier),
        "attributes": _attributes(account),
        "linked_sources": [{"id": link.id, "source": link.source, "level": link.level, "linked_at": link.linked_at,
                            "last_used_at": link.last_used_at} for link in linked_sources(account)],
        "second_factors": _second_factors(account),
        "sessions": _sessions(account),
        "consents": _consents(account),
        "recent_logins": _logins(account),
        "staff_roles": [{"id": row.id, "role": row.role, "scope": row.scope, "granted_at": row.granted_at}
                        for row in roles_of(account.id)],
        "open_reviews": _open_reviews(account),
    }
    audit_read("admin.account.viewed", admin, target_type="account", target_id=str(account.id),
               full_identifier_shown=full)
    return detail
