"""Signing keys: encrypted at rest under `keys/`, published before use, retired after overlap.

The directory holds one encrypted PKCS#8 PEM per key and `keyset.json`, the index of key
states. A key's state follows from its timestamps and the clock, so every worker process
computes the same answer without coordination:

  pending   published in the JWKS, not yet signing (activates_at in the future)
  active    the newest activated key of its algorithm: signs new tokens
  retiring  superseded, still published until every token it signed has expired
  retired   past expires_at: neither published nor used

`rotate` adds one new key per algorithm that activates after `oidc.key_publish_lead` seconds
and gives each current key an expiry of (new activation + longest token lifetime).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from idp.dbtypes import utcnow
from idp.errors import ConfigError

INDEX_FILE = "keyset.json"
ALGORITHMS = ("ES256", "RS256")
DEV_PASSPHRASE = "development-only-keys-passphrase"
RELOAD_INTERVAL = 2.0


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kid: str
    alg: str
    created_at: datetime
    activates_at: datetime
    expires_at: datetime | None = None

    def state(self, now: datetime, active_kids: Iterable[str]) -> str:
        if self.expires_at is not None and self.expires_at <= now:
            return "retired"
        if self.activates_at > now:
            return "pending"
        return "active" if self.kid in active_kids else "retiring"

    def to_json(self) -> dict:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "created_at": self.created_at.isoformat(),
            "activates_at": self.activates_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> KeyRecord:
        expires = data.get("expires_at")
        return cls(
            kid=data["kid"],
            alg=data["alg"],
            created_at=datetime.fromisoformat(data["created_at"]),
            activates_at=datetime.fromisoformat(data["activates_at"]),
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )


class KeyStore:
    """The signing keys of one deployment, reloaded when another process rotates them."""

    def __init__(self, directory: str | Path, passphrase: str) -> None:
        self.directory = Path(directory)
        self._passphrase = passphrase.encode("utf-8")
        self._lock = threading.Lock()
        self._records: list[KeyRecord] = []
        self._keys: dict[str, ECKey | RSAKey] = {}
        self._mtime = -1.0
        self._checked = 0.0
        self._jwks_cache: tuple[tuple, bytes, KeySet] | None = None

    # --- reading -------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Reload the index and key files if `keyset.json` changed on disk."""
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_INTERVAL:
            return
        self._checked = now
        index = self.directory / INDEX_FILE
        try:
            mtime = index.stat().st_mtime
        except FileNotFoundError:
            mtime = 0.0
        if mtime == self._mtime and not force:
            return
        with self._lock:
            records = self._read_index()
            keys = {r.kid: self._keys.get(r.kid) or self._load_private(r) for r in records}
            self._records, self._keys, self._mtime = records, keys, mtime
            self._jwks_cache = None

    def records(self) -> list[KeyRecord]:
        self.refresh()
        return list(self._records)

    def active_kids(self, now: datetime) -> set[str]:
        latest: dict[str, KeyRecord] = {}
        for record in self._records:
            if record.state(now, ()) == "retired" or record.activates_at > now:
                continue
            if record.alg not in latest or record.activates_at > latest[record.alg].activates_at:
                latest[record.alg] = record
        return {r.kid for r in latest.values()}

    def signing_key(self, alg: str, now: datetime | None = None) -> ECKey | RSAKey:
        """Return the key that signs new tokens with `alg`; raise ConfigError if none."""
        self.refresh()
        now = now or utcnow()
        for kid in self.active_kids(now):
            if self._keys[kid].alg == alg:
                return self._keys[kid]
        raise ConfigError("keys", f"No active {alg} signing key: run `idp keys rotate`.")

    def public_jwks(self, now: datetime | None = None) -> tuple[bytes, KeySet]:
        """Return the JWKS (serialised bytes and the KeySet) of every published key."""
        self.refresh()
        now = now or utcnow()
        published = tuple(r.kid for r in self._records if r.state(now, ()) != "retired")
        cached = self._jwks_cache
        if cached is not None and cached[0] == published:
            return cached[1], cached[2]
        public = [self._keys[kid].as_dict(private=False, use="sig", alg=self._keys[kid].alg) for kid in published]
        body = json.dumps({"keys": public}, separators=(",", ":")).encode("utf-8")
        keyset = KeySet.import_key_set({"keys": public})
        self._jwks_cache = (published, body, keyset)
        return body, keyset

    # --- writing (CLI only) --------------------------------------------------------------
    def rotate(self, publish_lead: int, longest_token_ttl: int, now: datetime | None = None) -> list[KeyRecord]:
        """Add one new key per algorithm; schedule the current ones to retire. Return the new ones."""
        with self._exclusive():
            return self._rotate(publish_lead, longest_token_ttl, now)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        # Several workers may start at once on a fresh install: one creates, the others read.
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _rotate(self, publish_lead: int, longest_token_ttl: int, now: datetime | None) -> list[KeyRecord]:
        self.refresh(force=True)
        now = now or utcnow()
        live = [r for r in self._records if r.state(now, ()) != "retired"]
        lead = timedelta(seconds=publish_lead) if live else timedelta(0)
        activates = now + lead
        retire_at = activates + timedelta(seconds=longest_token_ttl + 60)
        records = [
            replace(r, expires_at=min(r.expires_at or retire_at, retire_at)) if r in live else r
            for r in self._records
        ]
        created = [self._create_key(alg, now, activates) for alg in ALGORITHMS]
        self._write_index(records + created)
        self.refresh(force=True)
        return created

    def ensure_keys(self) -> None:
        """Create the first keys if the directory has none usable (first start of a deployment)."""
        with self._exclusive():
            self.refresh(force=True)
            now = utcnow()
            if not {self._keys[kid].alg for kid in self.active_kids(now)} >= set(ALGORITHMS):
                self._rotate(publish_lead=0, longest_token_ttl=0, now=now)

    def _create_key(self, alg: str, now: datetime, activates: datetime) -> KeyRecord:
        kid = f"{now:%Y%m%d}-{alg.lower()}-{secrets.token_hex(4)}"
        if alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return KeyRecord(kid=kid, alg=alg, created_at=now, activates_at=activates)

    def _read_index(self) -> list[KeyRecord]:
        path = self.directory / INDEX_FILE
        if not path.exists():
            return []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [KeyRecord.from_json(item) for item in data["keys"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError("keys.directory", f"{path} is damaged: {exc}") from exc

    def _write_index(self, records: list[KeyRecord]) -> None:
        # Write-then-rename so a worker never reads half a file.
        path = self.directory / INDEX_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"keys": [r.to_json() for r in records]}, indent=2), encoding="utf-8")
        os.replace(tmp, path)

    def _load_private(self, record: KeyRecord) -> ECKey | RSAKey:
        path = self.directory / f"{record.kid}.pem"
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigError("keys.directory", f"Key file {path} cannot be read.") from exc
        if b"ENCRYPTED" not in pem:
            raise ConfigError("keys.directory", f"Key file {path} is not encrypted; refusing to use it.")
        try:
            private = serialization.load_pem_private_key(pem, password=self._passphrase)
        except (ValueError, TypeError) as exc:
            raise ConfigError("keys.passphrase", f"Key file {path} cannot be decrypted with keys.passphrase.") from exc
        key_cls = ECKey if record.alg == "ES256" else RSAKey
        return key_cls.import_key(private, {"kid": record.kid, "alg": record.alg, "use": "sig"})


def open_keystore(directory: str, passphrase: str, production: bool) -> KeyStore:
    """Open the key directory with the configured passphrase (a fixed one only in development)."""
    if not passphrase and production:
        raise ConfigError("keys.passphrase", "Production refuses unencrypted signing keys.")
    return KeyStore(directory, passphrase or DEV_PASSPHRASE)


def describe(store: KeyStore, now: datetime | None = None) -> list[dict]:
    """Return one row per key with its computed state, for `idp keys list`."""
    now = now or datetime.now(UTC)
    records = store.records()
    active = store.active_kids(now)
    return [dict(r.to_json(), state=r.state(now, active)) for r in records]
