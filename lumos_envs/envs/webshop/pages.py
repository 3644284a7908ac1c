"""The shop's HTML pages (Jinja2, autoescaped) and WebShop's text views of them.

Both front ends show the same HTML: the text mode renders it in-process, the browser mode loads it
from the server. `html_to_text(html, rich=...)` is WebShop's `convert_html_to_text`: `text` joins
the visible strings with ` [SEP] `; `text_rich` marks buttons `[button] x [button_]`, chosen
options `[clicked button] x [clicked button_]` (and starts with `You have clicked x.`), product
links on their own lines. Templates live here as strings so an installed package needs no data
files; every value goes through autoescaping, so catalog or query text is shown, never run.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

import jinja2

from lumos_envs.envs.webshop.state import BACK_TO_SEARCH, BUY_NOW, NEXT_PAGE, PREV_PAGE, Shop, ShopState

_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>WebShop</title>
<link rel="stylesheet" href="/static/shop.css"></head>
<body data-page="{{ state.page }}">
<div id="instruction-text"><h4>Instruction:</h4><p>{{ instruction }}</p></div>
"""
_TAIL = "</body></html>\n"

TEMPLATES = {
    "search": _HEAD + """<div id="logo"><h1>WebShop</h1></div>
<form method="get" action="{{ base }}/search" id="search-form">
<input type="text" name="search_query" id="search_input" placeholder="Search..." autocomplete="off">
<button type="submit" class="btn" id="search-button">Search</button>
</form>
""" + _TAIL,
    "results": _HEAD + """<a class="btn" data-click="{{ BACK }}" href="{{ url(back) }}">Back to Search</a>
<div class="page-info">Page {{ state.page_num }} (Total results: {{ total }})</div>
{% if prev %}<a class="btn" data-click="{{ PREV }}" href="{{ url(prev) }}">&lt; Prev</a>{% endif %}
{% if next %}<a class="btn" data-click="{{ NEXT }}" href="{{ url(next) }}">Next &gt;</a>{% endif %}
{% for item, link in items %}<div class="result">
<a class="product-link" data-click="{{ item.asin | lower }}" href="{{ url(link) }}">{{ item.asin }}</a>
<h4 class="title">{{ item.title }}</h4>
<div class="price">{{ item.price_tag }}</div>
</div>
{% endfor %}""" + _TAIL,
    "item": _HEAD + """<a class="btn" data-click="{{ BACK }}" href="{{ url(back) }}">Back to Search</a>
<a class="btn" data-click="{{ PREV }}" href="{{ url(prev) }}">&lt; Prev</a>
{% for name, values in option_links %}<div class="option-group"><h4>{{ name }}</h4>
{% for value, link, chosen in values %}<a class="option{% if chosen %} selected{% endif %}" data-click="{{ value }}" href="{{ url(link) }}">{{ value }}</a>
{% endfor %}</div>
{% endfor %}<h2 class="title">{{ product.title }}</h2>
<div class="price">Price: {{ product.price_tag }}</div>
<div class="rating">Rating: {{ product.rating }}</div>
{% for sub, link in subs %}<a class="btn" data-click="{{ sub }}" href="{{ url(link) }}">{{ sub | capitalize }}</a>
{% endfor %}<a class="btn" data-click="{{ BUY }}" href="{{ url(buy) }}">Buy Now</a>
""" + _TAIL,
    "item_sub": _HEAD + """<a class="btn" data-click="{{ BACK }}" href="{{ url(back) }}">Back to Search</a>
<a class="btn" data-click="{{ PREV }}" href="{{ url(prev) }}">&lt; Prev</a>
{% if state.sub == "description" %}<p class="description">{{ product.description or "N.A." }}</p>
{% elif state.sub == "features" %}<ul class="features">{% for point in product.bullet_points %}<li>{{ point }}</li>{% else %}<li>N.A.</li>{% endfor %}</ul>
{% else %}{% for review in product.reviews %}<div class="review"><h4>{{ review.title }}</h4><span class="score">{{ review.score }}</span><p>{{ review.body }}</p></div>
{% else %}<p>No reviews yet.</p>{% endfor %}{% endif %}""" + _TAIL,
    "done": _HEAD + """<h1 id="thankyou">Thank you for shopping with us!</h1>
<h4>Purchased</h4><div class="asin">{{ state.asin }}</div>
<h4>options</h4><div class="options">{{ options_json }}</div>
<h3>Your score (min 0.0, max 1.0)</h3><div id="reward">{{ "%.4f" | format(reward) }}</div>
""" + _TAIL,
}

STYLESHEET = """body{font-family:sans-serif;margin:2em;max-width:60em}
.btn,.option,.product-link{display:inline-block;margin:.2em;padding:.3em .6em;border:1px solid #888;border-radius:4px;text-decoration:none;color:#000;background:#eee}
.option.selected{background:#8cf}.result{border-bottom:1px solid #ddd;padding:.4em 0}
#instruction-text{background:#ffd;padding:.5em}
"""

_env = jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)


def render_page(shop: Shop, state: ShopState, *, instruction: str, base: str, reward: float = 0.0,
                sign: Callable[[str], str] | None = None) -> str:
    """The HTML of `state` for a session at `base` (e.g. `/shop/local`).

    `sign(query)` (the server's HMAC) adds `&sig=...` to every link, so the server can tell a state
    its own pages linked to from one a visitor wrote by hand.
    """

    def url(target: ShopState) -> str:
        query = state_query(target)
        return f"{base}?{query}&sig={sign(f'{base}?{query}')}" if sign is not None else f"{base}?{query}"

    context: dict[str, Any] = dict(
        state=state, instruction=instruction, base=base, url=url,
        BACK=BACK_TO_SEARCH, PREV=PREV_PAGE, NEXT=NEXT_PAGE, BUY=BUY_NOW, back=ShopState(),
    )
    if state.page == "results":
        products = shop.page_products(state)
        context.update(
            total=len(shop.search_results(state.keywords)),
            prev=shop.click(state, PREV_PAGE) if state.page_num > 1 else None,
            next=shop.click(state, NEXT_PAGE) if state.page_num < shop.num_pages(state) else None,
            items=[(p, ShopState("item", state.keywords, state.page_num, p.asin)) for p in products],
        )
    elif state.page in ("item", "item_sub"):
        product = shop.product(state.asin)
        chosen = state.chosen()
        option_links = []
        for name, values in product.options.items():
            links = []
            for value in values:
                picked = dict(chosen, **{name: value})
                links.append((value, ShopState("item", state.keywords, state.page_num, state.asin, tuple(sorted(picked.items()))), chosen.get(name) == value))
            option_links.append((name, links))
        item = ShopState("item", state.keywords, state.page_num, state.asin, state.options)
        context.update(
            product=product, option_links=option_links,
            prev=ShopState("results", state.keywords, state.page_num) if state.page == "item" else item,
            subs=[(sub, ShopState("item_sub", state.keywords, state.page_num, state.asin, state.options, sub)) for sub in ("description", "features", "reviews")],
            buy=ShopState("done", asin=state.asin, options=state.options),
        )
    elif state.page == "done":
        context.update(reward=reward, options_json=json.dumps(state.chosen(), sort_keys=True))
    return _env.get_template(state.page).render(**context)


class _TextCollector(HTMLParser):
    """Visible text nodes with their parent tag and classes (WebShop's `tag_visible` filter)."""

    _HIDDEN = {"style", "script", "head", "title", "meta", "[document]"}
    _VOID = {"meta", "link", "input", "br", "img", "hr", "area", "base", "col", "embed", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str]] = []
        self.texts: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._VOID:
            return
        self.stack.append((tag, dict(attrs).get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, -1, -1):
            if self.stack[depth][0] == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if any(tag in self._HIDDEN for tag, _ in self.stack):
            return
        if data.strip():
            tag, classes = self.stack[-1] if self.stack else ("", "")
            self.texts.append((data.strip(), tag, classes))


def visible_texts(html: str) -> list[tuple[str, str, str]]:
    """(text, parent tag, parent class) of every visible, non-blank text node, in page order."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return collector.texts


TextNode = tuple[str, str, str]
"""(text, parent tag, parent class) of one visible text node, as `visible_texts` reads them"""


def page_texts(shop: Shop, state: ShopState, *, instruction: str, reward: float = 0.0) -> list[TextNode]:
    """`visible_texts(render_page(...))` without rendering or parsing any HTML.

    The text mode's observation needs only the visible strings, so building them straight from
    the state skips the two costs that dominated a step (Jinja with an HMAC/urlencode per link,
    then `HTMLParser`). The body of a results or product page does not depend on the instruction,
    so it is memoised on the shop (`Shop.memo`). A test checks that this equals the parsed HTML on
    every page kind, including markup in catalog and instruction text.
    """
    texts: list[TextNode] = []
    _node(texts, "Instruction:", "h4")
    _node(texts, instruction, "p")
    if state.page == "search":
        return texts + [("WebShop", "h1", ""), ("Search", "button", "btn")]
    if state.page == "done":
        for text, tag, classes in (("Thank you for shopping with us!", "h1", ""), ("Purchased", "h4", ""),
                                   (state.asin, "div", "asin"), ("options", "h4", ""),
                                   (json.dumps(state.chosen(), sort_keys=True), "div", "options"),
                                   ("Your score (min 0.0, max 1.0)", "h3", ""), ("%.4f" % reward, "div", "")):
            _node(texts, text, tag, classes)
        return texts
    if state.page == "results":
        key = ("results", state.keywords, state.page_num)
    else:
        key = (state.page, state.asin, state.options, state.sub)
    return texts + shop.memo(key, lambda: _body_texts(shop, state))


def _body_texts(shop: Shop, state: ShopState) -> list[TextNode]:
    texts: list[TextNode] = [("Back to Search", "a", "btn")]
    if state.page == "results":
        _node(texts, f"Page {state.page_num} (Total results: {len(shop.search_results(state.keywords))})", "div", "page-info")
        if state.page_num > 1:
            texts.append(("< Prev", "a", "btn"))
        if state.page_num < shop.num_pages(state):
            texts.append(("Next >", "a", "btn"))
        for product in shop.page_products(state):
            _node(texts, product.asin, "a", "product-link")
            _node(texts, product.title, "h4", "title")
            _node(texts, product.price_tag, "div", "price")
        return texts
    product = shop.product(state.asin)
    texts.append(("< Prev", "a", "btn"))
    if state.page == "item":
        chosen = state.chosen()
        for name, values in product.options.items():
            _node(texts, name, "h4")
            for value in values:
                _node(texts, value, "a", "option selected" if chosen.get(name) == value else "option")
        _node(texts, product.title, "h2", "title")
        _node(texts, f"Price: {product.price_tag}", "div", "price")
        _node(texts, f"Rating: {product.rating}", "div", "rating")
        texts += [(sub.capitalize(), "a", "btn") for sub in ("description", "features", "reviews")]
        texts.append(("Buy Now", "a", "btn"))
    elif state.sub == "description":
        _node(texts, product.description or "N.A.", "p", "description")
    elif state.sub == "features":
        for point in product.bullet_points or ("N.A.",):
            _node(texts, point, "li")
    elif product.reviews:
        for review in product.reviews:
            _node(texts, review.title, "h4")
            _node(texts, str(review.score), "span", "score")
            _node(texts, review.body, "p")
    else:
        texts.append(("No reviews yet.", "p", ""))
    return texts


def _node(texts: list[TextNode], text: str, tag: str, classes: str = "") -> None:
    """Add a text node as `HTMLParser` reports it: stripped, and dropped when blank."""
    text = str(text).strip()
    if text:
        texts.append((text, tag, classes))


def html_to_text(html: str, *, rich: bool = False) -> str:
    """WebShop's `text` (`rich=False`) or `text_rich` observation of a page."""
    return texts_to_text(visible_texts(html), rich=rich)


def texts_to_text(texts: list[TextNode], *, rich: bool = False) -> str:
    """WebShop's `text` or `text_rich` observation from a page's visible text nodes."""
    if not rich:
        return " [SEP] ".join(text for text, _, _ in texts)
    observation = ""
    clicked: list[str] = []
    for text, tag, classes in texts:
        names = classes.split()
        if tag == "button" or "btn" in names:
            piece = f"[button] {text} [button_]"
        elif "option" in names:
            if "selected" in names:
                piece = f"  [clicked button] {text} [clicked button_]"
                clicked.append(text)
            else:
                piece = f"  [button] {text} [button_]"
        elif "product-link" in names:
            piece = f"\n[button] {text} [button_]"
        else:
            piece = f"\n{text} "
        observation += piece + "\n"
    prefix = "".join(f"You have clicked {text}.\n" for text in reversed(clicked))
    return prefix + observation


def page_view(html: str, observation_format: str) -> str:
    """The observation of a page in `text`, `text_rich` or `html` format."""
    if observation_format == "html":
        return html
    return html_to_text(html, rich=observation_format == "text_rich")


def state_query(state: ShopState) -> str:
    """The canonical URL query of `state` (what links carry and what the server signs)."""
    return urlencode(state.to_query())


def query_of(params: Mapping[str, list[str]]) -> dict[str, str]:
    """First value of each query parameter (what `ShopState.from_query` reads)."""
    return {k: v[0] for k, v in params.items() if v}
