"""A generated WebShop catalog: product `i` built from `Random(seed, i)` over real WebShop vocabulary.

Product types and attributes come from `vocab.py` (real WebShop instructions); options, prices,
titles, descriptions, bullet points and reviews are filled from small word lists here. Any size
from 100 to 1,000,000 products (and more) is deterministic by seed, and since any product can be
rebuilt alone, nothing but the search index ever holds the whole catalog.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

from lumos_envs.webshop.products import CatalogSpec, Product, Review
from lumos_envs.webshop.vocab import DEPARTMENT_NAMES, ProductType, WebShopVocabulary, load_vocabulary

GENERATOR_VERSION = "2"
"""part of every cache key of a generated catalog (v2: options from the type's option family)"""
_PRODUCT_SEED = "1"
"""the products' random streams (kept, so titles and prices stay what they were)"""

_ASIN_SPACE = 36**9
_ASIN_STEP = 2_147_483_647  # prime, so i -> asin is a bijection on the 9-digit base-36 space
_ASIN_STEP_INVERSE = pow(_ASIN_STEP, -1, _ASIN_SPACE)
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

COLORS = ("black", "white", "navy", "gray", "red", "blue", "green", "pink", "beige", "brown", "purple",
          "ivory", "khaki", "olive", "burgundy", "teal", "coral", "silver", "gold", "multicolor")
APPAREL_SIZES = ("x-small", "small", "medium", "large", "x-large", "xx-large")
SHOE_SIZES = ("6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "11", "12")
FLAVORS = ("chocolate", "vanilla", "strawberry", "original", "sea salt", "honey", "mint", "caramel", "lemon")
_FOOD_SIZES = ("pack of 1", "pack of 6", "pack of 12", "12 ounce", "2 pound")


@dataclass(frozen=True)
class OptionFamily:
    """The option groups of product types whose name has one of `keywords` (e.g. `shampoo`)."""

    name: str
    keywords: tuple[str, ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...]
    """(option name, the values products of these types may offer)"""


OPTION_FAMILIES: tuple[OptionFamily, ...] = (
    OptionFamily("shoes", ("shoe", "sneaker", "boot", "sandal", "pump", "loafer", "slipper", "flats", "oxford", "mule",
                           "footwear"), (("color", COLORS), ("size", SHOE_SIZES))),
    OptionFamily("furniture", ("rack", "table", "cabinet", "desk", "stool", "bookcase", "ottoman", "armoire", "chair",
                               "sofa", "vanities", "hall tree", "stand", "furniture", "island", "nightstand", "dining set",
                               "living room set"), (("color", COLORS),)),
    OptionFamily("bedding", ("mattress", "bedframe", "beds", "blanket"),
                 (("color", COLORS), ("size", ("twin", "full", "queen", "king")))),
    OptionFamily("pillows", ("pillow",), (("color", COLORS), ("size", ("16x16 inch", "18x18 inch", "20x20 inch")))),
    OptionFamily("food", ("applesauce", "fruit", "beverage", "breakfast", "candy", "chocolate", "chees", "deli", "food",
                          "frozen", "granola", "meat", "seafood", "snack", "cracker", "pantry", "wasabi", "raisin",
                          "meal kit", "milks"), (("flavor name", FLAVORS), ("size", _FOOD_SIZES))),
    OptionFamily("apparel", ("shirt", "t-shirt", "tee", "top", "blouse", "dress", "pant", "jean", "short", "hoodie",
                             "sweater", "jacket", "coat", "vest", "suit", "blazer", "polo", "henley", "underwear",
                             "lingerie", "lounge", "activewear", "swimsuit", "jumpsuit", "socks"),
                 (("color", COLORS), ("size", APPAREL_SIZES))),
    OptionFamily("fragrance", ("fragrance", "perfume", "deodorant"), (("size", ("1 fl oz", "1.7 fl oz", "3.4 fl oz")),)),
    OptionFamily("liquids", ("shampoo", "conditioner", "oil", "cream", "lotion", "body care", "scrub", "mask",
                             "makeup remover", "toothpaste", "hair coloring", "hair loss", "styling products"),
                 (("size", ("2 fl oz", "3.4 fl oz", "8 fl oz", "16 fl oz", "pack of 2")),)),
    OptionFamily("containers", ("container", "bottle", "jar"), (("color", COLORS), ("size", ("1 fl oz", "3.4 fl oz", "8 ounce", "pack of 3")))),
    OptionFamily("hairpieces", ("wig", "extension"), (("color", COLORS), ("size", ("14 inch", "18 inch", "22 inch")))),
    OptionFamily("makeup", ("lip", "eyes makeup", "palette", "nail"), (("color", COLORS),)),
    OptionFamily("candles", ("candle",), (("color", COLORS), ("scent", ("unscented", "lavender", "vanilla", "citrus", "eucalyptus")))),
    OptionFamily("tools", ("brush", "tool", "cutting", "shave", "hair removal", "floss", "toothpick", "tongue", "orthodontic",
                           "piercing", "swab", "bath"), (("color", COLORS), ("style", ("standard", "travel", "professional")))),
    OptionFamily("wall", ("art", "mirror", "window covering", "plant"),
                 (("color", COLORS), ("size", ("16x20 inch", "24x36 inch", "36x48 inch")))),
    OptionFamily("cables", ("cable", "charger", "power protection"), (("color", COLORS), ("size", ("3 ft", "6 ft", "10 ft")))),
    OptionFamily("devices", ("headphone", "headset", "speaker", "camera", "projector", "soundbar", "receiver", "player",
                             "recorder", "tv", "television", "video", "surveillance", "wearable", "lens", "tripod",
                             "binocular", "booster", "turntable", "streaming", "virtual reality", "printer", "flashes",
                             "mount", "multiroom", "surround"), (("color", COLORS), ("style", ("standard", "pro", "bundle")))),
    OptionFamily("accessories", ("accessories", "protector", "bags", "cases"), (("color", COLORS),)),
)
"""option groups by product type, first match on the type's name wins (so `coat racks` is furniture,
not a coat, and hair-cutting tools come in colours and styles, never in `3.4 fl oz`)"""
DEFAULT_FAMILY = OptionFamily("default", (), (("color", COLORS),))
"""for types no family names (`online game services`): colours only"""


@lru_cache(maxsize=4096)
def option_family(type_name: str) -> OptionFamily:
    """The option family of a product type: the first whose keyword starts a word of the type's name
    (`chandeliers` holds `deli`, `snack crackers` holds `rack`, neither at a word's start)."""
    lowered = type_name.lower()
    for family in OPTION_FAMILIES:
        if any(re.search(rf"(?<![a-z']){re.escape(word)}", lowered) for word in family.keywords):
            return family
    return DEFAULT_FAMILY


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
        self.fingerprint = f"generated-{GENERATOR_VERSION}-{self.vocabulary.fingerprint}"
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
        return random.Random(f"webshop-product-{_PRODUCT_SEED}-{self.config.seed}-{index}")

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
    """Option groups from the type's family (which groups: stable per type), values drawn per product."""
    groups = option_family(kind.name).groups
    if len(groups) > 1 and zlib.crc32(kind.name.encode()) % 4 == 0:
        groups = groups[1:]  # a quarter of the types show no colour choice
    options: dict[str, tuple[str, ...]] = {}
    for name, values in groups:
        chosen = set(rng.sample(values, rng.randint(2, min(5, len(values)))))
        options[name] = tuple(v for v in values if v in chosen)
    return options
