"""Postgres down for orders: the orders database stops answering while a shopper checks out."""

from labs.stack import LabResult, Narrate, Stack, eventually


def run(lab: Stack, say: Narrate) -> LabResult:
    with lab.shopper() as shopper:
        before = lab.counts()
        say(f"before: {before}")
        lab.proxies["orders-postgres"].stop()
        say("FAULT: the orders app's connection to Postgres is cut")
        cart = shopper.get("/cart")
        checkout = lab.checkout(shopper)
        ready = shopper.get("/orders/health/ready")
        say(
            f"shopper: GET /cart -> {cart.status_code}, checkout -> {checkout.status_code} "
            f"Retry-After={checkout.headers.get('retry-after')}"
        )
        say(f"operator: /orders/health/ready -> {ready.status_code}")
        during = lab.counts()
        lab.proxies["orders-postgres"].start()
        say("HEAL: connection restored (no restart)")
        recovered = eventually(lambda: shopper.get("/cart").status_code == 200)
        placed = lab.checkout(shopper)
        say(f"shopper: checkout after recovery -> {placed.status_code}")
        after = lab.settle()
        say(f"after: {after}")
    return LabResult(
        before,
        after,
        {
            "cart_during": cart.status_code,
            "checkout_during": checkout.status_code,
            "ready_during": ready.status_code,
            "orders_during": during.orders,
            "recovered": recovered,
            "checkout_after": placed.status_code,
        },
    )
