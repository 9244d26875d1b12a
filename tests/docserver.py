"""A real HTTP(S) server on loopback serving the documents portals publish (JWK Sets, sector identifier
documents), and the misbehaviours the outbound fetcher (idp/outbound.py) must survive: redirects, huge
or slow bodies, wrong media types. TLS uses a test CA made at run time with `cryptography`.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

Handler = Callable[[Request], Response]
WAIT_LIMIT = 10  # seconds a slow handler holds a request at most (released at stop)


class _Quiet(WSGIRequestHandler):
    def log(self, *args: Any) -> None:  # noqa: ANN401
        pass


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_tls_files(directory: Path, names: tuple[str, ...] = ("localhost",)) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for `names` (DNS names or IP addresses): (ca, cert, key) PEM files."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Test CA")).issuer_name(_name("Test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class DocumentServer:
    """Serve `routes` (path -> handler) on 127.0.0.1; count the requests per path in `hits`."""

    def __init__(self, tls_directory: Path | None = None, names: tuple[str, ...] = ("localhost",)) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.release = threading.Event()
        context = None
        self.ca_file: Path | None = None
        if tls_directory is not None:
            self.ca_file, cert, key = make_tls_files(tls_directory, names)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
        self.scheme = "https" if context else "http"
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, ssl_context=context,
                                   request_handler=_Quiet)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._thread.join(WAIT_LIMIT)

    def _app(self, environ: dict, start_response: Callable) -> Iterator[bytes]:
        request = Request(environ)
        self.hits[request.path] += 1
        handler = self.routes.get(request.path)
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    # --- documents and misbehaviours ---------------------------------------------------------------
    def json(self, path: str, document: Any, content_type: str = "application/json") -> str:  # noqa: ANN401
        """Serve `document` (read at each request: the test may change it) as JSON; return its URL."""
        holder = {"document": document}
        self.routes[path] = lambda _request: Response(json.dumps(holder["document"]), content_type=content_type)
        self.routes[path].holder = holder  # type: ignore[attr-defined]
        return self.url(path)

    def set_document(self, path: str, document: Any) -> None:  # noqa: ANN401
        self.routes[path].holder["document"] = document  # type: ignore[attr-defined]

    def raw(self, path: str, body: bytes, content_type: str, status: int = 200,
            headers: dict[str, str] | None = None) -> str:
        self.routes[path] = lambda _request: Response(body, status=status, content_type=content_type,
                                                      headers=headers or {})
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        return self.raw(path, b"", "text/plain", status=status, headers={"Location": location})

    def streamed(self, path: str, size: int) -> str:
        """A JSON-typed body of `size` bytes sent without Content-Length (the cap must hold while reading)."""
        def body() -> Iterator[bytes]:
            yield b"["
            for _ in range(size // 1024):
                yield b" " * 1024
            yield b"]"

        self.routes[path] = lambda _request: Response(body(), content_type="application/json")
        return self.url(path)

    def slow(self, path: str) -> str:
        """Answer only once the test stops the server (or after WAIT_LIMIT): a hung portal server."""
        def handler(_request: Request) -> Response:
            self.release.wait(WAIT_LIMIT)
            return Response("[]", content_type="application/json")

        self.routes[path] = handler
        return self.url(path)

    def dripping(self, path: str, pause: float) -> str:
        """Send one byte every `pause` seconds (each read is quick; only a whole-body deadline stops it)."""
        def body() -> Iterator[bytes]:
            yield b"["
            for _ in range(int(WAIT_LIMIT / pause)):
                if self.release.wait(pause):
                    return
                yield b" "
            yield b"]"

        self.routes[path] = lambda _request: Response(body(), content_type="application/json")
        return self.url(path)
