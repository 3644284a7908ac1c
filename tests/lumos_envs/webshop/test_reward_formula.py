"""WebShop's reward against values worked out by hand from WebShop's `get_reward` (web_agent_site/engine/goal.py).

Each row is (goal, product, chosen options) and the reward the original formula gives, computed by
hand: r_type x (attributes matched + options matched + [price <= cap]) / (attributes + options + 1).
Fuzzy scores are thefuzz's `token_set_ratio` on processed text (lower-cased, non-alphanumerics as
spaces, integer score; a match is > 85); the sorted-token arithmetic is in each row's comment.
The noun finder here is a fixed word list (WebShop's spaCy output is a list like this one), so the
rows check the formula, not a tagger.
"""

from __future__ import annotations

import pytest

from lumos_envs.metrics_webshop import NO_PRICE_CAP, GoalSpec, PurchasedSpec, fuzzy_score, webshop_reward

_NOUNS = {"running", "shoes", "sneakers", "boots", "socks", "lamp"}


def nouns(text: str) -> list[str]:
    return [w for w in text.lower().split() if w in _NOUNS]


GOAL = GoalSpec("B1", "Acme Running Shoes", "men's running shoes", "Clothing › Men › Shoes › Running",
                ("rubber sole", "easy clean"), ("black", "x-large"), 50.0)
"""goal nouns [running, shoes]; 2 attributes + 2 options + price = 5 parts"""
REPEATS = GoalSpec("B2", "Acme Running Shoes Shoes Shoes Socks", "q", "A › B", GOAL.attributes, GOAL.options, 50.0)
"""goal nouns with repeats: [running, shoes, shoes, shoes, socks] (5, though 3 distinct)"""
ELEVEN = GoalSpec("B3", "Boots " * 10 + "Socks", "q", "A › B", GOAL.attributes, GOAL.options, 50.0)
"""goal nouns: ten `boots` and one `socks` (11)"""
SIX = GoalSpec("B4", "Acme Running Shoes Boots Socks Lamp Sneakers", "q", "Clothing › Men › Shoes › Running",
               GOAL.attributes, GOAL.options, 50.0)
PACK = GoalSpec("B5", "Acme Running Shoes", GOAL.query, GOAL.product_category, ("rubber sole",), ("pack of 12",), 50.0)
UNCAPPED = GoalSpec("B6", GOAL.name, GOAL.query, GOAL.product_category, GOAL.attributes, GOAL.options, NO_PRICE_CAP)
SMALL = GoalSpec("B7", GOAL.name, GOAL.query, GOAL.product_category, ("rubber sole",), ("x-small",), 50.0)


def product(title="Zeta Running Shoes", query="men's running shoes", category="Clothing › Men › Shoes › Running",
            attributes=("rubber sole", "easy clean"), bullets=(), description="", price=30.0, options=("black", "x-large")):
    return PurchasedSpec(title, query, category, tuple(attributes), tuple(bullets), description, price, tuple(options))


ROWS = [
    # 1 everything matches: 5/5
    (GOAL, product(), 1.0),
    # 2 `x large` vs `x-large`: both process to "x large" -> 100; 5/5
    (GOAL, product(options=("black", "x large")), 1.0),
    # 3 `xl` vs `x large`: no shared token, ratio("xl", "large x") = 2*1/9 = 22; 4/5
    (GOAL, product(options=("black", "xl")), 0.8),
    # 4 `easy-to-clean` vs `easy clean`: tokens {easy, to, clean} contain {easy, clean} -> 100;
    #   `rubber outsole` vs `rubber sole`: ratio("rubber sole", "rubber outsole") = 2*11/25 = 88 > 85; 5/5
    (GOAL, product(attributes=("rubber outsole", "easy-to-clean")), 1.0),
    # 5 no attributes, both verbatim in the description: 5/5
    (GOAL, product(attributes=(), description="Has a rubber sole and is easy clean."), 1.0),
    # 6 no attributes, only `rubber sole` in the title (lower-cased): 4/5
    (GOAL, product(title="Zeta Running Shoes Rubber Sole", attributes=()), 0.8),
    # 7 over the cap: 4/5
    (GOAL, product(price=60.0), 0.8),
    # 8 exactly at the cap (<=): 5/5
    (GOAL, product(price=50.0), 1.0),
    # 9 nothing in common with the type: nouns [lamp] vs [running, shoes] -> title_score 0 -> r_type 0
    (GOAL, product(title="Zeta Lamp", query="lamps", category="Home › Lighting"), 0.0),
    # 10 one of two goal nouns: title_score 1/2 > 0.2 -> r_type 1; 5/5
    (GOAL, product(title="Zeta Running Lamp", query="lamps", category="Home › Lighting"), 1.0),
    # 11 repeats: 1 shared (socks) / 5 listed = 0.2, not > 0.2, no query/category match -> r_type 0.5
    (REPEATS, product(title="Zeta Socks", query="socks", category="C › D"), 0.5),
    # 12 as 11 with no option chosen: 0.5 x (2 + 0 + 1)/5 = 0.3
    (REPEATS, product(title="Zeta Socks", query="socks", category="C › D", options=()), 0.3),
    # 13 1/11 = 0.09 < 0.1 -> r_type 0.1 (dividing by the 2 distinct nouns would give 0.5)
    (ELEVEN, product(title="Zeta Socks", query="socks", category="C › D"), 0.1),
    # 14 1/6 = 0.17 (not > 0.2) but 2 shared category levels {Men, Shoes} -> r_type 1
    (SIX, product(title="Zeta Running", query="other", category="Sports › Men › Shoes"), 1.0),
    # 15 as 14 with only {Men} shared -> r_type 0.5
    (SIX, product(title="Zeta Running", query="other", category="Sports › Men"), 0.5),
    # 16 `jet black` -> normalize_color -> `black`: 5/5
    (GOAL, product(options=("jet black", "x-large")), 1.0),
    # 17 `a01#black` -> `black`: 5/5
    (GOAL, product(options=("a01#black", "x-large")), 1.0),
    # 18 `navy blue` -> `blue` (COLOR_SET order); ratio("blue", "black") = 2*2/9 = 44: 4/5
    (GOAL, product(options=("navy blue", "x-large")), 0.8),
    # 19 only one option chosen: 4/5
    (GOAL, product(options=("black",)), 0.8),
    # 20 no options chosen: 3/5
    (GOAL, product(options=()), 0.6),
    # 21 no cap sampled (price_upper 1,000,000): the free price point, (2 + 0 + 1)/5
    (UNCAPPED, product(options=(), price=999.0), 0.6),
    # 22 `pack of 6` vs `pack of 12`: ratio("of pack", "of pack 6") = 2*7/16 = 87.5 -> 88 > 85; 3/3
    (PACK, product(options=("pack of 6",), attributes=("rubber sole",)), 1.0),
    # 23 `small` vs `x-small`: {x, small} contains {small} -> 100; 3/3
    (SMALL, product(options=("small",), attributes=("rubber sole",)), 1.0),
    # 24 `leather` matches neither attribute and the texts are empty: (0 + 2 + 1)/5
    (GOAL, product(attributes=("leather",)), 0.6),
]


@pytest.mark.parametrize("goal,bought,expected", ROWS, ids=[str(i + 1) for i in range(len(ROWS))])
def test_reward_equals_webshop_formula(goal, bought, expected):
    assert webshop_reward(bought, goal, nouns=nouns)["reward"] == pytest.approx(expected)


def test_uncapped_price_point_can_be_dropped():
    assert webshop_reward(product(options=(), price=999.0), UNCAPPED, nouns=nouns, free_price_point=False)["reward"] == pytest.approx(2 / 4)


def test_fuzzy_scores_use_webshop_processing():
    # the three pairs: 83, 71 and 43 without processing
    assert fuzzy_score("x-small", "small") == 100
    assert fuzzy_score("x-large", "x large") == 100
    assert fuzzy_score("easy clean", "easy-to-clean") == 100
    assert fuzzy_score("pack of 6", "pack of 12") == 88  # 87.5 rounds up, as thefuzz's integer score
