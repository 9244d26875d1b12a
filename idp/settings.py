"""Settings: one frozen dataclass, its loading order and its validation.

Loading order (later wins): coded defaults, the TOML file named by `IDP_CONFIG`, `IDP_*`
environment variables (`__` nests: `IDP_OIDC__ACCESS_TOKEN_TTL=120`), then `overrides`.
A string value `env:NAME` or `file:/path` is resolved at load time. Secrets (SECRET_KEYS) are masked
in `repr` whatever their origin.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from idp.errors import ConfigError

ENVIRONMENTS = ("development", "testing", "production")
ACCOUNT_KINDS = ("citizen", "business", "official")
SIGNING_ALGS = ("ES256", "RS256")
# Short names the issue promises operators, mapped to their place in the settings tree.
ENV_ALIASES = {
    "IDP_ISSUER": "issuer",
    "IDP_DATABASE_URL": "database_url",
    "IDP_REDIS_URL": "redis_url",
    "IDP_SECRET_KEY": "secret_key",
    "IDP_SUBJECT_SECRET": "subject_secret",
    "IDP_KEYS_PASSPHRASE": "keys.passphrase",
    "IDP_KEYS_DIR": "keys.directory",
    "IDP_ENV": "env",
}
DEV_SECRET = "development-only-secret-do-not-use-in-production"
# Masked in repr whatever their origin (file, env:, file:, IDP_* variable); URLs may hold passwords.
SECRET_KEYS = frozenset({"secret_key", "subject_secret", "keys.passphrase", "database_url", "redis_url",
                         "notifications.email.password", "notifications.sms.api_key"})
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class Secret(str):
    """A string that came from `env:` or `file:`; its repr never shows the value."""

    def __repr__(self) -> str:
        return "'***'"


@dataclass(frozen=True, slots=True)
class OidcSettings:
    access_token_ttl: int = 300
    id_token_ttl: int = 300
    refresh_token_ttl: int = 30 * 24 * 3600
    code_ttl: int = 60
    id_token_alg: str = "ES256"
    jwks_max_age: int = 300
    # A new key is published this long before it signs (JWKS caches must see it first).
    key_publish_lead: int = 600
    consent_ttl: int = 365 * 24 * 3600

    @property
    def longest_token_ttl(self) -> int:
        return max(self.access_token_ttl, self.id_token_ttl)


@dataclass(frozen=True, slots=True)
class PasswordSettings:
    # argon2id parameters (RFC 9106 §4 second recommended option, lighter memory).
    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 2
    # NIST SP 800-63B §5.1.1.2: at least 8 characters, and at least 64 must be accepted.
    min_length: int = 8
    max_length: int = 256


@dataclass(frozen=True, slots=True)
class LoginSettings:
    per_ip: str = "30 per minute"
    per_account_failures: int = 5
    lockout_seconds: int = 900
    session_lifetime: int = 8 * 3600  # absolute: a session ends this long after it opened (seconds)
    session_idle_lifetime: int = 1800  # idle: a session not used for this long ends (seconds)

    def __post_init__(self) -> None:
        if self.session_idle_lifetime <= 0:
            raise ConfigError("login.session_idle_lifetime", "login.session_idle_lifetime must be positive (seconds).")


@dataclass(frozen=True, slots=True)
class RecoverySettings:
    """Password reset (idp/accounts/recovery.py) and the change-password page."""

    code_ttl: int = 600  # an SMS reset code lives 10 minutes ...
    code_attempts: int = 5  # ... and allows 5 tries
    link_ttl: int = 1800  # an e-mail reset or verification link lives 30 minutes
    per_ip: str = "20 per hour"  # reset requests from one client address (mobile networks share addresses)
    per_identifier: str = "5 per hour"  # reset messages about one account (silently skipped beyond)
    recent_login: int = 900  # changing the password needs a login at most this old (seconds)


@dataclass(frozen=True, slots=True)
class EmailSenderSettings:
    # auto: the development outbox when sandboxes are allowed, otherwise none (nothing is sent).
    kind: str = "auto"  # auto | outbox | smtp | none
    host: str = ""
    port: int = 587
    starttls: bool = True
    from_address: str = ""
    user: str = ""
    password: str = ""
    timeout: int = 10


@dataclass(frozen=True, slots=True)
class SmsSenderSettings:
    kind: str = "auto"  # auto | outbox | http | none
    endpoint: str = ""  # the SMS gateway's JSON API (the telecom module's contract)
    api_key: str = ""
    sender: str = ""  # brand name shown as the sender, at most 11 characters
    timeout: int = 10


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    """Security notifications and recovery messages (idp/notify.py): one sender per channel."""

    email: EmailSenderSettings = field(default_factory=EmailSenderSettings)
    sms: SmsSenderSettings = field(default_factory=SmsSenderSettings)
    # The account's language is not known: messages are written in this one.
    language: str = "vi"


@dataclass(frozen=True, slots=True)
class KeySettings:
    directory: str = "keys"
    passphrase: str = ""


@dataclass(frozen=True, slots=True)
class AdminSettings:
    """The admin console (idp/admin/): admin sessions are short and destructive actions re-authenticate."""

    session_lifetime: int = 1800  # an admin page needs a login (or step-up) at most this old (seconds)
    reauth_seconds: int = 300  # a destructive action needs one at most this old (seconds)

    def __post_init__(self) -> None:
        if not 0 < self.reauth_seconds <= self.session_lifetime:
            raise ConfigError("admin.reauth_seconds",
                              "admin.reauth_seconds must be positive and at most admin.session_lifetime.")


@dataclass(frozen=True, slots=True)
class RegistrationSettings:
    """The RFC 7591/7592 registration API (idp/oidc/registration.py): request budgets per client address."""

    per_ip: str = "60 per hour"  # POST /oauth2/register and GET/PUT/DELETE /oauth2/register/<client_id>
    bad_token_per_ip: str = "10 per hour"  # requests with a wrong or expired initial/registration access token

    def __post_init__(self) -> None:
        from limits import parse

        for name in ("per_ip", "bad_token_per_ip"):
            try:
                parse(getattr(self, name))
            except ValueError as exc:
                raise ConfigError(f"registration.{name}",
                                  f"registration.{name} must read like \"10 per hour\".") from exc


@dataclass(frozen=True, slots=True)
class OutboundSettings:
    """Fetches of documents portals name by URL (jwks_uri, sector_identifier_uri): idp/outbound.py."""

    connect_timeout: int = 3  # seconds
    read_timeout: int = 5  # seconds per read; the whole body within connect + 2 x read
    max_bytes: int = 65536  # a JWK Set or sector document larger than this is refused
    ca_bundle: str = ""  # PEM file of the CAs trusted for https fetches; empty: the certifi bundle
    jwks_cache_ttl: int = 300  # a portal's keys from its jwks_uri are fetched again after this (seconds)
    jwks_refetch_interval: int = 60  # at most one fetch per portal this often, whatever the kids (seconds)

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "max_bytes", "jwks_cache_ttl"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"outbound.{name}", f"outbound.{name} must be positive.")
        if self.ca_bundle and not Path(self.ca_bundle).is_file():
            raise ConfigError("outbound.ca_bundle", f"outbound.ca_bundle names {self.ca_bundle}, which is not a file.")


@dataclass(frozen=True, slots=True)
class Features:
    sandbox: bool = False
    self_registration: bool = True
    dynamic_registration: bool = False  # publish registration_endpoint (RFC 7591) in discovery


@dataclass(frozen=True, slots=True)
class AccountSettings:
    # Kind -> identity source id that must create accounts of that kind (password
    # self-registration is then closed for it; enforcement at login arrives with the sources).
    required_source: Mapping[str, str] = field(default_factory=dict)
    login_history_days: int = 365  # `idp purge` deletes login history rows older than this
    deletion_grace_days: int = 30  # a delete-account request is carried out this long after it was made

    def __post_init__(self) -> None:
        for key in ("login_history_days", "deletion_grace_days"):
            if getattr(self, key) < 1:
                raise ConfigError(f"accounts.{key}", f"accounts.{key} must be at least 1 (days).")


@dataclass(frozen=True, slots=True)
class Settings:
    env: str = "development"
    issuer: str = "http://127.0.0.1:5000"
    # Flask-SQLAlchemy puts a relative SQLite path under the instance/ folder.
    database_url: str = "sqlite:///idp.db"
    redis_url: str = ""
    secret_key: str = ""
    subject_secret: str = ""
    default_locale: str = "vi"
    max_parameter_length: int = 4096
    # Number of trusted reverse proxies in front (X-Forwarded-For/Proto/Host); 0 = none.
    proxy_hops: int = 0
    log_level: str = "INFO"
    oidc: OidcSettings = field(default_factory=OidcSettings)
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    login: LoginSettings = field(default_factory=LoginSettings)
    recovery: RecoverySettings = field(default_factory=RecoverySettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    features: Features = field(default_factory=Features)
    accounts: AccountSettings = field(default_factory=AccountSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    registration: RegistrationSettings = field(default_factory=RegistrationSettings)
    # Identity sources: `[verifiers.<id>]` tables with `kind`, `enabled` and the module's settings.
    verifiers: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_https(self) -> bool:
        return self.issuer.startswith("https://")

    def flask_config(self) -> dict[str, Any]:
        """Derive the Flask and extension keys from the settings, in one place."""
        return {
            "SECRET_KEY": self.secret_key or DEV_SECRET,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(self.database_url),
            "SESSION_COOKIE_NAME": "idp_session",
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.is_https,
            "PERMANENT_SESSION_LIFETIME": self.login.session_lifetime,
            "MAX_CONTENT_LENGTH": 64 * 1024,
            "WTF_CSRF_TIME_LIMIT": None,
            "WTF_CSRF_SSL_STRICT": self.is_https,
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            # Moving window: no burst at window edges (and no flaky edges in tests).
            "RATELIMIT_STRATEGY": "moving-window",
            "RATELIMIT_HEADERS_ENABLED": False,
            "BABEL_DEFAULT_LOCALE": self.default_locale,
            "TESTING": self.env == "testing",
        }


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    # pool_recycle instead of pool_pre_ping: a ping per checkout cost ~10% of a token request.
    return {"pool_recycle": 1800, "pool_size": 10, "max_overflow": 10}


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Load settings in order and validate them; raise ConfigError naming the bad key."""
    tree: dict[str, Any] = {}
    config_path = os.environ.get("IDP_CONFIG")
    if config_path:
        _merge(tree, _read_toml(config_path))
    # A variable named by an `env:` secret (e.g. IDP_VIETTEL_KEY) holds that secret's value; it is
    # not a setting of its own, even with the IDP_ prefix.
    secret_names = _env_references(tree) | _env_references(overrides or {})
    _merge(tree, _environment_tree({k: v for k, v in os.environ.items() if k not in secret_names}))
    if overrides:
        _merge(tree, dict(overrides))
    settings = _build(Settings, _resolve_secrets(tree, ""), "")
    check_settings(settings)
    return settings


def configure_logging(level: str) -> None:
    """Give the process a log handler unless one exists (gunicorn, pytest and hosts bring their own)."""
    import logging

    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("idp").setLevel(level)


def current_settings() -> Settings:
    """Return the settings of the running application."""
    return current_app.extensions["idp.settings"]


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError("IDP_CONFIG", f"IDP_CONFIG names {path}, which does not exist.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("IDP_CONFIG", f"{path} is not valid TOML: {exc}") from exc


def _environment_tree(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("IDP_") or name in ("IDP_CONFIG",) or name.startswith("IDP_TEST_"):
            continue
        dotted = ENV_ALIASES.get(name) or name[4:].lower().replace("__", ".")
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _parse_env_value(raw)
    return tree


def _env_references(node: Any) -> set[str]:
    """The environment variable names that `env:NAME` values anywhere in `node` refer to."""
    if isinstance(node, str):
        return {node[4:]} if node.startswith("env:") else set()
    if isinstance(node, Mapping):
        return set().union(*(_env_references(value) for value in node.values()))
    if isinstance(node, list | tuple):
        return set().union(*(_env_references(value) for value in node))
    return set()


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value


def _resolve_secrets(node: Any, path: str) -> Any:
    if isinstance(node, dict):
        return {k: _resolve_secrets(v, f"{path}{k}.") for k, v in node.items()}
    if isinstance(node, str) and node.startswith("env:"):
        name = node[4:]
        if name not in os.environ:
            raise ConfigError(path[:-1], f"{path[:-1]} names environment variable {name}, which is not set.")
        return Secret(os.environ[name])
    if isinstance(node, str) and node.startswith("file:"):
        try:
            return Secret(Path(node[5:]).read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(path[:-1], f"{path[:-1]} names {node[5:]}, which cannot be read.") from exc
    return node


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(prefix[:-1], f"{prefix[:-1]} must be a table.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}", f"Unknown setting {prefix}{unknown[0]}.")
    values: dict[str, Any] = {}
    defaults = cls()
    for name, value in data.items():
        default = getattr(defaults, name)
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(default):
            values[name] = _build(type(default), value, f"{key}.")
        elif isinstance(default, Mapping):
            if not isinstance(value, Mapping):
                raise ConfigError(key, f"{key} must be a table.")
            values[name] = dict(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(key, f"{key} must be true or false.")
            values[name] = value
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(key, f"{key} must be a non-negative integer.")
            values[name] = value
        else:
            if not isinstance(value, str):
                raise ConfigError(key, f"{key} must be a string.")
            values[name] = Secret(value) if key in SECRET_KEYS else value
    return cls(**values)


def check_settings(settings: Settings) -> None:
    """Refuse unsafe or inconsistent settings; the message names the key."""
    if settings.env not in ENVIRONMENTS:
        raise ConfigError("env", f"env must be one of {', '.join(ENVIRONMENTS)}.")
    parts = urlsplit(settings.issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError("issuer", "issuer must be an http(s) URL without query or fragment.")
    if settings.issuer.endswith("/"):
        raise ConfigError("issuer", "issuer must not end with '/'.")
    if settings.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("log_level", "log_level must be DEBUG, INFO, WARNING or ERROR.")
    if settings.oidc.id_token_alg not in SIGNING_ALGS:
        raise ConfigError("oidc.id_token_alg", f"oidc.id_token_alg must be one of {SIGNING_ALGS}.")
    if not 1 <= settings.oidc.code_ttl <= 60:
        raise ConfigError("oidc.code_ttl", "oidc.code_ttl must be between 1 and 60 seconds.")
    _check_passwords(settings.passwords)
    _check_recovery(settings.recovery)
    _check_notifications(settings)
    for kind in settings.accounts.required_source:
        if kind not in ACCOUNT_KINDS:
            raise ConfigError(f"accounts.required_source.{kind}", f"Unknown account kind {kind}.")
    if settings.is_production:
        _check_production(settings)


def _check_production(settings: Settings) -> None:
    if len(settings.secret_key) < 32:
        raise ConfigError("secret_key", "Production needs secret_key (IDP_SECRET_KEY), at least 32 characters.")
    if len(settings.subject_secret) < 32:
        raise ConfigError(
            "subject_secret", "Production needs subject_secret (IDP_SUBJECT_SECRET), at least 32 characters."
        )
    if not settings.is_https:
        raise ConfigError("issuer", "Production needs an https issuer (IDP_ISSUER).")
    if len(settings.keys.passphrase) < 16:
        raise ConfigError(
            "keys.passphrase",
            "Production refuses unencrypted signing keys: set keys.passphrase (IDP_KEYS_PASSPHRASE), 16+ characters.",
        )
    if settings.features.sandbox:
        raise ConfigError("features.sandbox", "Production refuses features.sandbox = true.")
    if settings.database_url.startswith("sqlite"):
        raise ConfigError("database_url", "Production needs PostgreSQL (IDP_DATABASE_URL), not SQLite.")
    if not settings.redis_url:
        raise ConfigError("redis_url", "Production needs Redis (IDP_REDIS_URL): rate limits and one-time values "
                                       "must be shared by every worker.")


def _check_passwords(passwords: PasswordSettings) -> None:
    # NIST SP 800-63B §5.1.1.2: at least 8 characters; verifiers SHOULD accept at least 64.
    if passwords.min_length < 8:
        raise ConfigError("passwords.min_length", "passwords.min_length must be at least 8 (NIST SP 800-63B).")
    if not 64 <= passwords.max_length <= 1024:
        raise ConfigError("passwords.max_length", "passwords.max_length must be from 64 to 1024 (NIST SP 800-63B).")


def _check_recovery(recovery: RecoverySettings) -> None:
    from limits import parse

    bounds = {"code_ttl": (60, 3600), "code_attempts": (1, 10), "link_ttl": (300, 86400), "recent_login": (60, 86400)}
    for name, (low, high) in bounds.items():
        if not low <= getattr(recovery, name) <= high:
            raise ConfigError(f"recovery.{name}", f"recovery.{name} must be from {low} to {high}.")
    for name in ("per_ip", "per_identifier"):
        try:
            parse(getattr(recovery, name))
        except ValueError as exc:
            raise ConfigError(f"recovery.{name}", f"recovery.{name} must read like \"5 per hour\".") from exc


def _check_notifications(settings: Settings) -> None:
    """Each channel's sender: a known kind, complete settings, no outbox in production."""
    notifications = settings.notifications
    if notifications.language not in ("vi", "en"):
        raise ConfigError("notifications.language", "notifications.language must be vi or en.")
    email, sms = notifications.email, notifications.sms
    for channel, kind, kinds in (("email", email.kind, ("auto", "outbox", "smtp", "none")),
                                 ("sms", sms.kind, ("auto", "outbox", "http", "none"))):
        key = f"notifications.{channel}.kind"
        if kind not in kinds:
            raise ConfigError(key, f"{key} must be one of {', '.join(kinds)}.")
        if kind == "outbox" and settings.is_production:
            raise ConfigError(key, f"{key} = \"outbox\" is for development: production needs a real sender.")
    if email.kind == "smtp":
        _check_smtp(email, settings.is_production)
    if sms.kind == "http":
        _check_sms_gateway(sms, settings.is_production)


def _check_smtp(email: EmailSenderSettings, production: bool) -> None:
    prefix = "notifications.email"
    if not email.host or any(c in email.host for c in "/:@ "):
        raise ConfigError(f"{prefix}.host", f"{prefix}.host must be the SMTP server's host name.")
    if not 1 <= email.port <= 65535:
        raise ConfigError(f"{prefix}.port", f"{prefix}.port must be a TCP port.")
    address = email.from_address
    if address.count("@") != 1 or any(c in address for c in "\r\n<> ") or address.startswith("@") \
            or address.endswith("@"):
        raise ConfigError(f"{prefix}.from_address", f"{prefix}.from_address must be an e-mail address.")
    if bool(email.user) != bool(email.password):
        raise ConfigError(f"{prefix}.password", f"{prefix}.user and {prefix}.password go together.")
    if production and not email.starttls and email.host not in LOOPBACK_HOSTS:
        raise ConfigError(f"{prefix}.starttls", f"{prefix}.starttls must be true in production (except to a "
                                                "relay on this host).")
    if not 1 <= email.timeout <= 60:
        raise ConfigError(f"{prefix}.timeout", f"{prefix}.timeout must be from 1 to 60 seconds.")


def _check_sms_gateway(sms: SmsSenderSettings, production: bool) -> None:
    prefix = "notifications.sms"
    parts = urlsplit(sms.endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password \
            or parts.fragment:
        raise ConfigError(f"{prefix}.endpoint", f"{prefix}.endpoint must be an https URL without credentials.")
    if parts.scheme == "http" and (production or parts.hostname not in LOOPBACK_HOSTS):
        raise ConfigError(f"{prefix}.endpoint", f"{prefix}.endpoint must use https.")
    if not sms.api_key or any(c in sms.api_key for c in "\r\n"):
        raise ConfigError(f"{prefix}.api_key", f"{prefix}.api_key is required (env:NAME or file:/path).")
    # A brand name (alphanumeric sender id) is at most 11 characters (GSM 03.40 TP-OA).
    if len(sms.sender) > 11 or not all(c.isascii() and (c.isalnum() or c in " -.") for c in sms.sender):
        raise ConfigError(f"{prefix}.sender", f"{prefix}.sender must be a brand name of at most 11 letters or digits.")
    if not 1 <= sms.timeout <= 30:
        raise ConfigError(f"{prefix}.timeout", f"{prefix}.timeout must be from 1 to 30 seconds.")
