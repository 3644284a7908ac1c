"""The WebShop tools: LUMOS's `Search`, `Click`, `FeatureRetrieve`, `Pick`, and WebShop's `search[...]`, `click[...]`.

They act on the env's front end, so they are closures over the env (`bounded=False`: each call is
one page action or a few embeddings, bounded by the page-load timeout and the list caps below).
Values (what goes into `R1`, ...) follow LUMOS's WebShop demonstrations:
`Search` -> `asin - title ** asin - title` (the top `num_search_items` results),
`Click(asin)` -> the item's features (`black, large, x-large, ...`), `FeatureRetrieve` -> the
`num_features` features closest to the query, `Pick` -> the asin whose title and retrieved
features are closest to the query, `Click(buy now)` -> `Done.`. FeatureRetrieve and Pick embed
with all-MiniLM-L6-v2 (`lumos_envs.embedding.default_embedder`).
"""

from __future__ import annotations

import re
from typing import Any, Protocol, Sequence

import numpy as np

from lumos_envs.execution.errors import ToolError
from lumos_envs.execution.tool import Tool, tool
from lumos_envs.envs.webshop.frontends import FrontEnd
from lumos_envs.envs.webshop.state import BUY_NOW, Shop, ShopActionError


class ShopToolHost(Protocol):
    """What the tools use of their env (`WebShopEnv` is one); a protocol, so this module never
    imports the env that imports it."""

    frontend: FrontEnd
    shop: Shop
    num_search_items: int
    num_features: int
    _retrieved: dict[str, list[str]]

    @property
    def embedder(self) -> Any: ...

    def page_text(self) -> str: ...

    def _require_open(self) -> None: ...


# LUMOS defines only the signatures of its WebShop actions (spec/lumos_formats.md); they are the
# interface strings verbatim, with no invented descriptions.
SEARCH_INTERFACE = "Search(query)"
CLICK_INTERFACE = "Click(item)"
FEATURE_INTERFACE = "FeatureRetrieve(feature_list, query)"
PICK_INTERFACE = "Pick(item_names, item_features, query)"
MAX_FEATURES_IN = 200
"""features a FeatureRetrieve call embeds at most"""
MAX_PICK_ITEMS = 50
_ASIN = re.compile(r"(?<![A-Za-z0-9])[Bb][0-9A-Za-z]{9}(?![A-Za-z0-9])")


def make_webshop_tools(env: ShopToolHost) -> Sequence[Tool]:
    """The tools of one env, in LUMOS's order, then WebShop's bracket actions."""

    def act(fn, *args):  # type: ignore[no-untyped-def]
        try:
            fn(*args)
        except ShopActionError as error:
            raise ToolError(str(error)) from None

    def lumos_search(query: str) -> str:
        """Go back to the search page if needed, search, and list the top results."""
        env._require_open()
        if env.frontend.state.page != "search":
            act(env.frontend.click, "back to search")
        act(env.frontend.search, query)
        products = env.shop.page_products(env.frontend.state)[: env.num_search_items]
        if not products:
            return "No results."
        return " ** ".join(f"{p.asin.lower()} - {p.title}" for p in products)

    def lumos_click(item: str) -> str:
        """Click a button, option or product on the current page."""
        env._require_open()
        label = item.strip()
        act(env.frontend.click, label)
        state = env.frontend.state
        if state.page == "done":
            return "Done."
        if state.page == "item" and label.lower() == state.asin.lower():
            return ", ".join(env.shop.product(state.asin).features())
        return f"You have clicked {label}."

    def feature_retrieve(feature_list: str, query: str) -> str:
        """Keep the features most similar to the query (cosine of MiniLM embeddings)."""
        features = _split_features(feature_list)
        if not features:
            raise ToolError("FeatureRetrieve needs a feature list, e.g. FeatureRetrieve(R2, Query: ...)")
        scores = _similarity(env, query, features)
        keep = [features[i] for i in np.argsort(-scores, kind="stable")[: env.num_features]]
        state = env.frontend.state
        if state.asin:
            env._retrieved[state.asin.lower()] = keep
        return ", ".join(keep)

    def pick(item_names: str, item_features: str, query: str) -> str:
        """The asin among `item_names` whose title and retrieved features best fit the query."""
        asins = list(dict.fromkeys(a.lower() for a in _ASIN.findall(item_names)))[:MAX_PICK_ITEMS]
        if not asins:
            raise ToolError("Pick found no item ids (like b09s3bn15c) in item_names")
        titles = dict(re.findall(r"([Bb][0-9A-Za-z]{9}) - ([^*]+)", item_names))
        texts = []
        for asin in asins:
            title = next((t for a, t in titles.items() if a.lower() == asin), "")
            features = env._retrieved.get(asin) or []
            texts.append(f"{title.strip()}. {', '.join(features)}".strip(". "))
        scores = _similarity(env, query, texts)
        return asins[int(np.argmax(scores))]

    def bracket_search(query: str) -> str:
        """WebShop's search[query]; only on the search page."""
        env._require_open()
        act(env.frontend.search, query)
        return env.page_text()

    def bracket_click(item: str) -> str:
        """WebShop's click[item]."""
        env._require_open()
        act(env.frontend.click, item.strip())
        return env.page_text()

    tools = [
        tool(name="Search", interface=SEARCH_INTERFACE)(_named(lumos_search, "search")),
        tool(name="FeatureRetrieve", interface=FEATURE_INTERFACE)(_named(feature_retrieve, "feature_retrieve")),
        tool(name="Pick", interface=PICK_INTERFACE)(_named(pick, "pick")),
        tool(name="Click", interface=CLICK_INTERFACE)(_named(lumos_click, "click")),
        tool(name="search", interface="search[query]")(bracket_search),
        tool(name="click", interface="click[item]")(bracket_click),
    ]
    return tools


def _named(fn, name: str):  # type: ignore[no-untyped-def]
    fn.__name__ = name
    return fn


def _split_features(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))[:MAX_FEATURES_IN]


def _similarity(env: ShopToolHost, query: str, texts: list[str]) -> np.ndarray:
    vectors = env.embedder.embed([query, *texts])
    return vectors[1:] @ vectors[0]


