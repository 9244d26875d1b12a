"""Demo data for development: citizens, a business and portals with known credentials.

Refuses to run outside development/testing (checked by the CLI and here).
"""

from __future__ import annotations

import logging
from datetime import date

from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.roles import POSTAL_CLERK
from idp.accounts.roles import grant_role
from idp.accounts.roles import has_role
from idp.accounts.service import NewAccount
from idp.accounts.service import create_account
from idp.accounts.service import find_account
from idp.extensions import db
from idp.oidc.clients import ClientRegistration
from idp.oidc.clients import register_client
from idp.oidc.runtime import OidcRuntime
from idp.settings import current_settings
from idp.verifiers.registry import verifiers

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-password-2025"
DEMO_ACCOUNTS = (
    NewAccount(kind="citizen", identifier="001090012345", full_name="Nguyễn Văn An", given_name="An",
               family_name="Nguyễn", birthdate=date(1990, 5, 12), gender="male", email="an.nguyen@example.vn",
               phone="+84912345678", password=DEMO_PASSWORD),
    NewAccount(kind="citizen", identifier="079301004567", full_name="Trần Thị Bình", given_name="Bình",
               family_name="Trần", birthdate=date(2001, 9, 3), gender="female", password=DEMO_PASSWORD),
    NewAccount(kind="business", identifier="0100109106", full_name="Công ty Demo Viễn thông",
               password=DEMO_PASSWORD),
    NewAccount(kind="citizen", identifier="001085000456", full_name="Phạm Văn Bưu", given_name="Bưu",
               family_name="Phạm", birthdate=date(1985, 2, 20), gender="male", password=DEMO_PASSWORD),
)
# The demo postal clerk (a staff role on an ordinary account) and the post office it works at.
DEMO_CLERK = ("001085000456", "100000")
# Demo staff of the admin console: (account, role, scope). The console wants a high-level login: in
# development, the "mock" source at level high with the account's personal ID and name.
DEMO_STAFF = (
    (NewAccount(kind="citizen", identifier="001188000789", full_name="Lê Thị Quản", given_name="Quản",
                family_name="Lê", birthdate=date(1988, 3, 8), gender="female", password=DEMO_PASSWORD),
     NATIONAL_ADMIN, None),
    (NewAccount(kind="citizen", identifier="001092000111", full_name="Vũ Văn Tài", given_name="Tài",
                family_name="Vũ", birthdate=date(1992, 7, 1), gender="male", password=DEMO_PASSWORD),
     AGENCY_ADMIN, "bo-tai-chinh"),
    (NewAccount(kind="citizen", identifier="001090000321", full_name="Hoàng Văn Hỗ", given_name="Hỗ",
                family_name="Hoàng", birthdate=date(1990, 11, 20), gender="male", password=DEMO_PASSWORD),
     HELPDESK, None),
    (NewAccount(kind="citizen", identifier="079187000654", full_name="Đỗ Thị Kiểm", given_name="Kiểm",
                family_name="Đỗ", birthdate=date(1987, 4, 14), gender="female", password=DEMO_PASSWORD),
     AUDITOR, None),
)
DEMO_PORTALS = (
    ClientRegistration(name="Cổng Dịch vụ công Quốc gia (demo)", agency="Văn phòng Chính phủ",
                       agency_code="vpcp", client_id="demo-national-portal",
                       client_secret="demo-national-portal-secret",
                       redirect_uris=["http://127.0.0.1:8001/callback"],
                       post_logout_redirect_uris=["http://127.0.0.1:8001/"], trusted=True),
    ClientRegistration(name="Cổng Bộ Tài chính (demo)", agency="Bộ Tài chính",
                       agency_code="bo-tai-chinh",
                       client_id="demo-ministry-finance", client_secret="demo-ministry-finance-secret",
                       redirect_uris=["http://127.0.0.1:8002/callback"],
                       post_logout_redirect_uris=["http://127.0.0.1:8002/"]),
    ClientRegistration(name="Cổng Dịch vụ công TP Hồ Chí Minh (demo)", agency="UBND TP Hồ Chí Minh",
                       agency_code="tp-hcm",
                       client_id="demo-province-hcm", redirect_uris=["http://localhost:8003/callback"],
                       token_endpoint_auth_method="none"),
)


def load_demo() -> dict:
    """Create what is missing of the demo data (idempotent) and describe it."""
    if current_settings().env not in ("development", "testing"):
        raise RuntimeError("demo data is for development and testing only")
    log.warning("loading DEMO accounts and portals with published passwords: never do this in production")
    for new in DEMO_ACCOUNTS:
        if find_account(new.identifier) is None:
            create_account(new)
    clerk = find_account(DEMO_CLERK[0])
    if not has_role(clerk.id, POSTAL_CLERK):
        grant_role(clerk.id, POSTAL_CLERK, scope=DEMO_CLERK[1])
    for new, role, scope in DEMO_STAFF:
        account = find_account(new.identifier) or create_account(new)
        if not has_role(account.id, role, scope):
            grant_role(account.id, role, scope)
    for reg in DEMO_PORTALS:
        if OidcRuntime.find_client(reg.client_id) is None:
            register_client(reg)
    db.session.commit()
    return {
        "issuer": current_settings().issuer,
        "password": DEMO_PASSWORD,
        "accounts": [{"identifier": a.identifier, "kind": a.kind, "name": a.full_name} for a in DEMO_ACCOUNTS],
        "portals": [{"client_id": p.client_id, "client_secret": p.client_secret, "name": p.name,
                     "redirect_uris": p.redirect_uris} for p in DEMO_PORTALS],
        "postal_clerk": {"identifier": DEMO_CLERK[0], "post_office": DEMO_CLERK[1], "page": "/postal/clerk"},
        "admin_console": {"page": "/admin/",
                          "log_in_with": "the mock source at level high, with the personal ID and name",
                          "staff": [{"identifier": a.identifier, "name": a.full_name, "role": role, "scope": scope}
                                    for a, role, scope in DEMO_STAFF]},
        "sandboxes": _sandboxes(),
    }


def _sandboxes() -> dict[str, str]:
    """How to try each configured identity source on this machine (docs/sources/)."""
    kinds = {vid: v.info.kind for vid, v in verifiers().items()}
    notes = {
        "vneid": "the VNeID sandbox provider (make run starts it on port 5001) lists its demo citizens",
        "telecom": "demo numbers 0912 345 678 (001090012345), 0387 654 321 (079301004567); "
                   "read the SMS code at /sandbox/outbox",
        "certificate": "a development CA and a demo citizen certificate under instance/devpki; "
                       "sign the challenge with instance/devpki/sign.py",
        "postal_counter": "log in, start the post-office check, then confirm it as the demo clerk at /postal/clerk",
        "postal_letter": "log in with an address on file, ask for a letter, then `idp postal export-letters`",
        "mock": "type what a source would vouch for",
    }
    return {vid: notes.get(kind, kind) for vid, kind in kinds.items()}
