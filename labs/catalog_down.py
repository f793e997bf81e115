"""Catalog down at checkout: orders cannot reach catalog to price the cart."""

from labs.stack import LabResult, Narrate, Stack


def run(lab: Stack, say: Narrate) -> LabResult:
    with lab.shopper() as shopper:
        before = lab.counts()
        say(f"before: {before}")
        added = shopper.post("/cart/items", json={"productId": "knock-box", "quantity": 1})
        lab.proxies["catalog"].stop()
        say("FAULT: orders -> catalog connection refused")
        checkout = shopper.post("/checkout")
        cart = shopper.get("/cart")
        say(
            f"shopper: checkout -> {checkout.status_code} "
            f"{checkout.json().get('title') if checkout.content else ''}; "
            f"GET /cart -> {cart.status_code}"
        )
        during = lab.counts()
        lab.proxies["catalog"].start()
        say("HEAL: catalog reachable again")
        placed = shopper.post("/checkout")
        say(f"shopper: the same cart checks out -> {placed.status_code}")
        after = lab.settle()
        say(f"after: {after}")
    return LabResult(
        before,
        after,
        {
            "added": added.status_code,
            "checkout_during": checkout.status_code,
            "cart_during": cart.status_code,
            "orders_during": during.orders,
            "checkout_after": placed.status_code,
        },
    )
