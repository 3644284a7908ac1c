"""WebShop's reward (Yao et al., 2022, `web_agent_site/engine/goal.py`), term by term.

    reward = r_type × (attributes matched + options matched + price within cap)
                     / (number of goal attributes + number of goal options + 1)

- **attributes matched**: a goal attribute counts when some product attribute fuzzy-matches it
  (`rapidfuzz.fuzz.token_set_ratio > 85`, WebShop's threshold), or when it appears verbatim in the
  title, bullet points or description (lower-cased).
- **options matched**: a goal option counts when some chosen option fuzzy-matches it (> 85), after
  WebShop's `normalize_color` (the first known colour word inside the value).
- **price within cap**: 1 when the price is at most the goal's `price_upper`.
  WebShop's quirk: when no cap was sampled it sets `price_upper = 1,000,000`, so the term is a free
  point. lumos keeps the free point by default (`free_price_point=True`: rewards stay comparable with
  published WebShop numbers); `free_price_point=False` drops the term from numerator and denominator.
- **r_type** (the product-type gate): from the nouns of the bought product's title vs. the goal
  product's title (`title_score` = share of goal nouns found), plus `query_match` (same scrape
  query) and `category_match` (≥ 2 shared category-path levels): 1.0, or 0.5 when none of
  query/category/title > 0.2 matches, 0.1 when `title_score < 0.1`, 0.0 when it is 0.
  WebShop finds nouns with spaCy's `en_core_web_sm`; lumos uses it when installed, otherwise the
  documented fallback `catalog_nouns`: the title's words that belong to the catalog's product-type
  vocabulary (words of all product-type names). The fallback misses nouns outside that vocabulary
  (a brand, "gift") and never counts adjectives, so its `title_score` can differ from spaCy's.

Success is reward 1 (all terms matched and the type gate open).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Sequence

from rapidfuzz import fuzz

FUZZY_THRESHOLD = 85
"""WebShop's fuzzy-match threshold: `token_set_ratio > 85`"""
NO_PRICE_CAP = 1_000_000.0
"""WebShop's `price_upper` when no cap was sampled"""

COLOR_SET = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue", "blush",
    "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne", "charcoal", "cheetah",
    "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper", "coral", "cranberry", "cream",
    "crystal", "dark", "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape",
    "graphite", "grass", "gray", "green", "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender",
    "lemon", "leopard", "light", "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "metallic", "mint",
    "mocha", "multicolor", "mustard", "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink",
    "plum", "purple", "rainbow", "red", "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver",
    "skull", "slate", "steel", "stone", "stonewash", "sunflower", "tan", "taupe", "teal", "tiger", "turquoise",
    "violet", "walnut", "wheat", "white", "wine", "yellow",
)
"""WebShop's colour words (`goal.py`), in its order: `normalize_color` returns the first contained"""

NounFinder = Callable[[str], list[str]]


@dataclass(frozen=True)
class GoalSpec:
    """What a WebShop goal asks for (WebShop's goal dict, typed)."""

    asin: str
    name: str
    """the target product's title (the type gate compares nouns against it)"""
    query: str
    product_category: str
    attributes: tuple[str, ...]
    options: tuple[str, ...]
    """goal option values (WebShop's `goal_options` values)"""
    price_upper: float = NO_PRICE_CAP


@dataclass(frozen=True)
class PurchasedSpec:
    """The bought product and the options chosen for it."""

    title: str
    query: str
    product_category: str
    attributes: tuple[str, ...]
    bullet_points: tuple[str, ...]
    description: str
    price: float
    options: tuple[str, ...] = field(default=())


def normalize_color(text: str) -> str:
    """WebShop's `normalize_color`: the first colour of `COLOR_SET` contained in `text`, else `text`."""
    for color in COLOR_SET:
        if color in text:
            return color
    return text


def fuzzy_match(a: str, b: str) -> bool:
    """WebShop's fuzzy match: `token_set_ratio(a, b) > 85`."""
    return fuzz.token_set_ratio(a, b) > FUZZY_THRESHOLD


def attribute_matches(purchased: PurchasedSpec, goal_attributes: Sequence[str]) -> int:
    """How many goal attributes the product has (fuzzy attribute match, or verbatim in its text)."""
    title, bullets, description = purchased.title.lower(), " ".join(purchased.bullet_points).lower(), purchased.description.lower()
    count = 0
    for wanted in goal_attributes:
        if any(fuzzy_match(have, wanted) for have in purchased.attributes):
            count += 1
        elif wanted in title or wanted in bullets or wanted in description:
            count += 1
    return count


def option_matches(chosen: Iterable[str], goal_options: Iterable[str]) -> int:
    """How many goal options were chosen (fuzzy, after `normalize_color`)."""
    chosen_norm = [normalize_color(o) for o in chosen]
    count = 0
    for wanted in (normalize_color(o) for o in goal_options):
        if any(fuzzy_match(have, wanted) for have in chosen_norm):
            count += 1
    return count


def type_reward(purchased: PurchasedSpec, goal: GoalSpec, nouns: NounFinder) -> dict[str, float]:
    """WebShop's product-type gate `r_type` and its parts."""
    query_match = purchased.query.strip().lower() == goal.query.strip().lower()
    bought_path = {p.strip() for p in purchased.product_category.split("›")}
    goal_path = {p.strip() for p in goal.product_category.split("›")}
    category_match = len(bought_path & goal_path) >= 2
    desired = set(nouns(goal.name))
    bought = set(nouns(purchased.title))
    title_score = 0.2 if not desired else len(bought & desired) / len(desired)
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {"r_type": r_type, "query_match": float(query_match), "category_match": float(category_match), "title_score": title_score}


def webshop_reward(
    purchased: PurchasedSpec,
    goal: GoalSpec,
    *,
    nouns: NounFinder,
    free_price_point: bool = True,
) -> dict[str, float]:
    """All terms of WebShop's reward; `reward` is the headline, `success` is `reward == 1`."""
    gate = type_reward(purchased, goal, nouns)
    num_attr = attribute_matches(purchased, goal.attributes)
    num_opt = option_matches(purchased.options, goal.options)
    has_cap = goal.price_upper < NO_PRICE_CAP
    price_ok = purchased.price <= goal.price_upper
    counts_price = has_cap or free_price_point
    denominator = len(goal.attributes) + len(goal.options) + (1 if counts_price else 0)
    numerator = num_attr + num_opt + (int(price_ok) if counts_price else 0)
    base = numerator / denominator if denominator else 1.0
    reward = base * gate["r_type"]
    return {
        "reward": reward,
        "success": float(reward >= 1.0 - 1e-9),
        "r_type": gate["r_type"],
        "query_match": gate["query_match"],
        "category_match": gate["category_match"],
        "title_score": gate["title_score"],
        "r_attribute": num_attr / len(goal.attributes) if goal.attributes else 1.0,
        "num_attribute_matches": float(num_attr),
        "num_goal_attributes": float(len(goal.attributes)),
        "r_option": num_opt / len(goal.options) if goal.options else 1.0,
        "num_option_matches": float(num_opt),
        "num_goal_options": float(len(goal.options)),
        "r_price": float(price_ok),
        "price_counted": float(counts_price),
        "free_price_point": float(counts_price and not has_cap),
    }


# -- noun finders for the type gate ----------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")


def catalog_nouns(type_words: frozenset[str]) -> NounFinder:
    """The fallback noun finder: lower-cased title words that are in the catalog's type vocabulary."""

    def find(text: str) -> list[str]:
        return [w for w in _WORD.findall(text.lower()) if w in type_words]

    return find


@lru_cache(maxsize=1)
def spacy_nouns() -> NounFinder | None:
    """WebShop's own noun finder (spaCy `en_core_web_sm`: NOUN and PROPN tokens), or None if absent."""
    try:
        import spacy  # type: ignore[import-not-found]

        nlp = spacy.load("en_core_web_sm")
    except (ImportError, OSError):
        return None

    def find(text: str) -> list[str]:
        return [t.text.lower() for t in nlp(text) if t.pos_ in ("PNOUN", "NOUN", "PROPN")]

    return find


def noun_finder(type_words: frozenset[str], prefer: str = "auto") -> NounFinder:
    """spaCy when installed and `prefer` is `auto` or `spacy`, else `catalog_nouns(type_words)`."""
    if prefer not in ("auto", "spacy", "catalog"):
        raise ValueError(f"noun finder must be auto, spacy or catalog, got {prefer!r}")
    if prefer != "catalog":
        found = spacy_nouns()
        if found is not None:
            return found
        if prefer == "spacy":
            raise RuntimeError("spaCy with en_core_web_sm is not installed; use nouns='auto' or 'catalog'")
    return catalog_nouns(type_words)


def options_of(chosen: Mapping[str, str]) -> tuple[str, ...]:
    """Chosen option values in option-name order (WebShop passes `options.values()`)."""
    return tuple(chosen[k] for k in sorted(chosen))
