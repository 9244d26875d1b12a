"""National single sign-on identity provider: the application factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build a configured application; `overrides` wins over files and environment."""
    import idp.auth.crossdevice  # noqa: F401 - adds the QR cross-device login routes to the auth blueprint
    import idp.auth.mfa.views  # noqa: F401 - adds the second-factor routes to the auth blueprint
    import idp.auth.passkeys  # noqa: F401 - adds the passwordless passkey login routes to the auth blueprint
    import idp.auth.sources  # noqa: F401 - adds the identity-source routes to the auth blueprint
    import idp.oidc.registration  # noqa: F401 - adds RFC 7591/7592 client registration to the oidc blueprint
    from idp.accounts.views import bp as accounts_bp
    from idp.admin import init_admin
    from idp.audit.configuration import init_audit
    from idp.auth.mfa import init_factors
    from idp.auth.sources import init_sources
    from idp.auth.views import bp as auth_bp
    from idp.errors import register_error_handlers
    from idp.extensions import init_extensions
    from idp.extensions import limiter
    from idp.oidc.registration_form import bp as portal_registration_bp
    from idp.oidc.server import init_oidc
    from idp.oidc.views import bp as oidc_bp
    from idp.postal.views import bp as postal_bp
    from idp.security import init_security
    from idp.settings import configure_logging
    from idp.settings import load_settings

    app = Flask(__name__)
    settings = load_settings(overrides)
    app.config.from_mapping(settings.flask_config())
    app.extensions["idp.settings"] = settings
    configure_logging(settings.log_level)
    init_extensions(app)
    init_security(app, settings)
    init_oidc(app, settings)
    init_sources(app, settings)
    init_factors(app)
    init_audit(app)  # records a fingerprint of the effective configuration when it changed
    for blueprint in (oidc_bp, auth_bp, accounts_bp, postal_bp, portal_registration_bp):
        app.register_blueprint(blueprint)
    # Protocol endpoints have no per-IP limits (clients authenticate; codes and tokens are
    # 256-bit); skipping the limiter there saves ~15% CPU per request.
    limiter.exempt(oidc_bp)
    init_admin(app)
    from idp.sandbox import init_sandbox  # development pages (/sandbox/outbox), only when sandboxes are allowed

    init_sandbox(app, settings)
    register_error_handlers(app)
    from idp.cli import register_commands

    register_commands(app)
    return app
