"""Trust anchors of certificate sources managed in the admin console.

An upload is one PEM CA certificate (at most MAX_PEM_CHARS): it must parse, be a CA (basicConstraints
cA, keyUsage with keyCertSign) and be valid now. It is then validated by building the source with the
anchor appended exactly as start-up does, stored (verifier_anchor), and used together with the
anchors of the configuration file (idp.verifiers.overrides appends it to the `anchors` setting).
Anchors are shown with subject, issuer, validity and SHA-256 fingerprint; uploaded ones can be removed.
This module knows the certificate kind's settings (`anchors`), and nothing of its internals beyond
parse_settings and the PEM reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.admin.access import Admin
from idp.admin.source_settings import actor_label
from idp.admin.source_settings import audited_refusals
from idp.admin.source_settings import candidate
from idp.admin.source_settings import file_config
from idp.admin.source_settings import validate
from idp.admin.source_values import SourceRefused
from idp.admin.source_values import VersionConflict
from idp.audit import record_change
from idp.dbtypes import utcnow
from idp.errors import ConfigError
from idp.errors import NotFound
from idp.extensions import db
from idp.i18n import N_
from idp.verifiers.certificate.pem import MAX_PEM_CHARS
from idp.verifiers.certificate.pem import PemError
from idp.verifiers.certificate.pem import load_certificate
from idp.verifiers.overrides import StoredAnchor
from idp.verifiers.overrides import bump_revision
from idp.verifiers.overrides import stored_overrides
from idp.verifiers.registry import CORE_KEYS

ANCHOR_KINDS = ("certificate",)  # source kinds whose trust anchors can be uploaded
KINDS = ("public", "government")
LEVELS = ("low", "substantial", "high")
REVOCATION_MODES = ("hard", "soft")
OCSP_MODES = ("off", "aia")


@dataclass(frozen=True)
class AnchorView:
    id: int | None  # None: from the configuration (not removable here)
    name: str
    kind: str
    level: str | None
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the DER certificate, hex
    serial: str
    key: str  # "EC P-256", "RSA 4096"
    uploaded_by: str | None = None
    uploaded_at: datetime | None = None

    @property
    def fingerprint_colons(self) -> str:
        return ":".join(self.fingerprint[n:n + 2] for n in range(0, len(self.fingerprint), 2)).upper()

    @property
    def is_valid_now(self) -> bool:
        return self.not_before <= utcnow() < self.not_after


def has_anchors(verifier_id: str) -> bool:
    raw = file_config(verifier_id)
    return str(raw.get("kind", verifier_id)) in ANCHOR_KINDS


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def _key(certificate: x509.Certificate) -> str:
    try:
        key = certificate.public_key()
    except ValueError:
        return "?"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__


def _view(certificate: x509.Certificate, **fields: object) -> AnchorView:
    return AnchorView(subject=certificate.subject.rfc4514_string(), issuer=certificate.issuer.rfc4514_string(),
                      not_before=certificate.not_valid_before_utc, not_after=certificate.not_valid_after_utc,
                      fingerprint=fingerprint(certificate), serial=format(certificate.serial_number, "x"),
                      key=_key(certificate), **fields)  # type: ignore[arg-type]


def _uploaded(verifier_id: str) -> list[StoredAnchor]:
    return list(db.session.execute(select(StoredAnchor).where(StoredAnchor.verifier_id == verifier_id)
                                   .order_by(StoredAnchor.id)).scalars())


def configured_anchors(verifier_id: str) -> tuple[list[AnchorView], str | None]:
    """The anchors of the configuration (file and stored settings), read as the module reads them;
    with the module's message instead when they cannot be read."""
    from idp.verifiers.certificate.config import parse_settings

    runtime = stored_overrides()
    try:
        raw = candidate(verifier_id, uploads=False)
        parsed = parse_settings(verifier_id, {k: v for k, v in raw.items() if k not in CORE_KEYS},
                                runtime.services.now(), runtime.services.sandbox)
    except ConfigError as exc:
        return [], exc.message
    return [_view(anchor.certificate, id=None, name=anchor.label, kind=anchor.kind, level=anchor.level.name.lower())
            for anchor in parsed.anchors], None


def uploaded_anchors(verifier_id: str) -> list[AnchorView]:
    return [uploaded_view(row) for row in _uploaded(verifier_id)]


def get_anchor(verifier_id: str, anchor_id: int) -> StoredAnchor:
    row = db.session.get(StoredAnchor, anchor_id)
    if row is None or row.verifier_id != verifier_id:
        raise NotFound("anchor_unknown", N_("This source has no uploaded trust anchor with this id."))
    return row


def _refuse(field: str, message: str, **params: object) -> SourceRefused:
    return SourceRefused(field, message, **params)


def check_ca_certificate(pem: str) -> x509.Certificate:
    """One PEM CA certificate that may sign certificates and is valid now; SourceRefused naming `pem`."""
    if not isinstance(pem, str) or not pem.strip():
        raise _refuse("pem", N_("Choose a PEM file or paste the certificate."))
    if len(pem) > MAX_PEM_CHARS:
        raise _refuse("pem", N_("The certificate is too large (at most %(limit)s characters)."), limit=MAX_PEM_CHARS)
    try:
        certificate = load_certificate(pem.strip())
    except PemError as exc:
        raise _refuse("pem", N_("This is not one certificate in PEM format (-----BEGIN CERTIFICATE----- ...)."
                                )) from exc
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        constraints = usage = None
    except ValueError as exc:  # a malformed extension
        raise _refuse("pem", N_("The certificate's extensions cannot be read.")) from exc
    if constraints is None or not constraints.ca:
        raise _refuse("pem", N_("This is not a CA certificate (basicConstraints CA:true is missing)."))
    if usage is None or not usage.key_cert_sign:
        raise _refuse("pem", N_("This CA certificate may not sign certificates (keyUsage keyCertSign is missing)."))
    now = utcnow()
    if certificate.not_valid_after_utc <= now:
        raise _refuse("pem", N_("This certificate expired on %(date)s."),
                      date=certificate.not_valid_after_utc.strftime("%Y-%m-%d"))
    if certificate.not_valid_before_utc > now:
        raise _refuse("pem", N_("This certificate is not valid before %(date)s."),
                      date=certificate.not_valid_before_utc.strftime("%Y-%m-%d"))
    return certificate


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _refuse(field, N_("%(field)s must be one of: %(allowed)s."), field=field, allowed=", ".join(allowed))
    return value


@audited_refusals("anchor_add")
def add_anchor(admin: Admin, verifier_id: str, *, pem: str, name: str | None, kind: str, level: str | None,
               revocation: str, ocsp: str) -> AnchorView:
    """Trust one more CA for the source; nothing is stored unless the source would start with it."""
    if not has_anchors(verifier_id):
        raise _refuse("verifier_id", N_("This source does not use trust anchors."))
    certificate = check_ca_certificate(pem)
    kind = _choice("kind", kind, KINDS)
    level = _choice("level", level or ("high" if kind == "government" else "substantial"), LEVELS)
    revocation = _choice("revocation", revocation, REVOCATION_MODES)
    ocsp = _choice("ocsp", ocsp, OCSP_MODES)
    if kind == "government" and revocation != "hard":
        raise _refuse("revocation", N_("Government anchors always check revocation strictly (hard)."))
    label = (name or "").strip() or certificate.subject.rfc4514_string()[:80]
    if len(label) > 200:
        raise _refuse("name", N_("The name must be at most 200 characters."))
    digest = fingerprint(certificate)
    if any(row.fingerprint == digest for row in _uploaded(verifier_id)):
        raise VersionConflict("pem", N_("This certificate is already a trust anchor of this source."))
    configured, _problem = configured_anchors(verifier_id)
    if any(view.fingerprint == digest for view in configured):
        raise VersionConflict("pem", N_("This certificate is already a trust anchor in the configuration file."))
    row = StoredAnchor(verifier_id=verifier_id, fingerprint=digest, name=label, kind=kind, level=level,
                       revocation=revocation, ocsp=ocsp, pem=pem.strip() + "\n",
                       subject=certificate.subject.rfc4514_string()[:1024],
                       issuer=certificate.issuer.rfc4514_string()[:1024],
                       not_before=certificate.not_valid_before_utc, not_after=certificate.not_valid_after_utc,
                       created_by=actor_label(admin), created_at=utcnow())
    validate(verifier_id, extra_anchor=row.as_setting())
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError as exc:  # the same certificate uploaded at the same moment by someone else
        raise VersionConflict("pem", N_("This certificate is already a trust anchor of this source.")) from exc
    bump_revision()
    record_change("admin.source.anchor_added", **admin.actor, target_type="trust_anchor",
                  target_id=f"{verifier_id}:{digest}", before=None,
                  after={"name": label, "kind": kind, "level": level, "revocation": revocation, "ocsp": ocsp,
                         "subject": row.subject, "not_after": row.not_after.isoformat()})
    db.session.commit()
    stored_overrides().refresh(force=True)
    return uploaded_view(row)


def uploaded_view(row: StoredAnchor) -> AnchorView:
    return _view(load_certificate(row.pem), id=row.id, name=row.name, kind=row.kind, level=row.level,
                 uploaded_by=row.created_by, uploaded_at=row.created_at)


@audited_refusals("anchor_remove")
def remove_anchor(admin: Admin, verifier_id: str, anchor_id: int) -> None:
    """Stop trusting an uploaded anchor; refused when the source would no longer start without it."""
    row = get_anchor(verifier_id, anchor_id)
    before = {"name": row.name, "kind": row.kind, "level": row.level, "subject": row.subject,
              "fingerprint": row.fingerprint}
    db.session.delete(row)
    db.session.flush()
    validate(verifier_id)
    bump_revision()
    record_change("admin.source.anchor_removed", **admin.actor, target_type="trust_anchor",
                  target_id=f"{verifier_id}:{row.fingerprint}", before=before, after=None)
    db.session.commit()
    stored_overrides().refresh(force=True)
