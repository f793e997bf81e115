"""Sign-in, callback and sign-out routes, and `signed_in` for pages that need a shopper.

Pages that need sign-in send a signed-out shopper to `/auth/sign-in?next=<where they were>`;
after sign-in they land there again. `next` is accepted only as a same-origin relative path
(no scheme, no host, no `//` or `\\` tricks, no control characters): never an open redirect.
"""

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from ui.app.auth import USER_KEY, IdentityProviderUnavailable, SignInError, UnknownSignIn
from ui.app.services import services

_log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
bp = Blueprint("auth", __name__, url_prefix="/auth")


class SessionUnavailable(Exception):
    """The session store is down, so nobody can be signed in right now."""


def safe_next(value: str | None) -> str:
    """`value` if it is a local path on this site, else '/'."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith("/auth/"):
        return "/"
    return value


def current_path() -> str:
    """Path and query of this request (what `next` should bring the shopper back to)."""
    return request.full_path.rstrip("?") if request.query_string else request.path


def external_url(path: str) -> str:
    """An absolute URL of this site: UI_PUBLIC_URL if set, else the request's own origin."""
    public = services().settings.public_url
    base = str(public) if public else request.url_root
    return urljoin(base.rstrip("/") + "/", path.lstrip("/"))


def sign_in_url(next_path: str) -> str:
    return url_for("auth.sign_in", next=safe_next(next_path))


def current_user() -> dict[str, str] | None:
    return session.get(USER_KEY)


def signed_in(view: F) -> F:
    """Require a signed-in shopper with a valid access token (in `g.token`).

    Signed out: GET goes to sign-in and comes back; other methods get 401 (a POST replayed
    after sign-in could act twice or on stale input).
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if getattr(session, "unavailable", False):
            raise SessionUnavailable()
        token = services().auth.access_token()
        if token is None:
            if request.method in ("GET", "HEAD"):
                return redirect(sign_in_url(current_path()))
            abort(401)
        g.token = token
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.get("/sign-in")
def sign_in() -> Response:
    if getattr(session, "unavailable", False):
        raise SessionUnavailable()
    next_path = safe_next(request.args.get("next"))
    redirect_uri = external_url(services().settings.redirect_path)
    return redirect(services().auth.begin(redirect_uri, next_path))


def callback() -> Response | tuple[str, int]:
    """The redirect URI (UI_REDIRECT_PATH, registered at the IdP); routed in `create_app`."""
    if getattr(session, "unavailable", False):
        raise SessionUnavailable()
    try:
        next_path = services().auth.complete(request.args.to_dict())
    except UnknownSignIn:
        # An answer whose sign-in is gone while the shopper is signed in (a tab's duplicate, a
        # back button): nothing to do. Anything else is a failed sign-in, said as such.
        if current_user() is not None and services().auth.access_token() is not None:
            return redirect(url_for("shop.products"))
        _log.warning("sign-in answer without a sign-in in progress")
        return _sign_in_failed()
    except SignInError as exc:
        _log.warning("sign-in refused: %s", exc)
        return _sign_in_failed()
    except IdentityProviderUnavailable:
        raise
    return redirect(safe_next(next_path))


def _sign_in_failed() -> tuple[str, int]:
    return render_template(
        "error.html",
        title="Sign-in didn't work",
        message="Your sign-in took too long or was interrupted. Please try again.",
        action=(url_for("auth.sign_in"), "Sign in"),
    ), 400


@bp.post("/sign-out")
def sign_out() -> Response:
    """Forget everything (the row goes), then end the IdP session too."""
    session.clear()
    home = external_url(url_for("shop.products"))
    return redirect(services().auth.end_session_url(home) or home)
