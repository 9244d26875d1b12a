"""Outbound fetches of documents that portals name by URL (`jwks_uri`, `sector_identifier_uri`).

A URL a portal registers is input from outside: fetching it must not let anyone use the provider to
reach its own network (server-side request forgery). One fetcher, `fetch_json`, with these rules:

- https only in production; elsewhere plain http only to loopback addresses (a portal on a laptop).
  A caller may require https always (OIDC Registration §2: sector_identifier_uri).
- In production never a private, loopback, link-local, multicast, reserved or otherwise non-global
  address: the host is resolved once, EVERY address is checked, and the socket connects to a checked
  address (no second resolution, so no DNS-rebinding window). TLS is still verified against the host
  name (SNI and certificate).
- Connect and read timeouts, and a deadline for the whole body (a server dripping bytes is cut off).
- A size cap, streamed (the declared Content-Length is checked first, then every chunk read).
- No redirects, no proxies from the environment, no compression, JSON media types only.

Failures raise FetchError with a stable `code` and a message a portal developer can act on; the
message template is marked for translation (`N_`) so pages can show it in the reader's language.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import certifi
from urllib3 import HTTPConnectionPool
from urllib3 import HTTPSConnectionPool
from urllib3 import Timeout
from urllib3.connection import HTTPConnection
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError
from urllib3.exceptions import HTTPError
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.connection import create_connection

from idp.i18n import N_

USER_AGENT = "idp-outbound/1"
MAX_URL_LENGTH = 2000
CHUNK = 16 * 1024
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: IPv4 addresses embedded in IPv6
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """What one fetch may do; built from the `[outbound]` settings by `policy_from_settings`."""

    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    max_bytes: int = 64 * 1024
    https_only: bool = True  # False: plain http too, but only to loopback addresses
    public_only: bool = True  # refuse every address that is not public (production)
    ca_bundle: str = ""  # PEM file of trusted CAs; empty: the certifi bundle

    def requiring_https(self) -> FetchPolicy:
        return replace(self, https_only=True)


def policy_from_settings(settings: Any) -> FetchPolicy:  # noqa: ANN401 - idp.settings.Settings (no import cycle)
    """Production: https and public addresses only. Development and testing: loopback allowed."""
    outbound = settings.outbound
    production = settings.is_production
    return FetchPolicy(connect_timeout=float(outbound.connect_timeout), read_timeout=float(outbound.read_timeout),
                       max_bytes=outbound.max_bytes, https_only=production, public_only=production,
                       ca_bundle=outbound.ca_bundle)


class FetchError(Exception):
    """The document could not be fetched within the rules; `message` says why (no secrets, no body)."""

    def __init__(self, code: str, template: str, **params: Any) -> None:  # noqa: ANN401
        self.code, self.template, self.params = code, template, params
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return self.template % self.params


# --- addresses -----------------------------------------------------------------------------------
def is_public_address(address: Address) -> bool:
    """Tell whether `address` is a public unicast address (not private, loopback, link-local, multicast,
    reserved, shared or documentation space, nor an IPv6 form that embeds such an IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(embedded):
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_loopback
                                      or address.is_link_local or address.is_private or address.is_unspecified)


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (an address literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError("unresolvable", N_("the host %(host)s could not be resolved."), host=host) from exc
    # getaddrinfo answers IPv6 with a scope (fe80::1%eth0): the scope is dropped before parsing.
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not addresses:
        raise FetchError("unresolvable", N_("the host %(host)s could not be resolved."), host=host)
    return addresses


def check_addresses(host: str, addresses: list[Address], scheme: str, policy: FetchPolicy) -> None:
    """Refuse the fetch unless every address of the host is allowed by the policy."""
    literal = [str(address) for address in addresses] == [host]
    for address in addresses:
        if policy.public_only and not is_public_address(address):
            if literal:
                raise FetchError("forbidden_address", N_("%(host)s is a private, loopback, link-local or reserved "
                                                         "address; only public addresses are fetched."), host=host)
            raise FetchError("forbidden_address", N_("the host %(host)s resolves to a private, loopback, link-local "
                                                     "or reserved address; only public addresses are fetched."),
                             host=host)
        if scheme == "http" and not address.is_loopback:
            raise FetchError("https_required", N_("plain http is allowed only to loopback addresses outside "
                                                  "production; use https."))


# --- connections pinned to checked addresses ------------------------------------------------------
class _Pinned:
    """A urllib3 connection that connects only to the addresses checked before (never resolves again)."""

    def __init__(self, *args: Any, addresses: tuple[str, ...] = (), **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        self._addresses = addresses

    def _new_conn(self) -> socket.socket:
        if not self._addresses:
            raise NewConnectionError(self, "no checked address to connect to")
        last: OSError | None = None
        for address in self._addresses:
            try:
                return create_connection((address, self.port), self.timeout, source_address=self.source_address,
                                         socket_options=self.socket_options)
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"connection to {self.host} timed out") from exc
            except OSError as exc:
                last = exc
        raise NewConnectionError(self, f"failed to connect: {last}") from last


class _PinnedHTTPConnection(_Pinned, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_Pinned, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


def _tls_context(policy: FetchPolicy) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=policy.ca_bundle or certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# --- the fetch -----------------------------------------------------------------------------------
def _target(url: str, policy: FetchPolicy) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a URL the policy allows, before any network use."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise FetchError("bad_url", N_("the URL must be a string of at most %(length)d characters."),
                         length=MAX_URL_LENGTH)
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise FetchError("bad_url", N_("%(url)s is not an absolute http(s) URL."), url=url[:200]) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("bad_url", N_("%(url)s is not an absolute http(s) URL."), url=url[:200])
    if parts.username is not None or parts.password is not None:
        raise FetchError("bad_url", N_("the URL must not contain a user name or password."))
    if parts.scheme == "http" and policy.https_only:
        raise FetchError("https_required", N_("the URL must use https."))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def _is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def fetch_json(url: str, policy: FetchPolicy) -> Any:  # noqa: ANN401 - any JSON value
    """GET `url` under `policy` and return the parsed JSON document; raise FetchError otherwise."""
    scheme, host, port, path = _target(url, policy)
    addresses = resolve(host, port)
    check_addresses(host, addresses, scheme, policy)
    pinned = tuple(str(address) for address in addresses)
    timeout = Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    pool = (_TLSPool(host, port, timeout=timeout, retries=False, maxsize=1, addresses=pinned,
                     ssl_context=_tls_context(policy)) if scheme == "https"
            else _Pool(host, port, timeout=timeout, retries=False, maxsize=1, addresses=pinned))
    deadline = time.monotonic() + policy.connect_timeout + 2 * policy.read_timeout
    try:
        response = pool.urlopen("GET", path, headers={"Accept": "application/json", "Accept-Encoding": "identity",
                                                      "User-Agent": USER_AGENT},
                                redirect=False, retries=False, preload_content=False, assert_same_host=False)
        try:
            body = _read(response, host, policy, deadline)
        finally:
            response.close()  # never reused: close the socket now, whatever was left unread
    except NewConnectionError as exc:  # before the timeouts: urllib3 makes it a ConnectTimeoutError subclass
        raise FetchError("unreachable", N_("could not connect to %(host)s."), host=host) from exc
    except (ConnectTimeoutError, Urllib3Timeout) as exc:
        raise FetchError("timeout", N_("%(host)s did not answer in time."), host=host) from exc
    except SSLError as exc:
        raise FetchError("tls", N_("the TLS certificate of %(host)s could not be verified."), host=host) from exc
    except (HTTPError, OSError) as exc:
        raise FetchError("unreachable", N_("could not connect to %(host)s."), host=host) from exc
    finally:
        pool.close()
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError; RecursionError: deep nesting
        raise FetchError("not_json", N_("the document is not valid JSON.")) from exc


def _read(response: Any, host: str, policy: FetchPolicy, deadline: float) -> bytes:  # noqa: ANN401
    status = response.status
    if 300 <= status < 400:
        raise FetchError("redirect", N_("the server answered with a redirect (HTTP %(status)d); redirects are not "
                                        "followed, register the final URL."), status=status)
    if status != 200:
        raise FetchError("status", N_("the server answered HTTP %(status)d instead of 200."), status=status)
    content_type = response.headers.get("Content-Type", "")
    if not _is_json_media_type(content_type):
        raise FetchError("not_json", N_("the document is served as %(type)s, not as JSON (application/json)."),
                         type=(content_type.split(";", 1)[0].strip() or "no Content-Type")[:100])
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchError("too_large", N_("the document is larger than %(limit)d bytes."), limit=policy.max_bytes)
    body = bytearray()
    # read1: at most one socket read (each bounded by the read timeout) per chunk, so the deadline is
    # checked at least that often even when the server drips bytes slowly.
    while chunk := response.read1(CHUNK, decode_content=False):
        body.extend(chunk)
        if len(body) > policy.max_bytes:
            raise FetchError("too_large", N_("the document is larger than %(limit)d bytes."), limit=policy.max_bytes)
        if time.monotonic() > deadline:
            raise FetchError("timeout", N_("%(host)s did not answer in time."), host=host)
    return bytes(body)
