"""The local certificate authority (PyPI `trustme`) behind the OIDC stand-in's https.

MSAL accepts only an https `oidc_authority`, so the stand-in needs a certificate that every
local client trusts. `ensure_certificates()` keeps in `.dev/certs/` (git-ignored):

- `ca.pem` / `ca-key.pem`: a trustme CA, made once. Import `ca.pem` into a browser to trust the
  stand-in there; the CA can sign any name, so `ca-key.pem` (mode 0600) never leaves the machine;
- `server.pem` / `server-key.pem`: the server certificate for localhost, 127.0.0.1 and ::1,
  valid for a year and re-issued by the same CA 30 days before it expires;
- `ca-bundle.pem`: certifi's public roots plus the CA, for `SSL_CERT_FILE` (httpx, `ssl`) and
  `REQUESTS_CA_BUNDLE` (requests, hence MSAL); Node reads the CA from `NODE_EXTRA_CA_CERTS`.
"""

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from dev.node import locked

STATE_DIR = Path(__file__).resolve().parents[2] / ".dev"  # git-ignored local state
CERT_DIR = STATE_DIR / "certs"
SERVER_NAMES = ("localhost", "127.0.0.1", "::1")
_VALIDITY = timedelta(days=365)
_RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class Certs:
    """Paths of the local TLS material (all PEM)."""

    ca: Path  # the local CA certificate: what browsers/Node/curl import to trust the server
    cert: Path  # the server certificate (127.0.0.1, ::1, localhost)
    key: Path  # the server's private key
    bundle: Path  # certifi's roots + the local CA: SSL_CERT_FILE / REQUESTS_CA_BUNDLE

    def trust_env(self) -> dict[str, str]:
        """Environment that makes Python (httpx, requests/MSAL) and Node trust the server while
        still trusting the public roots (the bundle includes certifi's)."""
        return {
            "SSL_CERT_FILE": str(self.bundle),
            "REQUESTS_CA_BUNDLE": str(self.bundle),
            "NODE_EXTRA_CA_CERTS": str(self.ca),
        }


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write atomically, so a concurrent reader never sees half a PEM file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_ca(ca_file: Path, key_file: Path, now: datetime) -> trustme.CA | None:
    """The CA made earlier, if both files are there, belong together and outlive the next
    server certificate."""
    try:
        cert_pem, key_pem = ca_file.read_bytes(), key_file.read_bytes()
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = load_pem_private_key(key_pem, None)
    except (OSError, ValueError):
        return None
    if key.public_key() != cert.public_key() or cert.not_valid_after_utc - now < _VALIDITY:
        return None
    return trustme.CA.from_pem(cert_pem, key_pem)


def _server_cert_ok(certs: Certs, ca_file: Path, now: datetime) -> bool:
    """The server certificate is the CA's, matches its key and is not due for renewal."""
    try:
        cert = x509.load_pem_x509_certificate(certs.cert.read_bytes())
        key = load_pem_private_key(certs.key.read_bytes(), None)
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_file.read_bytes()))
    except (OSError, ValueError, TypeError, x509.InvalidSignature):
        return False
    fresh = cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > _RENEW_BEFORE
    return fresh and key.public_key() == cert.public_key()


def ensure_certificates(directory: Path = CERT_DIR, now: datetime | None = None) -> Certs:
    """Create (or keep, while valid for 30 more days) the local CA, the server certificate and
    the CA bundle in `directory`. The CA is kept across renewals, so a browser that imported it
    keeps trusting the re-issued server certificate. Safe to call concurrently."""
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key_file = directory / "ca-key.pem"
    certs = Certs(
        ca=directory / "ca.pem",
        cert=directory / "server.pem",
        key=directory / "server-key.pem",
        bundle=directory / "ca-bundle.pem",
    )
    with locked(directory / ".lock"):
        ca = _load_ca(certs.ca, ca_key_file, now)
        renew = ca is None or not _server_cert_ok(certs, certs.ca, now)
        if ca is None:
            ca = trustme.CA(organization_name="TinyShop", organization_unit_name="local dev CA")
            _write(ca_key_file, ca.private_key_pem.bytes(), 0o600)
            _write(certs.ca, ca.cert_pem.bytes())
        if renew:
            leaf = ca.issue_cert(
                *SERVER_NAMES,
                common_name="localhost",
                not_before=now - timedelta(minutes=5),
                not_after=now + _VALIDITY,
            )
            _write(certs.key, leaf.private_key_pem.bytes(), 0o600)
            _write(certs.cert, leaf.cert_chain_pems[0].bytes())
        bundle = (
            Path(certifi.where()).read_bytes().rstrip(b"\n")
            + b"\n\n# TinyShop local development CA (dev/oidc/certificates.py)\n"
            + certs.ca.read_bytes()
        )
        if not certs.bundle.exists() or certs.bundle.read_bytes() != bundle:
            _write(certs.bundle, bundle)
    return certs
