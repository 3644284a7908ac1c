"""The shopper a bystander could be: decisions from the instruction and what the pages show, nothing else.

WebShop's gold plans must be plans an observer of the episode could write (a plan that peeks at
the hidden target teaches an agent to peek). This module holds the decisions of such an observer,
as plain functions over what a page shows (`ShownResult`, `ShownItem`) and the instruction text:

- `search_query`: the instruction with its price clause dropped (a rewrite using only its words,
  as LUMOS searches with the instruction itself);
- `rank_results`: results ordered by how much of the instruction their titles cover, over the
  price cap the instruction states last;
- `choose_options`: per option group on an item page, the value the instruction names;
- `fits`: whether an opened item offers every option the instruction asks for.

Nothing here sees a catalog, a goal or a product id that a page has not shown. The driver that
plays these decisions through the shop is `lumos_envs.envs.webshop.gold`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

PRICE_CLAUSE = re.compile(r",?\s*(?:and\s+)?price\s+(?:lower|less)\s+than\s+\$?(\d+(?:\.\d+)?)\s*dollars?", re.IGNORECASE)
"""`, and price lower than 50.00 dollars` (WebShop's wording of a price cap)"""
_TOKEN = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
_PRICE = re.compile(r"\d+(?:\.\d+)?")
_NAMED = re.compile(r"([a-z]+(?: [a-z]+)?):")
"""an option named in WebShop's template (`color: black`): the one or two words before a colon"""
OPTION_NAMES = (
    "color", "size", "style", "flavor name", "pattern name", "scent", "material type", "item package quantity",
    "capacity", "number of items", "configuration", "length", "team name", "design",
)
"""option names WebShop's item pages show (the shop's public vocabulary, not any product's)"""
_NAMES = "|".join(sorted((re.escape(n) for n in OPTION_NAMES), key=len, reverse=True))
_OPTION_PHRASE = re.compile(
    rf"(?:^|\bwith\s+|,\s*(?:and\s+)?|\band\s+|\bin\s+)(?:{_NAMES})(?::\s*|\s+)(?:(?!,|\band\s+(?:{_NAMES})\b).)*"
)
"""an option phrase (`with color: black`, `, size 8 ounce`, `and flavor name: lemon`) up to the next
comma or `and <option name>`; the name must open a clause, so `travel size bottles` is not one"""
_OPTION_NAME = re.compile(rf"(?<![\w\-])(?:{_NAMES})(?![\w\-])")
_STOPWORDS = frozenset(
    "a am an and are as at be by for from i i'm im in is it its looking me my need of on or that the this to "
    "want with would like find get buy can you id please some".split()
)
"""words of request phrasing that say nothing about the product (kept out of title matching)"""


@dataclass(frozen=True)
class ShownResult:
    """One search result as the results page shows it."""

    asin: str
    title: str
    price_tag: str


@dataclass(frozen=True)
class ShownItem:
    """An item page as shown: its title, price and option groups (name -> values, in page order)."""

    title: str
    price_tag: str
    options: Mapping[str, tuple[str, ...]]


def price_cap(instruction: str) -> float | None:
    """The cap the instruction states (`price lower than 50.00 dollars` -> 50.0), or None."""
    match = PRICE_CLAUSE.search(instruction)
    return float(match.group(1)) if match else None


def search_query(instruction: str) -> str:
    """The search keywords: the instruction without its price clause (only the instruction's words)."""
    return " ".join(PRICE_CLAUSE.sub("", instruction).split())


def shown_prices(price_tag: str) -> list[float]:
    """The amounts a price tag shows (`$12.99` -> [12.99], `$10.0 to $20.0` -> [10.0, 20.0])."""
    return [float(x) for x in _PRICE.findall(price_tag.replace(",", ""))]


def within_cap(price_tag: str, cap: float | None) -> bool:
    """Whether the shown price is under the cap (a range counts by its upper end: the observer
    cannot know which price inside it the shop will charge)."""
    if cap is None:
        return True
    prices = shown_prices(price_tag)
    return bool(prices) and max(prices) < cap


def rank_results(instruction: str, results: Sequence[ShownResult]) -> list[ShownResult]:
    """Results under the cap, best first: most instruction words in the title, then most of its
    adjacent word pairs (`gmo free` as written, not `non gmo ... gluten free`), then fewest title
    words the instruction does not have, then the page's own order."""
    cap = price_cap(instruction)
    wanted = _stems(product_text(instruction))
    wanted_pairs = _pairs(product_text(instruction))
    scored = []
    for position, result in enumerate(results):
        if not within_cap(result.price_tag, cap):
            continue
        title = _stems(result.title)
        pairs = len(wanted_pairs & _pairs(result.title))
        scored.append((-len(wanted & title), -pairs, len(title - wanted), position, result))
    return [result for *_, result in sorted(scored, key=lambda row: row[:4])]


def product_text(instruction: str) -> str:
    """What the instruction says of the product itself: without the price clause and the option
    phrases (`with color: black, and size: large`, `, color black and size 8`), which item pages,
    not titles, answer."""
    text = _flat(search_query(instruction))
    text = _OPTION_PHRASE.sub(" ", text)
    return " ".join(text.split())


def title_coverage(instruction: str, title: str) -> int:
    """How many of the instruction's product words the title has (what `rank_results` sorts by)."""
    return len(_stems(product_text(instruction)) & _stems(title))


def choose_options(instruction: str, options: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Per option group, the value the instruction names; groups it names no value of are left out.

    A value written right after its group's name (`size: large`, `size large`) wins; a group named
    with a value it lacks gets none; otherwise the longest value found in the instruction as whole
    words (so `x-large` is never read as `large`).
    """
    text = _flat(search_query(instruction))
    chosen: dict[str, str] = {}
    for name, values in options.items():
        named = [v for v in values if _named_value(name, v).search(text)]
        if not named and _named_value(name, "").search(text):
            continue  # the group is named with a value it does not offer (`flavor name lemon`)
        found = named or [v for v in values if _phrase(v).search(text)]
        if found:
            chosen[name] = max(found, key=lambda v: (len(v), -values.index(v)))
    return chosen


def fits(instruction: str, item: ShownItem) -> bool:
    """Whether the item offers what the instruction asks of its options and price.

    An option asked for as `name: value` (WebShop's template) must be offered by a group of that
    name; any group the instruction names (`size: ...`, `size ...`) must offer a value it names.
    """
    if not within_cap(item.price_tag, price_cap(instruction)):
        return False
    text = _flat(search_query(instruction))
    chosen = choose_options(instruction, item.options)
    groups = {_flat(name) for name in item.options}
    for match in _NAMED.finditer(text):
        words = match.group(1)
        if words not in groups and words.split()[-1] not in groups:
            return False
    for name in item.options:
        if name not in chosen and _named_value(name, "").search(text):
            return False
    for match in _OPTION_PHRASE.finditer(text):  # `, size queen` asks for a size group the item must have
        named = _OPTION_NAME.search(match.group(0))
        if named and named.group(0) not in groups:
            return False
    return True


# -- words ------------------------------------------------------------------------------------


def _flat(text: str) -> str:
    return " ".join(text.lower().split())


@lru_cache(maxsize=4096)
def _phrase(text: str) -> re.Pattern[str]:
    """`text` as whole words: no letter, digit, `-` or `.digit` may touch either end."""
    return re.compile(r"(?<![\w\-.])" + re.escape(_flat(text)) + r"(?![\w\-]|\.\d)")


@lru_cache(maxsize=4096)
def _named_value(name: str, value: str) -> re.Pattern[str]:
    """`name: value` or `name value` as whole words; with `value=""`, the name followed by a word."""
    head = r"(?<![\w\-.])" + re.escape(_flat(name)) + r":? "
    if not value:
        return re.compile(head + r"\w")
    return re.compile(head + re.escape(_flat(value)) + r"(?![\w\-]|\.\d)")


def _pairs(text: str) -> frozenset[tuple[str, str]]:
    """Adjacent stemmed word pairs of a text (stopwords dropped first)."""
    words = [_stem(w) for w in _TOKEN.findall(text.lower().replace("'s", "")) if w not in _STOPWORDS]
    return frozenset(zip(words, words[1:]))


def _stems(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _TOKEN.findall(text.lower().replace("'s", "")) if w not in _STOPWORDS)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    import Stemmer  # PyStemmer, as the search index stems

    return _stemmer(Stemmer).stemWord(word)


@lru_cache(maxsize=1)
def _stemmer(module):  # type: ignore[no-untyped-def]
    return module.Stemmer("english")
