"""A real token issuer for tests and labs: OpenID configuration and JWKS over HTTP, RSA keys it
can rotate, and tokens with any claims or header a test needs (forged and broken ones too)."""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm

from dev.serve import free_port, serve

AUDIENCE = "api://tinyshop-orders"
SCOPE = "Orders.ReadWrite"


@dataclass
class Issuer:
    url: str
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    jwks_requests: int = 0

    def rotate(self) -> str:
        """Add a new signing key (published in the JWKS) and return its kid."""
        kid = uuid.uuid4().hex[:12]
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return kid

    def token(
        self,
        user: str = "alice",
        *,
        kid: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        algorithm: str = "RS256",
        lifetime: int = 3600,
        **claims: object,
    ) -> str:
        kid = kid or next(reversed(self.keys))
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": user,
            "name": user.title(),
            "scp": SCOPE,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
        } | claims
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key or self.keys[kid], algorithm=algorithm, headers={"kid": kid})

    def jwks(self) -> dict:
        return {
            "keys": [
                RSAAlgorithm.to_jwk(k.public_key(), as_dict=True)
                | {"kid": kid, "use": "sig", "alg": "RS256"}
                for kid, k in self.keys.items()
            ]
        }


@contextmanager
def running_issuer(trailing_slash: bool = False) -> Iterator[Issuer]:
    """An issuer on a free port; `trailing_slash`: its value ends with "/" (Entra v1's do)."""
    port = free_port()
    issuer = Issuer(url=f"http://127.0.0.1:{port}/tenant/v2.0" + "/" * trailing_slash)
    issuer.rotate()
    app = FastAPI()

    @app.get("/tenant/v2.0/.well-known/openid-configuration")
    def metadata() -> dict:
        return {
            "issuer": issuer.url,
            "jwks_uri": f"http://127.0.0.1:{port}/tenant/discovery/v2.0/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    @app.get("/tenant/discovery/v2.0/keys")
    def keys() -> dict:
        issuer.jwks_requests += 1
        return issuer.jwks()

    with serve(app, port=port):
        yield issuer
