"""WebShop's own data files, read in their schema (`princeton-nlp/WebShop`, `web_agent_site/utils.py`).

- products: `items_shuffle*.json`, a list of `{asin, name, category, query, product_category,
  full_description, small_description, pricing, customization_options, ...}`;
- attributes and synthetic instructions: `items_ins_v2*.json`, `asin -> {attributes, instruction,
  instruction_attributes}`;
- human instructions: `items_human_ins.json`, `asin -> [{instruction, instruction_attributes,
  instruction_options}, ...]`.

Cleaning follows WebShop's `load_products`: asins longer than 10 characters or `nan` are skipped,
duplicates keep the first, option values are lower-cased with `/` written ` | `, a price range
`$a - $b` shows as `$a to $b` and the displayed price is drawn uniformly inside it (seeded).
"""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lumos_envs.webshop.products import Catalog, CatalogSpec, ListCatalog, Product, Review
from lumos_envs.webshop.vocab import department_of

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")


def find_file(folder: Path, pattern: str) -> Path | None:
    """The first file in `folder` matching `pattern` (sorted), or None."""
    matches = sorted(folder.glob(pattern))
    return matches[0] if matches else None


def read_json(path: Path, expected: type) -> Any:
    try:
        with path.open() as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, expected):
        raise ValueError(f"{path}: expected a JSON {expected.__name__} at the top level, got {type(data).__name__}")
    return data


def parse_pricing(pricing: Any) -> list[float]:
    """WebShop's price parse: every `$` amount in the pricing text (at most two), else `[100.0]`."""
    if not pricing:
        return [100.0]
    if isinstance(pricing, (int, float)):
        return [float(pricing)]
    values = []
    for piece in str(pricing).split("$")[1:]:
        digits = re.sub(r"[^\d.]", "", piece)
        try:
            values.append(float(Decimal(digits)))
        except InvalidOperation:
            continue
    return values[:2] or [100.0]


def load_webshop_catalog(spec: CatalogSpec, fingerprint: str = "") -> ListCatalog:
    """Read a products file (and its attributes file) into a catalog (`fingerprint`: its content key)."""
    products_path = Path(spec.products_path)
    attributes_path = Path(spec.attributes_path) if spec.attributes_path else find_file(products_path.parent, "items_ins_v2*.json")
    rows = read_json(products_path, list)
    attributes = read_json(attributes_path, dict) if attributes_path else {}
    rng = random.Random(spec.price_seed)
    products: list[Product] = []
    seen: set[str] = set()
    for position, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"{products_path}: item {position} is not an object")
        missing = [k for k in ("asin", "name") if k not in row]
        if missing:
            raise ValueError(f"{products_path}: item {position} lacks field(s) {', '.join(missing)}")
        asin = str(row["asin"])
        if asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        pricing = parse_pricing(row.get("pricing"))
        price = pricing[0] if len(pricing) == 1 else rng.uniform(*pricing[:2])
        price_tag = f"${pricing[0]}" if len(pricing) == 1 else f"${pricing[0]} to ${pricing[1]}"
        options: dict[str, tuple[str, ...]] = {}
        for name, contents in (row.get("customization_options") or {}).items():
            if not contents:
                continue
            options[str(name).lower()] = tuple(str(c["value"]).strip().replace("/", " | ").lower() for c in contents if isinstance(c, dict) and "value" in c)
        bullets = row.get("small_description") or []
        bullets = [str(b) for b in bullets] if isinstance(bullets, list) else [str(bullets)]
        reviews = tuple(
            Review(str(r.get("title", "")), int(r.get("score", r.get("stars", 0)) or 0), str(r.get("body", r.get("review", ""))))
            for r in row.get("Reviews") or row.get("reviews") or [] if isinstance(r, dict)
        )
        item_attributes = attributes.get(asin, {}).get("attributes") if isinstance(attributes.get(asin), dict) else None
        query = str(row.get("query", "")).lower().strip()
        products.append(Product(
            asin=asin, title=str(row["name"]), department=str(row.get("category") or department_of(query)), query=query,
            product_category=str(row.get("product_category", "")), price=round(float(price), 2), options=options,
            attributes=tuple(item_attributes or ("DUMMY_ATTR",)), description=str(row.get("full_description") or ""),
            bullet_points=tuple(bullets), reviews=reviews, rating=str(row.get("average_rating", "N.A.") or "N.A."),
            price_tag=price_tag,
        ))
    if not products:
        raise ValueError(f"{products_path}: no usable products")
    type_words = frozenset(
        w for p in products for level in p.product_category.split("›")[-1:] + [p.query] for w in _WORD.findall(level.lower()) if len(w) > 2
    )
    return ListCatalog(products, spec.to_str(), type_words, fingerprint)


def export_webshop_files(catalog: "Catalog", folder: Path, *, limit: int | None = None, seed: int = 0) -> Path:
    """Write `catalog`'s first `limit` products as WebShop's three files in `folder` (for running the
    original WebShop code, or lumos's `webshop:` loader, on the same products).

    Instructions follow WebShop's `items_ins_v2` template (`Find me {attributes} {type}`, 1-3 of the
    product's attributes, drawn with `Random(seed, asin)`); the human file gets one human-style
    instruction per product, with its option values as `instruction_options`.
    """
    from lumos_envs.webshop.goals import draw_goal
    from lumos_envs.webshop.vocab import load_vocabulary

    vocabulary = load_vocabulary()
    folder.mkdir(parents=True, exist_ok=True)
    products, attributes, human = [], {}, {}
    for index in range(len(catalog) if limit is None else min(limit, len(catalog))):
        product = catalog[index]
        products.append({
            "asin": product.asin, "name": product.title, "category": product.department, "query": product.query,
            "product_category": product.product_category, "full_description": product.description,
            "small_description": list(product.bullet_points), "pricing": f"${product.price:.2f}",
            "average_rating": product.rating, "images": [""],
            "customization_options": {name: [{"value": v, "image": None} for v in values] for name, values in product.options.items()},
            "Reviews": [{"title": r.title, "score": r.score, "body": r.body} for r in product.reviews],
        })
        rng = random.Random(f"webshop-export-{seed}-{product.asin}")
        template = draw_goal(rng, product, style="synthetic", connectors=vocabulary.connectors)
        attributes[product.asin] = {"attributes": list(product.attributes),
                                    "instruction": _without_options(template.instruction, template.options),
                                    "instruction_attributes": list(template.attributes)}
        spoken = draw_goal(rng, product, style="human", connectors=vocabulary.connectors, openers=vocabulary.openers)
        human[product.asin] = [{"asin": product.asin, "instruction": PRICE_TAIL.sub("", spoken.instruction),
                                "instruction_attributes": list(spoken.attributes),
                                "instruction_options": list(spoken.options.values())}]
    (folder / "items_shuffle.json").write_text(json.dumps(products))
    (folder / "items_ins_v2.json").write_text(json.dumps(attributes))
    (folder / "items_human_ins.json").write_text(json.dumps(human))
    return folder


PRICE_TAIL = re.compile(r", and price lower than [\d.]+ dollars$")
"""the price clause goals append (a human file holds instructions without it; the loader adds its own)"""


def _without_options(instruction: str, options: dict[str, str]) -> str:
    """WebShop's `items_ins_v2` instruction: the template goal without its option and price clauses."""
    text = PRICE_TAIL.sub("", instruction)
    if options:
        text = text.split(f" with {next(iter(options))}: ")[0]
    return text
