"""Postgres down for catalog: the catalog database stops answering while shoppers browse."""

from labs.stack import LabResult, Narrate, Stack, eventually


def run(lab: Stack, say: Narrate) -> LabResult:
    with lab.shopper() as shopper:
        before = lab.counts()
        say(f"before: {before}")
        lab.proxies["catalog-postgres"].stop()
        say("FAULT: the catalog's connection to Postgres is cut")
        product = shopper.get(f"{lab.catalog_url}/products/french-press")
        ready = shopper.get(f"{lab.catalog_url}/catalog/health/ready")
        checkout = lab.checkout(shopper)
        say(
            f"shopper: GET /products/french-press -> {product.status_code} "
            f"Retry-After={product.headers.get('retry-after')}; add to cart -> "
            f"{checkout.status_code}"
        )
        say(f"operator: /catalog/health/ready -> {ready.status_code} {ready.json()['checks']}")
        lab.proxies["catalog-postgres"].start()
        say("HEAL: connection restored (no restart)")
        recovered = eventually(
            lambda: shopper.get(f"{lab.catalog_url}/products/french-press").status_code == 200
        )
        placed = lab.checkout(shopper)
        say(f"shopper: checkout after recovery -> {placed.status_code}")
        after = lab.settle()
        say(f"after: {after}")
    return LabResult(
        before,
        after,
        {
            "product_status": product.status_code,
            "retry_after": product.headers.get("retry-after"),
            "ready_status": ready.status_code,
            "ready_checks": ready.json()["checks"],
            "checkout_during": checkout.status_code,
            "recovered": recovered,
            "checkout_after": placed.status_code,
        },
    )
