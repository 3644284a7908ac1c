"""`lumos shop serve`'s WSGI app: signed state URLs, no reward from a forged link, read-only mode."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest

from lumos_envs.envs.webshop.server import ShopApp
from lumos_envs.envs.webshop.state import Shop, ShopState
from lumos_envs.webshop.catalog import get_catalog
from lumos_envs.webshop.search import get_index


class Scorer:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, state: ShopState) -> float:
        self.calls += 1
        return 1.0


@pytest.fixture(scope="module")
def shop() -> Shop:
    catalog = get_catalog("generated?size=200&seed=9")
    return Shop(catalog, get_index(catalog))


def get(app: ShopApp, url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    body = b"".join(app({"HTTP_HOST": "127.0.0.1:1", "REQUEST_METHOD": "GET", "PATH_INFO": parts.path,
                         "QUERY_STRING": parts.query}, start_response))
    return seen["status"], body.decode()


def links(html: str, click: str | None = None) -> list[str]:
    found = re.findall(r'data-click="([^"]*)" href="([^"]*)"', html)
    return [unescape(href) for label, href in found if click is None or unescape(label) == click]


def app_with_session(shop: Shop, **kwargs) -> tuple[ShopApp, Scorer]:
    app, scorer = ShopApp(**kwargs), Scorer()
    app.set_session("s1", shop, "buy anything", scorer)
    return app, scorer


def test_signed_links_lead_to_a_purchase(shop):
    app, scorer = app_with_session(shop)
    status, results = get(app, "/shop/s1/search?search_query=cotton+shirt")
    assert status == "200 OK"
    item_link = links(results, shop.catalog[shop.search_results("cotton shirt")[0]].asin.lower())[0]
    assert "sig=" in item_link
    status, item = get(app, item_link)
    assert status == "200 OK" and "Buy Now" in item
    status, done = get(app, links(item, "buy now")[0])
    assert status == "200 OK" and 'id="reward">1.0000' in done and scorer.calls == 1


def test_forged_or_tampered_urls_are_refused_and_never_score(shop):
    app, scorer = app_with_session(shop)
    asin = shop.catalog[0].asin
    for url in (f"/shop/s1?page=done&asin={asin}&opt=[]", f"/shop/s1?page=done&asin={asin}&opt=[]&sig=" + "0" * 64,
                f"/shop/s1?page=item&q=x&p=1&asin={asin}&opt=[]"):
        status, body = get(app, url)
        assert status == "403 Forbidden" and "signature" in body
    # a genuine link with its asin changed, or signed by another server, is refused too
    signed = app.url("s1", ShopState("done", asin=shop.catalog[1].asin))
    assert get(app, signed)[0] == "200 OK" and scorer.calls == 1
    assert get(app, signed.replace(shop.catalog[1].asin, asin))[0] == "403 Forbidden"
    other = ShopApp()
    assert get(app, other.url("s1", ShopState("done", asin=asin)))[0] == "403 Forbidden"
    assert get(app, app.url("s2", ShopState("done", asin=asin)).replace("/s2", "/s1"))[0] == "403 Forbidden"
    assert scorer.calls == 1
    assert get(app, "/shop/s1?page=search")[0] == "200 OK"  # the landing page needs no signature


def test_read_only_serves_pages_but_never_scores(shop):
    app, scorer = app_with_session(shop, read_only=True)
    asin = shop.catalog[3].asin
    status, item = get(app, f"/shop/s1?page=item&q=x&p=1&asin={asin}&opt=[]")  # a viewer's deep link
    assert status == "200 OK" and shop.catalog[3].title in unescape(item)
    for url in (f"/shop/s1?page=done&asin={asin}&opt=[]", links(item, "buy now")[0], app.url("s1", ShopState("done", asin=asin))):
        status, body = get(app, url)
        assert status == "403 Forbidden" and "read-only" in body
    assert scorer.calls == 0


def test_shop_serve_read_only_flag(capsys):
    from rollouts.shop_cli import ShopServeConfig, run_shop_serve

    assert run_shop_serve(ShopServeConfig(tasks="synthetic:shop_synthetic?size=2", duration_s=0.2, read_only=True)) == 0
    assert "WebShop read-only at http://127.0.0.1:" in capsys.readouterr().out
