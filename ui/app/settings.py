"""UI settings, read from `UI_*` environment variables (pydantic-settings).

The same names are used by `make dev`, the tests and the Helm values. Secrets (`UI_SECRET_KEY`,
`UI_CLIENT_SECRET`) come from Key Vault (`flask-secret-key`, `ui-client-secret`) through the CSI
driver in AKS. They have development defaults ONLY when the identity provider is the local one
on a loopback address, so a misconfigured deployment fails at start instead of signing cookies
with a public key.
"""

import ipaddress
from urllib.parse import urlsplit

from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Never used unless the IdP is on a loopback address (see `is_local`): public on purpose.
_LOCAL_SECRET_KEY = "tinyshop-local-development-only"  # noqa: S105
_LOCAL_CLIENT_SECRET = "local-dev-secret"  # noqa: S105 (the local IdP ignores it)


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class UiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UI_", extra="ignore", frozen=True)

    catalog_url: HttpUrl = Field(default=HttpUrl("http://127.0.0.1:7071"))
    orders_url: HttpUrl = Field(default=HttpUrl("http://127.0.0.1:7072"))
    http_connect_timeout: float = Field(default=2.0, gt=0, le=30)
    http_timeout: float = Field(
        default=5.0, gt=0, le=60, description="Seconds per catalog/orders request."
    )

    oidc_authority: str = Field(
        default="https://127.0.0.1:8443/tinyshop/v2.0",
        description="MSAL `oidc_authority` (Entra External ID: "
        "https://<tenant>.ciamlogin.com/<tenant-id>/v2.0). https, no trailing slash.",
    )
    client_id: str = "tinyshop-ui"
    client_secret: SecretStr | None = None
    api_scope: str = "api://tinyshop-orders/Orders.ReadWrite"
    redirect_path: str = Field(default="/auth/callback", pattern=r"^/[A-Za-z0-9/_-]*$")
    public_url: HttpUrl | None = Field(
        default=None,
        description="External base URL (https://shop.example.com). Unset: taken from the request "
        "(behind a proxy, set UI_PROXY_FIX_HOPS so the scheme and host are the client's).",
    )
    proxy_fix_hops: int = Field(
        default=0, ge=0, le=5, description="Trusted X-Forwarded-* hops (1 behind ingress-nginx)."
    )

    secret_key: SecretStr | None = Field(
        default=None, description="Flask secret key: signs CSRF tokens. Same on every replica."
    )
    session_database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/ui",
        description="libpq URL of the UI's own database (server-side sessions).",
    )
    session_cookie_secure: bool = Field(
        default=True,
        description="Secure + `__Host-` cookie. Only `make dev` (plain http) sets false.",
    )
    session_lifetime: int = Field(
        default=8 * 3600, ge=300, le=30 * 24 * 3600, description="Idle seconds until sign-out."
    )
    session_pool_max_size: int = Field(default=8, ge=1, le=100)
    session_pool_timeout: float = Field(default=3.0, gt=0, le=30)
    page_size: int = Field(default=12, ge=1, le=100, description="Products per page.")

    @field_validator("oidc_authority")
    @classmethod
    def _authority_shape(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or parts.path.strip("/") == "" or value.endswith("/"):
            raise ValueError("must be https with a path and no trailing slash (MSAL needs both)")
        return value

    @property
    def is_local(self) -> bool:
        """The local OIDC server on a loopback address, i.e. `make dev` or the tests."""
        return _loopback(self.oidc_authority)

    @model_validator(mode="after")
    def _secrets_outside_local(self) -> "UiSettings":
        if not self.is_local:
            missing = [
                f"UI_{name.upper()}"
                for name in ("secret_key", "client_secret")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)} must be set outside local development")
        return self

    def flask_secret_key(self) -> str:
        return self.secret_key.get_secret_value() if self.secret_key else _LOCAL_SECRET_KEY

    def msal_client_secret(self) -> str:
        return self.client_secret.get_secret_value() if self.client_secret else _LOCAL_CLIENT_SECRET

    @property
    def session_cookie_name(self) -> str:
        # `__Host-`: browsers accept it only Secure, host-only and Path=/ (no subdomain can
        # plant or overwrite it). Plain-http local development cannot use the prefix.
        return "__Host-tinyshop-session" if self.session_cookie_secure else "tinyshop-session"
