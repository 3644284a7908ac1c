"""Generated catalog, WebShop file loaders, search index (lumos_envs/webshop/)."""

from __future__ import annotations

import json

import pytest

from lumos_envs.webshop.catalog import CatalogSpec, get_catalog
from lumos_envs.webshop.generate import GeneratedCatalog
from lumos_envs.webshop.search import get_index
from lumos_envs.webshop.vocab import load_vocabulary


def test_generated_products_are_deterministic_and_complete():
    one = GeneratedCatalog(CatalogSpec(size=300, seed=3))
    two = GeneratedCatalog(CatalogSpec(size=300, seed=3))
    assert [one[i] for i in (0, 17, 299)] == [two[i] for i in (299, 17, 0)][::-1]
    other = GeneratedCatalog(CatalogSpec(size=300, seed=4))
    assert one[5] != other[5]
    for i in range(0, 300, 7):
        product = one[i]
        assert product.title and product.product_category.count("›") == 1 and product.price > 0
        assert product.attributes and product.description and product.bullet_points
        assert one.index_of(product.asin) == i and one.index_of(product.asin.lower()) == i
    assert len({one[i].asin for i in range(300)}) == 300


def test_asin_lookup_rejects_foreign_ids():
    catalog = GeneratedCatalog(CatalogSpec(size=100, seed=0))
    big = GeneratedCatalog(CatalogSpec(size=100_000, seed=0))
    with pytest.raises(KeyError):
        catalog.index_of(big.asin(50_000))
    with pytest.raises(KeyError):
        catalog.index_of("not-an-asin")
    assert big[99_999].asin == big.asin(99_999)


def test_vocabulary_comes_from_real_webshop_files():
    vocabulary = load_vocabulary()
    assert len(vocabulary.types) > 100
    assert all(t.attributes for t in vocabulary.types)
    assert vocabulary.openers[0][1] > 1000  # counted from the 12,087 human instructions


def test_shared_catalog_and_index_are_one_object(tmp_path):
    a, b = get_catalog("generated?size=200&seed=9"), get_catalog(CatalogSpec(size=200, seed=9))
    assert a is b
    index = get_index(a)
    assert get_index(b) is index
    target = a[42]
    assert index.search(target.title)[0] == 42
    assert index.search("") == []


def write_webshop_files(folder, n=6):
    """Small files in WebShop's schemas (items_shuffle, items_ins_v2, items_human_ins)."""
    products, attributes, human = [], {}, {}
    for i in range(n):
        asin = f"B0TEST{i:04d}"
        products.append({
            "asin": asin, "name": f"Test Brand Cotton Shirt model {i}", "category": "fashion", "query": "shirts",
            "product_category": "Clothing › Men › Shirts", "full_description": "A soft cotton shirt.",
            "small_description": ["machine wash", "cotton"], "pricing": "$10.00 - $20.00" if i % 2 else f"${15 + i}.99",
            "images": [""], "average_rating": 4.5,
            "customization_options": {"Color": [{"value": "Navy/Blue", "image": None}, {"value": "Red", "image": None}],
                                      "Size": [{"value": "Large"}, {"value": "Small"}]},
        })
        attributes[asin] = {"attributes": ["machine wash", "cotton"], "instruction": "Find me machine wash shirts with cotton",
                            "instruction_attributes": ["machine wash", "cotton"]}
        human[asin] = [{"asin": asin, "instruction": "i need a machine wash shirt in red.", "instruction_attributes": ["machine wash"],
                        "instruction_options": ["red", "large"]}]
    products.append(dict(products[0]))  # duplicate asin: skipped, as WebShop does
    products.append(dict(products[0], asin="nan"))
    (folder / "items_shuffle_test.json").write_text(json.dumps(products))
    (folder / "items_ins_v2_test.json").write_text(json.dumps(attributes))
    (folder / "items_human_ins.json").write_text(json.dumps(human))
    return folder


def test_webshop_file_catalog_follows_webshop_cleaning(tmp_path):
    write_webshop_files(tmp_path)
    catalog = get_catalog(CatalogSpec(kind="webshop", products_path=str(tmp_path / "items_shuffle_test.json")))
    assert len(catalog) == 6
    product = catalog[catalog.index_of("B0TEST0001")]
    assert product.options["color"] == ("navy | blue", "red")
    assert 10.0 <= product.price <= 20.0 and product.price_tag == "$10.0 to $20.0"
    assert catalog[0].price == 15.99 and catalog[0].attributes == ("machine wash", "cotton")


def test_malformed_products_file_names_the_problem(tmp_path):
    (tmp_path / "items_shuffle.json").write_text(json.dumps([{"name": "x"}]))
    with pytest.raises(ValueError, match="item 0 lacks field"):
        get_catalog(CatalogSpec(kind="webshop", products_path=str(tmp_path / "items_shuffle.json")))


def test_options_fit_the_product_type():
    from lumos_envs.webshop.generate import APPAREL_SIZES, DEFAULT_FAMILY, SHOE_SIZES, option_family

    catalog = GeneratedCatalog(CatalogSpec(size=2000, seed=1))
    seen_types = set()
    for i in range(0, 2000, 3):
        product = catalog[i]
        family = option_family(product.query)
        allowed = dict(family.groups)
        assert set(product.options) <= set(allowed), (product.query, product.options)
        for name, values in product.options.items():
            assert set(values) <= set(allowed[name]), (product.query, name, values)
        if any("fl oz" in v for values in product.options.values() for v in values):
            assert family.name in ("liquids", "fragrance", "containers"), product.query
        seen_types.add(product.query)
    assert len(seen_types) > 100
    # the example, and the families a few names must land in
    assert all("fl oz" not in v for _, values in option_family("hair cutting tools").groups for v in values)
    assert option_family("shampoo & conditioner").name == "liquids"
    assert dict(option_family("women's pumps").groups)["size"] == SHOE_SIZES
    assert dict(option_family("men's t-shirts & tanks").groups)["size"] == APPAREL_SIZES
    assert option_family("coat racks").name == "furniture"  # not a coat
    assert option_family("pendants and chandeliers") is DEFAULT_FAMILY  # `deli` inside a word is no food
