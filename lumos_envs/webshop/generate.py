"""A generated WebShop catalog: product `i` built from `Random(seed, i)` over real WebShop vocabulary.

Product types and attributes come from `vocab.py` (real WebShop instructions); options, prices,
titles, descriptions, bullet points and reviews are filled from small word lists here. Any size
from 100 to 1,000,000 products (and more) is deterministic by seed, and since any product can be
rebuilt alone, nothing but the search index ever holds the whole catalog.
"""

from __future__ import annotations

import random
import zlib
from functools import lru_cache

from lumos_envs.webshop.catalog import CatalogSpec, Product, Review
from lumos_envs.webshop.vocab import DEPARTMENT_NAMES, ProductType, WebShopVocabulary, load_vocabulary

GENERATOR_VERSION = "1"

_ASIN_SPACE = 36**9
_ASIN_STEP = 2_147_483_647  # prime, so i -> asin is a bijection on the 9-digit base-36 space
_ASIN_STEP_INVERSE = pow(_ASIN_STEP, -1, _ASIN_SPACE)
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

COLORS = ("black", "white", "navy", "gray", "red", "blue", "green", "pink", "beige", "brown", "purple",
          "ivory", "khaki", "olive", "burgundy", "teal", "coral", "silver", "gold", "multicolor")
APPAREL_SIZES = ("x-small", "small", "medium", "large", "x-large", "xx-large")
SHOE_SIZES = ("6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "11", "12")
_SIZES = {
    "beauty": ("1 fl oz", "3.4 fl oz", "8 ounce", "16 ounce", "pack of 3", "travel size"),
    "electronics": ("standard", "pro", "mini", "2 pack", "with case"),
    "food": ("pack of 1", "pack of 6", "pack of 12", "12 ounce", "2 pound"),
    "furniture": ("16x20 inch", "24x36 inch", "small", "large", "queen", "king"),
}
FLAVORS = ("chocolate", "vanilla", "strawberry", "original", "sea salt", "honey", "mint", "caramel", "lemon")
_SHOE_WORDS = ("shoe", "sneaker", "boot", "sandal", "pump", "loafer", "slipper", "flat", "oxford", "heel")
_PRICES = {"beauty": (4, 60), "electronics": (8, 250), "fashion": (6, 90), "food": (3, 45), "furniture": (15, 300)}
_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "tor", "sil", "an", "bel", "cor", "da", "el", "fin", "gra",
              "hal", "is", "jun", "lum", "mer", "nor", "ox", "pel", "qui", "ros", "sun", "tal", "ul", "vi")
_REVIEW_TITLES = ("Great value", "Works as described", "Not what I expected", "Love it", "Good quality", "Okay")
_REVIEW_BODIES = ("Exactly what I needed for the price.", "Arrived quickly and looks like the photos.",
                  "Quality is fine, but it runs a little small.", "I would buy this again.",
                  "Does the job; nothing special.")


class GeneratedCatalog:
    """`size` products; product `i` depends only on (vocabulary, seed, i)."""

    def __init__(self, spec: CatalogSpec, vocabulary: WebShopVocabulary | None = None) -> None:
        if spec.kind != "generated":
            raise ValueError(f"GeneratedCatalog needs a generated spec, got {spec.kind!r}")
        self.config = spec
        self.spec = spec.to_str()
        self.vocabulary = vocabulary or load_vocabulary()
        self._get = lru_cache(maxsize=8192)(self._build)

    def __len__(self) -> int:
        return self.config.size

    def __getitem__(self, index: int) -> Product:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"product index must be an integer, got {type(index).__name__}")
        if index < 0:
            index += self.config.size
        if not 0 <= index < self.config.size:
            raise IndexError(f"product index {index} out of range for a catalog of {self.config.size}")
        return self._get(index)

    def index_of(self, asin: str) -> int:
        asin = asin.strip().upper()
        if len(asin) != 10 or not asin.startswith("B") or any(c not in _DIGITS for c in asin[1:]):
            raise KeyError(f"no product with asin {asin!r}")
        number = int(asin[1:], 36)
        index = ((number - self._offset()) * _ASIN_STEP_INVERSE) % _ASIN_SPACE
        if index >= self.config.size:
            raise KeyError(f"no product with asin {asin!r}")
        return index

    def asin(self, index: int) -> str:
        number = (index * _ASIN_STEP + self._offset()) % _ASIN_SPACE
        digits = []
        for _ in range(9):
            number, rest = divmod(number, 36)
            digits.append(_DIGITS[rest])
        return "B" + "".join(reversed(digits))

    def product_type(self, index: int) -> ProductType:
        """The type of product `index` (the first draw of its generator, so cheap)."""
        return self.vocabulary.types[self._rng(index).randrange(len(self.vocabulary.types))]

    def type_words(self) -> frozenset[str]:
        return self.vocabulary.type_words

    # -----------------------------------------------------------------------------------------

    def _offset(self) -> int:
        return ((self.config.seed + 1) * 0x9E3779B97F4A7C15) % _ASIN_SPACE

    def _rng(self, index: int) -> random.Random:
        return random.Random(f"webshop-product-{GENERATOR_VERSION}-{self.config.seed}-{index}")

    def _build(self, index: int) -> Product:
        rng = self._rng(index)
        kind = self.vocabulary.types[rng.randrange(len(self.vocabulary.types))]
        department = kind.department
        brand = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        model = f"{rng.choice(_DIGITS[10:])}{rng.choice(_DIGITS[10:])}-{rng.randint(100, 9999)}"
        own = kind.attributes[: max(1, len(kind.attributes) - 6)]
        attributes = rng.sample(own, min(len(own), rng.randint(2, 4)))
        extra = [a for a in kind.attributes if a not in attributes]
        if extra and rng.random() < 0.5:
            attributes.append(rng.choice(extra))
        connectors = self.vocabulary.connectors
        pre = [a for a in attributes if connectors.get(a, "with") == "pre"]
        post = [a for a in attributes if a not in pre]
        title = " ".join([brand, *(a.title() for a in pre), _title(kind.name), model])
        if post:
            title += " - " + ", ".join(a.title() for a in post)
        options = _options(rng, kind)
        low, high = _PRICES[department]
        price = round(rng.uniform(low, high)) + 0.99
        description = (
            f"The {brand} {kind.name} {model} is {' and '.join(attributes)}. "
            f"Made for everyday use, it ships in {rng.choice(('a gift box', 'recyclable packaging', 'a protective case'))}."
        )
        bullets = tuple(f"{a.capitalize()}: {rng.choice(_BULLET_TAILS).format(kind=kind.name)}" for a in attributes)
        reviews = tuple(
            Review(rng.choice(_REVIEW_TITLES), rng.randint(2, 5), rng.choice(_REVIEW_BODIES)) for _ in range(rng.randint(0, 2))
        )
        rating = f"{sum(r.score for r in reviews) / len(reviews):.1f}" if reviews else "N.A."
        return Product(
            asin=self.asin(index), title=title, department=department, query=kind.name,
            product_category=" › ".join((DEPARTMENT_NAMES[department], _title(kind.name))), price=price,
            options=options, attributes=tuple(attributes), description=description, bullet_points=bullets,
            reviews=reviews, rating=rating,
        )


_BULLET_TAILS = (
    "a {kind} you can rely on every day.", "tested to keep its shape and finish.",
    "designed for comfort and easy care.", "backed by our 30-day return promise.",
)


def _title(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())


def _options(rng: random.Random, kind: ProductType) -> dict[str, tuple[str, ...]]:
    """Option names and values: chosen per product type (stable), values drawn per product."""
    department = kind.department
    layout = zlib.crc32(kind.name.encode()) % 4
    names: list[tuple[str, tuple[str, ...]]] = []
    if department == "fashion":
        sizes = SHOE_SIZES if any(w in kind.name for w in _SHOE_WORDS) else APPAREL_SIZES
        names = [("color", COLORS), ("size", sizes)] if layout else [("size", sizes)]
    elif department == "food":
        names = [("flavor name", FLAVORS), ("size", _SIZES["food"])] if layout else [("flavor name", FLAVORS)]
    else:
        names = [[], [("color", COLORS)], [("size", _SIZES[department])], [("color", COLORS), ("size", _SIZES[department])]][layout]
    options: dict[str, tuple[str, ...]] = {}
    for name, values in names:
        chosen = set(rng.sample(values, rng.randint(2, min(5, len(values)))))
        options[name] = tuple(v for v in values if v in chosen)
    return options
