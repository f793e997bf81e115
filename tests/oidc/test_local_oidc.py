"""The local OIDC provider over real https: discovery, tokens, PKCE, MSAL, `dev.token`.

One Node server (dev/oidc/server.js) on a free port serves the module; it stops at the end.
"""

import base64
import hashlib
import os
import secrets
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlparse

import certifi
import httpx
import jwt
import msal
import pytest
from cryptography import x509

from dev.oidc import launcher as local_oidc
from dev.oidc.certificates import ensure_certificates
from dev.oidc.launcher import API_SCOPE, AUDIENCE, SCOPE, UI_CLIENT_ID, LocalOidc, issuer_for
from tests.support.oidc import subject_for

REPO = Path(__file__).resolve().parents[2]
REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"


@pytest.fixture(scope="module")
def oidc() -> Iterator[LocalOidc]:
    with local_oidc.running(0) as server:
        yield server


@pytest.fixture(scope="module")
def https(oidc: LocalOidc) -> Iterator[httpx.Client]:
    """A client that trusts the local CA and never follows redirects (we inspect them)."""
    with httpx.Client(verify=oidc.ssl_context(), timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def discovery(oidc: LocalOidc, https: httpx.Client) -> dict:
    response = https.get(f"{oidc.issuer}/.well-known/openid-configuration")
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="module")
def jwks(oidc: LocalOidc, discovery: dict) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(discovery["jwks_uri"], ssl_context=oidc.ssl_context())


@pytest.fixture
def msal_trusts_local_ca(oidc: LocalOidc, monkeypatch: pytest.MonkeyPatch) -> None:
    """MSAL uses requests, which prefers REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE from the environment
    over a session's `verify` (psf/requests#3829): trust the local CA the way the UI must."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(oidc.ca_bundle))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def validate(token: str, oidc: LocalOidc, jwks: jwt.PyJWKClient, audience: str = AUDIENCE) -> dict:
    """What a resource server does: RS256 signature from the JWKS, issuer, audience, times."""
    return jwt.decode(
        token,
        jwks.get_signing_key_from_jwt(token),
        algorithms=["RS256"],
        audience=audience,
        issuer=oidc.issuer,
        options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub"]},
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlparse(url).query).items()}


class Forms(HTMLParser):
    """Collects each <form>'s method, action and named inputs."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"method": attributes.get("method"), "action": attributes["action"]})
            self.forms[-1]["fields"] = {}
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1]["fields"][attributes["name"]] = attributes.get("value") or ""


# ------------------------------------------------------------------------------ https, discovery


def test_discovery_verifies_against_the_ca_bundle_only(oidc: LocalOidc) -> None:
    url = f"{oidc.issuer}/.well-known/openid-configuration"
    trusting = ssl.create_default_context(cafile=str(oidc.ca_bundle))
    assert httpx.get(url, verify=trusting).status_code == 200

    public_roots_only = ssl.create_default_context(cafile=certifi.where())
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url, verify=public_roots_only)


def test_the_ca_bundle_keeps_the_public_roots(oidc: LocalOidc) -> None:
    bundle = oidc.ca_bundle.read_text()
    assert Path(certifi.where()).read_text().strip() in bundle
    assert Path(ensure_certificates().ca).read_text() in bundle


DEFAULT_CLIENTS = """
import sys, httpx, jwt, requests
discovery = sys.argv[1] + "/.well-known/openid-configuration"
jwks_uri = httpx.get(discovery).json()["jwks_uri"]  # httpx: SSL_CERT_FILE
requests.get(discovery).raise_for_status()  # requests (MSAL): REQUESTS_CA_BUNDLE
print(len(jwt.PyJWKClient(jwks_uri).get_signing_keys()))  # urllib: SSL_CERT_FILE via OpenSSL
"""


def test_trust_env_makes_default_clients_trust_the_server(oidc: LocalOidc) -> None:
    """The orders API and the UI use default TLS settings: the documented variables suffice."""
    certs = ensure_certificates()
    trusted = subprocess.run(
        [sys.executable, "-c", DEFAULT_CLIENTS, oidc.issuer],
        env={**os.environ, **certs.trust_env()},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.strip() == "1"

    public_roots = {name: certifi.where() for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")}
    untrusted = subprocess.run(
        [sys.executable, "-c", DEFAULT_CLIENTS, oidc.issuer],
        env={**os.environ, **public_roots},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert untrusted.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr


def test_the_certificate_names_loopback(oidc: LocalOidc, https: httpx.Client) -> None:
    # Hostname checks pass for both names browsers and scripts use.
    localhost_issuer = oidc.issuer.replace("127.0.0.1", "localhost")
    assert https.get(f"{localhost_issuer}/jwks").status_code == 200


def test_issuer_has_a_path_segment_and_follows_the_port(oidc: LocalOidc, discovery: dict) -> None:
    assert discovery["issuer"] == oidc.issuer == issuer_for(oidc.port)
    assert oidc.issuer == f"https://127.0.0.1:{oidc.port}/tinyshop/v2.0"
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "end_session_endpoint",
    ):
        assert discovery[name].startswith(f"{oidc.issuer}/"), name
    assert discovery["code_challenge_methods_supported"] == ["S256"]


def test_nothing_is_served_outside_the_issuer_path(oidc: LocalOidc, https: httpx.Client) -> None:
    root = f"https://127.0.0.1:{oidc.port}"
    assert https.get(f"{root}/.well-known/openid-configuration").status_code == 404
    assert https.post(f"{root}/token", data={"grant_type": "password"}).status_code == 404


# ------------------------------------------------------------------------------ tokens


def test_access_token_for_alice_validates_against_the_jwks(
    oidc: LocalOidc, jwks: jwt.PyJWKClient
) -> None:
    token = oidc.token("alice")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = validate(token, oidc, jwks)
    assert claims["iss"] == oidc.issuer
    assert claims["aud"] == AUDIENCE
    assert SCOPE in claims["scp"].split(" ")
    assert claims["sub"] == subject_for("alice")
    assert claims["name"] == "Alice"
    assert claims["preferred_username"] == claims["email"] == "alice@tinyshop.test"
    assert claims["azp"] == UI_CLIENT_ID
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    assert claims["exp"] - claims["iat"] == 3600


def test_subjects_are_stable_per_user(oidc: LocalOidc, jwks: jwt.PyJWKClient) -> None:
    first = validate(oidc.token("alice"), oidc, jwks)["sub"]
    again = validate(oidc.token("Alice"), oidc, jwks)["sub"]  # user names ignore case
    bob = validate(oidc.token("bob"), oidc, jwks)["sub"]
    assert first == again == subject_for("alice")
    assert bob == subject_for("bob") != first


def test_claim_overrides_make_tokens_an_api_must_refuse(
    oidc: LocalOidc, jwks: jwt.PyJWKClient
) -> None:
    expired = oidc.token("alice", exp=1_000_000_000)
    with pytest.raises(jwt.ExpiredSignatureError):
        validate(expired, oidc, jwks)
    foreign = oidc.token("alice", aud="api://someone-else")
    with pytest.raises(jwt.InvalidAudienceError):
        validate(foreign, oidc, jwks)
    assert "scp" not in validate(oidc.token("alice", scp=None), oidc, jwks)


def test_unknown_scopes_and_grants_are_refused(oidc: LocalOidc, discovery: dict) -> None:
    with pytest.raises(local_oidc.OidcError, match="invalid_scope"):
        local_oidc.fetch_token("alice", oidc.issuer, oidc.ca_bundle, scope="api://other/Read")
    with httpx.Client(verify=oidc.ssl_context()) as client:
        response = client.post(
            discovery["token_endpoint"],
            data={"grant_type": "client_credentials", "client_id": UI_CLIENT_ID},
        )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_the_signing_key_survives_a_restart(oidc: LocalOidc, jwks: jwt.PyJWKClient) -> None:
    token = oidc.token("alice")
    with local_oidc.running(0) as restarted:
        later = restarted.token("alice")
    kid = jwt.get_unverified_header(token)["kid"]
    assert jwt.get_unverified_header(later)["kid"] == kid
    assert jwks.get_signing_key(kid)  # the running server still publishes it


# ------------------------------------------------------------------------------ PKCE


def authorize(https: httpx.Client, discovery: dict, **params: str | None) -> httpx.Response:
    """GET the authorize endpoint; a parameter given as None is left out."""
    query = {
        "client_id": UI_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": f"openid {API_SCOPE}",
        "state": "s1",
        "login_hint": "alice",
        **params,
    }
    query = {name: value for name, value in query.items() if value is not None}
    return https.get(discovery["authorization_endpoint"], params=query)


def test_authorize_refuses_a_request_without_pkce(https: httpx.Client, discovery: dict) -> None:
    response = authorize(https, discovery)
    assert response.status_code == 302
    assert response.headers["location"].startswith(REDIRECT_URI)
    redirect = query_of(response.headers["location"])
    assert redirect["error"] == "invalid_request"
    assert "code" not in redirect
    assert redirect["state"] == "s1"

    plain = authorize(https, discovery, code_challenge="x" * 43, code_challenge_method="plain")
    assert query_of(plain.headers["location"])["error"] == "invalid_request"


def test_the_sign_in_form_may_redirect_back_to_the_client(
    https: httpx.Client, discovery: dict
) -> None:
    """Browsers apply CSP form-action to the redirect after a submit: the form's policy must
    allow the client's origin, or a real browser never gets back to the UI."""
    _, challenge = pkce_pair()
    page = authorize(
        https, discovery, login_hint=None, code_challenge=challenge, code_challenge_method="S256"
    )
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    form_action = next(p.strip() for p in policy.split(";") if "form-action" in p)
    assert form_action.split()[1:] == ["'self'", "http://127.0.0.1:8000"]


def test_token_endpoint_refuses_a_wrong_or_missing_code_verifier(
    https: httpx.Client, discovery: dict
) -> None:
    def code_for(challenge: str) -> str:
        response = authorize(
            https, discovery, code_challenge=challenge, code_challenge_method="S256"
        )
        return query_of(response.headers["location"])["code"]

    def redeem(code: str, verifier: str | None) -> httpx.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": UI_CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
        }
        if verifier:
            form["code_verifier"] = verifier
        return https.post(discovery["token_endpoint"], data=form)

    verifier, challenge = pkce_pair()
    wrong = redeem(code_for(challenge), pkce_pair()[0])
    assert wrong.status_code == 400
    assert "code_verifier" in wrong.json()["error_description"]

    missing = redeem(code_for(challenge), None)
    assert missing.status_code == 400

    code = code_for(challenge)
    assert redeem(code, verifier).status_code == 200
    assert redeem(code, verifier).status_code == 400  # a code is redeemed once


# ------------------------------------------------------------------------------ MSAL


def msal_app(oidc: LocalOidc) -> msal.ConfidentialClientApplication:
    # oidc_authority: MSAL fetches <issuer>/.well-known/openid-configuration, as for Entra
    # External ID with a custom domain.
    return msal.ConfidentialClientApplication(
        UI_CLIENT_ID, client_credential="local-dev-secret", oidc_authority=oidc.issuer
    )


@pytest.mark.usefixtures("msal_trusts_local_ca")
@pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning")
def test_msal_auth_code_flow_with_login_hint(
    oidc: LocalOidc, https: httpx.Client, discovery: dict, jwks: jwt.PyJWKClient
) -> None:
    app = msal_app(oidc)
    flow = app.initiate_auth_code_flow(
        [API_SCOPE], redirect_uri=REDIRECT_URI, login_hint="alice", response_mode="query"
    )
    assert flow["code_verifier"]

    redirect = https.get(flow["auth_uri"])
    assert redirect.status_code == 302
    assert redirect.headers["location"].startswith(REDIRECT_URI)
    result = app.acquire_token_by_auth_code_flow(flow, query_of(redirect.headers["location"]))

    assert "error" not in result, result
    id_claims = result["id_token_claims"]
    assert id_claims["preferred_username"] == "alice@tinyshop.test"
    assert id_claims["sub"] == subject_for("alice")
    assert id_claims["aud"] == UI_CLIENT_ID
    # MSAL sends a hash of flow["nonce"] and checks that the ID token echoes it.
    assert id_claims["nonce"] == query_of(flow["auth_uri"])["nonce"]
    assert validate(result["id_token"], oidc, jwks, audience=UI_CLIENT_ID)["iss"] == oidc.issuer

    access = validate(result["access_token"], oidc, jwks)
    assert access["sub"] == subject_for("alice")
    assert access["scp"] == SCOPE
    assert API_SCOPE in result["scope"].split()

    # The UI can refresh silently, and userinfo answers for the token's user.
    account = app.get_accounts(username="alice@tinyshop.test")[0]
    refreshed = app.acquire_token_silent([API_SCOPE], account=account, force_refresh=True)
    assert validate(refreshed["access_token"], oidc, jwks)["sub"] == subject_for("alice")
    userinfo = https.get(
        discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {result['access_token']}"},
    )
    assert userinfo.json()["preferred_username"] == "alice@tinyshop.test"
    assert https.get(discovery["userinfo_endpoint"]).status_code == 401


@pytest.mark.usefixtures("msal_trusts_local_ca")
def test_msal_auth_code_flow_through_the_sign_in_form_with_form_post(
    oidc: LocalOidc, https: httpx.Client, jwks: jwt.PyJWKClient
) -> None:
    app = msal_app(oidc)
    flow = app.initiate_auth_code_flow(
        [API_SCOPE], redirect_uri=REDIRECT_URI, response_mode="form_post"
    )

    page = https.get(flow["auth_uri"])  # no login_hint: the developer picks a user
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    (sign_in,) = Forms(page.text).forms
    assert sign_in["method"] == "get"
    fields = {**sign_in["fields"], "login_hint": "bob"}
    redirect = https.get(urljoin(flow["auth_uri"], sign_in["action"]), params=fields)
    assert redirect.status_code == 302

    # form_post: a page whose form POSTs code and state to the redirect URI.
    post_page = https.get(redirect.headers["location"])
    (post,) = Forms(post_page.text).forms
    assert (post["method"], post["action"]) == ("post", REDIRECT_URI)
    assert post["fields"]["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, post["fields"])

    assert result["id_token_claims"]["preferred_username"] == "bob@tinyshop.test"
    assert validate(result["access_token"], oidc, jwks)["sub"] == subject_for("bob")


def test_logout_redirects_to_post_logout_redirect_uri(https: httpx.Client, discovery: dict) -> None:
    target = "http://127.0.0.1:8000/"
    response = https.get(
        discovery["end_session_endpoint"],
        params={"post_logout_redirect_uri": target, "state": "bye"},
    )
    assert response.status_code == 302
    assert response.headers["location"] == f"{target}?state=bye"


# ------------------------------------------------------------------------------ dev.token


def run_dev_token(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dev.token", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_dev_token_prints_an_access_token(oidc: LocalOidc, jwks: jwt.PyJWKClient) -> None:
    by_flag = run_dev_token("alice", "--issuer", oidc.issuer)
    assert by_flag.returncode == 0, by_flag.stderr
    assert validate(by_flag.stdout.strip(), oidc, jwks)["sub"] == subject_for("alice")

    by_env = run_dev_token("bob", env={local_oidc.ISSUER_ENV: oidc.issuer})
    assert by_env.returncode == 0, by_env.stderr
    assert validate(by_env.stdout.strip(), oidc, jwks)["sub"] == subject_for("bob")


def test_dev_token_fails_clearly_when_it_does_not_trust_the_server(oidc: LocalOidc) -> None:
    result = run_dev_token("alice", "--issuer", oidc.issuer, "--ca-bundle", certifi.where())
    assert result.returncode == 1
    assert result.stdout == ""
    assert "not trusted" in result.stderr
    assert "Traceback" not in result.stderr


def test_dev_token_fails_clearly_when_no_server_listens() -> None:
    result = run_dev_token("alice", "--issuer", issuer_for(free_port()))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "make dev" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ certificates


def test_certificates_are_reused_while_valid_and_renewed_before_expiry(tmp_path: Path) -> None:
    first = ensure_certificates(tmp_path)
    ca, cert = first.ca.read_bytes(), first.cert.read_bytes()
    assert ensure_certificates(tmp_path).cert.read_bytes() == cert

    server = x509.load_pem_x509_certificate(cert)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    assert oct(first.key.stat().st_mode & 0o777) == "0o600"

    # Near the server certificate's expiry: a new one from the same CA.
    later = datetime.now(UTC) + timedelta(days=340)
    renewed = ensure_certificates(tmp_path, now=later)
    assert renewed.cert.read_bytes() != cert
    assert renewed.ca.read_bytes() == ca
    x509.load_pem_x509_certificate(renewed.cert.read_bytes()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(ca)
    )
