"""Sign-in with MSAL: auth code flow with PKCE against Entra External ID or the local IdP.

- `begin()` starts MSAL's auth code flow. MSAL generates `state`, a `nonce` and a PKCE verifier
  (S256); the flow dict stays in the server-side session, never in the browser.
- `complete()` redeems the code. MSAL refuses a mismatched `state` and checks that the ID token
  echoes the nonce; on success the session id is rotated (no session fixation) and the token
  cache (ID, access and refresh tokens) is kept in the session.
- `access_token()` returns a valid token for the orders scope, refreshed silently with the
  refresh token when it expires; None means the shopper must sign in again.

A `ConfidentialClientApplication` is cheap but does OIDC discovery when built, so it is built
per request with a per-request token cache and a process-wide `http_cache` (MSAL caches the
discovery document in it for a day), and one shared `requests` session for keep-alive.
MSAL uses `requests`, which trusts `REQUESTS_CA_BUNDLE` over any `verify=` argument: locally
that variable points at the CA bundle of dev/oidc/certificates.py.
"""

import logging
import threading
import time
import warnings
from typing import Any

import msal
import requests
from flask import session
from msal.oauth2cli.oidc import IdTokenError

from ui.app.settings import UiSettings

_log = logging.getLogger(__name__)
# We choose response_mode=query on purpose (see `begin`); MSAL warns about it on every sign-in.
warnings.filterwarnings(
    "ignore", message="response_mode='form_post' is recommended", category=UserWarning
)

# Sign-ins in progress, oldest first: [[state, flow, next path], ...] (a list: the session is
# JSON in Postgres, whose jsonb does not keep an object's key order).
FLOWS_KEY = "auth_flows"
MAX_FLOWS = 5  # a shopper may start sign-in in a few tabs at once; older ones are dropped
USER_KEY = "user"
CACHE_KEY = "token_cache"
_DISCOVERY_TTL = 3600.0


class SignInError(Exception):
    """The sign-in response could not be accepted (expired flow, wrong state, IdP error)."""


class UnknownSignIn(SignInError):
    """No sign-in with the answer's state is in progress in this session (finished in another
    tab, dropped, or never started here)."""


class IdentityProviderUnavailable(Exception):
    """The identity provider could not be reached."""


class Auth:
    """MSAL for one UI process; all per-shopper state lives in the Flask session."""

    def __init__(self, settings: UiSettings) -> None:
        self.settings = settings
        self._http_cache: dict[Any, Any] = {}
        self._http = requests.Session()
        self._discovery: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ MSAL plumbing

    def _app(self, cache: msal.SerializableTokenCache | None = None) -> msal.ClientApplication:
        try:
            return msal.ConfidentialClientApplication(
                self.settings.client_id,
                client_credential=self.settings.msal_client_secret(),
                oidc_authority=self.settings.oidc_authority,
                token_cache=cache,
                http_client=self._http,
                http_cache=self._http_cache,
                timeout=self.settings.http_timeout,
            )
        except (requests.RequestException, ValueError) as exc:  # discovery failed
            _log.warning("identity provider unavailable: %s", exc)
            raise IdentityProviderUnavailable(str(exc)) from exc

    @staticmethod
    def _load_cache() -> msal.SerializableTokenCache:
        cache = msal.SerializableTokenCache()
        if serialized := session.get(CACHE_KEY):
            cache.deserialize(serialized)
        return cache

    @staticmethod
    def _store_cache(cache: msal.SerializableTokenCache) -> None:
        if cache.has_state_changed:
            session[CACHE_KEY] = cache.serialize()

    # ------------------------------------------------------------------ the flow

    def begin(self, redirect_uri: str, next_path: str) -> str:
        """Start a sign-in; returns the IdP URL to send the browser to."""
        flow = self._app().initiate_auth_code_flow(
            [self.settings.api_scope],
            redirect_uri=redirect_uri,
            # query, not form_post: a cross-site POST to the UI would not carry a SameSite=Lax
            # session cookie, so the flow stored in the session could not be found.
            response_mode="query",
        )
        # Kept by its state, not as "the" flow: a second tab starting a sign-in must not make
        # the first one's answer fail (nor take the second's flow with it).
        earlier = list(session.get(FLOWS_KEY, []))[-(MAX_FLOWS - 1) :]
        session[FLOWS_KEY] = [*earlier, [flow["state"], flow, next_path]]
        return flow["auth_uri"]

    def complete(self, params: dict[str, str]) -> str:
        """Redeem the IdP's answer; returns where the shopper wanted to go."""
        state = str(params.get("state", ""))
        flows = list(session.get(FLOWS_KEY, []))
        entry = next((f for f in flows if f[0] == state), None)
        if entry is None:
            raise UnknownSignIn("no sign-in with this state is in progress in this session")
        others = [f for f in flows if f[0] != state]
        session[FLOWS_KEY] = others
        _, flow, next_path = entry
        # A new token cache, not the session's: a sign-in in a browser where another shopper is
        # still signed in must not add to that shopper's tokens (the account used would be
        # whichever the cache lists first).
        cache = msal.SerializableTokenCache()
        try:
            result = self._app(cache).acquire_token_by_auth_code_flow(flow, params)
        except (ValueError, IdTokenError) as exc:  # state/nonce mismatch, malformed answer
            raise SignInError(str(exc)) from exc
        except requests.RequestException as exc:
            raise IdentityProviderUnavailable(str(exc)) from exc
        if "error" in result:
            raise SignInError(f"{result.get('error')}: {result.get('error_description')}")
        claims = result.get("id_token_claims") or {}
        session.clear()  # nothing of a session from before (another shopper's) carries over
        session.regenerate()  # type: ignore[attr-defined]  # ServerSession
        if others:  # but the other tabs' sign-ins in progress stay theirs to finish
            session[FLOWS_KEY] = others
        session[USER_KEY] = {
            "sub": claims.get("sub"),
            "name": claims.get("name") or claims.get("preferred_username") or "shopper",
            "username": claims.get("preferred_username") or claims.get("email") or "",
        }
        self._store_cache(cache)
        return next_path

    def access_token(self) -> str | None:
        """A valid access token for the orders API, refreshed silently; None: sign in again."""
        if USER_KEY not in session or CACHE_KEY not in session:
            return None
        cache = self._load_cache()
        app = self._app(cache)
        accounts = app.get_accounts()
        if len(accounts) != 1:  # one sign-in, one account (complete); else sign in again
            return None
        try:
            result = app.acquire_token_silent([self.settings.api_scope], account=accounts[0])
        except requests.RequestException as exc:
            raise IdentityProviderUnavailable(str(exc)) from exc
        self._store_cache(cache)
        if not result or "access_token" not in result:
            return None
        return result["access_token"]

    def forget_tokens(self) -> None:
        """orders refused our token: drop the user so the next page signs in again."""
        session.pop(USER_KEY, None)
        session.pop(CACHE_KEY, None)

    # ------------------------------------------------------------------ sign-out

    def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """The IdP's logout URL (from its OpenID configuration), or None if it has none."""
        endpoint = self._discover().get("end_session_endpoint")
        if not endpoint:
            return None
        request = requests.Request(
            "GET",
            endpoint,
            params={
                "post_logout_redirect_uri": post_logout_redirect_uri,
                "client_id": self.settings.client_id,
            },
        ).prepare()
        return request.url

    def _discover(self) -> dict[str, Any]:
        with self._lock:
            if self._discovery and time.monotonic() - self._discovery[0] < _DISCOVERY_TTL:
                return self._discovery[1]
        url = f"{self.settings.oidc_authority}/.well-known/openid-configuration"
        try:
            response = self._http.get(url, timeout=self.settings.http_timeout)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as exc:
            _log.warning("OIDC discovery failed: %s", exc)
            return {}
        with self._lock:
            self._discovery = (time.monotonic(), document)
        return document
