"""Take the README's screenshots of the storefront: `.venv/bin/python docs/screenshots.py`.

Starts a scratch platform (a temporary folder, free loopback ports; or uses `--url` of a
running gateway), then drives Debian's chromium with Playwright as a shopper would: search,
open a product, add it to the cart, place an order, and waits for the order's events to
reach the page. Writes docs/storefront.png (a product page) and docs/event-flow.png (the
order page with the live event-flow panel).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.config import ALL_SERVICES, loopback_env  # noqa: E402
from shared.supervisor import ProcessGroup  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def shop(page: Page, url: str) -> None:
    """Search, open a product, put two in the cart and place the order until it is confirmed."""
    page.goto(url + "/")
    expect(page.locator("#stream-status")).to_have_text("live", timeout=15_000)
    page.get_by_label("Search products").fill("atlas")
    page.get_by_role("button", name="Search").click()
    page.locator(".cards a").first.click()
    expect(page.locator("[data-section=recommendation] li").first).to_be_visible()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    page.screenshot(path=str(ROOT / "docs" / "storefront.png"))
    page.get_by_role("link", name="Cart").click()
    page.get_by_label("Name", exact=True).fill("Ada Lovelace")
    page.get_by_label("Email", exact=True).fill("ada@example.com")
    page.get_by_label("Phone", exact=True).fill("+44 20 7946 0000")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#order-status")).to_have_text("confirmed", timeout=15_000)
    expect(page.locator("#event-log li[data-publisher=sms]")).to_have_count(1, timeout=15_000)
    expect(page.locator("#timeline li")).to_have_count(5, timeout=15_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running gateway (default: start a scratch platform)")
    args = parser.parse_args()
    group = ProcessGroup()
    try:
        url = args.url
        if url is None:
            env = loopback_env(os.environ, Path(tempfile.mkdtemp(prefix="zeroshop-shots-")))
            env["ZEROSHOP_LOG_LEVEL"] = "WARNING"
            group.start_all([(name, f"services.{name}") for name in ALL_SERVICES], env)
            url = group.start("gateway", "gateway", env).endpoint
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            shop(page, url.rstrip("/"))
            page.screenshot(path=str(ROOT / "docs" / "event-flow.png"))
            browser.close()
    finally:
        group.stop_all()
    print("wrote docs/storefront.png and docs/event-flow.png")


if __name__ == "__main__":
    main()
