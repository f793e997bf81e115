"""Every orders route runs as the bearer token's subject; bad tokens never get in."""

import socket
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from dev.issuer import Issuer, running_issuer
from dev.serve import serve
from tests.conftest import orders_settings

PROTECTED = [
    ("GET", "/cart"),
    ("POST", "/cart/items"),
    ("DELETE", "/cart/items/french-press"),
    ("POST", "/checkout"),
    ("GET", "/orders"),
    ("GET", f"/orders/{uuid.UUID(int=1)}"),
]


def call(orders_url: str, token: str | None, method: str = "GET", path: str = "/cart"):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    body = {"productId": "french-press", "quantity": 1} if method == "POST" else None
    return httpx.request(method, orders_url + path, headers=headers, json=body, timeout=10)


def assert_unauthorized(response: httpx.Response, reason: str | None = None) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="tinyshop-orders"')
    if reason:
        assert reason in response.json()["detail"]
        assert 'error="invalid_token"' in challenge


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_route_requires_a_bearer_token(orders_url: str, method: str, path: str):
    assert_unauthorized(call(orders_url, None, method, path))


def test_a_non_bearer_scheme_is_refused(orders_url: str):
    response = httpx.get(f"{orders_url}/cart", headers={"Authorization": "Basic YWxpY2U6eA=="})
    assert_unauthorized(response)


def test_a_valid_token_is_accepted(orders_url: str, issuer: Issuer):
    response = call(orders_url, issuer.token("alice"))
    assert response.status_code == 200, response.text


def test_probes_need_no_token(orders_url: str):
    assert httpx.get(f"{orders_url}/orders/health/live").status_code == 200
    assert httpx.get(f"{orders_url}/orders/health/ready").status_code == 200


def test_garbage_is_refused(orders_url: str):
    assert_unauthorized(call(orders_url, "not-a-jwt"), "malformed")


def test_an_expired_token_is_refused(orders_url: str, issuer: Issuer):
    token = issuer.token("alice", lifetime=-120)  # beyond the 30 s clock-skew leeway
    assert_unauthorized(call(orders_url, token), "expired")


def test_a_token_not_valid_yet_is_refused(orders_url: str, issuer: Issuer):
    token = issuer.token("alice", nbf=int(time.time()) + 600)
    assert_unauthorized(call(orders_url, token), "not valid yet")


def test_a_token_for_another_audience_is_refused(orders_url: str, issuer: Issuer):
    token = issuer.token("alice", aud="api://someone-else")
    assert_unauthorized(call(orders_url, token), "audience")


def test_a_token_from_another_issuer_is_refused(orders_url: str, issuer: Issuer):
    token = issuer.token("alice", iss="https://evil.example/tenant/v2.0")
    assert_unauthorized(call(orders_url, token), "issuer")


def test_a_token_without_subject_is_refused(orders_url: str, issuer: Issuer):
    assert_unauthorized(call(orders_url, issuer.token("alice", sub=None)))


@pytest.mark.parametrize(
    "sub",
    ["", "x" * 256, 12345, ["alice"], "ali\x00ce", "ali\nce"],
    ids=["empty", "longer-than-the-column", "number", "list", "nul", "control-character"],
)
def test_a_signed_token_whose_subject_cannot_be_stored_is_refused(
    orders_url: str, issuer: Issuer, sub: object
):
    """Signed by the issuer, yet `sub` is not a shopper id the orders database can hold: 401
    at authentication, not a 500 on the first cart write."""
    response = call(orders_url, issuer.token("alice", sub=sub), "POST", "/cart/items")
    assert_unauthorized(response, "subject")


def test_a_subject_as_long_as_the_column_allows_is_accepted(orders_url: str, issuer: Issuer):
    sub = f"{uuid.uuid4().hex}{'x' * 223}"
    assert len(sub) == 255

    response = call(orders_url, issuer.token("alice", sub=sub), "POST", "/cart/items")

    assert response.status_code == 200, response.text


def test_a_token_signed_by_a_foreign_key_with_a_known_kid_is_refused(
    orders_url: str, issuer: Issuer
):
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = issuer.token("alice", key=forger)  # header names the issuer's real kid
    assert_unauthorized(call(orders_url, token), "invalid")


def test_a_token_with_a_tampered_payload_is_refused(orders_url: str, issuer: Issuer):
    header, _, signature = issuer.token("alice").split(".")
    _, payload, _ = issuer.token("mallory").split(".")
    assert_unauthorized(call(orders_url, f"{header}.{payload}.{signature}"), "invalid")


def test_an_unsigned_alg_none_token_is_refused(orders_url: str, issuer: Issuer):
    claims = jwt.decode(issuer.token("alice"), options={"verify_signature": False})
    token = jwt.encode(claims, None, algorithm="none", headers={"kid": next(iter(issuer.keys))})
    assert_unauthorized(call(orders_url, token), "RS256")


def test_an_hs256_token_keyed_with_the_public_key_is_refused(orders_url: str, issuer: Issuer):
    claims = jwt.decode(issuer.token("alice"), options={"verify_signature": False})
    token = jwt.encode(claims, "a-shared-secret-anyone-could-pick", algorithm="HS256")
    assert_unauthorized(call(orders_url, token), "RS256")


def test_a_token_without_the_orders_scope_is_forbidden(orders_url: str, issuer: Issuer):
    response = call(orders_url, issuer.token("alice", scp="openid profile"))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_a_rotated_signing_key_is_picked_up_from_the_jwks(orders_db: str, catalog_url: str):
    from functions.orders.api import create_app

    with running_issuer() as issuer:  # its own issuer: rotation must not leak into other tests
        settings = orders_settings(orders_db, catalog_url, issuer.url, oidc_jwks_refresh_cooldown=0)
        with serve(create_app(settings)) as url:
            assert call(url, issuer.token("alice")).status_code == 200
            before = issuer.jwks_requests
            new_kid = issuer.rotate()

            response = call(url, issuer.token("alice", kid=new_kid))

    assert response.status_code == 200, response.text
    assert issuer.jwks_requests == before + 1  # refetched once for the unknown kid


def test_unknown_kids_cannot_make_the_api_hammer_the_issuer(orders_url: str, issuer: Issuer):
    assert call(orders_url, issuer.token("alice")).status_code == 200
    before = issuer.jwks_requests
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for i in range(5):
        token = issuer.token("alice", kid=f"made-up-{i}", key=stranger)
        assert_unauthorized(call(orders_url, token), "unknown key")
    assert issuer.jwks_requests - before <= 1  # the 30 s refresh cooldown


def test_an_unknown_kid_is_refused(orders_url: str, issuer: Issuer):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        {"sub": "alice", "iss": issuer.url, "aud": "api://tinyshop-orders", "exp": 2**31},
        stranger,
        algorithm="RS256",
        headers={"kid": "never-published"},
    )
    assert_unauthorized(call(orders_url, token), "unknown key")


def test_an_unreachable_issuer_is_a_503_and_does_not_queue_every_request(
    orders_db: str, catalog_url: str, issuer: Issuer
):
    from functions.orders.api import create_app

    with socket.socket() as blackhole:  # accepts connections, never answers
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)
        silent_issuer = f"http://127.0.0.1:{blackhole.getsockname()[1]}/tenant/v2.0"
        settings = orders_settings(orders_db, catalog_url, silent_issuer)
        with serve(create_app(settings)) as url:
            first = call(url, issuer.token("alice"))
            started = time.monotonic()
            second = call(url, issuer.token("alice"))
            waited = time.monotonic() - started
            live = httpx.get(f"{url}/orders/health/live")

    assert first.status_code == second.status_code == 503
    assert first.headers["retry-after"] == "5"
    assert waited < 1  # answered from the failure just seen, not after another 5 s timeout
    assert live.status_code == 200
