"""Bearer-token authentication: every orders route runs as the token's subject.

Tokens are validated like Entra External ID's: RS256 only, signature against the issuer's JWKS
(found through its OpenID configuration, cached, refetched when a token names an unknown `kid`),
issuer, audience, expiry and not-before, and the API's delegated scope in `scp`. There is no
switch to turn any of this off. The FastAPI dependency that applies it to every route is
`CurrentUser` in dependencies.py.

A shopper's requests come with the same token (a cart update, another, the checkout), and each
full validation decodes the token and checks an RSA signature (~0.5 ms of CPU). So a token that
passed every check is remembered, by its exact text, for at most TOKEN_MEMORY_SECONDS and never
past its `exp`: a repeat is the same answer without the work. Only accepted tokens are kept (any
refusal is decided afresh), the memory is bounded, and its 30 s are well inside the 5 minutes
the key set itself is cached for (PyJWKClient's default), so it trusts no key for longer than
validation already did.
"""

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx
import jwt

from functions.orders.domain import valid_user_id
from functions.shared.problems import Problem

LEEWAY_SECONDS = 30  # clock skew tolerated on exp/nbf/iat
DISCOVERY_RETRY_SECONDS = 10  # after a failed discovery, answer 503 at once for this long
REALM = 'Bearer realm="tinyshop-orders"'
TOKEN_MEMORY_SECONDS = 30  # an accepted token is taken again without re-validation this long
TOKEN_MEMORY_SIZE = 4096  # tokens remembered at most (least recently accepted go first)
_BAD_SUBJECT = "The token's subject is not a valid user id."


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str | None


class OidcUnavailable(Exception):
    """The issuer's metadata or keys cannot be fetched: a 503, not the caller's fault."""


def unauthorized(description: str) -> Problem:
    return Problem(
        401,
        description,
        title="Unauthorized",
        headers={
            "WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="{description}"'
        },
    )


class TokenValidator:
    def __init__(
        self, issuer: str, audience: str, required_scope: str, refresh_cooldown: float = 30
    ) -> None:
        # Configured with or without the trailing "/" that some issuers' values end with (Entra
        # v1: https://sts.windows.net/<tenant>/). Discovery drops it before appending the
        # well-known path (OpenID Connect Discovery 1.0, section 4); tokens must then name the
        # issuer exactly as its discovery document does (`_issuer`, set with the key set).
        self.issuer = issuer.rstrip("/")
        self._issuer = ""
        self.refresh_cooldown = refresh_cooldown
        self.audience = audience
        self.required_scope = required_scope
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()
        self._unavailable_until = 0.0
        self._accepted: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._accepted_lock = threading.Lock()

    def remembered(self, token: str) -> Principal | None:
        """The principal of `token` if it was accepted within TOKEN_MEMORY_SECONDS and has not
        expired since; None means: validate it (`validate`)."""
        entry = self._accepted.get(token)
        if entry is None:
            return None
        if time.time() >= entry[0]:
            with self._accepted_lock:
                self._accepted.pop(token, None)
            return None
        return entry[1]

    def _remember(self, token: str, principal: Principal, expires: float) -> None:
        until = min(time.time() + TOKEN_MEMORY_SECONDS, expires)
        with self._accepted_lock:
            self._accepted[token] = (until, principal)
            self._accepted.move_to_end(token)
            while len(self._accepted) > TOKEN_MEMORY_SIZE:
                self._accepted.popitem(last=False)

    def _jwks_client(self) -> jwt.PyJWKClient:
        if self._jwks is not None:
            return self._jwks
        if time.monotonic() < self._unavailable_until:  # don't queue every request behind it
            raise OidcUnavailable("the OpenID configuration was unavailable moments ago")
        with self._lock:
            if self._jwks is None:
                url = f"{self.issuer}/.well-known/openid-configuration"
                try:
                    response = httpx.get(url, timeout=5)
                    response.raise_for_status()
                    metadata = response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    self._unavailable_until = time.monotonic() + DISCOVERY_RETRY_SECONDS
                    raise OidcUnavailable(f"OpenID configuration unavailable: {exc}") from exc
                issuer = metadata.get("issuer", "")
                if not isinstance(issuer, str) or issuer.rstrip("/") != self.issuer:
                    self._unavailable_until = time.monotonic() + DISCOVERY_RETRY_SECONDS
                    raise OidcUnavailable("the OpenID configuration names another issuer")
                self._issuer = issuer
                # PyJWKClient caches the key set and refetches it for an unknown kid (at most once
                # per cooldown).
                # cache_keys=False: the key *set* is cached (5 min) and refetched for unknown
                # kids; a per-kid LRU cache would keep trusting a key the issuer withdrew.
                self._jwks = jwt.PyJWKClient(
                    metadata["jwks_uri"],
                    cache_keys=False,
                    timeout=5,
                    cooldown_duration=self.refresh_cooldown,
                )
            return self._jwks

    def validate(self, token: str) -> Principal:
        """The token's principal after every check, or a 401/403 problem (OidcUnavailable when
        the issuer's keys cannot be read). A token accepted moments ago is answered from memory."""
        remembered = self.remembered(token)
        if remembered is not None:
            return remembered
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise unauthorized("The token is malformed.") from None
        if header.get("alg") != "RS256":
            raise unauthorized("The token must be signed with RS256.")
        try:
            # By the kid of the header read above: get_signing_key_from_jwt would decode the
            # whole token once more.
            kid = header.get("kid")
            if not isinstance(kid, str):
                raise jwt.PyJWKClientError("the token names no key")
            key = self._jwks_client().get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise OidcUnavailable(str(exc)) from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError):
            raise unauthorized("The token is signed by an unknown key.") from None
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("The token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise unauthorized("The token is not valid yet.") from None
        except jwt.InvalidAudienceError:
            raise unauthorized("The token is for another audience.") from None
        except jwt.InvalidIssuerError:
            raise unauthorized("The token is from another issuer.") from None
        except jwt.exceptions.InvalidSubjectError:
            raise unauthorized(_BAD_SUBJECT) from None
        except jwt.InvalidTokenError:
            raise unauthorized("The token is invalid.") from None
        if self.required_scope not in str(claims.get("scp", "")).split():
            raise Problem(
                403,
                f"The token lacks the {self.required_scope} scope.",
                title="Forbidden",
                headers={
                    "WWW-Authenticate": f'{REALM}, error="insufficient_scope", '
                    f'scope="{self.required_scope}"'
                },
            )
        # Every claim that is stored or echoed is checked here, so a token the issuer signed
        # with an odd `sub` is a 401, never a database error on the first write.
        if not valid_user_id(claims["sub"]):
            raise unauthorized(_BAD_SUBJECT)
        name = claims.get("name")
        principal = Principal(user_id=claims["sub"], name=name if isinstance(name, str) else None)
        self._remember(token, principal, float(claims["exp"]))
        return principal
