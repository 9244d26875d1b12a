"""Development-only pages: the sandbox outbox, where sandbox gateways' SMS and letters land.

Registered only when sandboxes are allowed (`features.sandbox` on and `env` not production);
otherwise the routes do not exist (404). Reads idp.outbox only; no verifier imports this package.
"""

from __future__ import annotations

from flask import Flask

from idp.settings import Settings


def sandbox_allowed(settings: Settings) -> bool:
    """Sandboxes run only in development and tests, never in production (docs/operations.md)."""
    return settings.features.sandbox and not settings.is_production


def init_sandbox(app: Flask, settings: Settings) -> None:
    """Register the development pages when sandboxes are allowed."""
    if sandbox_allowed(settings):
        from idp.sandbox.views import bp

        app.register_blueprint(bp)
