"""Portal manifests (`clients/*.toml` or `*.json`): read, validate and sync them into the client table.

A manifest is data, never a secret: `client_secret` may only be a reference, `env:NAME` or
`file:PATH` (relative to the manifest), resolved when syncing. The schema is in clients/README.md.
Nothing here runs at import time; `idp clients sync PATH` calls `load_manifests` then `sync`.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idp.auth.assurance import ACR_VALUES
from idp.extensions import db
from idp.oidc.claims import SCOPES
from idp.oidc.client_updates import update_client
from idp.oidc.clients import DEFAULT_SCOPES
from idp.oidc.clients import ClientRegistration
from idp.oidc.clients import InvalidClientMetadata
from idp.oidc.clients import check_agency_code
from idp.oidc.clients import check_uri
from idp.oidc.clients import register_client
from idp.oidc.keys import ALGORITHMS
from idp.oidc.models import Client

MANIFEST_SUFFIXES = (".toml", ".json")
MAX_MANIFEST_BYTES = 64 * 1024
# private_key_jwt with jwks_uri (an inline JWKS is registered with `idp clients add --jwks-file`).
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none", "private_key_jwt")
STRING_KEYS = ("client_id", "name", "agency", "agency_code", "backchannel_logout_uri", "frontchannel_logout_uri",
               "token_endpoint_auth_method", "minimum_acr", "default_acr", "id_token_signed_response_alg",
               "client_secret", "jwks_uri", "sector_identifier_uri")
LIST_KEYS = ("redirect_uris", "post_logout_redirect_uris", "scopes")
BOOL_KEYS = ("trusted", "public_subject")
KEYS = STRING_KEYS + LIST_KEYS + BOOL_KEYS
REQUIRED = ("client_id", "name", "redirect_uris")


class ManifestError(Exception):
    """A manifest that cannot be synced; names the file and the key."""

    def __init__(self, path: Path | str, key: str | None, message: str) -> None:
        super().__init__(f"{path}: {key + ': ' if key else ''}{message}")
        self.path, self.key, self.message = str(path), key, message


@dataclass
class Manifest:
    path: Path
    registration: ClientRegistration
    frontchannel_logout_uri: str | None
    secret_reference: str | None


def manifest_files(path: Path) -> list[Path]:
    """PATH itself, or the manifests directly inside the directory PATH (sorted; sub-folders ignored)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ManifestError(path, None, "no such file or directory")
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix in MANIFEST_SUFFIXES)


def read_manifest(path: Path) -> dict[str, Any]:
    if path.suffix not in MANIFEST_SUFFIXES:
        raise ManifestError(path, None, f"a manifest is a {' or '.join(MANIFEST_SUFFIXES)} file")
    raw = path.read_bytes()
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(path, None, f"larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8")) if path.suffix == ".toml" else json.loads(raw)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(path, None, f"cannot parse: {exc}") from exc
    if not isinstance(data, dict):
        raise ManifestError(path, None, "the top level must be a table/object")
    return data


def parse_manifest(path: Path, data: Mapping[str, Any]) -> Manifest:
    """Check every key's type and value with the registration rules of idp.oidc.clients."""
    for key in data:
        if key not in KEYS:
            raise ManifestError(path, key, f"unknown key (allowed: {', '.join(KEYS)})")
    for key in REQUIRED:
        if not data.get(key):
            raise ManifestError(path, key, "required")
    for key in STRING_KEYS:
        if key in data and not isinstance(data[key], str):
            raise ManifestError(path, key, "must be a string")
    for key in LIST_KEYS:
        if key in data and not (isinstance(data[key], list) and all(isinstance(v, str) for v in data[key])):
            raise ManifestError(path, key, "must be a list of strings")
    for key in BOOL_KEYS:
        if key in data and not isinstance(data[key], bool):
            raise ManifestError(path, key, "must be true or false")
    client_id = data["client_id"]
    if len(client_id) > 64 or not all(c.isalnum() or c in "-._~" for c in client_id):
        raise ManifestError(path, "client_id", "at most 64 characters: letters, digits, - . _ ~")
    if not data["name"].strip() or len(data["name"]) > 200:
        raise ManifestError(path, "name", "1 to 200 characters")
    if len(data.get("agency") or "") > 200:
        raise ManifestError(path, "agency", "at most 200 characters")
    if "agency_code" in data:
        _check(path, "agency_code", lambda: check_agency_code(data["agency_code"]))
    for key, kind in (("redirect_uris", "redirect_uri"), ("post_logout_redirect_uris", "post_logout_redirect_uri")):
        for uri in data.get(key, []):
            _check(path, key, lambda u=uri, k=kind: check_uri(u, k))
    for key in ("backchannel_logout_uri", "frontchannel_logout_uri", "jwks_uri", "sector_identifier_uri"):
        if data.get(key):
            _check(path, key, lambda k=key: check_uri(data[k], k))
    for key in ("redirect_uris", "post_logout_redirect_uris", "backchannel_logout_uri", "frontchannel_logout_uri",
                "jwks_uri", "sector_identifier_uri"):
        values = data.get(key) or []
        if any(len(v) > 500 for v in ([values] if isinstance(values, str) else values)):
            raise ManifestError(path, key, "a URI is longer than 500 characters")
    method = data.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise ManifestError(path, "token_endpoint_auth_method", f"must be one of {', '.join(AUTH_METHODS)}")
    if method == "private_key_jwt" and not data.get("jwks_uri"):
        raise ManifestError(path, "jwks_uri", "required with token_endpoint_auth_method private_key_jwt")
    scopes = data.get("scopes", list(DEFAULT_SCOPES))
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or "openid" not in scopes:
        raise ManifestError(path, "scopes", f"unknown scope {unknown[0]}" if unknown else "must include openid")
    for key in ("minimum_acr", "default_acr"):
        if data.get(key) is not None and data[key] not in ACR_VALUES:
            raise ManifestError(path, key, f"must be one of {', '.join(ACR_VALUES)}")
    alg = data.get("id_token_signed_response_alg")
    if alg is not None and alg not in ALGORITHMS:
        raise ManifestError(path, "id_token_signed_response_alg", f"must be one of {', '.join(ALGORITHMS)}")
    reference = data.get("client_secret")
    if reference is not None:
        if not reference.startswith(("env:", "file:")) or len(reference) <= 5:
            raise ManifestError(path, "client_secret", "a manifest never contains a secret: use env:NAME or file:PATH")
        if method in ("none", "private_key_jwt"):
            raise ManifestError(path, "client_secret", f"a client with token_endpoint_auth_method {method} has none")
    registration = ClientRegistration(
        client_id=client_id, name=data["name"].strip(), agency=data.get("agency"),
        redirect_uris=list(data["redirect_uris"]), post_logout_redirect_uris=list(data.get("post_logout_redirect_uris",
                                                                                          [])),
        backchannel_logout_uri=data.get("backchannel_logout_uri") or None, token_endpoint_auth_method=method,
        scopes=list(scopes), trusted=data.get("trusted", False), public_subject=data.get("public_subject", False),
        minimum_acr=data.get("minimum_acr"), default_acr=data.get("default_acr"), id_token_signed_response_alg=alg,
        agency_code=data.get("agency_code"), jwks_uri=data.get("jwks_uri") or None,
        sector_identifier_uri=data.get("sector_identifier_uri") or None)
    return Manifest(path, registration, data.get("frontchannel_logout_uri") or None, reference)


def _check(path: Path, key: str, check: Any) -> None:
    try:
        check()
    except InvalidClientMetadata as exc:
        raise ManifestError(path, key, exc.message) from exc


def resolve_secret(manifest: Manifest, environ: Mapping[str, str]) -> str | None:
    """Read the secret an `env:`/`file:` reference points at (never logged, never printed)."""
    reference = manifest.secret_reference
    if reference is None:
        return None
    kind, _, target = reference.partition(":")
    if kind == "env":
        secret = environ.get(target)
        if not secret:
            raise ManifestError(manifest.path, "client_secret", f"environment variable {target} is not set")
    else:
        file = (manifest.path.parent / target).resolve()
        try:
            secret = file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(manifest.path, "client_secret", f"cannot read {target}: {exc}") from exc
    if not 16 <= len(secret) <= 512:
        raise ManifestError(manifest.path, "client_secret", "the referenced secret must be 16 to 512 characters")
    return secret


def load_manifests(path: Path, environ: Mapping[str, str] | None = None) -> list[Manifest]:
    """Read and validate every manifest under PATH; raise ManifestError for the first bad one."""
    environ = os.environ if environ is None else environ
    manifests, seen = [], {}
    for file in manifest_files(path):
        manifest = parse_manifest(file, read_manifest(file))
        client_id = manifest.registration.client_id
        if client_id in seen:
            raise ManifestError(file, "client_id", f"{client_id} is also in {seen[client_id]}")
        seen[client_id] = file
        manifest.registration.client_secret = resolve_secret(manifest, environ)
        manifests.append(manifest)
    if not manifests:
        raise ManifestError(path, None, "no manifests (*.toml, *.json)")
    return manifests


def sync(manifests: list[Manifest]) -> list[dict]:
    """Create or update each portal in the current transaction (the caller commits or rolls back).

    Returns one report per manifest: created (with a generated secret to show once), updated (the
    changed fields) or unchanged. Raises ManifestError naming the file and key; nothing is committed."""
    reports = []
    for manifest in manifests:
        reg = manifest.registration
        client = db.session.get(Client, reg.client_id)
        try:
            if client is None:
                generated = reg.client_secret is None
                client, secret = register_client(reg)
                client.frontchannel_logout_uri = manifest.frontchannel_logout_uri
                reports.append({"client_id": client.client_id, "file": str(manifest.path), "result": "created",
                                **({"client_secret": secret} if generated and secret else {})})
                continue
            changed, shown = update_client(client, reg, manifest.frontchannel_logout_uri)
        except InvalidClientMetadata as exc:
            key = next((k for k in ("jwks_uri", "sector_identifier_uri") if exc.message.startswith(k)), None) or (
                "redirect_uris" if "redirect_uri" in exc.message else (
                    "public_subject" if "public_subject" in exc.message else None))
            raise ManifestError(manifest.path, key, exc.message) from exc
        report = {"client_id": client.client_id, "file": str(manifest.path),
                  "result": "updated" if changed else "unchanged"}
        if changed:
            report["fields"] = sorted(changed)
        if shown:
            report["client_secret"] = shown
        reports.append(report)
    db.session.flush()
    return reports
