"""WebShop's reward (Yao et al., 2022, `web_agent_site/engine/goal.py`), term by term.

    reward = r_type × (attributes matched + options matched + price within cap)
                     / (number of goal attributes + number of goal options + 1)

- **attributes matched**: a goal attribute counts when some product attribute fuzzy-matches it
  (`token_set_ratio > 85`, WebShop's threshold, on text processed as `thefuzz` processes it:
  lower-cased, non-alphanumerics as spaces, score rounded; see `fuzzy_score`), or when it appears
  verbatim in the title, bullet points or description (lower-cased).
- **options matched**: a goal option counts when some chosen option fuzzy-matches it (> 85), after
  WebShop's `normalize_color` (the first known colour word inside the value). lumos compares
  option *values*, as WebShop does for its (default) human goals; for a synthetic goal WebShop
  passes `goal_options.items()`, so `thefuzz` sees `str(("size", "x-large"))`, i.e. the tokens
  `size x large`. That quirk is not copied: it changes a match only when a chosen value shares
  tokens with the option's *name*.
- **price within cap**: 1 when the price is at most the goal's `price_upper`.
  WebShop's quirk: when no cap was sampled it sets `price_upper = 1,000,000`, so the term is a free
  point. lumos keeps the free point by default (`free_price_point=True`: rewards stay comparable with
  published WebShop numbers); `free_price_point=False` drops the term from numerator and denominator.
- **r_type** (the product-type gate): from the nouns of the bought product's title vs. the goal
  product's title (`title_score` = distinct shared nouns / the goal's noun list with its repeats,
  as WebShop divides), plus `query_match` (same scrape
  query) and `category_match` (≥ 2 shared category-path levels): 1.0, or 0.5 when none of
  query/category/title > 0.2 matches, 0.1 when `title_score < 0.1`, 0.0 when it is 0.
  WebShop finds nouns with spaCy's `en_core_web_sm`. lumos's default is the fallback
  `catalog_nouns`: the title's tokens (split as spaCy splits them) that occur in the catalog's
  product-type names. It misses nouns outside that vocabulary (a brand, "gift"), so its
  `title_score` can differ from spaCy's; `nouns="spacy"` (or `spacy:MODEL`, `auto`) uses a spaCy
  model the user installed. `metrics["noun_finder_<name>"] = 1.0` says which finder scored.

Success is reward 1 (all terms matched and the type gate open).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Sequence

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

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
    "lemon", "leopard", "light", "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint",
    "mocha", "multicolor", "mushroom", "mustard", "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink",
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


def fuzzy_score(a: str, b: str) -> int:
    """WebShop's `thefuzz.fuzz.token_set_ratio(a, b)`: both texts lower-cased with every character that
    is not a letter or digit made a space (thefuzz's `full_process`, rapidfuzz's `default_process`),
    and the score rounded to an integer as thefuzz returns it (`x-large` vs `x large`: 100)."""
    return int(round(fuzz.token_set_ratio(a, b, processor=default_process)))


def fuzzy_match(a: str, b: str) -> bool:
    """WebShop's fuzzy match: `token_set_ratio(a, b) > 85` on processed text (see `fuzzy_score`)."""
    return fuzzy_score(a, b) > FUZZY_THRESHOLD


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
    desired = nouns(goal.name)
    bought = nouns(purchased.title)
    # WebShop divides the distinct shared nouns by the goal's noun list *with* repeats
    title_score = 0.2 if not desired else len(set(bought) & set(desired)) / len(desired)
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
        f"noun_finder_{getattr(nouns, 'name', 'custom')}": 1.0,
    }


# -- noun finders for the type gate ----------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+(?:[-'.][a-z0-9]+)*")
_LETTER_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")
PERSON_NOUNS = frozenset({"men", "women", "boys", "girls", "kids", "baby"})
"""nouns of type names that the vocabulary leaves out of its type words (`men's`), counted as spaCy does"""


@dataclass(frozen=True)
class NamedNounFinder:
    """A noun finder with the name `info["metrics"]` reports it by (`noun_finder_<name>`: 1.0)."""

    name: str
    find: Callable[[str], list[str]]

    def __call__(self, text: str) -> list[str]:
        return self.find(text)


def spacy_like_tokens(text: str) -> list[str]:
    """Lower-cased word tokens split the way spaCy's English tokenizer splits product titles: a
    possessive `'s` comes off (`men's` -> `men`), a hyphen between letters splits (`slip-ons` ->
    `slip`, `ons`), one next to a digit does not (`ab-5383`); punctuation is dropped."""
    tokens: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word.endswith("'s"):
            word = word[:-2]
        tokens.extend(t for t in _LETTER_HYPHEN.split(word) if t)
    return tokens


def catalog_nouns(type_words: frozenset[str]) -> NamedNounFinder:
    """The fallback noun finder: title tokens (`spacy_like_tokens`, repeats kept, as WebShop's list)
    that occur in the catalog's product-type names, plus `PERSON_NOUNS`."""
    vocabulary = frozenset(t for word in type_words for t in spacy_like_tokens(word)) | PERSON_NOUNS

    def find(text: str) -> list[str]:
        return [t for t in spacy_like_tokens(text) if t in vocabulary]

    return NamedNounFinder("catalog", find)


DEFAULT_SPACY_MODEL = "en_core_web_sm"
"""WebShop's spaCy model; lumos never installs it (PyPI holds only unofficial copies)"""


@lru_cache(maxsize=4)
def spacy_nouns(model: str = DEFAULT_SPACY_MODEL) -> NamedNounFinder | None:
    """WebShop's own noun finder (spaCy NOUN and PROPN tokens) over a model the user installed (a
    package name or a folder), or None when spaCy or the model is absent."""
    try:
        import spacy  # type: ignore[import-not-found]

        nlp = spacy.load(model)
    except (ImportError, OSError):
        return None

    def find(text: str) -> list[str]:
        return [t.text.lower() for t in nlp(text) if t.pos_ in ("PNOUN", "NOUN", "PROPN")]

    return NamedNounFinder("spacy", find)


def noun_finder(type_words: frozenset[str], prefer: str = "auto") -> NamedNounFinder:
    """The noun finder `prefer` names: `catalog` (the default fallback), `spacy` (WebShop's
    `en_core_web_sm`, which must be installed), `spacy:MODEL` (another installed model or a model
    folder), or `auto` (spaCy's `en_core_web_sm` when installed, else the catalog finder)."""
    if prefer not in ("auto", "spacy", "catalog") and not prefer.startswith("spacy:"):
        raise ValueError(f"noun finder must be auto, catalog, spacy or spacy:MODEL, got {prefer!r}")
    if prefer != "catalog":
        model = prefer.partition(":")[2] or DEFAULT_SPACY_MODEL
        found = spacy_nouns(model)
        if found is not None:
            return found
        if prefer != "auto":
            raise RuntimeError(f"spaCy with the model {model!r} is not installed; use nouns='auto' or 'catalog'")
    return catalog_nouns(type_words)


def options_of(chosen: Mapping[str, str]) -> tuple[str, ...]:
    """Chosen option values in option-name order (WebShop passes `options.values()`)."""
    return tuple(chosen[k] for k in sorted(chosen))
