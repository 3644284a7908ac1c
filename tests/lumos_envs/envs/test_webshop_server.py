"""`lumos shop serve`'s WSGI app: signed state URLs, no reward from a forged link, read-only mode."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from werkzeug.test import EnvironBuilder

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


def get(app: ShopApp, url: str, *, method: str = "GET", host: str = "127.0.0.1:1") -> tuple[str, str]:
    parts = urlsplit(url)
    seen = {}

    def start_response(status, headers):
        seen["status"] = status
        seen["headers"] = dict(headers)

    # a full PEP 3333 environ, as waitress gives one (Flask reads wsgi.url_scheme and the rest)
    environ = EnvironBuilder(path=parts.path, query_string=parts.query, method=method,
                             headers={"Host": host}).get_environ()
    body = b"".join(app(environ, start_response))
    LAST_HEADERS.clear()
    LAST_HEADERS.update(seen["headers"])
    return seen["status"], body.decode()


LAST_HEADERS: dict[str, str] = {}
"""the headers of the last `get` response"""


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


def test_routing_refusals_and_headers_on_every_response(shop):
    from lumos_envs.envs.webshop.server import CONTENT_SECURITY_POLICY, Session

    app, _ = app_with_session(shop)
    cases = [
        (dict(url="/shop/s1?page=search", host="evil.example:80"), "403 Forbidden", "loopback"),
        (dict(url="/shop/s1?page=search", method="POST"), "405 Method Not Allowed", "Only GET"),
        (dict(url="/shop/s1?page=search", method="OPTIONS"), "405 Method Not Allowed", "Only GET"),
        (dict(url="/nowhere/at/all"), "404 Not Found", "No such page."),
        (dict(url="/shop/s1/other"), "404 Not Found", "No such page."),
        (dict(url="/shop/nobody?page=search"), "404 Not Found", "No such session."),
        (dict(url="/"), "404 Not Found", "No such page."),
        (dict(url="/shop/s1?page=nope"), "400 Bad Request", "unknown page"),
        (dict(url="/shop/s1?page=search", host="[::1]:8080"), "200 OK", "Search"),
        (dict(url="/shop/s1/search?search_query=<script>x</script>"), "200 OK", "Total results"),
    ]
    for kwargs, status, text in cases:
        got, body = get(app, **kwargs)
        assert (got, text in body) == (status, True), kwargs
        assert LAST_HEADERS["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, kwargs
        assert LAST_HEADERS["Cache-Control"] == "no-store" and LAST_HEADERS["X-Frame-Options"] == "DENY"
        if status.startswith("405"):
            assert LAST_HEADERS["Allow"] == "GET, HEAD"
    status, css = get(app, "/static/shop.css")
    assert status == "200 OK" and LAST_HEADERS["Content-Type"] == "text/css; charset=utf-8" and "body{" in css
    assert LAST_HEADERS["Cache-Control"] == "max-age=86400, immutable"  # pages are no-store
    status, body = get(app, "/shop/s1?page=search", method="HEAD")
    assert status == "200 OK" and body == "" and LAST_HEADERS["Content-Type"] == "text/html; charset=utf-8"
    landing = ShopApp(new_session=lambda: ("fresh", Session(shop, "x", Scorer())))
    assert get(landing, "/")[0] == "303 See Other" and LAST_HEADERS["Location"] == "/shop/fresh?page=search"
    assert get(landing, "/shop/fresh?page=search")[0] == "200 OK"


def test_shop_serve_read_only_flag(capsys):
    from rollouts.shop_cli import ShopServeConfig, run_shop_serve

    assert run_shop_serve(ShopServeConfig(tasks="synthetic:shop_synthetic?size=2", duration_s=0.2, read_only=True)) == 0
    assert "WebShop read-only at http://127.0.0.1:" in capsys.readouterr().out
