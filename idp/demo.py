"""Demo data for development: citizens, a business and portals with known credentials.

Refuses to run outside development/testing (checked by the CLI and here).
"""

from __future__ import annotations

import logging
from datetime import date

from idp.accounts.service import NewAccount
from idp.accounts.service import create_account
from idp.accounts.service import find_account
from idp.extensions import db
from idp.oidc.clients import ClientRegistration
from idp.oidc.clients import register_client
from idp.oidc.runtime import OidcRuntime
from idp.settings import current_settings

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
)
DEMO_PORTALS = (
    ClientRegistration(name="Cổng Dịch vụ công Quốc gia (demo)", agency="Văn phòng Chính phủ",
                       client_id="demo-national-portal", client_secret="demo-national-portal-secret",
                       redirect_uris=["http://127.0.0.1:8001/callback"],
                       post_logout_redirect_uris=["http://127.0.0.1:8001/"], trusted=True),
    ClientRegistration(name="Cổng Bộ Tài chính (demo)", agency="Bộ Tài chính",
                       client_id="demo-ministry-finance", client_secret="demo-ministry-finance-secret",
                       redirect_uris=["http://127.0.0.1:8002/callback"],
                       post_logout_redirect_uris=["http://127.0.0.1:8002/"]),
    ClientRegistration(name="Cổng Dịch vụ công TP Hồ Chí Minh (demo)", agency="UBND TP Hồ Chí Minh",
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
    }
