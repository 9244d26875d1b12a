"""The safe outbound fetcher (idp/outbound.py) against real servers on loopback.

RFC 7591 §2 / OIDC Registration §2 make the provider fetch URLs a portal chose (jwks_uri,
sector_identifier_uri); RFC 9700 §4.18 and the OWASP SSRF guidance: such fetches must not reach the
provider's own network, follow redirects, or take unbounded time or memory.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.errors import ConfigError
from idp.outbound import FetchError
from idp.outbound import FetchPolicy
from idp.outbound import fetch_json
from idp.outbound import is_public_address
from idp.outbound import policy_from_settings
from idp.settings import Settings
from idp.settings import load_settings
from tests.docserver import DocumentServer

DEVELOPMENT = FetchPolicy(https_only=False, public_only=False, connect_timeout=2, read_timeout=2)
PRODUCTION = FetchPolicy(connect_timeout=2, read_timeout=2)


@pytest.fixture
def server() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.stop()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[DocumentServer]:
    server = DocumentServer(tls_directory=tmp_path, names=("localhost",))
    yield server
    server.stop()


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list:
    """A tripwire: any socket connection attempt fails the test (and is never made)."""
    attempts: list = []

    def refuse(sock: socket.socket, address: object) -> None:
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def _error(url: str, policy: FetchPolicy) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch_json(url, policy)
    return caught.value


# --- what is fetched --------------------------------------------------------------------------------
def test_fetches_a_json_document_from_loopback_outside_production(server):
    url = server.json("/jwks", {"keys": []})
    assert fetch_json(url, DEVELOPMENT) == {"keys": []}
    assert fetch_json(server.url("/jwks", host="localhost"), DEVELOPMENT) == {"keys": []}


def test_a_json_suffix_media_type_is_json(server):
    """RFC 6839 §3.1: application/jwk-set+json is JSON."""
    url = server.json("/jwks", {"keys": []}, content_type="application/jwk-set+json; charset=utf-8")
    assert fetch_json(url, DEVELOPMENT) == {"keys": []}


def test_environment_proxies_are_not_used(server, monkeypatch):
    """A proxy would resolve and connect on our behalf, past the address checks: none is used."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    assert fetch_json(server.json("/doc", ["a"]), DEVELOPMENT) == ["a"]


def test_https_is_verified_against_the_host_name_while_connecting_to_the_checked_address(tls_server):
    """RFC 6125 §6: the certificate names `localhost`; the socket goes to the address checked for it."""
    tls_server.json("/doc", ["ok"])
    policy = DEVELOPMENT.requiring_https()
    trusted = FetchPolicy(https_only=True, public_only=False, ca_bundle=str(tls_server.ca_file))
    assert fetch_json(tls_server.url("/doc", host="localhost"), trusted) == ["ok"]
    # The same server by its address: the certificate does not name 127.0.0.1.
    assert _error(tls_server.url("/doc"), trusted).code == "tls"
    # Without the test CA (the default bundle) the certificate is not trusted.
    assert _error(tls_server.url("/doc", host="localhost"), policy).code == "tls"


def test_the_host_is_resolved_once(server, monkeypatch):
    """No DNS-rebinding window: the name is resolved once; the connection uses that checked address."""
    names: list[str] = []
    real = socket.getaddrinfo

    def counting(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        names.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    assert fetch_json(server.json("/doc", [1], ), DEVELOPMENT) == [1]
    fetch_json(server.url("/doc", host="localhost"), DEVELOPMENT)
    assert names.count("localhost") == 1, names


# --- where it never goes ----------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "https://127.0.0.1/jwks", "https://127.1.2.3:8443/jwks", "https://10.0.0.1/jwks", "https://172.16.5.4/jwks",
    "https://192.168.1.1/jwks", "https://169.254.169.254/latest/meta-data/", "https://100.64.0.1/",
    "https://0.0.0.0/", "https://224.0.0.251/", "https://[::1]/jwks", "https://[fe80::1]/", "https://[fc00::1]/",
    "https://[::ffff:127.0.0.1]/", "https://[::ffff:10.0.0.1]/", "https://[2002:a00:1::1]/", "https://[64:ff9b::a9fe:a9fe]/",
    "https://localhost/jwks",
])
def test_production_never_fetches_from_non_public_addresses(url, no_connections):
    """SSRF: loopback, private (RFC 1918, RFC 4193), link-local and cloud metadata (RFC 3927), shared
    (RFC 6598), multicast, unspecified, IPv4 inside IPv6 (RFC 4291 §2.5.5.2, RFC 3056, RFC 6052), and a
    host name resolving to loopback: refused before any connection."""
    error = _error(url, PRODUCTION)
    assert error.code == "forbidden_address", error.message
    assert "only public addresses are fetched" in error.message
    assert no_connections == []


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True), ("203.0.113.7", False), ("198.18.0.1", False),
    ("240.0.0.1", False), ("255.255.255.255", False), ("2001:db8::1", False), ("ff02::1", False),
])
def test_public_addresses(address, public):
    """RFC 6890 special-purpose registries: documentation, benchmarking, reserved, multicast are not public."""
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_plain_http_is_refused_in_production(server, no_connections):
    error = _error(server.json("/jwks", {"keys": []}), PRODUCTION)
    assert (error.code, error.message) == ("https_required", "the URL must use https.")
    assert no_connections == []


def test_plain_http_outside_production_only_to_loopback(no_connections):
    """RFC 8252 §8.3 spirit: cleartext only on the machine itself; elsewhere https even in development."""
    error = _error("http://10.1.2.3/jwks", DEVELOPMENT)
    assert error.code == "https_required" and "loopback" in error.message
    assert no_connections == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1/", "https:///nohost", "jwks.json",
                                 "https://user:secret@portal.example.vn/jwks", "https://portal.example.vn:99999/"])
def test_only_plain_http_urls_are_fetched(url, no_connections):
    error = _error(url, DEVELOPMENT)
    assert error.code == "bad_url", error.message
    assert no_connections == []


def test_an_unresolvable_host_is_named(monkeypatch, no_connections):
    """RFC 6761 §6.4: .invalid never resolves. The tests send no DNS queries, so the resolver answers
    as a real one would (NXDOMAIN) without asking the network."""
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    error = _error("https://no-such-host.invalid/jwks", DEVELOPMENT)
    assert (error.code, error.message) == ("unresolvable", "the host no-such-host.invalid could not be resolved.")
    assert no_connections == []


# --- what it does not accept ------------------------------------------------------------------------
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(server, status):
    target = server.json("/real", {"keys": []})
    error = _error(server.redirect("/moved", target, status), DEVELOPMENT)
    assert error.code == "redirect" and f"HTTP {status}" in error.message
    assert server.hits["/real"] == 0


def test_an_error_status_is_refused(server):
    error = _error(server.url("/missing"), DEVELOPMENT)
    assert (error.code, error.message) == ("status", "the server answered HTTP 404 instead of 200.")


def test_a_declared_oversized_body_is_refused_before_reading(server):
    url = server.raw("/big", b"[" + b" " * 70_000 + b"]", "application/json")
    error = _error(url, DEVELOPMENT)
    assert (error.code, error.message) == ("too_large", "the document is larger than 65536 bytes.")


def test_an_oversized_streamed_body_is_cut_off(server):
    """No Content-Length: the cap holds while reading (the rest is never buffered)."""
    error = _error(server.streamed("/big", 10 * 1024 * 1024), DEVELOPMENT)
    assert error.code == "too_large"


def test_a_hung_server_times_out(server):
    policy = FetchPolicy(https_only=False, public_only=False, connect_timeout=1, read_timeout=0.3)
    error = _error(server.slow("/slow"), policy)
    assert error.code == "timeout" and "did not answer in time" in error.message


def test_a_dripping_server_hits_the_whole_body_deadline(server):
    """Each byte arrives within the read timeout; the deadline for the whole body still ends the fetch."""
    policy = FetchPolicy(https_only=False, public_only=False, connect_timeout=0.2, read_timeout=0.3)
    error = _error(server.dripping("/drip", pause=0.05), policy)
    assert error.code == "timeout"


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (b"<html>login</html>", "text/html", "the document is served as text/html, not as JSON (application/json)."),
    (b'{"keys": []}', "text/plain", "the document is served as text/plain, not as JSON (application/json)."),
    (b'{"keys": [', "application/json", "the document is not valid JSON."),
    (b"\xff\xfe{}", "application/json", "the document is not valid JSON."),
    (b"[" * 100_00 + b"]" * 100_00, "application/json", "the document is not valid JSON."),
])
def test_only_json_documents_are_accepted(server, body, content_type, message):
    error = _error(server.raw("/doc", body, content_type), DEVELOPMENT)
    assert (error.code, error.message) == ("not_json", message)


def test_a_closed_port_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        error = _error(f"http://127.0.0.1:{port}/jwks", DEVELOPMENT)
    assert (error.code, error.message) == ("unreachable", "could not connect to 127.0.0.1.")


# --- settings -------------------------------------------------------------------------------------------
def test_policy_follows_the_environment():
    """Production: https and public addresses only; development and testing: loopback allowed."""
    production = policy_from_settings(Settings(env="production"))
    assert (production.https_only, production.public_only, production.max_bytes) == (True, True, 65536)
    testing = policy_from_settings(load_settings({"env": "testing", "outbound": {"read_timeout": 2}}))
    assert (testing.https_only, testing.public_only, testing.read_timeout) == (False, False, 2.0)


@pytest.mark.parametrize(("outbound", "key"), [
    ({"read_timeout": 0}, "outbound.read_timeout"), ({"max_bytes": 0}, "outbound.max_bytes"),
    ({"ca_bundle": "/no/such/bundle.pem"}, "outbound.ca_bundle"), ({"proxy": "x"}, "outbound.proxy"),
])
def test_bad_outbound_settings_stop_start_up(outbound, key):
    """Fail at start-up, naming the key (docs/operations.md)."""
    with pytest.raises(ConfigError) as caught:
        load_settings({"env": "testing", "outbound": outbound})
    assert caught.value.code == key
