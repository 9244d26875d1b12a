"""A bounded JSON POST for the operator and SMS gateway adapters, and their shared settings.

Bounded: a connect and read timeout, an overall deadline (a server that drips bytes is cut off),
and a response size limit. Any failure is an `UpstreamError`; adapters turn it into
SourceUnavailable with their own code. Nothing personal is logged: only the endpoint's host and
what went wrong.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from idp.verifiers.errors import ConfigError

log = logging.getLogger(__name__)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
KEYS = frozenset({"kind", "endpoint", "api_key", "timeout", "max_response_bytes"})


class UpstreamError(Exception):
    """The upstream did not give a usable answer (down, slow, error status, oversized or not JSON)."""


@dataclass(frozen=True)
class HttpSettings:
    endpoint: str
    api_key: str = field(repr=False)
    timeout: float = 5.0
    max_response_bytes: int = 64 * 1024

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).hostname or "?"


def parse_http_settings(raw: Mapping[str, Any], prefix: str, sandbox: bool, extra: frozenset[str] = frozenset(),
                        default_timeout: float = 5.0) -> HttpSettings:
    """Validate an `{kind = "http", endpoint, api_key, timeout, max_response_bytes}` table;
    ConfigError names the bad key under `prefix`. Plain http is allowed only to a loopback host
    when sandboxes are allowed (development and tests)."""
    unknown = sorted(set(raw) - KEYS - extra)
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]}", f"Unknown setting {prefix}.{unknown[0]}.")
    endpoint = raw.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise ConfigError(f"{prefix}.endpoint", f"{prefix}.endpoint must be the upstream's https URL.")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password \
            or parts.fragment:
        raise ConfigError(f"{prefix}.endpoint", f"{prefix}.endpoint must be an https URL without credentials.")
    if parts.scheme == "http" and not (sandbox and parts.hostname in LOOPBACK_HOSTS):
        raise ConfigError(f"{prefix}.endpoint", f"{prefix}.endpoint must use https.")
    api_key = resolve_secret(raw.get("api_key"), f"{prefix}.api_key")
    timeout = raw.get("timeout", default_timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 30:
        raise ConfigError(f"{prefix}.timeout", f"{prefix}.timeout must be a number of seconds, above 0 and at most 30.")
    limit = raw.get("max_response_bytes", 64 * 1024)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 256 <= limit <= 1024 * 1024:
        raise ConfigError(f"{prefix}.max_response_bytes",
                          f"{prefix}.max_response_bytes must be an integer from 256 to 1048576.")
    return HttpSettings(endpoint=endpoint, api_key=api_key, timeout=float(timeout), max_response_bytes=limit)


def resolve_secret(value: Any, key: str) -> str:
    """A secret setting; `env:NAME` and `file:/path` are resolved here too when the caller did not
    go through the settings loader (which already resolves them)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"{key} is required (write it as env:NAME or file:/path).")
    if value.startswith("env:"):
        if value[4:] not in os.environ:
            raise ConfigError(key, f"{key} names environment variable {value[4:]}, which is not set.")
        value = os.environ[value[4:]]
    elif value.startswith("file:"):
        try:
            value = Path(value[5:]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(key, f"{key} names {value[5:]}, which cannot be read.") from exc
    if not value or any(c in value for c in "\r\n"):
        raise ConfigError(key, f"{key} must be one line of text.")
    return value


def post_json(settings: HttpSettings, payload: Mapping[str, Any]) -> Any:
    """POST `payload` as JSON with the bearer key; return the decoded JSON answer or raise UpstreamError."""
    deadline = time.monotonic() + settings.timeout
    try:
        with requests.post(settings.endpoint, json=dict(payload), stream=True, allow_redirects=False,
                           timeout=(settings.timeout, settings.timeout),
                           headers={"Authorization": f"Bearer {settings.api_key}", "Accept": "application/json"},
                           ) as response:
            if not 200 <= response.status_code < 300:
                raise UpstreamError(f"status {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > settings.max_response_bytes:
                raise UpstreamError("response too large")
            body = bytearray()
            for chunk in response.iter_content(chunk_size=4096):
                body.extend(chunk)
                if len(body) > settings.max_response_bytes:
                    raise UpstreamError("response too large")
                if time.monotonic() > deadline:
                    raise UpstreamError("response too slow")
    except requests.RequestException as exc:
        raise UpstreamError(type(exc).__name__) from exc
    try:
        return json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UpstreamError("response is not JSON") from exc


def log_failure(what: str, settings: HttpSettings, exc: UpstreamError) -> None:
    log.warning("%s at %s failed: %s", what, settings.host, exc)
