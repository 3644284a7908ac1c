"""The text mode's direct page texts equal what parsing the rendered HTML gives (pages.page_texts)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lumos_envs.envs.webshop.pages import html_to_text, page_texts, render_page, texts_to_text, visible_texts
from lumos_envs.envs.webshop.state import BUY_NOW, NEXT_PAGE, SUB_PAGES, Shop, ShopState
from lumos_envs.webshop.catalog import get_catalog
from lumos_envs.webshop.products import ListCatalog, Product, Review
from lumos_envs.webshop.search import ProductIndex, build_index

HOSTILE = '"><img src=x onerror=alert(1)> <script>alert(1)</script> &amp; &lt;b&gt;'


def _states(shop: Shop, keywords: str) -> list[ShopState]:
    """Every page kind reachable from one search: results pages, items with options, sub-pages, done."""
    results = shop.search(ShopState(), keywords)
    states = [ShopState(), results]
    if NEXT_PAGE in shop.clickables(results):
        states.append(shop.click(results, NEXT_PAGE))
    for page in list(states[1:]):
        for asin in [c for c in shop.clickables(page) if c not in ("back to search", "next >", "< prev")][:3]:
            item = shop.click(page, asin)
            states.append(item)
            for name, values in shop.product(item.asin).options.items():  # states as the item's links make them
                item = replace(item, options=tuple(sorted({**item.chosen(), name: values[-1]}.items())))
                states.append(item)
            states += [shop.click(item, sub) for sub in SUB_PAGES]
            states.append(shop.click(item, BUY_NOW))
    return states


def _assert_same(shop: Shop, states: list[ShopState], instruction: str) -> None:
    for state in states:
        html = render_page(shop, state, instruction=instruction, base="/shop/t", reward=0.25, sign=lambda q: "x")
        direct = page_texts(shop, state, instruction=instruction, reward=0.25)
        assert direct == visible_texts(html), state
        for rich in (False, True):
            assert texts_to_text(direct, rich=rich) == html_to_text(html, rich=rich)


@pytest.fixture(scope="module")
def shop() -> Shop:
    from lumos_envs.webshop.search import get_index

    catalog = get_catalog(None)
    return Shop(catalog, get_index(catalog))


def test_page_texts_equal_parsed_html_on_the_generated_catalog(shop):
    for keywords in ("gold", "memory foam sneakers", "coffee"):
        states = _states(shop, keywords)
        assert {s.page for s in states} == {"search", "results", "item", "item_sub", "done"}
        _assert_same(shop, states, "i need a gold thing")
        _assert_same(shop, states, HOSTILE)  # second pass reads the memoised bodies


def test_page_texts_equal_parsed_html_with_markup_and_blank_fields(tmp_path):
    odd = Product(asin="B0HOSTILE1", title=HOSTILE, department="fashion", query="shoes", product_category="a › b",
                  price=3.5, options={"color": ("red", HOSTILE.lower()), "size": ("  ",)}, attributes=(),
                  description="", bullet_points=(), reviews=(), price_tag=" $3.50 ")
    reviewed = Product(asin="B0HOSTILE2", title="plain shoes  \n", department="fashion", query="shoes",
                       product_category="a", price=1.0, options={}, attributes=("x",),
                       description=" <p>line one\nline two</p> ", bullet_points=("", HOSTILE),
                       reviews=(Review("<b>ok</b>", 5, " fine "), Review("", 1, "")))
    catalog = ListCatalog([odd, reviewed], spec="test:hostile")
    build_index(catalog, tmp_path)
    shop = Shop(catalog, ProductIndex(tmp_path))
    states = _states(shop, "shoes red")
    assert {s.asin for s in states if s.page == "item"} == {"B0HOSTILE1", "B0HOSTILE2"}
    _assert_same(shop, states, "  " + HOSTILE + "  ")
    _assert_same(shop, states, "   ")


def test_page_memo_is_bounded():
    calls = []
    shop = Shop(get_catalog(None), index=None, max_cached_pages=2)  # type: ignore[arg-type]
    for key in ("a", "b", "a", "c", "b"):
        shop.memo(key, lambda key=key: calls.append(key) or key)
    assert calls == ["a", "b", "c", "b"]  # "a" was reused; "b" was evicted by "c"
