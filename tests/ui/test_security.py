"""CSRF, sessions, cookies, redirects and headers: what keeps one shopper's session theirs."""

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from html import unescape
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.ui.conftest import SignIn
from ui.app.signin import safe_next

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "tinyshop-session"


def csrf(client: FlaskClient, path: str = "/cart") -> str:
    match = CSRF.search(client.get(path).text)
    assert match
    return match.group(1)


# ------------------------------------------------------------------------------ CSRF


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/cart/add", {"product_id": "french-press", "quantity": "1"}),
        ("/cart/update", {"product_id": "french-press", "quantity": "2"}),
        ("/cart/remove", {"product_id": "french-press"}),
        ("/checkout", {"idempotency_key": str(uuid.uuid4())}),
        ("/auth/sign-out", {}),
    ],
)
def test_posts_without_a_csrf_token_are_rejected(
    client: FlaskClient, sign_in: SignIn, shopper: str, path: str, form: dict[str, str]
) -> None:
    sign_in(client, shopper)
    missing = client.post(path, data=form)
    assert missing.status_code == 400
    assert "This form has expired" in missing.text
    forged = client.post(path, data={**form, "csrf_token": "forged.token.value"})
    assert forged.status_code == 400
    # Nothing happened: still signed in, cart untouched.
    assert "Your cart is empty" in client.get("/cart").text


def test_a_token_from_another_session_is_rejected(
    make_app: Callable[..., Flask], sign_in: SignIn
) -> None:
    app = make_app()
    alice, mallory = app.test_client(), app.test_client()
    sign_in(alice, f"alice-{uuid.uuid4().hex[:6]}")
    sign_in(mallory, f"mallory-{uuid.uuid4().hex[:6]}")
    stolen = csrf(mallory)
    response = alice.post(
        "/cart/add", data={"product_id": "french-press", "quantity": "1", "csrf_token": stolen}
    )
    assert response.status_code == 400


def test_posts_without_a_session_are_rejected(client: FlaskClient) -> None:
    for path in ("/cart/add", "/cart/update", "/checkout", "/auth/sign-out"):
        response = client.post(path, data={"product_id": "french-press", "quantity": "1"})
        assert response.status_code == 400, path
        assert "set-cookie" not in response.headers


def test_a_valid_token_without_a_signed_in_shopper_is_401(
    client: FlaskClient, sign_in: SignIn, shopper: str, ui_db: str
) -> None:
    """The session (and its CSRF token) outlives the tokens, e.g. after the IdP refused them."""
    sign_in(client, shopper)
    token = csrf(client)
    with client.session_transaction() as session:
        session.pop("user")
        session.pop("token_cache")
    response = client.post(
        "/cart/add", data={"product_id": "french-press", "quantity": "1", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "/auth/sign-in?next=/cart" in response.text


# ------------------------------------------------------------------------------ sessions, cookies


def test_session_cookie_flags_local_http(client: FlaskClient, sign_in: SignIn) -> None:
    sign_in.start(client)
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert not cookie.secure
    assert cookie.expires is None  # a browser-session cookie; the server decides expiry
    assert len(cookie.value) == 43  # 256 random bits, nothing else


def test_session_cookie_is_secure_host_prefixed_by_default(
    make_app: Callable[..., Flask], sign_in: SignIn
) -> None:
    client = make_app(session_cookie_secure=True).test_client()
    response = client.get("/auth/sign-in", base_url="https://localhost")
    header = response.headers["Set-Cookie"]
    assert header.startswith("__Host-tinyshop-session=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in header
    assert "Domain=" not in header


def test_the_session_id_changes_at_sign_in_and_only_its_hash_is_stored(
    client: FlaskClient, sign_in: SignIn, shopper: str, ui_db: str
) -> None:
    authorize = sign_in.start(client)
    before = client.get_cookie(COOKIE).value
    callback = urlsplit(sign_in.idp(authorize, shopper))
    client.get(f"{callback.path}?{callback.query}")
    after = client.get_cookie(COOKIE).value
    assert after != before  # a planted pre-login session id is worthless

    with psycopg.connect(ui_db) as conn:
        rows = conn.execute(
            "SELECT sid_hash, data::text FROM ui_sessions WHERE sid_hash = ANY(%s)",
            ([hashlib.sha256(v.encode()).digest() for v in (before, after)],),
        ).fetchall()
    assert [bytes(row[0]) for row in rows] == [hashlib.sha256(after.encode()).digest()]
    assert after not in rows[0][1]
    assert "RefreshToken" in rows[0][1]  # the MSAL cache lives server-side


def test_an_unknown_or_malformed_session_cookie_is_ignored(client: FlaskClient) -> None:
    for value in ("x" * 43, "short", "../../etc/passwd"):
        client.set_cookie(COOKIE, value)
        assert client.get("/").status_code == 200
        assert client.get("/cart").headers["Location"].startswith("/auth/sign-in")


def test_expired_sessions_sign_the_shopper_out(
    client: FlaskClient, sign_in: SignIn, shopper: str, ui_db: str
) -> None:
    sign_in(client, shopper)
    sid = client.get_cookie(COOKIE).value
    with psycopg.connect(ui_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE ui_sessions SET expires_at = now() - interval '1 second' WHERE sid_hash = %s",
            (hashlib.sha256(sid.encode()).digest(),),
        )
    assert client.get("/orders").headers["Location"] == "/auth/sign-in?next=/orders"


def test_two_app_instances_share_sessions(make_app: Callable[..., Flask], sign_in: SignIn) -> None:
    """Replicas share nothing but the database: a session made by A is served by B."""
    a, b = make_app().test_client(), make_app().test_client()
    sign_in(a, f"replica-{uuid.uuid4().hex[:6]}")
    b.set_cookie(COOKIE, a.get_cookie(COOKIE).value)
    response = b.get("/orders")
    assert response.status_code == 200
    assert "Your orders" in response.text


# ------------------------------------------------------------------------------ sign-in flow


@pytest.mark.parametrize(
    ("wanted", "accepted"),
    [
        ("/cart", "/cart"),
        ("/orders?after=abc", "/orders?after=abc"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/cart\r\nSet-Cookie: x=1", "/"),
        ("/auth/sign-in?next=/auth/sign-in", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_next_accepts_local_paths_only(wanted: str | None, accepted: str) -> None:
    assert safe_next(wanted) == accepted


def test_no_open_redirect_through_sign_in(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    assert sign_in(client, shopper, next_path="https://evil.example/steal") == "/"


def test_callback_with_a_wrong_state_is_refused(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    callback = urlsplit(sign_in.idp(sign_in.start(client), shopper))
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    response = client.get(callback.path, query_string={**query, "state": "forged"})
    assert response.status_code == 400
    assert "Sign-in didn't work" in unescape(response.text)
    assert client.get("/cart").status_code == 302  # not signed in


def test_callback_without_a_sign_in_in_progress_is_refused(client: FlaskClient) -> None:
    response = client.get("/auth/callback?code=abc&state=xyz")
    assert response.status_code == 400
    assert "Traceback" not in response.text


def test_idp_error_answer_is_explained(client: FlaskClient, sign_in: SignIn) -> None:
    authorize = sign_in.start(client)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    response = client.get("/auth/callback", query_string={"error": "access_denied", "state": state})
    assert response.status_code == 400
    assert "Sign-in didn't work" in unescape(response.text)


def test_access_tokens_are_refreshed_silently(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    """An expired access token is replaced using the refresh token, without a redirect."""
    sign_in(client, shopper)
    with client.session_transaction() as session:
        cache = json.loads(session["token_cache"])
        for token in cache["AccessToken"].values():
            token["expires_on"] = token["extended_expires_on"] = "1"
        session["token_cache"] = json.dumps(cache)
    response = client.get("/cart")
    assert response.status_code == 200  # orders accepted the refreshed token
    with client.session_transaction() as session:
        cache = json.loads(session["token_cache"])
    expiries = [int(t["expires_on"]) for t in cache["AccessToken"].values()]
    assert expiries
    assert min(expiries) > time.time() + 600  # a new token, valid for about an hour


# ------------------------------------------------------------------------------ headers, health


def test_security_headers(client: FlaskClient, oidc) -> None:
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    origin = oidc.issuer.split("/tinyshop")[0]
    assert f"form-action 'self' {origin}" in policy  # sign-out redirects to the IdP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/style.css").headers.get("Cache-Control", "")


def test_health_probes(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    assert client.get("/healthz/live").json == {"status": "ok"}
    ready = client.get("/healthz/ready")
    assert (ready.status_code, ready.json["checks"]) == (200, {"sessions": "ok"})

    down = make_app(
        session_database_url="postgresql://postgres@127.0.0.1:1/ui?connect_timeout=1",
        session_pool_timeout=1,
    ).test_client()
    assert down.get("/healthz/live").status_code == 200
    not_ready = down.get("/healthz/ready")
    assert (not_ready.status_code, not_ready.json["checks"]) == (503, {"sessions": "unavailable"})


def test_a_second_sign_in_in_the_same_browser_acts_as_the_new_shopper_only(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    """A shared computer: Bob signs in where Alice still is. Her tokens must not come along,
    let alone be the ones used for him."""
    sign_in(client, shopper)
    token = CSRF.search(client.get("/cart").text).group(1)  # type: ignore[union-attr]
    client.post("/cart/add", data={"product_id": "moka-pot-6", "csrf_token": token})
    assert "Moka Pot, 6 cups" in unescape(client.get("/cart").text)

    sign_in(client, f"{shopper}-next")

    assert "Moka Pot, 6 cups" not in unescape(client.get("/cart").text)  # Bob's empty cart


def test_a_request_finishing_after_sign_out_does_not_sign_the_browser_in_again(
    make_app: Callable[..., Flask], ui_db: str
) -> None:
    """Tab 1's slow request changes its session (a flash message) after tab 2 signed out: the
    deleted session must stay deleted, and the browser is told to drop its cookie."""
    from flask import Response

    from ui.app.sessions import PostgresSessionInterface, ServerSession

    app = make_app()
    interface = app.session_interface
    assert isinstance(interface, PostgresSessionInterface)
    with app.test_request_context():
        signed_in = ServerSession()
        signed_in["user"] = {"sub": "alice"}
        interface.save_session(app, signed_in, Response())
        sid = signed_in.sid
        assert sid is not None
        found = interface.store.load(sid)
        assert found is not None
        slow = ServerSession(found[0], sid, found[1])  # tab 1's request opened it
        interface.store.delete(sid)  # sign-out in the other tab

        slow["_flashes"] = [("message", "Added to your cart.")]
        response = Response()
        interface.save_session(app, slow, response)

    assert interface.store.load(sid) is None
    assert "Set-Cookie" not in response.headers  # nor a newer cookie of this browser touched


def test_sign_ins_started_in_two_tabs_both_end_signed_in(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    """Signed out, the shopper clicks "Add to cart" in two tabs: two sign-ins are in progress
    in one session. The first to come back signs in; the second finds the shopper signed in."""
    first = sign_in.start(client, "/cart")
    second = sign_in.start(client, "/orders")
    first_back = urlsplit(sign_in.idp(first, shopper))
    second_back = urlsplit(sign_in.idp(second, shopper))

    done = client.get(f"{first_back.path}?{first_back.query}")
    assert (done.status_code, done.headers["Location"]) == (302, "/cart")
    again = client.get(f"{second_back.path}?{second_back.query}")
    assert (again.status_code, again.headers["Location"]) == (302, "/orders")
    assert client.get("/orders").status_code == 200


def test_a_refused_sign_in_is_explained_even_to_a_shopper_still_in_the_session(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    """A shopper whose tokens stopped working is sent to sign in again; the IdP refuses: the
    answer is an error page, not a quiet redirect that hides the refusal."""
    sign_in(client, shopper)
    authorize = sign_in.start(client, "/orders")
    state = parse_qs(urlsplit(authorize).query)["state"][0]

    refused = client.get(f"/auth/callback?error=access_denied&state={state}")

    assert refused.status_code == 400
    assert "Sign-in didn" in unescape(refused.text)


def test_only_the_oldest_sign_ins_in_progress_are_dropped(
    client: FlaskClient, sign_in: SignIn, shopper: str
) -> None:
    """At most five are kept, by age (not by how their states happen to sort)."""
    started = [sign_in.start(client, f"/orders?tab={n}") for n in range(6)]
    oldest, newest = (urlsplit(sign_in.idp(url, shopper)) for url in (started[0], started[-1]))

    assert client.get(f"{oldest.path}?{oldest.query}").status_code == 400
    done = client.get(f"{newest.path}?{newest.query}")
    assert (done.status_code, done.headers["Location"]) == (302, "/orders?tab=5")
