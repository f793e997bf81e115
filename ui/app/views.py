"""Shop pages: products (anonymous), cart, checkout and order history (signed in).

Forms follow post/redirect/get: every POST ends in a redirect with a flash message, so reloading
a page never repeats an action. Checkout carries an `Idempotency-Key` rendered into its form, so a
double submit or a retry after a timeout places one order.
"""

import re
import uuid
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from functions.shared.identifiers import PRODUCT_ID_PATTERN
from ui.app.clients import ApiProblem, Unavailable
from ui.app.services import services
from ui.app.signin import current_user, signed_in

bp = Blueprint("shop", __name__)

# The product id format is the apps' HTTP contract, defined once in functions/shared/identifiers.py
# (the UI image copies that file): checked here so a malformed form value never reaches an API.
_PRODUCT_ID = re.compile(PRODUCT_ID_PATTERN)
_MAX_QUANTITY = 99


def _product_id(value: str | None) -> str:
    if not value or not _PRODUCT_ID.match(value):
        abort(400, "Unknown product.")
    return value


def _quantity(value: str | None, minimum: int) -> int:
    try:
        quantity = int(value or "")
    except ValueError:
        abort(400, "Choose a quantity.")
    if not minimum <= quantity <= _MAX_QUANTITY:
        abort(400, f"Choose a quantity between {minimum} and {_MAX_QUANTITY}.")
    return quantity


def _line(cart: dict[str, Any], product_id: str) -> dict[str, Any] | None:
    return next((i for i in cart.get("items", []) if i.get("productId") == product_id), None)


def explain(problem: ApiProblem) -> str:
    """A shopper-facing sentence for an orders problem (`urn:tinyshop:*`)."""
    kind = problem.type.removeprefix("urn:tinyshop:")
    if kind == "empty-cart":
        return "Your cart is empty. Add a product before checking out."
    if kind == "unknown-product":
        ids = problem.extensions.get("productIds") or []
        if ids:
            return (
                f"Sorry, {'these products are' if len(ids) > 1 else 'this product is'} no longer "
                f"sold: {', '.join(map(str, ids))}. Remove "
                f"{'them' if len(ids) > 1 else 'it'} from your cart and check out again."
            )
        return "Sorry, that product is no longer sold."
    if kind == "cart-changed":
        return "Your cart changed while you were checking out. Please review it and try again."
    if kind == "cart-full":
        return problem.detail or "Your cart is full."
    if kind == "idempotency-key-reused":
        return "Your cart changed since you opened the checkout page. Please review it again."
    if kind == "mixed-currency":
        return "Your cart mixes currencies, which we can't check out together."
    if kind == "cart-changed-catalog-unavailable":
        return "Your cart was updated, but prices can't be shown right now. Reload it in a moment."
    if kind == "catalog-unavailable":
        return "Prices can't be checked right now. Nothing was changed; please try again shortly."
    return problem.detail or "Something went wrong with that request. Please try again."


# ------------------------------------------------------------------------------ products


@bp.get("/")
def products() -> str | Response:
    cursor = request.args.get("after")
    try:
        page = services().catalog.products(services().settings.page_size, cursor)
    except ApiProblem as problem:
        if problem.status == 422 and cursor:  # a stale or hand-made cursor: start over
            return redirect(url_for("shop.products"))
        raise
    return render_template(
        "products.html", products=page.get("items", []), next_cursor=page.get("nextCursor")
    )


@bp.get("/products/<product_id>")
def product(product_id: str) -> str:
    if not _PRODUCT_ID.match(product_id):
        abort(404)
    try:
        item = services().catalog.product(product_id)
    except ApiProblem as problem:
        if problem.status in (404, 422):
            abort(404)
        raise
    return render_template("product.html", product=item, signed_in=current_user() is not None)


# ------------------------------------------------------------------------------ cart


@bp.get("/cart")
@signed_in
def cart() -> str:
    return render_template("cart.html", cart=services().orders.cart(g.token))


@bp.post("/cart/add")
@signed_in
def add_to_cart() -> Response:
    product_id = _product_id(request.form.get("product_id"))
    quantity = _quantity(request.form.get("quantity", "1"), 1)
    orders = services().orders
    line = _line(orders.cart(g.token), product_id)
    current = line["quantity"] if line else 0
    try:
        updated = orders.set_item(g.token, product_id, min(_MAX_QUANTITY, current + quantity))
    except ApiProblem as problem:
        flash(explain(problem), "error")
        return redirect(url_for("shop.cart"))
    added = _line(updated, product_id) or {}
    flash(f"Added {added.get('name') or product_id} to your cart.", "success")
    return redirect(url_for("shop.cart"))


@bp.post("/cart/update")
@signed_in
def update_cart() -> Response:
    product_id = _product_id(request.form.get("product_id"))
    quantity = _quantity(request.form.get("quantity"), 0)
    try:
        updated = services().orders.set_item(g.token, product_id, quantity)
    except ApiProblem as problem:
        flash(explain(problem), "error")
        return redirect(url_for("shop.cart"))
    if quantity == 0:
        flash("Removed the product from your cart.", "success")
    else:
        name = (_line(updated, product_id) or {}).get("name") or product_id
        flash(f"{name}: quantity is now {quantity}.", "success")
    return redirect(url_for("shop.cart"))


@bp.post("/cart/remove")
@signed_in
def remove_from_cart() -> Response:
    product_id = _product_id(request.form.get("product_id"))
    services().orders.remove_item(g.token, product_id)
    flash("Removed the product from your cart.", "success")
    return redirect(url_for("shop.cart"))


# ------------------------------------------------------------------------------ checkout


@bp.get("/checkout")
@signed_in
def checkout() -> str | Response:
    current = services().orders.cart(g.token)
    if not current.get("items"):
        flash("Your cart is empty. Add a product before checking out.", "error")
        return redirect(url_for("shop.cart"))
    # One key per rendering of this page: submitting it twice places one order.
    return render_template("checkout.html", cart=current, idempotency_key=str(uuid.uuid4()))


@bp.post("/checkout")
@signed_in
def place_order() -> str | Response | tuple[str, int]:
    try:
        key = str(uuid.UUID(request.form.get("idempotency_key", "")))
    except ValueError:
        abort(400, "This checkout form is incomplete. Please open the checkout page again.")
    try:
        order = services().orders.checkout(g.token, key)
    except ApiProblem as problem:
        flash(explain(problem), "error")
        return redirect(url_for("shop.cart"))
    except Unavailable:
        # Same key on retry: if the first attempt did go through, orders replays that order.
        return render_template("checkout_retry.html", idempotency_key=key), 503
    flash("Thank you! Your order has been placed.", "success")
    return redirect(url_for("shop.order", order_id=order["id"]))


# ------------------------------------------------------------------------------ orders


@bp.get("/orders")
@signed_in
def orders() -> str | Response:
    cursor = request.args.get("after")
    try:
        page = services().orders.orders(g.token, 20, cursor)
    except ApiProblem as problem:
        if problem.status == 422 and cursor:
            return redirect(url_for("shop.orders"))
        raise
    return render_template(
        "orders.html", orders=page.get("items", []), next_cursor=page.get("nextCursor")
    )


@bp.get("/orders/<uuid:order_id>")
@signed_in
def order(order_id: uuid.UUID) -> str:
    try:
        found = services().orders.order(g.token, str(order_id))
    except ApiProblem as problem:
        if problem.status == 404:
            abort(404)
        raise
    return render_template("order.html", order=found)
