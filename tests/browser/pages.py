"""Every user-facing page, as data: how to get there, as whom, and where the browser must end up.

test_pages.py checks each one for axe violations in Vietnamese and in English. A new page is one line:
`Page("admin-clients", "/admin/clients", ADMIN)`; a page behind a flow names its steps instead of a path
(`go.<name>`, a function of the page, the site and the person in page_steps.py). Pages linked from the
account pages and the admin console are also found and checked by test_pages.py (test_linked_pages,
test_admin_console_pages), so a page missing here is not missed entirely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.browser import page_steps as go
from tests.browser.page_steps import ADMIN
from tests.browser.page_steps import CITIZEN
from tests.browser.page_steps import CLERK
from tests.browser.page_steps import NEW
from tests.browser.page_steps import NOBODY
from tests.browser.page_steps import WITH_PASSKEY
from tests.browser.page_steps import WITH_TOTP
from tests.browser.page_steps import Reach
from tests.browser.steps import ACR_HIGH
from tests.browser.steps import ACR_SUBSTANTIAL


@dataclass(frozen=True)
class Page:
    name: str
    reach: str | Reach  # a path to open, or the steps that end on the page
    who: str | None = NOBODY
    path: str | None = None  # the final URL's path (a regex); default: `reach` without its query
    status: int | None = None  # the expected HTTP status of the last navigation, when `reach` is a path

    def expected_path(self) -> str:
        if self.path is not None:
            return self.path
        assert isinstance(self.reach, str), f"{self.name}: give the final path of a flow"
        return re.escape(self.reach.split("?")[0])


PAGES = [
    # Login and its variants
    Page("login", "/auth/login"),
    Page("login-wrong-password", go.wrong_password, path="/auth/login"),
    Page("login-empty", go.empty_submit("/auth/login"), path="/auth/login"),
    Page("login-suggested-source", "/auth/login?idp_hint=telecom"),
    Page("login-step-up-sources", f"/auth/login?acr={ACR_SUBSTANTIAL}"),
    Page("login-step-up-high", f"/auth/login?acr={ACR_HIGH}", CITIZEN),
    Page("source-mock", go.source_start("mock"), path="/auth/sources/mock/start"),
    Page("source-mock-failed", go.mock_wrong, path="/auth/sources/mock/continue/.+"),
    Page("source-cancelled", go.mock_cancelled, path="/auth/sources/mock/continue/.+"),
    Page("source-telecom-phone", go.source_start("telecom"), path="/auth/sources/telecom/start"),
    Page("source-telecom-code", go.telecom_code, path="/auth/sources/telecom/continue/.+"),
    Page("source-post-office", go.counter_notice, NEW, path="/auth/sources/vnpost/start"),
    Page("source-letter", go.source_start("vnpost_letter", "/accounts/sources"), CITIZEN,
         path="/auth/sources/vnpost_letter/start"),
    Page("second-factor", go.mfa_step, path="/auth/mfa"),
    Page("second-factor-wrong", go.mfa_wrong, path="/auth/mfa.*"),
    Page("second-factor-passkey", go.passkey_step, path="/auth/mfa"),
    Page("second-factor-passkey-failed", go.passkey_step_failed, path="/auth/mfa"),
    Page("second-factor-passkey-wrong", go.passkey_step_wrong, path="/auth/mfa.*"),
    Page("login-step-up-passkey", f"/auth/login?acr={ACR_HIGH}", WITH_PASSKEY),
    Page("second-factor-passkey-step-up", "/auth/mfa?next=/auth/done", WITH_PASSKEY),
    Page("source-certificate", go.source_start("certificate"), path="/auth/sources/certificate/start"),
    Page("source-certificate-failed", go.certificate_wrong, path="/auth/sources/certificate/continue/.+"),
    Page("logged-in", "/auth/done", CITIZEN),
    # Registration
    Page("register", "/accounts/register"),
    Page("register-errors", go.empty_submit("/accounts/register"), path="/accounts/register"),
    Page("registered", "/accounts/registered"),
    # Consent and logout
    Page("go.consent", go.consent, CITIZEN, path="/oauth2/authorize"),
    Page("form-post", go.form_post, CITIZEN, path="/oauth2/authorize"),
    Page("logout", "/auth/logout", CITIZEN),
    Page("logout-not-logged-in", "/auth/logout"),
    Page("logged-out", go.log_out, NEW, path="/auth/logout"),
    Page("logout-portal-confirm", "/oauth2/logout?client_id=demo-ministry-finance", CITIZEN),
    # Errors
    Page("not-found", "/no-such-page", status=404),
    Page("bad-request", "/oauth2/authorize", status=400),
    Page("expired-link", "/accounts/password/reset/no-such-token", status=400),
    Page("forbidden", "/postal/clerk", CITIZEN, status=403),
    # QR cross-device login
    Page("qr-computer", go.qr_desktop, path="/auth/qr/.+/wait"),
    Page("qr-computer-approved", go.qr_desktop_approved, path="/auth/qr/.+/wait"),
    Page("qr-phone", go.qr_phone, NEW, path="/auth/qr/[^/]+"),
    Page("qr-phone-answered", go.qr_phone_answered, NEW, path="/auth/qr/.+/confirm"),
    Page("qr-unknown", "/auth/qr/" + "x" * 43, CITIZEN, status=404),
    Page("qr-level-too-high", f"/auth/qr/start?acr={ACR_HIGH}", status=403),
    # Password and e-mail
    Page("password-forgot", "/accounts/password/forgot"),
    Page("password-forgot-errors", go.empty_submit("/accounts/password/forgot"), path="/accounts/password/forgot"),
    Page("password-code", go.reset_code, NEW, path="/accounts/password/code"),
    Page("password-code-wrong", go.reset_code_wrong, NEW, path="/accounts/password/code"),
    Page("password-reset-link", go.reset_link, NEW, path="/accounts/password/reset/.+"),
    Page("password-reset-done", "/accounts/password/done"),
    Page("password-change", "/accounts/password", NEW),
    Page("password-change-errors", go.empty_submit("/accounts/password"), NEW, path="/accounts/password"),
    Page("password-changed", go.password_changed, NEW, path="/accounts/password"),
    Page("email", "/accounts/email", NEW),
    Page("email-sent", go.email_sent, NEW, path="/accounts/email"),
    Page("email-confirm", go.email_confirm, NEW, path="/accounts/email/verify/.+"),
    Page("email-verified", go.email_verified, NEW, path="/accounts/email/verify/.+"),
    # Account pages
    Page("security", "/accounts/security", CITIZEN),
    Page("security-with-app", "/accounts/security", WITH_TOTP),
    Page("totp-enrolment", "/accounts/security/totp/new", NEW),
    Page("totp-enrolment-wrong", go.totp_enrolment_wrong, NEW, path="/accounts/security/totp/new"),
    Page("recovery-codes", go.recovery_codes, NEW, path="/accounts/security/recovery"),
    Page("passkeys", "/accounts/passkeys", CITIZEN),
    Page("passkeys-with-key", go.passkey_added, NEW, path="/accounts/passkeys"),
    Page("sessions", "/accounts/sessions", CITIZEN),
    Page("consents", "/accounts/consents", CITIZEN),
    Page("sources", "/accounts/sources", CITIZEN),
    # Citizen console
    Page("console", "/accounts/", CITIZEN),
    Page("profile", "/accounts/profile", CITIZEN),
    Page("login-history", "/accounts/history", CITIZEN),
    Page("data-export", "/accounts/export", CITIZEN),
    Page("delete-account", "/accounts/delete", CITIZEN),
    # Portal registration
    Page("portal-register", "/clients/register", CITIZEN),
    Page("portal-register-errors", go.empty_submit("/clients/register"), NEW, path="/clients/register"),
    Page("portal-registered", go.portal_registered, NEW, path="/clients/register/done"),
    # Post office clerk
    Page("clerk", "/postal/clerk", CLERK),
    Page("clerk-not-found", go.clerk_not_found, CLERK, path="/postal/clerk"),
    Page("clerk-request", go.clerk_request, CLERK, path="/postal/clerk"),
    Page("clerk-done", go.clerk_done, CLERK, path="/postal/clerk/requests/.+"),
    # Admin console (more of its pages are reached through links by test_pages.py::test_admin_console_pages)
    Page("admin-home", "/admin/", ADMIN),
    Page("admin-portals", "/admin/clients", ADMIN),
    Page("admin-registration-requests", "/admin/registration-requests", ADMIN),
    Page("admin-sources", "/admin/sources", ADMIN),
    Page("admin-accounts", "/admin/accounts", ADMIN),
    Page("admin-linking-reviews", "/admin/reviews", ADMIN),
    Page("admin-roles", "/admin/roles", ADMIN),
    Page("admin-audit", "/admin/audit", ADMIN),
    Page("admin-statistics", "/admin/stats", ADMIN),
    # Development sandbox
    Page("sandbox-outbox", "/sandbox/outbox"),
    # The VNeID sandbox provider (idp/verifiers/vneid/sandbox.py, its own origin), reached from the VNeID source
    Page("vneid-sandbox", go.vneid_sandbox, path="/authorize"),
    Page("vneid-sandbox-no-choice", go.vneid_no_choice, path="/authorize"),
    Page("vneid-sandbox-unknown-service", go.vneid_unknown_service, path="/authorize"),
    Page("source-vneid-cancelled", go.vneid_cancelled, path="/auth/sources/vneid/callback"),
]
