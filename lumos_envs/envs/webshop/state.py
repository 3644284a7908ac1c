"""WebShop's page state machine, shared by the text and browser front ends and the server.

A `ShopState` is everything a page shows besides the instruction: which page, the search keywords,
the results page number, the open product, its chosen options and the open sub-page. It round-trips
through URL query parameters (`to_query` / `from_query`), so the server is stateless and the
browser's URL is the state. `Shop.transition(state, action)` is the one place that decides what
`search[...]` and `click[...]` do (WebShop's pages: search -> results, 10 a page with `next >` /
`< prev` and `back to search` -> item with options, `description` / `features` / `reviews` and
`buy now` -> done).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Hashable, Literal, Mapping, TypeVar

from lumos_envs.webshop.products import Catalog, Product
from lumos_envs.webshop.search import SEARCH_RETURN_N, ProductIndex

PageKind = Literal["search", "results", "item", "item_sub", "done"]
PAGES: tuple[str, ...] = ("search", "results", "item", "item_sub", "done")
SUB_PAGES = ("description", "features", "reviews")
RESULTS_PER_PAGE = 10
MAX_QUERY_CHARS = 500
"""search keywords longer than this are cut (both modes, before typing or searching)"""
BACK_TO_SEARCH, NEXT_PAGE, PREV_PAGE, BUY_NOW = "back to search", "next >", "< prev", "buy now"
T = TypeVar("T")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\U00010000-\U0010ffff]")


class ShopActionError(ValueError):
    """An action the current page does not offer (the message says what it does offer)."""


@dataclass(frozen=True)
class ShopState:
    """One page of the shop (without the instruction, which belongs to the session)."""

    page: PageKind = "search"
    keywords: str = ""
    page_num: int = 1
    asin: str = ""
    options: tuple[tuple[str, str], ...] = field(default=())
    """chosen (option name, value) pairs, sorted by name"""
    sub: str = ""

    def chosen(self) -> dict[str, str]:
        return dict(self.options)

    def to_query(self) -> dict[str, str]:
        """URL query parameters for this state (only the ones that matter on this page)."""
        query = {"page": self.page}
        if self.page in ("results", "item", "item_sub"):
            query.update(q=self.keywords, p=str(self.page_num))
        if self.page in ("item", "item_sub", "done"):
            query.update(asin=self.asin, opt=json.dumps([list(o) for o in self.options], separators=(",", ":")))
        if self.page == "item_sub":
            query["sub"] = self.sub
        return query

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> "ShopState":
        """Inverse of `to_query`; malformed values raise `ShopActionError`."""
        page = query.get("page", "search")
        if page not in PAGES:
            raise ShopActionError(f"unknown page {page!r}")
        try:
            page_num = int(query.get("p", "1"))
            options = tuple(sorted((str(n), str(v)) for n, v in json.loads(query.get("opt", "[]"))))
        except (ValueError, TypeError) as error:
            raise ShopActionError(f"malformed page state: {error}") from None
        sub = query.get("sub", "")
        if page == "item_sub" and sub not in SUB_PAGES:
            raise ShopActionError(f"unknown sub-page {sub!r}")
        keywords = normalize_keywords(query.get("q", "")) if page in ("results", "item", "item_sub") else ""
        return cls(page, keywords, max(1, page_num) if page != "search" and page != "done" else 1,  # type: ignore[arg-type]
                   query.get("asin", "") if page in ("item", "item_sub", "done") else "", options, sub)


def normalize_keywords(text: str) -> str:
    """Search keywords as both modes use them: control and non-BMP characters dropped (ChromeDriver
    cannot type the latter), whitespace collapsed, at most `MAX_QUERY_CHARS` characters."""
    return " ".join(_CONTROL.sub(" ", text).split())[:MAX_QUERY_CHARS].strip()


class Shop:
    """The pages and transitions over one catalog and its search index."""

    def __init__(self, catalog: Catalog, index: ProductIndex, max_cached_searches: int = 256,
                 max_cached_pages: int = 1024) -> None:
        self.catalog = catalog
        self.index = index
        self._searches: OrderedDict[str, list[int]] = OrderedDict()
        self._max_cached = max_cached_searches
        self._pages: OrderedDict[Hashable, Any] = OrderedDict()
        self._max_pages = max_cached_pages

    def memo(self, key: Hashable, build: Callable[[], T]) -> T:
        """`build()` memoised under `key` in a bounded LRU (rendered page bodies: a page's body is a
        function of its state and this shop's catalog, and agents revisit pages). Callers must not
        mutate what it returns."""
        if key in self._pages:
            self._pages.move_to_end(key)
            return self._pages[key]
        value = build()
        self._pages[key] = value
        if len(self._pages) > self._max_pages:
            self._pages.popitem(last=False)
        return value

    # -- what a page shows ---------------------------------------------------------------------

    def search_results(self, keywords: str) -> list[int]:
        """Catalog indices of the top `SEARCH_RETURN_N` products (memoised per keywords)."""
        if keywords in self._searches:
            self._searches.move_to_end(keywords)
            return self._searches[keywords]
        found = self.index.search(keywords, SEARCH_RETURN_N) if keywords else []
        self._searches[keywords] = found
        if len(self._searches) > self._max_cached:
            self._searches.popitem(last=False)
        return found

    def page_products(self, state: ShopState) -> list[Product]:
        results = self.search_results(state.keywords)
        start = (state.page_num - 1) * RESULTS_PER_PAGE
        return [self.catalog[i] for i in results[start : start + RESULTS_PER_PAGE]]

    def num_pages(self, state: ShopState) -> int:
        return max(1, -(-len(self.search_results(state.keywords)) // RESULTS_PER_PAGE))

    def product(self, asin: str) -> Product:
        try:
            return self.catalog[self.catalog.index_of(asin)]
        except KeyError:
            raise ShopActionError(f"no product {asin!r} in the shop") from None

    def clickables(self, state: ShopState) -> list[str]:
        """WebShop's `available_actions()['clickables']` for this page, lower-cased, in page order."""
        if state.page == "results":
            items = [BACK_TO_SEARCH]
            if state.page_num > 1:
                items.append(PREV_PAGE)
            if state.page_num < self.num_pages(state):
                items.append(NEXT_PAGE)
            return items + [p.asin.lower() for p in self.page_products(state)]
        if state.page == "item":
            product = self.product(state.asin)
            values = [v for values in product.options.values() for v in values]
            return [BACK_TO_SEARCH, PREV_PAGE, *values, *SUB_PAGES, BUY_NOW]
        if state.page == "item_sub":
            return [BACK_TO_SEARCH, PREV_PAGE]
        return []

    # -- transitions ---------------------------------------------------------------------------

    def search(self, state: ShopState, query: str) -> ShopState:
        if state.page != "search":
            raise ShopActionError("search is only available on the search page; click[back to search] first")
        return ShopState("results", normalize_keywords(query), 1)

    def click(self, state: ShopState, label: str) -> ShopState:
        """The state after clicking `label` (case-insensitive, as WebShop)."""
        target = " ".join(label.split()).lower()
        offered = self.clickables(state)
        if target not in offered:
            shown = ", ".join(offered) if offered else "nothing (use search[...] on the search page)"
            raise ShopActionError(f"{label!r} is not clickable on this page; clickable: {shown}")
        if target == BACK_TO_SEARCH:
            return ShopState()
        if state.page == "results":
            if target == NEXT_PAGE:
                return replace(state, page_num=state.page_num + 1)
            if target == PREV_PAGE:
                return replace(state, page_num=state.page_num - 1)
            return ShopState("item", state.keywords, state.page_num, self.product(target).asin)
        if state.page == "item_sub":
            return replace(state, page="item", sub="")
        if target == PREV_PAGE:
            return ShopState("results", state.keywords, state.page_num)
        if target in SUB_PAGES:
            return replace(state, page="item_sub", sub=target)
        if target == BUY_NOW:
            return ShopState("done", asin=state.asin, options=state.options)
        product = self.product(state.asin)
        name = next(n for n, values in product.options.items() if target in values)
        chosen = state.chosen()
        chosen[name] = target
        return replace(state, options=tuple(sorted(chosen.items())))
