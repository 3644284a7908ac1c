"""State machine, pages and WebShop's text views (lumos_envs/envs/webshop/state.py, pages.py)."""

from __future__ import annotations

import pytest

from lumos_envs.envs.webshop.pages import html_to_text, render_page
from lumos_envs.envs.webshop.state import Shop, ShopActionError, ShopState, normalize_keywords
from lumos_envs.webshop.catalog import get_catalog
from lumos_envs.webshop.search import get_index


@pytest.fixture(scope="module")
def shop() -> Shop:
    catalog = get_catalog(None)
    return Shop(catalog, get_index(catalog))


def test_state_round_trips_through_the_url(shop):
    state = shop.search(ShopState(), "memory foam sneakers")
    item = shop.click(state, shop.clickables(state)[-1])
    for s in (ShopState(), state, item, shop.click(item, "features"), shop.click(item, "buy now")):
        assert ShopState.from_query(s.to_query()) == s


def test_pages_and_transitions(shop):
    results = shop.search(ShopState(), "gold")
    assert shop.clickables(results)[:2] == ["back to search", "next >"]
    page2 = shop.click(results, "Next >")
    assert page2.page_num == 2 and "< prev" in shop.clickables(page2)
    asin = shop.clickables(page2)[-1]
    item = shop.click(page2, asin.upper())
    product = shop.product(asin)
    for name, values in product.options.items():
        item = shop.click(item, values[-1])
    assert item.chosen() == {n: v[-1] for n, v in product.options.items()}
    assert shop.click(item, "< prev") == ShopState("results", "gold", 2)
    with pytest.raises(ShopActionError, match="not clickable"):
        shop.click(item, "nonexistent")
    with pytest.raises(ShopActionError, match="search page"):
        shop.search(item, "x")


def test_text_views(shop):
    results = shop.search(ShopState(), "gold")
    item = shop.click(results, shop.clickables(results)[-1])
    product = shop.product(item.asin)
    if product.options:
        name, values = next(iter(product.options.items()))
        item = shop.click(item, values[0])
    html = render_page(shop, item, instruction="buy <b>it</b>", base="/shop/x")
    text = html_to_text(html)
    assert text.startswith("Instruction: [SEP] buy <b>it</b> [SEP] Back to Search [SEP] < Prev")
    assert text.endswith("Description [SEP] Features [SEP] Reviews [SEP] Buy Now")
    rich = html_to_text(html, rich=True)
    assert "[button] Buy Now [button_]" in rich
    if product.options:
        assert rich.startswith(f"You have clicked {values[0]}.") and f"[clicked button] {values[0]} [clicked button_]" in rich


def test_templates_escape_catalog_and_query_text(shop):
    payload = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    state = shop.search(ShopState(), payload)
    html = render_page(shop, state, instruction=payload, base="/shop/x")
    assert "<script>alert" not in html and "<img src=x" not in html and "&lt;script&gt;" in html
    assert payload in html_to_text(html)


def test_keywords_are_normalised_for_both_modes():
    assert normalize_keywords("  a\tb\n c😀 ") == "a b c"
    assert len(normalize_keywords("x" * 2000)) == 500
