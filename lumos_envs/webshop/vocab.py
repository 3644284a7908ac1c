"""The real WebShop vocabulary the generated catalog is built from.

Built from WebShop's `items_ins_v2_1000.json` (attributes and instruction phrasing of 1,000 real
products, WebShop's `items_ins_v2` schema) and `human_goals.json` (12,087 human instructions).
From them we keep the product types ("scrubs & body treatments"), the attributes seen with each
type and where the instruction put them (`Find me {pre} {type} with|for {post}`), and how people
open a request. lumos ships that derived vocabulary (`data/vocabulary.json`, a few kilobytes,
WebShop's MIT licence) so the default shop works anywhere; `$LUMOS_WEBSHOP_DATA` names a folder
with the two files to build it from instead, and `python -m lumos_envs.webshop.vocab FOLDER`
rewrites the packaged copy. A test keeps the packaged copy equal to what the files give.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from lumos_envs.cache import content_key, shared_state

PACKAGED_VOCABULARY = Path(__file__).resolve().parent / "data" / "vocabulary.json"
"""the vocabulary lumos ships, derived from WebShop's files"""

ATTRIBUTES_FILE = "items_ins_v2_1000.json"
HUMAN_GOALS_FILE = "human_goals.json"

DEPARTMENTS = ("beauty", "electronics", "fashion", "food", "furniture")
"""WebShop's five top-level categories"""

DEPARTMENT_NAMES = {
    "beauty": "Beauty & Personal Care",
    "electronics": "Electronics",
    "fashion": "Clothing, Shoes & Jewelry",
    "food": "Grocery & Gourmet Food",
    "furniture": "Home & Kitchen",
}

_DEPARTMENT_WORDS = {
    "fashion": ("men's", "women's", "boys", "girls", "shirt", "shoe", "sneaker", "dress", "pant", "short",
                "sock", "jean", "jacket", "coat", "boot", "sandal", "pump", "polo", "suit", "underwear",
                "skirt", "sweater", "hoodie", "top", "tee", "swim", "bra", "lingerie", "jewelry", "watch",
                "slipper", "loafer", "legging", "vest", "tuxedo", "flat", "oxford", "athletic"),
    "beauty": ("hair", "skin", "makeup", "nail", "body", "lip", "eye", "face", "shampoo", "conditioner",
               "perfume", "fragrance", "lotion", "cream", "brush", "wig", "beard", "shav", "tooth", "oral",
               "bath", "soap", "cosmetic", "container", "swab", "scrub", "mask", "serum", "sunscreen"),
    "electronics": ("camera", "photo", "screen", "cable", "charger", "speaker", "headphone", "earbud",
                    "tv", "television", "computer", "laptop", "tablet", "phone", "audio", "video", "usb",
                    "remote", "battery", "projector", "microphone", "router", "keyboard", "mouse", "lens"),
    "food": ("snack", "coffee", "tea", "candy", "chocolate", "food", "sauce", "spice", "cookie", "drink",
             "juice", "nut", "cereal", "jerky", "seasoning", "oil", "bread", "pasta", "gum", "protein"),
    "furniture": ("table", "chair", "sofa", "bed", "lamp", "light", "shelf", "cabinet", "rug", "curtain",
                  "pillow", "wall art", "decor", "desk", "stool", "mirror", "furniture", "storage",
                  "ottoman", "mattress", "blanket", "bench", "clock", "vase"),
}

HUMAN_OPENERS = {
    "i am": "i am looking for", "i need": "i need", "im looking": "im looking for", "i want": "i want",
    "i would": "i would like", "looking for": "looking for", "find me": "find me", "id like": "id like",
    "get me": "get me", "can you": "can you find me", "buy me": "buy me",
}
"""first two words of a human instruction -> the opener a human-style goal uses"""


@dataclass(frozen=True)
class ProductType:
    """A product type seen in real WebShop instructions, with its department and attribute pool."""

    name: str
    """as instructions write it, e.g. `scrubs & body treatments`"""
    department: str
    attributes: tuple[str, ...]
    """attributes seen with this type (and some of its department), most specific first"""


@dataclass(frozen=True)
class WebShopVocabulary:
    """Everything the generator draws words from; built once per process."""

    types: tuple[ProductType, ...]
    connectors: dict[str, str]
    """attribute -> `pre`, `with` or `for`: where WebShop's instructions put it"""
    openers: tuple[tuple[str, int], ...]
    """(human opener, how many human instructions start that way)"""
    type_words: frozenset[str]
    """words of all product-type names: the catalog's own noun vocabulary for the type gate"""
    fingerprint: str = ""
    """content key of the files it was read from (part of every cache key built on it)"""


def data_dir() -> Path | None:
    """`$LUMOS_WEBSHOP_DATA`, or None for the packaged vocabulary."""
    value = os.environ.get("LUMOS_WEBSHOP_DATA")
    return Path(value) if value else None


def load_vocabulary(folder: Path | None = None) -> WebShopVocabulary:
    """The process-wide vocabulary: built from WebShop's files in `folder` (default
    `$LUMOS_WEBSHOP_DATA`), or the packaged one when neither is given."""
    folder = folder or data_dir()
    if folder is None:
        return shared_state("webshop_vocab", "packaged", lambda: vocabulary_from_json(PACKAGED_VOCABULARY.read_text()))
    attributes_path, human_path = folder / ATTRIBUTES_FILE, folder / HUMAN_GOALS_FILE
    for path in (attributes_path, human_path):
        if not path.is_file():
            raise FileNotFoundError(f"WebShop vocabulary file {path} not found; set LUMOS_WEBSHOP_DATA to its folder")
    key = content_key(attributes_path, human_path, version="webshop-vocab-1")
    return shared_state("webshop_vocab", key, lambda: _build(attributes_path, human_path, key))


def department_of(type_name: str) -> str:
    """WebShop department of a product type, by keyword; unknown types get a stable hashed one."""
    lowered = type_name.lower()
    best, best_hits = None, 0
    for department, words in _DEPARTMENT_WORDS.items():
        hits = sum(1 for word in words if word in lowered)
        if hits > best_hits:
            best, best_hits = department, hits
    return best or DEPARTMENTS[zlib.crc32(lowered.encode()) % len(DEPARTMENTS)]


def split_instruction(instruction: str, attributes: list[str]) -> tuple[str, dict[str, str]] | None:
    """(`type`, attribute -> connector) of a `Find me {pre} {type} with|for {post}` instruction."""
    if not instruction.startswith("Find me "):
        return None
    rest = instruction[len("Find me "):]
    connectors: dict[str, str] = {}
    progress = True
    while progress:
        progress = False
        for attribute in attributes:
            for sep in (", ", " "):
                if rest.startswith(attribute + sep) and attribute not in connectors:
                    connectors[attribute] = "pre"
                    rest = rest[len(attribute) + len(sep):]
                    progress = True
    parts = re.split(r" (with|for) ", rest, maxsplit=1)
    type_name = parts[0].strip()
    if len(parts) == 3:
        for attribute in attributes:
            if attribute in parts[2] and attribute not in connectors:
                connectors[attribute] = parts[1]
    if not type_name or len(type_name) > 80:
        return None
    return type_name, connectors


def _build(attributes_path: Path, human_path: Path, key: str) -> WebShopVocabulary:
    with attributes_path.open() as handle:
        items = json.load(handle)
    if not isinstance(items, dict):
        raise ValueError(f"{attributes_path}: expected an object asin -> {{attributes, instruction, ...}}")
    by_type: dict[str, list[str]] = defaultdict(list)
    connectors: dict[str, str] = {}
    department_attributes: dict[str, list[str]] = defaultdict(list)
    for asin, item in items.items():
        instruction = item.get("instruction")
        attributes = [str(a) for a in item.get("instruction_attributes") or []]
        if not instruction or not attributes:
            continue
        parsed = split_instruction(str(instruction), attributes)
        if parsed is None:
            continue
        type_name, found = parsed
        connectors.update({a: c for a, c in found.items() if a not in connectors})
        for attribute in item.get("attributes") or attributes:
            if attribute not in by_type[type_name]:
                by_type[type_name].append(str(attribute))
    types = []
    for type_name in sorted(by_type):
        department = department_of(type_name)
        department_attributes[department].extend(a for a in by_type[type_name] if a in connectors)
    for type_name in sorted(by_type):
        department = department_of(type_name)
        own = [a for a in by_type[type_name] if a in connectors]
        extra = sorted(set(department_attributes[department]) - set(own))
        rng_pick = sorted(extra, key=lambda a: zlib.crc32(f"{type_name}|{a}".encode()))[:6]
        if own:
            types.append(ProductType(type_name, department, tuple(own + rng_pick)))
    with human_path.open() as handle:
        human = json.load(handle)
    if not isinstance(human, list):
        raise ValueError(f"{human_path}: expected a list of instruction strings")
    counts = Counter(" ".join(str(text).split()[:2]) for text in human)
    openers = tuple((opener, counts[prefix]) for prefix, opener in HUMAN_OPENERS.items() if counts[prefix] > 0)
    words = frozenset(w for t in types for w in _words(t.name) if len(w) > 2 and w not in _TYPE_STOPWORDS)
    return WebShopVocabulary(tuple(types), connectors, openers or (("i need", 1),), words, key)


_TYPE_STOPWORDS = frozenset({"men's", "women's", "and", "for", "with", "the", "mens", "womens", "boys", "girls"})


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9][a-z0-9'\-]*", text.lower())


def vocabulary_to_json(vocabulary: WebShopVocabulary) -> str:
    """The vocabulary as stable, human-readable JSON (what `data/vocabulary.json` holds)."""
    return json.dumps({
        "fingerprint": vocabulary.fingerprint,
        "types": [{"name": t.name, "department": t.department, "attributes": list(t.attributes)} for t in vocabulary.types],
        "connectors": dict(sorted(vocabulary.connectors.items())),
        "openers": [list(pair) for pair in vocabulary.openers],
        "type_words": sorted(vocabulary.type_words),
    }, indent=1, ensure_ascii=False) + "\n"


def vocabulary_from_json(text: str) -> WebShopVocabulary:
    data = json.loads(text)
    return WebShopVocabulary(
        types=tuple(ProductType(t["name"], t["department"], tuple(t["attributes"])) for t in data["types"]),
        connectors=dict(data["connectors"]),
        openers=tuple((str(o), int(n)) for o, n in data["openers"]),
        type_words=frozenset(data["type_words"]),
        fingerprint=str(data["fingerprint"]),
    )


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m lumos_envs.webshop.vocab FOLDER_WITH_WEBSHOP_FILES")
    PACKAGED_VOCABULARY.parent.mkdir(parents=True, exist_ok=True)
    PACKAGED_VOCABULARY.write_text(vocabulary_to_json(load_vocabulary(Path(sys.argv[1]))))
    print(f"wrote {PACKAGED_VOCABULARY}")
