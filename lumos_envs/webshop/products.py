"""The shop's stock as data: `Product`, `Review`, the `Catalog` protocol, `CatalogSpec`, `ListCatalog`.

Pure data, importing nothing of lumos: the generator (`generate.py`), WebShop's file reader
(`files.py`), the search index and the pages build on it, and `catalog.get_catalog` (which
knows both sources) sits above them all, so the package reads top-down without import cycles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence


@dataclass(frozen=True)
class Review:
    """One product review as WebShop shows it."""

    title: str
    score: int
    body: str


@dataclass(frozen=True)
class Product:
    """One product with WebShop's fields (names kept lower-case-with-underscores here)."""

    asin: str
    title: str
    department: str
    """WebShop's `category`: beauty, electronics, fashion, food, furniture"""
    query: str
    """the search query WebShop scraped the product with (its product type)"""
    product_category: str
    """category path joined by ` › `"""
    price: float
    options: dict[str, tuple[str, ...]]
    """option name (`color`, `size`, ...) -> values, lower-cased as WebShop does"""
    attributes: tuple[str, ...]
    description: str
    bullet_points: tuple[str, ...]
    reviews: tuple[Review, ...] = ()
    rating: str = "N.A."
    price_tag: str = ""
    """the price as shown (`$12.99`, or `$10.0 to $20.0` for a range)"""

    def __post_init__(self) -> None:
        if not self.price_tag:
            object.__setattr__(self, "price_tag", f"${self.price:.2f}")

    def search_text(self) -> str:
        """What the search index sees (WebShop indexes title, description and first bullet point)."""
        parts = [self.title, self.description, " ".join(self.bullet_points[:1])]
        parts += [v for values in self.options.values() for v in values]
        return " ".join(parts)

    def features(self) -> list[str]:
        """Features a LUMOS `Click(item)` returns: option values, then attributes."""
        seen: dict[str, None] = {}
        for values in self.options.values():
            for value in values:
                seen.setdefault(value, None)
        for text in self.attributes:
            seen.setdefault(text, None)
        return list(seen)


class Catalog(Protocol):
    """A sequence of products with lookup by asin; `spec` names it in task metadata."""

    spec: str
    fingerprint: str
    """what the products are built from (generator version, vocabulary or file contents): part of
    every cache key built on the catalog, so a changed generator never meets a stale index"""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Product: ...

    def index_of(self, asin: str) -> int: ...

    def type_words(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class CatalogSpec:
    """Which catalog: `generated` (size, seed) or `webshop` (WebShop's product + attribute files)."""

    kind: str = "generated"
    size: int = 1000
    seed: int = 0
    products_path: str = ""
    attributes_path: str = ""
    price_seed: int = 233
    """WebShop draws a displayed price inside each product's price range; this seeds it"""

    def __post_init__(self) -> None:
        if self.kind not in ("generated", "webshop"):
            raise ValueError(f"catalog kind must be 'generated' or 'webshop', got {self.kind!r}")
        if self.kind == "generated" and not 1 <= self.size <= 10_000_000:
            raise ValueError(f"generated catalog size must be 1..10,000,000, got {self.size}")
        if self.kind == "webshop" and not self.products_path:
            raise ValueError("a webshop catalog needs products_path")

    def to_str(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def parse(cls, text: "str | CatalogSpec | None") -> "CatalogSpec":
        """From `to_str()` JSON, `generated?size=N&seed=S`, a products file path, or None (default)."""
        if isinstance(text, CatalogSpec):
            return text
        if text is None or text == "":
            return cls()
        text = str(text)
        if text.startswith("{"):
            return cls(**json.loads(text))
        if text.startswith("generated"):
            from urllib.parse import parse_qsl

            _, _, query = text.partition("?")
            options = dict(parse_qsl(query))
            return cls(size=int(options.get("size", 1000)), seed=int(options.get("seed", 0)))
        return cls(kind="webshop", products_path=text)


class ListCatalog:
    """A catalog held in memory (WebShop's own files)."""

    def __init__(self, products: Sequence[Product], spec: str, type_words: frozenset[str] = frozenset(),
                 fingerprint: str = "") -> None:
        self.products = list(products)
        self.spec = spec
        self.fingerprint = fingerprint
        """content key of the files read (caches built on the catalog include it)"""
        self._index = {p.asin.upper(): i for i, p in enumerate(self.products)}
        self._type_words = type_words

    def __len__(self) -> int:
        return len(self.products)

    def __getitem__(self, index: int) -> Product:
        return self.products[index]

    def __iter__(self) -> Iterator[Product]:
        return iter(self.products)

    def index_of(self, asin: str) -> int:
        try:
            return self._index[asin.upper()]
        except KeyError:
            raise KeyError(f"no product with asin {asin!r}") from None

    def type_words(self) -> frozenset[str]:
        return self._type_words


def product_from_dict(data: dict[str, Any]) -> Product:
    """Inverse of `product_to_dict` (used by caches and the server)."""
    return Product(
        asin=data["asin"], title=data["title"], department=data["department"], query=data["query"],
        product_category=data["product_category"], price=float(data["price"]),
        options={k: tuple(v) for k, v in data["options"].items()}, attributes=tuple(data["attributes"]),
        description=data["description"], bullet_points=tuple(data["bullet_points"]),
        reviews=tuple(Review(**r) for r in data.get("reviews", ())), rating=data.get("rating", "N.A."),
        price_tag=data.get("price_tag", ""),
    )

