"""Catalogs by spec: `get_catalog(spec)` builds (generated) or loads (WebShop's files) one, shared per process.

A catalog is a sequence of products (`products.py`) with `index_of(asin)`. Generated catalogs build
product `i` on demand from `Random(seed, i)`, so a 1,000,000-product catalog costs no memory for
products until they are shown; only the search index (see `search.py`) holds all of them, on disk.
`get_catalog(spec)` returns the one shared instance per spec in this process. The data classes are
re-exported here for callers that know this module's name.
"""

from __future__ import annotations

from pathlib import Path

from lumos_envs.cache import content_key, shared_state
from lumos_envs.webshop.files import load_webshop_catalog
from lumos_envs.webshop.generate import GENERATOR_VERSION, GeneratedCatalog
from lumos_envs.webshop.products import (
    Catalog, CatalogSpec, ListCatalog, Product, Review, product_from_dict,
)
from lumos_envs.webshop.vocab import load_vocabulary

__all__ = ["Catalog", "CatalogSpec", "ListCatalog", "Product", "Review", "get_catalog", "product_from_dict"]


def get_catalog(spec: "CatalogSpec | str | None" = None) -> Catalog:
    """The process-wide catalog for `spec` (built or loaded once, then shared by every env)."""
    spec = CatalogSpec.parse(spec)
    if spec.kind == "generated":
        # shared_state holds a non-reentrant lock while loading: load nested state first
        vocabulary = load_vocabulary()
        key = content_key(spec.to_str(), vocabulary.fingerprint, version=f"gen-{GENERATOR_VERSION}")
        return shared_state("webshop_catalog", key, lambda: GeneratedCatalog(spec, vocabulary))
    key = content_key(spec.to_str(), Path(spec.products_path), version="file-1")
    return shared_state("webshop_catalog", key, lambda: load_webshop_catalog(spec, fingerprint=key))
