"""A test PKI built at run time with cryptography (no binary fixtures), and a loopback HTTP server
that publishes CRLs and answers OCSP (RFC 6960) the way a CA's services do."""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
CITIZEN_ID = "001090012345"
OFFICIAL_ID = "001085000123"
BUSINESS_TAX_CODE = "0100109106"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def new_key(kind: str = "ec") -> PrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return ec.generate_private_key(ec.SECP384R1() if kind == "p384" else ec.SECP256R1())


def name(common_name: str, *, uid: Iterable[str] = (), serial: str | None = None, o: str | None = None,
         ou: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if o:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o))
    if ou:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attributes += [x509.NameAttribute(NameOID.USER_ID, value) for value in uid]
    if serial:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def key_usage(**granted: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                           "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    flags.update(granted)
    return x509.KeyUsage(**flags)


@dataclass
class Holder:
    """A certificate and its private key (a CA, a person, an OCSP responder)."""

    certificate: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def serial(self) -> int:
        return self.certificate.serial_number


def _revocation_extensions(builder: x509.CertificateBuilder, crl_url: str | None,
                           ocsp_url: str | None) -> x509.CertificateBuilder:
    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None, reasons=None,
            crl_issuer=None)]), critical=False)
    if ocsp_url:
        builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
    return builder


def make_ca(common_name: str, issuer: Holder | None = None, *, key: PrivateKey | None = None,
            path_length: int | None = None, ekus: list[x509.ObjectIdentifier] | None = None,
            crl_url: str | None = None, ocsp_url: str | None = None, o: str = "Test CA",
            not_before: datetime | None = None, not_after: datetime | None = None,
            usage: x509.KeyUsage | None = None) -> Holder:
    """A root (no issuer: self-signed) or an intermediate CA."""
    key = key or new_key()
    subject = name(common_name, o=o)
    signer = issuer.key if issuer else key
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.certificate.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or now() - timedelta(days=30))
               .not_valid_after(not_after or now() + timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(usage or key_usage(key_cert_sign=True, crl_sign=True, digital_signature=True),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                                        critical=False)
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    builder = _revocation_extensions(builder, crl_url, ocsp_url)
    return Holder(builder.sign(signer, hashes.SHA256()), key)


def make_leaf(issuer: Holder, subject: x509.Name, *, key: PrivateKey | None = None,
              ekus: list[x509.ObjectIdentifier] | None = None, usage: x509.KeyUsage | None = None,
              not_before: datetime | None = None, not_after: datetime | None = None, crl_url: str | None = None,
              ocsp_url: str | None = None, policies: Iterable[str] = (), signer: PrivateKey | None = None,
              san: list[x509.GeneralName] | None = None, issuer_name: x509.Name | None = None) -> Holder:
    """An end-entity certificate (signed by `issuer`, or by `signer` to forge a wrong signature)."""
    key = key or new_key()
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name or issuer.certificate.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before or now() - timedelta(days=1))
               .not_valid_after(not_after or now() + timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(usage or key_usage(digital_signature=True, content_commitment=True), critical=True)
               .add_extension(x509.ExtendedKeyUsage(ekus if ekus is not None else [ExtendedKeyUsageOID.CLIENT_AUTH,
                                                                                    ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                              critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                              critical=False))
    if policies:
        builder = builder.add_extension(x509.CertificatePolicies(
            [x509.PolicyInformation(x509.ObjectIdentifier(oid), None) for oid in policies]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    builder = _revocation_extensions(builder, crl_url, ocsp_url)
    return Holder(builder.sign(signer or issuer.key, hashes.SHA256()), key)


def make_crl(issuer: Holder, revoked: Iterable[int] = (), *, this_update: datetime | None = None,
             next_update: datetime | None = None, signer: PrivateKey | None = None,
             extensions: Iterable[x509.ExtensionType] = ()) -> bytes:
    """A DER CRL by `issuer` (signed with `signer` to forge a wrong signature), with critical `extensions`."""
    this_update = this_update or now() - timedelta(hours=1)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.certificate.subject)
               .last_update(this_update).next_update(next_update or now() + timedelta(days=1)))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=True)
    for serial in revoked:
        builder = builder.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                                  .revocation_date(this_update).build())
    return builder.sign(signer or issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def sign(holder: Holder, text: str, scheme: str = "default") -> str:
    """What signing software returns: a Base64 raw signature over the UTF-8 text."""
    data = text.encode("utf-8")
    key = holder.key
    if isinstance(key, rsa.RSAPrivateKey):
        pad = (padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH) if scheme == "pss"
               else padding.PKCS1v15())
        raw = key.sign(data, pad, hashes.SHA256())
    else:
        algorithm = hashes.SHA384() if scheme == "sha384" else hashes.SHA256()
        raw = key.sign(data, ec.ECDSA(algorithm))
        if scheme == "raw":  # IEEE P1363 r||s, as WebCrypto returns it
            size = (key.curve.key_size + 7) // 8
            r, s = decode_dss_signature(raw)
            raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return base64.b64encode(raw).decode("ascii")


@dataclass
class OcspResponder:
    """Answers OCSP for one issuer: good unless revoked; optionally delegated, stale or without nonce."""

    issuer: Holder
    revoked: set[int] = field(default_factory=set)
    signer: Holder | None = None  # a delegated responder certificate; None: the issuer signs
    echo_nonce: bool = True
    wrong_nonce: bool = False
    this_update: timedelta = timedelta(minutes=-5)
    next_update: timedelta | None = timedelta(hours=1)
    status: ocsp.OCSPResponseStatus = ocsp.OCSPResponseStatus.SUCCESSFUL

    def respond(self, body: bytes) -> bytes:
        if self.status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(self.status).public_bytes(serialization.Encoding.DER)
        request = ocsp.load_der_ocsp_request(body)
        current = now()
        revoked = request.serial_number in self.revoked
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash, issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number, algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=current + self.this_update,
            next_update=current + self.next_update if self.next_update is not None else None,
            revocation_time=current - timedelta(days=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None)
        signer = self.signer or self.issuer
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, signer.certificate)
        if self.signer is not None:
            builder = builder.certificates([self.signer.certificate])
        nonces = [ext.value for ext in request.extensions if isinstance(ext.value, x509.OCSPNonce)]
        if self.echo_nonce and nonces:
            value = b"\x00" * 16 if self.wrong_nonce else nonces[0].nonce
            builder = builder.add_extension(x509.OCSPNonce(value), critical=False)
        return builder.sign(signer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


class RevocationServer:
    """A loopback HTTP server for CRLs (GET) and OCSP (POST); routes are set per test."""

    def __init__(self) -> None:
        self.crls: dict[str, bytes] = {}
        self.ocsp: dict[str, OcspResponder] = {}
        self.hits: Counter[str] = Counter()
        self.handlers: dict[str, Callable[[Request], Response]] = {}
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def __enter__(self) -> RevocationServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @Request.application
    def _app(self, request: Request) -> Response:
        self.hits[request.path] += 1
        if request.path in self.handlers:
            return self.handlers[request.path](request)
        if request.method == "GET" and request.path in self.crls:
            return Response(self.crls[request.path], content_type="application/pkix-crl")
        if request.method == "POST" and request.path in self.ocsp:
            return Response(self.ocsp[request.path].respond(request.get_data()),
                            content_type="application/ocsp-response")
        return Response("not found", status=404)


def closed_port_url(path: str = "/") -> str:
    """A loopback URL nothing listens on (connection refused at once)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@dataclass
class Hierarchy:
    """The whole hierarchy the tests use, with revocation published on `server`.

    public root → public intermediate → citizen (CCCD in UID), business (MST), revoked (CRL),
    revoked_ocsp, expired, not yet valid, wrong EKU, ...; government root → government
    intermediate → official (O/OU, CCCD).
    """

    server: RevocationServer
    root: Holder
    intermediate: Holder
    citizen: Holder
    citizen_rsa: Holder
    business: Holder
    revoked: Holder
    gov_root: Holder
    gov_intermediate: Holder
    official: Holder
    official_revoked: Holder

    @property
    def chain(self) -> str:
        return self.intermediate.pem

    @property
    def gov_chain(self) -> str:
        return self.gov_intermediate.pem

    def publish(self) -> None:
        """Publish fresh CRLs and OCSP responders (the default state: only `revoked` revoked)."""
        self.server.crls["/root.crl"] = make_crl(self.root)
        self.server.crls["/public.crl"] = make_crl(self.intermediate, [self.revoked.serial])
        self.server.crls["/gov-root.crl"] = make_crl(self.gov_root)
        self.server.crls["/gov.crl"] = make_crl(self.gov_intermediate)
        self.server.ocsp["/ocsp/public"] = OcspResponder(self.intermediate, {self.revoked.serial})
        self.server.ocsp["/ocsp/gov"] = OcspResponder(self.gov_intermediate, {self.official_revoked.serial})
        self.server.ocsp["/ocsp/gov-root"] = OcspResponder(self.gov_root)
        self.server.handlers.clear()


def build_pki(server: RevocationServer) -> Hierarchy:
    root = make_ca("Test Public Root CA", crl_url=None)
    intermediate = make_ca("Test Public Issuing CA", root, path_length=0, crl_url=server.url("/root.crl"))
    public = {"crl_url": server.url("/public.crl"), "ocsp_url": server.url("/ocsp/public")}
    gov_root = make_ca("Test Government Root CA", o="Ban Cơ yếu Chính phủ")
    gov_intermediate = make_ca("Test Government Issuing CA", gov_root, path_length=0, o="Ban Cơ yếu Chính phủ",
                               crl_url=server.url("/gov-root.crl"), ocsp_url=server.url("/ocsp/gov-root"))
    gov = {"crl_url": server.url("/gov.crl"), "ocsp_url": server.url("/ocsp/gov")}
    pki = Hierarchy(
        server=server, root=root, intermediate=intermediate,
        citizen=make_leaf(intermediate, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]), **public),
        citizen_rsa=make_leaf(intermediate, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]), key=new_key("rsa"),
                              **public),
        business=make_leaf(intermediate, name("CÔNG TY TNHH THỬ NGHIỆM", uid=[f"MST:{BUSINESS_TAX_CODE}"],
                                              o="CÔNG TY TNHH THỬ NGHIỆM"), **public),
        revoked=make_leaf(intermediate, name("Trần Thị Bích", uid=["CCCD:001190000777"]), **public),
        gov_root=gov_root, gov_intermediate=gov_intermediate,
        official=make_leaf(gov_intermediate, name("Lê Văn Cán Bộ", uid=[f"CCCD:{OFFICIAL_ID}"], o="Bộ Nội vụ",
                                                  ou="Vụ Tổ chức cán bộ"), **gov),
        official_revoked=make_leaf(gov_intermediate, name("Phạm Văn Cũ", uid=["CCCD:001080000999"], o="Bộ Nội vụ"),
                                   **gov),
    )
    pki.publish()
    return pki


class StallingServer:
    """A loopback HTTP server that sends its headers and the first bytes of a body, then stalls (as a
    server dripping bytes slowly would between two bytes) until the test ends."""

    def __init__(self, content_type: str = "application/octet-stream") -> None:
        import socket

        self._release = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(4)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/slow"
        self._head = (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: 100000\r\n\r\n"
                      .encode("ascii") + b" " * 10)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            connection, _ = self._listener.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            connection.sendall(self._head)
            self._release.wait(30)

    def __enter__(self) -> StallingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._listener.close()
        self._thread.join()


class JumpingClock:
    """Stands in for the `time` module of a fetcher: monotonic() jumps an hour after its first call,
    so a deadline counted from the first call has passed at the next check."""

    def __init__(self) -> None:
        self.calls = 0

    def monotonic(self) -> float:
        self.calls += 1
        return 0.0 if self.calls == 1 else 3600.0
