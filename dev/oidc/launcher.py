"""The launcher of the local OIDC provider that stands in for Entra External ID (see
docs/architecture.md, "Local stand-ins").

`server.js` beside this module (npm `oauth2-mock-server` behind a small launcher) serves
https://127.0.0.1:8443/tinyshop/v2.0. This module gives it what it needs and gives clients
tokens from it:

- the certificates (certificates.py: a local CA that Python and Node clients trust);
- the Node dependencies (`npm ci` in dev/oidc when node_modules is missing or stale);
- the command that runs the server (`python -m dev.oidc` runs it in the foreground);
- `running()`, a server on any port for tests and benchmarks, and `fetch_token()` behind
  `make token`.

Why https and a path segment: MSAL's `oidc_authority` only accepts an https URL with at least
one path segment and fetches `<oidc_authority>/.well-known/openid-configuration` from it, so
the UI runs the same MSAL code path locally as against `https://<tenant>.ciamlogin.com/...`.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import certifi
import httpx

from dev.node import npm_ci
from dev.oidc.certificates import CERT_DIR, STATE_DIR, Certs, ensure_certificates
from dev.server_process import ProcessNotReady, ServerProcess

OIDC_DIR = Path(__file__).resolve().parent
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

# server.js prints this line once it listens.
LISTENING = re.compile(r"tinyshop-oidc listening port=(?P<port>\d+) issuer=(?P<issuer>\S+)")


def issuer_for(port: int = PORT, host: str = HOST) -> str:
    """The issuer URL (= MSAL `oidc_authority`) of a local server on `port`."""
    return f"https://{host}:{port}{ISSUER_PATH}"


ISSUER = issuer_for(PORT)


class OidcError(RuntimeError):
    """The local OIDC server refused a request or could not be reached."""


class ServerNotRunning(OidcError):
    """Nothing answers at the issuer."""


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
                "(or only the identity provider: `python -m dev.oidc`)."
            ) from exc
        except httpx.TimeoutException as exc:
            raise ServerNotRunning(f"the OIDC server at {issuer} does not answer") from exc
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise OidcError(f"{issuer} is not a working OIDC issuer: {exc!r}") from exc
    if response.status_code != 200:
        raise OidcError(f"{body.get('error')}: {body.get('error_description')}")
    return body["access_token"]


# ------------------------------------------------------------------------------ tests, benchmarks


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


@contextlib.contextmanager
def running(port: int = PORT, host: str = HOST, timeout: float = 30.0) -> Iterator[LocalOidc]:
    """Run a server as a subprocess until the block exits (tests: `running(0)` picks a free
    port, and the issuer follows it). Yields once it listens and its discovery document
    answers over https verified with the CA bundle."""
    certs = ensure_certificates()
    ensure_node_modules()
    argv, extra_env = server_command(port, host, certs)
    process = ServerProcess(argv, LISTENING, name="local OIDC", env=extra_env, timeout=timeout)
    try:
        listening = process.start()
    except ProcessNotReady as exc:
        raise OidcError(str(exc)) from exc
    try:
        server = LocalOidc(listening["issuer"], int(listening["port"]), certs.bundle)
        discovery = f"{server.issuer}/.well-known/openid-configuration"
        if httpx.get(discovery, verify=server.ssl_context(), timeout=10).status_code != 200:
            raise OidcError(f"{discovery} did not answer")
        yield server
    finally:
        process.stop()


# ------------------------------------------------------------------------------ foreground


def main(argv: list[str] | None = None) -> int:
    """`python -m dev.oidc`: prepare, then become the Node server (exec), so a process
    supervisor's signals reach Node directly."""
    parser = argparse.ArgumentParser(prog="python -m dev.oidc", description=__doc__)
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
