"""The storefront in a real browser: Playwright driving Debian's chromium against the real
gateway and services. A shopper searches, opens a product, orders it and watches the
event-flow panel; then recommendation is killed and the page says so.

Playwright's own browser download cannot work here, so the browser is /usr/bin/chromium
(`apt-get install chromium`; .ci/run installs it). Without it these tests skip locally
and fail under CI=true.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ..support import Platform

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 15_000  # every expectation waits at most this long
PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("browser"))
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing; install it with: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def open_product(page: Page, url: str, search: str) -> str:
    """Search the catalog from `/`, open the first match; returns its name."""
    page.goto(url + "/")
    expect(page.locator("#stream-status")).to_have_text("live")
    page.get_by_label("Search products").fill(search)
    page.get_by_label("Search products").press("Enter")  # the keyboard submits the search
    expect(page.locator("h1")).to_have_text(f"Products matching “{search}”")
    cards = page.locator(".cards li a")
    expect(cards.first).to_be_visible()
    names = cards.all_inner_texts()
    assert names and all(search in name.lower() for name in names), names
    cards.first.click()
    expect(page.locator("h1")).to_have_text(names[0])
    return names[0]


class TestShopping:
    def test_search_order_and_watch_the_services_react(self, shop: Platform, page: Page) -> None:
        name = open_product(page, shop.url, "atlas")
        for section in ("pricing", "discount", "inventory", "recommendation"):
            expect(page.locator(f"[data-section={section}]")).to_have_attribute(
                "data-degraded", "false")
        page.get_by_label("Quantity").fill("2")
        page.get_by_role("button", name="Add to cart").click()
        expect(page.locator("#cart-count")).to_have_text("2")
        page.get_by_role("link", name="Cart").click()
        expect(page.locator(".cart-lines")).to_contain_text(name)
        page.get_by_label("Name", exact=True).fill("Ada Lovelace")
        page.get_by_label("Email", exact=True).fill("ada@example.com")
        page.get_by_label("Phone", exact=True).fill("+44 20 7946 0000")
        page.get_by_role("button", name="Place order").click()

        expect(page).to_have_url(re.compile(r"#/orders/\d+$"))
        order_id = int(page.url.rsplit("/", 1)[1])
        assert shop.get(f"/api/orders/{order_id}")[0] == 200  # a real order, in orders
        expect(page.locator("#order-status")).to_have_text("confirmed")
        # The timeline grows as the services react: placed, reserved, confirmed, email, SMS.
        expect(page.locator("#timeline li")).to_have_count(5)
        for service in ("inventory", "email", "sms"):
            expect(page.locator("#timeline")).to_contain_text(service)

        # The panel listed each reaction of this order, with who published it.
        log = page.locator("#event-log li")
        mine = log.filter(has_text=f"order {order_id} ")
        expect(mine.filter(has_text="stock.reserved")).to_have_count(1)
        expect(mine.and_(page.locator("[data-publisher=email]"))).to_have_count(1)
        expect(mine.and_(page.locator("[data-publisher=sms]"))).to_have_count(1)
        expect(mine.filter(has_text="order.confirmed")).to_contain_text(
            "→ email, sms, recommendation")
        # and drew the services reacting to the latest one.
        expect(page.locator("#flow .lit")).not_to_have_count(0)

    def test_a_service_down_is_named_on_the_product_page(self, shop: Platform,
                                                         page: Page) -> None:
        shop.stop("recommendation", signal.SIGKILL)
        try:
            page.goto(shop.url + "/#/products/1")
            section = page.locator("[data-section=recommendation]")
            expect(section).to_have_attribute("data-degraded", "true")
            expect(section).to_contain_text("the recommendation service did not answer")
            expect(page.locator("[data-section=pricing]")).to_have_attribute(
                "data-degraded", "false")  # only that section
        finally:
            shop.start("recommendation")


class TestUsable:
    def test_labels_keyboard_and_a_phone_width(
            self, shop: Platform, browser: Browser) -> None:
        context = browser.new_context(viewport=PHONE)
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        try:
            for path in ("/", "/#/products/1", "/#/cart"):
                page.goto(shop.url + path)
                expect(page.locator("h1")).to_be_visible()
                unlabeled = page.evaluate("""() => [...document.querySelectorAll(
                    'input, select, button')].filter(c => !c.labels?.length &&
                    !c.textContent.trim() && !c.getAttribute('aria-label')).map(c => c.id)""")
                assert unlabeled == [], (path, unlabeled)
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], (path, width)
            page.goto(shop.url + "/")
            expect(page.locator(".cards a").first).to_be_visible()
            page.keyboard.press("Tab")  # the first stop is the skip link, then the shop
            expect(page.locator(".skip")).to_be_focused()
            for _ in range(2):
                page.keyboard.press("Tab")
            expect(page.get_by_label("Search products")).to_be_focused()
            page.keyboard.type("atlas")
            page.keyboard.press("Enter")
            expect(page.locator("h1")).to_be_focused()  # the new view has the focus
            expect(page.locator("h1")).to_have_text("Products matching “atlas”")
        finally:
            context.close()
