"""WebShop's reward, term by term (lumos_envs/metrics_webshop.py)."""

from __future__ import annotations

import pytest

from lumos_envs.metrics_webshop import (
    NO_PRICE_CAP, GoalSpec, PurchasedSpec, attribute_matches, catalog_nouns, noun_finder, normalize_color,
    option_matches, spacy_nouns, type_reward, webshop_reward,
)

NOUNS = catalog_nouns(frozenset({"sneakers", "shoes", "shirt", "mirrors"}))
GOAL = GoalSpec("B000000001", "Acme Men's Fashion Sneakers XY-1", "men's fashion sneakers",
                "Clothing › Men's Fashion Sneakers", ("memory foam", "rubber sole"), ("gold", "7"), 40.0)


def bought(**overrides) -> PurchasedSpec:
    base = dict(title="Zeta Men's Fashion Sneakers AB-2", query="men's fashion sneakers",
                product_category="Clothing › Men's Fashion Sneakers", attributes=("memory foam", "rubber sole"),
                bullet_points=(), description="", price=30.0, options=("gold", "7"))
    base.update(overrides)
    return PurchasedSpec(**base)


def test_everything_matched_is_success():
    metrics = webshop_reward(bought(), GOAL, nouns=NOUNS)
    assert metrics["reward"] == 1.0 and metrics["success"] == 1.0


def test_each_term_counts_one_part_of_the_denominator():
    # 2 attributes + 2 options + price = 5 parts
    assert webshop_reward(bought(price=50.0), GOAL, nouns=NOUNS)["reward"] == pytest.approx(4 / 5)
    assert webshop_reward(bought(options=("gold",)), GOAL, nouns=NOUNS)["reward"] == pytest.approx(4 / 5)
    assert webshop_reward(bought(attributes=("memory foam",)), GOAL, nouns=NOUNS)["reward"] == pytest.approx(4 / 5)


def test_attribute_found_in_text_counts_without_attribute_entry():
    product = bought(attributes=(), description="Has a RUBBER SOLE.", bullet_points=("Memory foam insole",))
    assert attribute_matches(product, GOAL.attributes) == 2


def test_fuzzy_threshold_is_strictly_above_85():
    # WebShop's processing makes `x-large` the tokens {x, large}, a superset of {large}: 100
    assert option_matches(["x-large"], ["large"]) == 1
    assert option_matches(["xx-large"], ["x-large"]) == 1  # 93: WebShop's fuzziness, kept
    assert option_matches(["16x20 inch"], ["24x36 inch"]) == 0


def test_normalize_color_takes_first_known_colour():
    assert normalize_color("a01#black") == "black"
    assert normalize_color("16x20 inch") == "16x20 inch"
    # COLOR_SET order, not position in the text: both become "blue", so they match (WebShop quirk)
    assert normalize_color("dark navy blue") == "blue" and option_matches(["dark navy blue"], ["light blue"]) == 1
    assert option_matches(["red"], ["navy"]) == 0


def test_type_gate_levels():
    assert type_reward(bought(), GOAL, NOUNS)["r_type"] == 1.0
    other = bought(title="Zeta Mirrors", query="mirrors", product_category="Home › Mirrors")
    assert type_reward(other, GOAL, NOUNS)["r_type"] == 0.0
    assert webshop_reward(other, GOAL, nouns=NOUNS)["reward"] == 0.0
    words = [f"w{i}" for i in range(11)]
    nouns = catalog_nouns(frozenset(words))

    def gate(title: str, goal_words: list[str], query: str = "x") -> float:
        goal = GoalSpec("B1", " ".join(goal_words), "y", "C › D", ("a",), (), 40.0)
        return type_reward(bought(title=title, query=query, product_category="A › B"), goal, nouns)["r_type"]

    assert gate("w0 w1", words[:8]) == 1.0          # title_score 0.25 > 0.2
    assert gate("w0", words[:8]) == 0.5             # 0.125: no query/category/title match
    assert gate("w0", words[:8], query="y") == 1.0  # ... unless the query matches
    assert gate("w0", words[:11], query="y") == 0.1  # 1/11 < 0.1
    assert gate("zz", words[:8], query="y") == 0.0   # no shared noun
    assert gate("zz", [], query="x") == 0.5          # no goal nouns: title_score 0.2 (WebShop)


def test_free_price_point_without_cap_is_kept_by_default_and_can_be_dropped():
    goal = GoalSpec("B1", GOAL.name, GOAL.query, GOAL.product_category, ("memory foam",), ("gold",), NO_PRICE_CAP)
    wrong_option = bought(options=("red",))
    kept = webshop_reward(wrong_option, goal, nouns=NOUNS)
    dropped = webshop_reward(wrong_option, goal, nouns=NOUNS, free_price_point=False)
    assert kept["reward"] == pytest.approx(2 / 3) and kept["free_price_point"] == 1.0
    assert dropped["reward"] == pytest.approx(1 / 2) and dropped["free_price_point"] == 0.0


def test_fallback_nouns_differ_from_a_general_noun_finder():
    # the fallback knows only the catalog's type words: a brand or "gift" never counts as a noun,
    # where spaCy would tag them NOUN/PROPN; so a title sharing only a brand opens spaCy's gate a bit
    finder = noun_finder(frozenset({"sneakers"}), prefer="catalog")
    assert finder("Acme Gift Sneakers") == ["sneakers"]
    goal = GoalSpec("B1", "Acme Gift Sneakers", "q", "A › B", ("a",), (), 40.0)
    brand_only = bought(title="Acme Gift Box", query="z", product_category="C › D", attributes=("a",))
    assert type_reward(brand_only, goal, finder)["r_type"] == 0.0
    spacy = spacy_nouns()
    if spacy is not None:  # with en_core_web_sm installed the gate opens on the shared nouns
        assert type_reward(brand_only, goal, spacy)["r_type"] > 0.0
    else:
        with pytest.raises(RuntimeError):
            noun_finder(frozenset(), prefer="spacy")
        assert noun_finder(frozenset({"x"}), prefer="auto")("x y") == ["x"]


def test_catalog_nouns_split_titles_as_spacy_does_and_are_named():
    finder = noun_finder(frozenset({"slip-ons", "loafers"}), prefer="catalog")
    assert finder.name == "catalog"
    # possessive off, letter-letter hyphen split, repeats kept (WebShop's noun list)
    assert finder("Acme Men's Loafers & Slip-ons AB-12 Loafers") == ["men", "loafers", "slip", "ons", "loafers"]
    metrics = webshop_reward(bought(), GOAL, nouns=finder)
    assert metrics["noun_finder_catalog"] == 1.0
    with pytest.raises(ValueError, match="noun finder"):
        noun_finder(frozenset(), prefer="nltk")
    with pytest.raises(RuntimeError, match="not installed"):
        noun_finder(frozenset(), prefer="spacy:/no/such/model")
