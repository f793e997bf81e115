"""Friendly error pages: what went wrong in the shopper's words, never a stack trace.

| cause | status | page |
|---|---|---|
| catalog down or failing | 503 | "The shop is having trouble loading products, try again shortly" |
| orders down or failing | 503 | cart/checkout/orders can't be reached, with a retry link |
| orders refused the token (401) | 303 | sign-in again, then back to the page |
| identity provider or session store down | 503 | sign-in is unavailable for a moment |
| missing/invalid CSRF token | 400 | the form expired |
| anything unexpected | 500 | generic apology (details in the log only) |
"""

import logging

from flask import Flask, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from ui.app.auth import IdentityProviderUnavailable
from ui.app.clients import ApiProblem, NotSignedIn, Unavailable
from ui.app.services import services
from ui.app.sessions import StoreErrors
from ui.app.signin import SessionUnavailable, current_path, safe_next, sign_in_url

_log = logging.getLogger(__name__)

CATALOG_DOWN = "The shop is having trouble loading products, try again shortly."
ORDERS_DOWN = (
    "Your cart and orders can't be reached right now. Nothing was lost: please try again "
    "in a moment."
)
SIGN_IN_DOWN = "Signing in isn't possible right now. Please try again in a moment."
_TITLES = {
    400: "That didn't work",
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    405: "That didn't work",
}


Page = tuple[str, int, dict[str, str]]


def _page(status: int, title: str, message: str, action: tuple[str, str] | None = None) -> Page:
    html = render_template("error.html", title=title, message=message, action=action)
    headers = {"Retry-After": "5"} if status == 503 else {}
    return html, status, headers


def _retry_target() -> str:
    """Retry link: the page itself for GET, else the page the form was on (or the cart)."""
    if request.method == "GET":
        return current_path()
    return "/cart" if request.path.startswith(("/cart", "/checkout")) else "/"


def register(app: Flask) -> None:
    @app.errorhandler(Unavailable)
    def unavailable(exc: Unavailable) -> Page:
        if exc.service == "catalog":
            return _page(503, "Products are unavailable", CATALOG_DOWN, ("/", "Try again"))
        return _page(503, "Please try again", ORDERS_DOWN, (_retry_target(), "Try again"))

    @app.errorhandler(NotSignedIn)
    def not_signed_in(_: NotSignedIn) -> Response:
        services().auth.forget_tokens()
        target = current_path() if request.method == "GET" else safe_next(_retry_target())
        return redirect(sign_in_url(target), 303)

    @app.errorhandler(IdentityProviderUnavailable)
    @app.errorhandler(SessionUnavailable)
    def sign_in_unavailable(_: Exception) -> Page:
        return _page(503, "Sign-in unavailable", SIGN_IN_DOWN, (_retry_target(), "Try again"))

    @app.errorhandler(ApiProblem)
    def problem(exc: ApiProblem) -> Page:
        status = exc.status if 400 <= exc.status < 500 else 502
        return _page(status, _TITLES.get(status, "That didn't work"), exc.detail or "Sorry.")

    @app.errorhandler(CSRFError)
    def csrf_failed(_: CSRFError) -> Page:
        return _page(
            400,
            "This form has expired",
            "For your security, forms expire. Go back, reload the page and try again.",
            ("/", "Back to the shop"),
        )

    @app.errorhandler(401)
    def unauthorized(_: HTTPException) -> Page:
        return _page(
            401,
            "Please sign in",
            "You need to be signed in to do that.",
            (sign_in_url(_retry_target()), "Sign in"),
        )

    @app.errorhandler(404)
    def not_found(_: HTTPException) -> Page:
        return _page(404, "Page not found", "We couldn't find that page.", ("/", "Back to shop"))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Page:
        status = exc.code or 500
        if status >= 500:
            return _unexpected(exc)
        message = exc.description if status == 400 else "That request didn't work."
        return _page(status, _TITLES.get(status, "That didn't work"), message)

    @app.errorhandler(InternalServerError)
    def _unexpected(exc: HTTPException) -> Page:
        original = getattr(exc, "original_exception", None)
        if isinstance(original, StoreErrors):  # the session could not be saved
            return _page(503, "Sign-in unavailable", SIGN_IN_DOWN, ("/", "Try again"))
        _log.error("unexpected error on %s %s", request.method, request.path, exc_info=original)
        return _page(500, "Something went wrong", "Sorry, something went wrong on our side.")

    @app.context_processor
    def _user() -> dict[str, object]:
        return {
            "user": session.get("user"),
            "sign_in_href": sign_in_url(_retry_target()),
            "home": url_for("shop.products"),
        }
