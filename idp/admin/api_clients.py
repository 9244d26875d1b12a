"""Clients of the admin API: machine accounts that get access tokens through client_credentials.

They have no redirect URIs and no user-facing grant; their allowed scopes are admin scopes
(idp.admin.access.ADMIN_SCOPES), which self-registration never grants.
"""

from __future__ import annotations

import json
import secrets

import click
from flask.cli import with_appcontext

from idp.admin.access import ADMIN_SCOPES
from idp.audit import record_change
from idp.extensions import db
from idp.oidc.models import Client
from idp.oidc.secrets import hash_client_secret
from idp.oidc.secrets import new_client_secret


class AdminClientError(ValueError):
    """Refused admin API client settings (the message says why)."""


def create_api_client(name: str, scopes: list[str], agency_code: str | None = None,
                      actor_id: int | None = None) -> tuple[Client, str]:
    """Register an admin API client; return it with its secret (shown once). The caller commits."""
    name = name.strip()
    if not 0 < len(name) <= 200:
        raise AdminClientError("The name must be 1 to 200 characters.")
    unknown = sorted(set(scopes) - set(ADMIN_SCOPES))
    if not scopes or unknown:
        raise AdminClientError(f"Scopes must be among {', '.join(ADMIN_SCOPES)}.")
    if "admin:agency" in scopes and not agency_code:
        raise AdminClientError("admin:agency needs --agency-code (the agency the client acts for).")
    secret = new_client_secret()
    client = Client(client_id="admin-" + secrets.token_urlsafe(12), client_secret_hash=hash_client_secret(secret),
                    name=name, agency_code=agency_code, redirect_uris=[], post_logout_redirect_uris=[],
                    token_endpoint_auth_method="client_secret_basic", grant_types=["client_credentials"],
                    scope=" ".join(sorted(set(scopes))), trusted=False, subject_type="pairwise",
                    sector_identifier="admin-api")
    db.session.add(client)
    db.session.flush()
    record_change("admin.api_client.created", actor_id=actor_id, target_type="client", target_id=client.client_id,
                  before=None, after={"name": name, "scope": client.scope, "agency_code": agency_code},
                  client_id=client.client_id)
    return client, secret


@click.group("admin")
def admin_cli() -> None:
    """Admin console tasks."""


@admin_cli.command("api-client")
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(sorted(ADMIN_SCOPES)),
              help="Admin scope (repeat).")
@click.option("--agency-code", help="For admin:agency: the agency whose portals the client manages.")
@with_appcontext
def api_client(name: str, scopes: tuple[str, ...], agency_code: str | None) -> None:
    """Register a client of the admin API and print its client_id and client_secret (shown once)."""
    try:
        client, secret = create_api_client(name, list(scopes), agency_code)
    except AdminClientError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret, "scope": client.scope}))
