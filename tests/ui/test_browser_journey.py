"""A shopper's whole journey in a real headless Chromium (Debian's `chromium`, driven by
Playwright through `executable_path`; Playwright never downloads a browser here).

sign in on the local IdP's form → browse → add two products → change a quantity → checkout →
the order in the history with its items and total → order detail (timeline) → sign out.

Two UI instances (A and B, separate apps on separate ports) share only the session database:
the shopper signs in through A and B serves the same session. Cookies are per host, not per
port, so the browser sends A's cookie to B, as it would to any replica behind one hostname.

Trust: Chromium trusts exactly the local IdP's key, by `--ignore-certificate-errors-spki-list`
(the SHA-256 of the certificate's public key that the IdP actually serves), not every
certificate error. A screenshot of each page goes to .dev/screenshots/ (deterministic names;
`make screenshots` writes them to docs/screenshots/, the README's, via `TINYSHOP_SCREENSHOTS`).
"""

import base64
import hashlib
import os
import re
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Flask
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from dev.oidc.launcher import LocalOidc
from tests.ui.conftest import serve_wsgi

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "tools" / "apt_install.sh"
CHROMIUM = Path(os.environ.get("TINYSHOP_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(os.environ.get("TINYSHOP_SCREENSHOTS", REPO / ".dev" / "screenshots"))
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed by tools/apt_install.sh when missing."""
    if not os.access(CHROMIUM, os.X_OK):
        result = subprocess.run(
            ["bash", str(INSTALLER), str(CHROMIUM), "chromium", "fonts-dejavu-core"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0 or not os.access(CHROMIUM, os.X_OK):
            pytest.fail(
                f"Chromium is needed for the browser journey and could not be installed:\n"
                f"{result.stderr.strip()}\nRun `bash {INSTALLER.relative_to(REPO)}` as root.",
                pytrace=False,
            )
    return CHROMIUM


def served_spki_hash(oidc: LocalOidc) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of the certificate the IdP serves right now."""
    pem = ssl.get_server_certificate(("127.0.0.1", oidc.port))
    key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture
def servers(make_app: Callable[..., Flask]) -> Iterator[tuple[str, str]]:
    """Two UI instances sharing the session database: (A, B) base URLs."""
    with serve_wsgi(make_app()) as a, serve_wsgi(make_app()) as b:
        yield a, b


@pytest.fixture
def browser(
    chromium: Path, oidc: LocalOidc, servers: tuple[str, str], tmp_path: Path
) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile every run
            executable_path=str(chromium),
            headless=True,
            args=[*LAUNCH_ARGS, f"--ignore-certificate-errors-spki-list={served_spki_hash(oidc)}"],
            viewport={"width": 1200, "height": 860},
            locale="en-GB",
            timezone_id="UTC",
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")


def test_shopper_journey_in_chromium(
    browser: BrowserContext, servers: tuple[str, str], oidc: LocalOidc
) -> None:
    a, b = servers
    shopper = "alice"  # stable screenshots; the orders database is new for every test run
    page = browser.new_page()

    # Browse signed out; the skip link is the first stop of the keyboard.
    page.goto(f"{a}/")
    expect(page.get_by_role("heading", name="Products", level=1)).to_be_visible()
    shot(page, "01-products")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

    # Sign in on the local IdP's form (any user name, no password); back where we were.
    page.get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(f"{oidc.issuer}/authorize")))
    page.get_by_label("User name").fill(shopper)
    shot(page, "02-sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{a}/")
    expect(page.get_by_text("Signed in as")).to_contain_text(shopper, ignore_case=True)

    # Add two products.
    page.get_by_role("link", name="Travel Press").click()
    expect(page.get_by_role("heading", name="Travel Press")).to_be_visible()
    shot(page, "03-product")
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(f"{a}/cart")
    page.goto(f"{a}/products/french-press")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("status")).to_contain_text("Added French Press 800 ml to your cart.")

    # Change a quantity: 2 presses (78.00) + 1 travel press (42.00).
    page.get_by_label("Quantity of French Press 800 ml").fill("2")
    page.get_by_role("row", name=re.compile("French Press 800 ml")).get_by_role(
        "button", name="Update"
    ).click()
    expect(page.get_by_role("status")).to_contain_text("quantity is now 2")
    expect(page.locator(".summary .total")).to_have_text("Total: €120.00")
    shot(page, "04-cart")

    # Checkout.
    page.get_by_role("link", name="Checkout").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    shot(page, "05-checkout")
    page.get_by_role("button", name="Place order").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(a)}/orders/[0-9a-f-]{{36}}$"))
    order_url = page.url
    expect(page.get_by_role("status")).to_contain_text("Thank you! Your order has been placed.")
    expect(page.get_by_role("rowheader", name="Travel Press")).to_be_visible()
    expect(page.locator("tfoot")).to_contain_text("€120.00")
    # The worker fills the timeline from the OrderPlaced event (outbox → queue → Cosmos).
    timeline = page.get_by_role("region", name="Timeline")
    deadline = time.monotonic() + 20
    while "Order confirmed" not in timeline.inner_text() and time.monotonic() < deadline:
        page.wait_for_timeout(300)
        page.reload()
    expect(timeline.get_by_role("listitem")).to_have_text(
        [
            re.compile("^Order placed"),
            re.compile("^Confirmation e-mail sent"),
            re.compile("^Order confirmed"),
        ]
    )
    shot(page, "06-order")

    # The history lists it with its total; its detail shows the items.
    page.get_by_role("link", name="Orders", exact=True).click()
    row = page.get_by_role("row", name=re.compile(order_url.rsplit("/", 1)[1][:8]))
    expect(row).to_contain_text("€120.00")
    expect(row).to_contain_text("3")  # items
    shot(page, "07-orders")
    row.get_by_role("link").click()
    expect(page).to_have_url(order_url)
    expect(page.get_by_role("rowheader", name="French Press 800 ml")).to_be_visible()

    # Instance B serves the session that instance A created (shared store, no affinity).
    other = browser.new_page()
    other.goto(f"{b}/orders")
    expect(other).to_have_url(f"{b}/orders")
    expect(other.get_by_text("Signed in as")).to_contain_text(shopper, ignore_case=True)
    expect(
        other.get_by_role("row", name=re.compile(order_url.rsplit("/", 1)[1][:8]))
    ).to_be_visible()
    other.close()

    # Sign out: the session ends here and at the IdP, and the shopper lands on the shop.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(a)}/(\?.*)?$"))
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    shot(page, "08-signed-out")
    page.goto(f"{b}/orders")  # the session is gone for every instance
    expect(page).to_have_url(re.compile(re.escape(f"{oidc.issuer}/authorize")))
