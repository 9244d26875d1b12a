"""`idp ...` console commands for operators, docs and tests.

`idp db upgrade` (Flask-Migrate), `idp serve`, `idp demo`, `idp accounts create`,
`idp clients add|list|sync|initial-access-token|approve|reject|suspend|reactivate`,
`idp keys rotate|list`, `idp audit verify|anchor|export` (idp/audit/commands.py),
`idp accounts grant-role|revoke-role`, `idp postal export-letters|purge`.
"""

from __future__ import annotations

import json
import sys
from datetime import date

import click
from flask import Flask
from flask.cli import FlaskGroup
from flask.cli import with_appcontext
from sqlalchemy import select

from idp.audit.commands import audit
from idp.extensions import db
from idp.settings import current_settings


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _app_factory() -> Flask:
    from idp import create_app
    from idp.errors import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        _fail(f"configuration: {exc.message}")
        raise


def main() -> None:
    """Entry point of the `idp` console script."""
    cli = FlaskGroup(create_app=_app_factory, add_default_commands=False, add_version_option=False,
                     help="National single sign-on identity provider.")
    cli.main(prog_name="idp")


def register_commands(app: Flask) -> None:
    """Attach the command groups to the application's CLI."""
    for command in (serve, demo, accounts, clients, keys, audit, purge, postal, logout):
        app.cli.add_command(command)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Worker processes.")
@click.option("--threads", default=1, show_default=True, type=int, help="Threads per worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the provider with gunicorn (each worker builds its own app)."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", None)
            self.cfg.set("graceful_timeout", 5)
            # One control socket per user would be shared by every instance on the machine.
            self.cfg.set("control_socket_disable", True)

        def load(self) -> Flask:
            from idp import create_app

            return create_app()

    click.echo(f"serving {current_settings().issuer} on http://{host}:{port} with {workers} workers")
    Server().run()


@click.command()
@with_appcontext
def demo() -> None:
    """Load demo accounts and portals (development and testing only) and print them."""
    from idp.demo import load_demo

    if current_settings().env not in ("development", "testing"):
        _fail("demo data loads only when env is development or testing")
    click.echo(json.dumps(load_demo(), indent=2, ensure_ascii=False))


@click.group()
def accounts() -> None:
    """Manage national accounts."""


@accounts.command("create")
@click.option("--personal-id", "personal_id", help="12-digit personal identification number.")
@click.option("--tax-code", "tax_code", help="Business tax code (instead of --personal-id).")
@click.option("--password", required=True)
@click.option("--name", required=True)
@click.option("--email")
@click.option("--phone")
@click.option("--birthdate", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--gender", type=click.Choice(["male", "female"]))
@with_appcontext
def accounts_create(personal_id: str | None, tax_code: str | None, password: str, name: str, email: str | None,
                    phone: str | None, birthdate: object, gender: str | None) -> None:
    """Create an account (citizen with --personal-id, business with --tax-code)."""
    from idp.accounts.service import AccountError
    from idp.accounts.service import NewAccount
    from idp.accounts.service import create_account

    if bool(personal_id) == bool(tax_code):
        _fail("give exactly one of --personal-id or --tax-code")
    born: date | None = birthdate.date() if birthdate else None  # type: ignore[attr-defined]
    try:
        account = create_account(NewAccount(
            kind="business" if tax_code else "citizen", identifier=(tax_code or personal_id or ""), full_name=name,
            password=password, email=email, phone=phone, birthdate=born, gender=gender))
    except AccountError as exc:
        db.session.rollback()
        _fail(f"{exc.code}: {exc.message}")
    db.session.commit()
    click.echo(json.dumps({"account_id": account.id, "kind": account.kind}))


@accounts.command("add-representative")
@click.option("--tax-code", required=True, help="The business.")
@click.option("--personal-id", required=True, help="The citizen who represents it.")
@click.option("--role", default="legal_representative", show_default=True)
@with_appcontext
def accounts_add_representative(tax_code: str, personal_id: str, role: str) -> None:
    """Name a citizen account as a legal representative of a business account."""
    from idp.accounts.service import AccountError
    from idp.accounts.service import add_representative
    from idp.accounts.service import find_account

    business, citizen = find_account(tax_code), find_account(personal_id)
    if business is None or citizen is None:
        _fail("both accounts must exist")
    try:
        add_representative(business, citizen, role)
    except AccountError as exc:
        db.session.rollback()
        _fail(f"{exc.code}: {exc.message}")
    db.session.commit()
    click.echo(json.dumps({"business_account_id": business.id, "citizen_account_id": citizen.id, "role": role}))


@accounts.command("grant-role")
@click.argument("identifier")
@click.argument("role")
@click.option("--scope", help="Limit the role, e.g. postal_clerk to one post office code.")
@with_appcontext
def accounts_grant_role(identifier: str, role: str, scope: str | None) -> None:
    """Give the account IDENTIFIER a staff ROLE (postal_clerk, ...)."""
    _change_role(identifier, role, scope, grant=True)


@accounts.command("revoke-role")
@click.argument("identifier")
@click.argument("role")
@click.option("--scope", help="The scope the role was granted with.")
@with_appcontext
def accounts_revoke_role(identifier: str, role: str, scope: str | None) -> None:
    """Take a staff ROLE away from the account IDENTIFIER."""
    _change_role(identifier, role, scope, grant=False)


def _change_role(identifier: str, role: str, scope: str | None, grant: bool) -> None:
    from idp.accounts.roles import KNOWN_ROLES
    from idp.accounts.roles import RoleError
    from idp.accounts.roles import check_grant
    from idp.accounts.roles import grant_role
    from idp.accounts.roles import revoke_role
    from idp.accounts.service import find_account

    account = find_account(identifier)
    if account is None:
        _fail("no account has this identifier")
    try:  # the console's rules (idp.accounts.roles): scopes per role, never the last national administrator
        if grant:
            role, scope = check_grant(role, scope)
        changed = grant_role(account.id, role, scope) is not None if grant else revoke_role(account.id, role, scope)
    except RoleError as exc:
        db.session.rollback()
        known = f" Known roles: {', '.join(KNOWN_ROLES)}." if exc.code == "unknown_role" else ""
        _fail(f"{exc.code}: {exc.message}{known}")
    db.session.commit()
    click.echo(json.dumps({"account_id": account.id, "role": role, "scope": scope,
                           "granted" if grant else "revoked": changed}))


@click.group()
def clients() -> None:
    """Manage portals (OIDC clients)."""


@clients.command("add")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True)
@click.option("--backchannel-logout-uri")
@click.option("--auth-method", default="client_secret_basic", show_default=True)
@click.option("--scope", "scopes", multiple=True, help="Allowed scope (repeat); default: the standard set.")
@click.option("--trusted", is_flag=True, help="Skip the consent page for this portal.")
@click.option("--public-subject", is_flag=True, help="Same `sub` as other public-subject portals.")
@click.option("--agency")
@click.option("--jwks-file", type=click.Path(exists=True, dir_okay=False), help="Public JWKS for private_key_jwt.")
@click.option("--jwks-uri", help="URL of the portal's public JWKS for private_key_jwt (instead of --jwks-file).")
@click.option("--sector-identifier-uri", help="https URL of a JSON array of the redirect URIs: its host is the "
                                              "pairwise sector (OIDC Core §8.1).")
@click.option("--id-token-alg", type=click.Choice(["ES256", "RS256"]), help="id_token_signed_response_alg.")
@click.option("--minimum-acr", help="Assurance every login to this portal must reach (a request cannot lower it).")
@click.option("--default-acr", help="Assurance asked for when the request names none.")
@with_appcontext
def clients_add(name: str, redirect_uris: tuple[str, ...], post_logout: tuple[str, ...],
                backchannel_logout_uri: str | None, auth_method: str, scopes: tuple[str, ...], trusted: bool,
                public_subject: bool, agency: str | None, jwks_file: str | None, jwks_uri: str | None,
                sector_identifier_uri: str | None, id_token_alg: str | None, minimum_acr: str | None,
                default_acr: str | None) -> None:
    """Register a portal and print its client_id and client_secret (shown once)."""
    from idp.oidc.clients import DEFAULT_SCOPES
    from idp.oidc.clients import ClientRegistration
    from idp.oidc.clients import InvalidClientMetadata
    from idp.oidc.clients import register_client

    jwks = None
    if jwks_file:
        with open(jwks_file, encoding="utf-8") as handle:
            jwks = json.load(handle)
    wanted = [s for item in scopes for s in item.split()] or list(DEFAULT_SCOPES)
    try:
        client, secret = register_client(ClientRegistration(
            name=name, redirect_uris=list(redirect_uris), post_logout_redirect_uris=list(post_logout),
            backchannel_logout_uri=backchannel_logout_uri, token_endpoint_auth_method=auth_method,
            scopes=wanted, trusted=trusted, public_subject=public_subject, agency=agency, jwks=jwks,
            jwks_uri=jwks_uri, sector_identifier_uri=sector_identifier_uri, id_token_signed_response_alg=id_token_alg,
            minimum_acr=minimum_acr, default_acr=default_acr))
    except InvalidClientMetadata as exc:
        db.session.rollback()
        _fail(f"{exc.code}: {exc.message}")
    db.session.commit()
    click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret,
                           "token_endpoint_auth_method": client.token_endpoint_auth_method}))


@clients.command("sync")
@click.argument("path", type=click.Path(path_type=str))
@with_appcontext
def clients_sync(path: str) -> None:
    """Create or update portals from manifests (a directory of *.toml/*.json, or one file), all or nothing.

    Prints one JSON line per portal: created (a generated secret is shown this once), updated
    (the changed fields) or unchanged. A bad manifest: exit 2 naming the file and key, nothing changed."""
    from pathlib import Path

    from idp.oidc.manifests import ManifestError
    from idp.oidc.manifests import load_manifests
    from idp.oidc.manifests import sync

    try:
        reports = sync(load_manifests(Path(path)))
    except ManifestError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    for report in reports:
        click.echo(json.dumps(report, ensure_ascii=False))


@clients.command("list")
@with_appcontext
def clients_list() -> None:
    """List registered portals as JSON lines."""
    from idp.oidc.models import Client

    for client in db.session.execute(select(Client).order_by(Client.created_at)).scalars():
        click.echo(json.dumps({"client_id": client.client_id, "name": client.name, "status": client.status,
                               "redirect_uris": client.redirect_uris, "scope": client.scope,
                               "trusted": client.trusted, "subject_type": client.subject_type},
                              ensure_ascii=False))


@clients.command("initial-access-token")
@click.option("--expires-in", "expires_in", default=86400, show_default=True, type=click.IntRange(min=60),
              help="Seconds until the token expires (it is also spent by its first successful registration).")
@click.option("--created-by", "created_by", default="cli", show_default=True, help="Operator name for the audit trail.")
@with_appcontext
def clients_initial_access_token(expires_in: int, created_by: str) -> None:
    """Print a fresh single-use initial access token for POST /oauth2/register (shown once)."""
    from datetime import timedelta

    from idp.oidc.registration import create_initial_access_token

    token, row = create_initial_access_token(created_by, timedelta(seconds=expires_in))
    db.session.commit()
    click.echo(json.dumps({"initial_access_token": token, "expires_at": row.expires_at.isoformat()}))


@clients.command("approve")
@click.argument("client_id")
@with_appcontext
def clients_approve(client_id: str) -> None:
    """Approve a portal registered through the API: it may sign people in from now on."""
    _client_action(client_id, "approve")


@clients.command("reject")
@click.argument("client_id")
@click.option("--reason", required=True, help="Why (kept with the registration request).")
@with_appcontext
def clients_reject(client_id: str, reason: str) -> None:
    """Reject a pending registration; the portal stays unusable."""
    _client_action(client_id, "reject", reason)


@clients.command("suspend")
@click.argument("client_id")
@with_appcontext
def clients_suspend(client_id: str) -> None:
    """Suspend a portal: from its next request it cannot authorize, get tokens or use its access tokens."""
    _client_action(client_id, "suspend")


@clients.command("reactivate")
@click.argument("client_id")
@with_appcontext
def clients_reactivate(client_id: str) -> None:
    """Reactivate a suspended (approved) portal."""
    _client_action(client_id, "reactivate")


def _client_action(client_id: str, action: str, reason: str | None = None) -> None:
    from idp.oidc.registration import RegistrationError
    from idp.oidc.registration import decide
    from idp.oidc.registration import set_suspended

    try:
        if action in ("approve", "reject"):
            client = decide(client_id, approve=action == "approve", reason=reason)
        else:
            client = set_suspended(client_id, suspended=action == "suspend")
    except RegistrationError as exc:
        db.session.rollback()
        _fail(str(exc))
    db.session.commit()
    click.echo(json.dumps({"client_id": client.client_id, "status": client.status}))


@click.group()
def keys() -> None:
    """Manage signing keys."""


@keys.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Add new keys (published now, signing after the lead time); retire the old ones later."""
    from idp.audit import record
    from idp.oidc.runtime import runtime

    oidc = current_settings().oidc
    created = runtime().keys.rotate(oidc.key_publish_lead, oidc.longest_token_ttl)
    record("keys.rotated", kids=[r.kid for r in created])
    db.session.commit()
    for r in created:
        click.echo(json.dumps(r.to_json()))


@keys.command("list")
@with_appcontext
def keys_list() -> None:
    """Show every key with its state (pending, active, retiring, retired)."""
    from idp.oidc.keys import describe
    from idp.oidc.runtime import runtime

    for row in describe(runtime().keys):
        click.echo(json.dumps(row))


@click.command()
@click.option("--retention-days", default=90, show_default=True, type=int,
              help="Keep ended login sessions (login history) this long.")
@with_appcontext
def purge(retention_days: int) -> None:
    """Delete expired codes, tokens, one-time values, old sessions and login history; carry out the
    account deletions that are due (run daily)."""
    from idp.maintenance import purge_expired

    click.echo(json.dumps(purge_expired(retention_days)))


@click.group()
def postal() -> None:
    """Vietnam Post sources: letter batches for the postal operator, clean-up."""


@postal.command("export-letters")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write the batch to this new file (never "
              "overwritten; owner-only permissions). Default: standard output.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--source", "sources", multiple=True, help="Letter source id (repeat). Default: every letter source.")
@with_appcontext
def postal_export_letters(out: str | None, fmt: str, sources: tuple[str, ...]) -> None:
    """Give each queued letter its activation code and export them as one batch.

    The codes exist only in this output (the database keeps their hashes): hand it to the postal
    operator and delete it afterwards. If the command fails, discard its output."""
    from idp.dbtypes import utcnow
    from idp.verifiers.postal.counter import VIETNAM
    from idp.verifiers.postal.export import export_batch
    from idp.verifiers.postal.export import letter_sources
    from idp.verifiers.postal.export import render
    from idp.verifiers.postal.export import write_new_file

    try:
        chosen = letter_sources(sources)
    except ValueError as exc:
        _fail(str(exc))
    batch_id, entries = export_batch(chosen, utcnow().astimezone(VIETNAM).strftime("%Y%m%d"))
    text = render(entries, fmt)
    if out:
        try:
            write_new_file(out, text)
        except OSError as exc:
            db.session.rollback()
            _fail(f"cannot write {out}: {exc.strerror or exc}")
    else:
        click.echo(text, nl=False)
    db.session.commit()
    click.echo(json.dumps({"batch_id": batch_id, "letters": len(entries), "out": out or "-"}), err=True)


@postal.command("purge")
@click.option("--retention-days", default=365, show_default=True, type=click.IntRange(min=1),
              help="Delete expired requests and letters older than this.")
@with_appcontext
def postal_purge(retention_days: int) -> None:
    """Wipe personal data from expired postal requests and letters; delete old ones."""
    from datetime import timedelta

    from idp.dbtypes import utcnow
    from idp.verifiers.postal.models import purge as purge_postal

    counts = purge_postal(utcnow(), timedelta(days=retention_days))
    db.session.commit()
    click.echo(json.dumps(counts))


@click.group()
def logout() -> None:
    """Single logout (OIDC Back-Channel Logout 1.0)."""


@logout.command("deliver")
@with_appcontext
def logout_deliver() -> None:
    """Send every due back-channel logout token (run every minute from cron)."""
    from idp.oidc.logout import deliver_due

    click.echo(json.dumps(deliver_due()))
