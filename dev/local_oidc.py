"""The local OIDC provider that stands in for Entra External ID (DESIGN §2, §7).

`dev/oidc/server.js` (npm `oauth2-mock-server` behind a small launcher) serves
https://127.0.0.1:8443/tinyshop/v2.0. This module gives it what it needs and gives clients
tokens from it:

- a local CA and a server certificate for 127.0.0.1/localhost in `.dev/certs/`, and a CA bundle
  (certifi's roots + the local CA) that Python clients trust through `SSL_CERT_FILE` (httpx,
  `ssl`) and `REQUESTS_CA_BUNDLE` (requests, hence MSAL), Node through `NODE_EXTRA_CA_CERTS`;
- the Node dependencies (`npm ci` in dev/oidc when node_modules is missing or stale);
- the command that runs the server (`python -m dev.local_oidc` runs it in the foreground);
- `running()`, a server for tests on any port, and `fetch_token()` behind `make token`.

Why https and a path segment: MSAL's `oidc_authority` only accepts an https URL with at least
one path segment and fetches `<oidc_authority>/.well-known/openid-configuration` from it, so
the UI runs the same MSAL code path locally as against `https://<tenant>.ciamlogin.com/...`.
"""

import argparse
import contextlib
import ipaddress
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dev.node import locked, npm_ci

REPO = Path(__file__).resolve().parent.parent
OIDC_DIR = REPO / "dev" / "oidc"
STATE_DIR = REPO / ".dev"  # git-ignored local state of `make dev`
CERT_DIR = STATE_DIR / "certs"
# The RS256 signing key (a private JWK) persists so tokens and cached JWKS survive restarts.
SIGNING_KEY_FILE = STATE_DIR / "oidc" / "signing-key.json"

HOST = "127.0.0.1"
PORT = 8443
# Like Entra's `https://<tenant>.ciamlogin.com/<tenant-id>/v2.0`: the issuer has a path.
ISSUER_PATH = "/tinyshop/v2.0"
AUDIENCE = "api://tinyshop-orders"  # `aud` of access tokens for the orders API
SCOPE = "Orders.ReadWrite"  # the delegated scope, in the access token's `scp`
API_SCOPE = f"{AUDIENCE}/{SCOPE}"  # what clients request (MSAL `scopes=[API_SCOPE]`)
UI_CLIENT_ID = "tinyshop-ui"  # `aud` of ID tokens, `azp` of access tokens
# Where clients (dev.token, tests) look for the server when it is not on the default port.
ISSUER_ENV = "TINYSHOP_OIDC_ISSUER"

# The launcher prints this line once it listens (dev/oidc/server.js).
_LISTENING = re.compile(r"tinyshop-oidc listening port=(?P<port>\d+) issuer=(?P<issuer>\S+)")
_RENEW_BEFORE = timedelta(days=30)


def issuer_for(port: int = PORT, host: str = HOST) -> str:
    """The issuer URL (= MSAL `oidc_authority`) of a local server on `port`."""
    return f"https://{host}:{port}{ISSUER_PATH}"


ISSUER = issuer_for(PORT)


def subject_for(user: str) -> str:
    """The stable `sub` (and `oid`) of a local user: uuid5 of the lower-cased user name.

    A uuid rather than the name itself, because Entra's subjects are opaque ids too: code that
    needs a display name must read `name`/`preferred_username`, not parse `sub`.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:tinyshop:local-user:{user.strip().lower()}"))


class OidcError(RuntimeError):
    """The local OIDC server refused a request or could not be reached."""


class ServerNotRunning(OidcError):
    """Nothing answers at the issuer."""


# ------------------------------------------------------------------------------ certificates


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


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


_SERVER_NAMES: list[x509.GeneralName] = [
    x509.DNSName("localhost"),
    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    x509.IPAddress(ipaddress.ip_address("::1")),
]


def _new_ca(now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TinyShop local development CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=5 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # Even if its key leaked, this CA can only vouch for loopback names.
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
                    x509.IPAddress(ipaddress.ip_network("::1/128")),
                ],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_server_cert(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(_SERVER_NAMES), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _fresh(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > _RENEW_BEFORE


def _load_ca(
    certs: Certs, now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The existing CA and its key if both are usable, else None."""
    try:
        ca = x509.load_pem_x509_certificate(certs.ca.read_bytes())
        ca_key = serialization.load_pem_private_key(
            (certs.ca.parent / "ca-key.pem").read_bytes(), None
        )
    except (OSError, ValueError):
        return None
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey) or not _fresh(ca, now):
        return None
    if ca_key.public_key() != ca.public_key():
        return None
    return ca, ca_key


def _server_cert_ok(certs: Certs, ca: x509.Certificate, now: datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(certs.cert.read_bytes())
        key = serialization.load_pem_private_key(certs.key.read_bytes(), None)
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound, x509.InvalidSignature):
        return False
    covers = all(name in names for name in _SERVER_NAMES)
    return covers and _fresh(cert, now) and key.public_key() == cert.public_key()


def ensure_certificates(directory: Path = CERT_DIR, now: datetime | None = None) -> Certs:
    """Create (or keep, while valid for 30 more days) the local CA, the server certificate and
    the CA bundle in `directory`.

    The CA outlives server certificates (5 years vs 1), so a developer who imported it into a
    browser keeps trusting re-issued server certificates. Safe to call concurrently.
    """
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    certs = Certs(
        ca=directory / "ca.pem",
        cert=directory / "server.pem",
        key=directory / "server-key.pem",
        bundle=directory / "ca-bundle.pem",
    )
    with locked(directory / ".lock"):
        loaded = _load_ca(certs, now)
        if loaded is None:
            ca, ca_key = _new_ca(now)
            _write(directory / "ca-key.pem", _pem_key(ca_key), 0o600)
            _write(certs.ca, ca.public_bytes(serialization.Encoding.PEM))
        else:
            ca, ca_key = loaded
        if loaded is None or not _server_cert_ok(certs, ca, now):
            cert, key = _new_server_cert(ca, ca_key, now)
            _write(certs.key, _pem_key(key), 0o600)
            _write(certs.cert, cert.public_bytes(serialization.Encoding.PEM))
        bundle = (
            Path(certifi.where()).read_bytes().rstrip(b"\n")
            + b"\n\n# TinyShop local development CA (dev/local_oidc.py)\n"
            + certs.ca.read_bytes()
        )
        if not certs.bundle.exists() or certs.bundle.read_bytes() != bundle:
            _write(certs.bundle, bundle)
    return certs


# ------------------------------------------------------------------------------ node


def ensure_node_modules() -> None:
    """`npm ci` in dev/oidc unless node_modules matches the lockfile (see dev/node.py)."""
    try:
        npm_ci(OIDC_DIR, STATE_DIR / "oidc" / ".npm.lock")
    except FileNotFoundError as exc:
        raise OidcError(f"{exc} (the local OIDC server)") from exc


def server_command(
    port: int = PORT, host: str = HOST, certs: Certs | None = None
) -> tuple[list[str], dict[str, str]]:
    """The argv and extra environment that run the server in the foreground (for a Procfile or
    a subprocess). Creates the certificates if needed; call `ensure_node_modules()` first.
    Port 0 lets the server pick a free port (it prints `... port=N issuer=URL` when ready)."""
    certs = certs or ensure_certificates()
    node = shutil.which("node")
    if node is None:
        raise OidcError("node is not on PATH: the local OIDC server needs Node >= 20.19")
    argv = [
        node,
        str(OIDC_DIR / "server.js"),
        f"--host={host}",
        f"--port={port}",
        f"--cert={certs.cert}",
        f"--key={certs.key}",
        f"--key-file={SIGNING_KEY_FILE}",
    ]
    env = {"TINYSHOP_OIDC_AUDIENCE": AUDIENCE, "TINYSHOP_OIDC_SCOPES": SCOPE}
    return argv, env


# ------------------------------------------------------------------------------ clients


def _ssl_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Trust `ca_bundle`, else the local bundle if `make dev` made one, else the defaults
    (which honour SSL_CERT_FILE)."""
    bundle = ca_bundle or (CERT_DIR / "ca-bundle.pem")
    if bundle.is_file():
        return ssl.create_default_context(cafile=str(bundle))
    if ca_bundle is not None:
        raise OidcError(f"CA bundle not found: {ca_bundle}")
    cafile = os.environ.get("SSL_CERT_FILE") or certifi.where()
    return ssl.create_default_context(cafile=cafile)


def fetch_token(
    user: str,
    issuer: str = ISSUER,
    ca_bundle: Path | None = None,
    *,
    scope: str = API_SCOPE,
    client_id: str = UI_CLIENT_ID,
    claims: dict[str, object] | None = None,
) -> str:
    """An access token for local user `user` from a running server, without a browser.

    Uses the password grant (the local server ignores passwords: any user name signs in), so
    the token has the same claims as one the UI gets through the auth code flow. `claims`
    overrides access-token claims (None removes one), for tests of expired or foreign tokens.
    """
    issuer = issuer.rstrip("/")
    form = {"grant_type": "password", "client_id": client_id, "username": user, "scope": scope}
    if claims:
        form["tinyshop_claims"] = json.dumps(claims)
    with httpx.Client(verify=_ssl_context(ca_bundle), timeout=10) as client:
        try:
            discovery = client.get(f"{issuer}/.well-known/openid-configuration")
            if discovery.status_code != 200:
                raise OidcError(f"{discovery.url} answered {discovery.status_code}: wrong issuer?")
            response = client.post(discovery.json()["token_endpoint"], data=form)
            body = response.json()
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise OidcError(
                    f"the certificate of {issuer} is not trusted: pass the CA bundle made by "
                    f"`make dev` ({CERT_DIR / 'ca-bundle.pem'}) or set SSL_CERT_FILE to it"
                ) from exc
            raise ServerNotRunning(
                f"no OIDC server answers at {issuer}. Start the local stack with `make dev` "
                "(or only the identity provider: `python -m dev.local_oidc`)."
            ) from exc
        except httpx.TimeoutException as exc:
            raise ServerNotRunning(f"the OIDC server at {issuer} does not answer") from exc
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise OidcError(f"{issuer} is not a working OIDC issuer: {exc!r}") from exc
    if response.status_code != 200:
        raise OidcError(f"{body.get('error')}: {body.get('error_description')}")
    return body["access_token"]


# ------------------------------------------------------------------------------ tests


@dataclass(frozen=True)
class LocalOidc:
    """A running local OIDC server (see `running()`)."""

    issuer: str
    port: int
    ca_bundle: Path

    def token(self, user: str, **claims_overrides: object) -> str:
        """An access token for `user`; keyword arguments override claims (None removes)."""
        return fetch_token(user, self.issuer, self.ca_bundle, claims=claims_overrides or None)

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts this server (and the public roots): `httpx.Client(verify=...)`."""
        return ssl.create_default_context(cafile=str(self.ca_bundle))


def _wait_for_discovery(issuer: str, ca_bundle: Path, deadline: float) -> None:
    url = f"{issuer}/.well-known/openid-configuration"
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca_bundle)), timeout=2) as c:
        while True:
            try:
                if c.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise OidcError(f"{url} did not answer over https in time")
            time.sleep(0.05)


@contextlib.contextmanager
def running(port: int = PORT, host: str = HOST, timeout: float = 30.0) -> Iterator[LocalOidc]:
    """Run a server as a subprocess until the block exits (tests: `running(0)` picks a free
    port, and the issuer follows it). Yields once discovery answers over verified https."""
    certs = ensure_certificates()
    ensure_node_modules()
    argv, extra_env = server_command(port, host, certs)
    deadline = time.monotonic() + timeout
    process = subprocess.Popen(
        argv,
        env={**os.environ, **extra_env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: deque[str] = deque(maxlen=200)  # the server's last lines, for error messages
    ready = threading.Event()
    found: dict[str, str] = {}

    def pump() -> None:  # also keeps draining the pipe so the server never blocks on it
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            match = _LISTENING.search(line)
            if match and not ready.is_set():
                found.update(match.groupdict())
                ready.set()
        ready.set()  # the server exited

    reader = threading.Thread(target=pump, name="local-oidc-output", daemon=True)
    reader.start()
    try:
        ready.wait(max(0.0, deadline - time.monotonic()))
        if not found:
            raise OidcError("the local OIDC server did not start:\n" + "\n".join(output))
        server = LocalOidc(issuer=found["issuer"], port=int(found["port"]), ca_bundle=certs.bundle)
        _wait_for_discovery(server.issuer, certs.bundle, deadline)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=2)


# ------------------------------------------------------------------------------ foreground


def main(argv: list[str] | None = None) -> int:
    """`python -m dev.local_oidc`: prepare, then become the Node server (exec), so a process
    supervisor's signals reach Node directly."""
    parser = argparse.ArgumentParser(prog="python -m dev.local_oidc", description=__doc__)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--host", default=HOST)
    args = parser.parse_args(argv)
    certs = ensure_certificates()
    ensure_node_modules()
    command, extra_env = server_command(args.port, args.host, certs)
    trust = " ".join(f"{name}={value}" for name, value in certs.trust_env().items())
    print(
        f"local OIDC: issuer {issuer_for(args.port, args.host)}, CA {certs.ca}\n"
        f"local OIDC: clients trust it with {trust}",
        flush=True,
    )
    os.execve(command[0], command, {**os.environ, **extra_env})  # noqa: S606 (argv, no shell)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
