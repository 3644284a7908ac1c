"""WebShop gold plans an observer could write: the observer shopper played through a scratch session.

A gold plan must not use the hidden target (its id, its title) to choose among results. The plan
is therefore the record of an observer's episode: `observer_gold_plan` searches with the
instruction, reads each page the way a front end shows it (the rendered HTML's visible texts),
opens the result whose title best covers the instruction, goes back when the item lacks an option
the instruction asks for, turns to the next page when a page has nothing left to try, clicks the
options the instruction names and buys. Each decision is a subgoal taken after the observation it
depends on, so every literal in the plan (search words, an id, an option value) was in the task
or on an earlier page. The shop is deterministic (same catalog, same index, same pages), so
replaying the recorded plan in the env reaches the same pages, and the oracle needs nothing but
the recorded plan in `info["gold"]["plan"]`.

The decisions themselves live in `lumos_envs.webshop.observer`; this module only reads pages and
writes LUMOS actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lumos_envs.actions import ActionSyntaxError, parse_actions
from lumos_envs.cache import content_key, shared_state
from lumos_envs.envs.webshop.pages import render_page, visible_texts
from lumos_envs.envs.webshop.state import BUY_NOW, NEXT_PAGE, PREV_PAGE, Shop, ShopState
from lumos_envs.tasks.base import GoldPlan, GoldSubgoal
from lumos_envs.webshop.products import Catalog
from lumos_envs.webshop.observer import (
    ShownItem, ShownResult, choose_options, fits, rank_results, search_query, title_coverage,
)
from lumos_envs.webshop.search import get_index

MAX_RESULT_PAGES = 5
"""result pages the observer reads at most (WebShop shows 50 results, 10 a page)"""
MAX_OPENED_ITEMS = 6
"""items the observer opens and leaves again before it settles for the best one it saw"""

SEARCH_SUBGOAL = "Search relevant items according to the instruction."
NEXT_PAGE_SUBGOAL = "Go to the next page of results, since none of these fits the instruction."
SELECT_SUBGOAL = "Select the item that fits the instruction best."
BACK_SUBGOAL = "Go back to the results, since this item lacks an option the instruction asks for."
BUY_SUBGOAL = "Buy this item by selecting its relevant features."


def scratch_shop(catalog: Catalog) -> Shop:
    """The process-wide shop the observer plays in for `catalog` (its own search memo, same pages)."""
    index = get_index(catalog)  # shared_state's lock is not reentrant: load the index first
    return shared_state("webshop_gold_shop", content_key(catalog.spec, catalog.fingerprint, version="gold-shop-1"), lambda: Shop(catalog, index))


def read_results(html: str) -> tuple[list[ShownResult], bool]:
    """The results a results page shows (id, title, price tag) and whether it offers `Next >`."""
    results: list[ShownResult] = []
    asin = title = ""
    has_next = False
    for text, _, classes in visible_texts(html):
        names = classes.split()
        if "product-link" in names:
            asin, title = text, ""
        elif "title" in names and asin:
            title = text
        elif "price" in names and asin:
            results.append(ShownResult(asin, title, text))
            asin = ""
        elif "btn" in names and text.lower() == NEXT_PAGE:
            has_next = True
    return results, has_next


def read_item(html: str) -> ShownItem:
    """The item page as shown: title, price tag and option groups."""
    options: dict[str, list[str]] = {}
    group = ""
    title = price = ""
    for text, tag, classes in visible_texts(html):
        names = classes.split()
        if tag == "h4" and not names and text != "Instruction:":
            group = text
            options.setdefault(group, [])
        elif "option" in names and group:
            options[group].append(text)
        elif "title" in names:
            title, group = text, ""
        elif "price" in names:
            price = text
    return ShownItem(title, price, {name: tuple(values) for name, values in options.items()})


@dataclass
class _Recorder:
    """The plan as it is written: subgoals, and the next free variable number."""

    subgoals: list[GoldSubgoal] = field(default_factory=list)
    next_var: int = 1

    def add(self, text: str, *actions: str) -> str:
        lines = []
        for action in actions:
            lines.append(f"R{self.next_var} = {action}")
            self.next_var += 1
        self.subgoals.append(GoldSubgoal(text, tuple(lines)))
        return f"R{self.next_var - 1}"


def observer_gold_plan(instruction: str, shop: Shop) -> GoldPlan:
    """The gold plan of an observer shopping for `instruction` in `shop` (see the module docstring)."""
    plan = _Recorder()
    query = _safe_text(search_query(instruction))
    state = shop.search(ShopState(), query)
    plan.add(SEARCH_SUBGOAL, f"Search({query})")
    opened: list[tuple[tuple[int, int], ShopState]] = []  # ((options offered, title coverage), item) left again
    best_seen = -1
    for _ in range(MAX_RESULT_PAGES):
        results, has_next = read_results(_page(shop, state, instruction))
        ranked = rank_results(instruction, results)
        if ranked:
            best_seen = max(best_seen, title_coverage(instruction, ranked[0].title))
        for result in ranked:
            if len(opened) >= MAX_OPENED_ITEMS or title_coverage(instruction, result.title) < best_seen:
                break
            item_state = shop.click(state, result.asin)
            plan.add(SELECT_SUBGOAL, f"Click({result.asin.lower()})")
            item = read_item(_page(shop, item_state, instruction))
            if fits(instruction, item):
                return _buy(plan, shop, item_state, item, instruction)
            opened.append(((len(choose_options(instruction, item.options)), title_coverage(instruction, result.title)), item_state))
            state = shop.click(item_state, PREV_PAGE)
            plan.add(BACK_SUBGOAL, f"Click({PREV_PAGE})")
        if not has_next or len(opened) >= MAX_OPENED_ITEMS:
            break
        state = shop.click(state, NEXT_PAGE)
        plan.add(NEXT_PAGE_SUBGOAL, f"Click({NEXT_PAGE})")
    if not opened:
        # nothing under the cap was shown: open the first result there is, if any
        results, _ = read_results(_page(shop, state, instruction))
        if not results:
            raise ValueError("the search shows no results to buy")
        item_state = shop.click(state, results[0].asin)
        plan.add(SELECT_SUBGOAL, f"Click({results[0].asin.lower()})")
        return _buy(plan, shop, item_state, read_item(_page(shop, item_state, instruction)), instruction)
    # settle for the item opened that offers most of the named options (then: best title), again
    _, choice = max(opened, key=lambda pair: pair[0])
    target = ShopState("results", choice.keywords, choice.page_num)
    while state.page_num > target.page_num:
        state = shop.click(state, PREV_PAGE)
        plan.add("Go back to the previous page of results, where the best item was.", f"Click({PREV_PAGE})")
    item_state = shop.click(state, choice.asin)
    plan.add(SELECT_SUBGOAL, f"Click({choice.asin.lower()})")
    return _buy(plan, shop, item_state, read_item(_page(shop, item_state, instruction)), instruction)


def _buy(plan: _Recorder, shop: Shop, state: ShopState, item: ShownItem, instruction: str) -> GoldPlan:
    clicks = []
    for name, value in choose_options(instruction, item.options).items():
        if _clickable_as_argument(value):
            state = shop.click(state, value)
            clicks.append(f"Click({value})")
    shop.click(state, BUY_NOW)
    answer = plan.add(BUY_SUBGOAL, *clicks, f"Click({BUY_NOW})")
    return GoldPlan(subgoals=tuple(plan.subgoals), answer=answer)


def _page(shop: Shop, state: ShopState, instruction: str) -> str:
    return render_page(shop, state, instruction=instruction, base="/shop/gold")


def _clickable_as_argument(value: str) -> bool:
    """Whether `Click(value)` parses back to exactly `value` (an unbalanced bracket would not)."""
    try:
        parsed = parse_actions(f"R1 = Click({value})", domain="webshop")
    except ActionSyntaxError:
        return False
    return len(parsed) == 1 and parsed[0].arg_text == value


def _safe_text(text: str) -> str:
    """Search words that read as one action argument: brackets, quotes, `;` and variable-like
    tokens (`R2`) become spaces, so the keywords are the instruction's own words."""
    return " ".join(re.sub(r"[()\[\]{};\"'`]|(?<![A-Za-z0-9_])R\d+(?![A-Za-z0-9_])", " ", text).split())

