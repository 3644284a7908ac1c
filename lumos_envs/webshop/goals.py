"""WebShop goals: an instruction with attributes, options and a price cap, turned into lumos `Task`s.

Goals are drawn as WebShop draws them (`web_agent_site/engine/goal.py`): a target product, some of
its attributes, one value per option, and a price cap sampled from `PRICE_RANGE` above the price
(none when fewer than two steps remain). Synthetic goals use WebShop's instruction template
(`Find me {attributes} {type} with {option}: {value}, and price lower than {cap} dollars`);
human-style goals phrase the same content the way WebShop's human instructions open
(`i am looking for ...`, weighted by how often people wrote each opener). Each task carries a gold
LUMOS plan an observer could write (search with the instruction, open the result that fits it,
click the options it names, buy; see `lumos_envs.envs.webshop.gold`) and its goal in
`metadata["goal"]`; splits follow WebShop's goal indices (test: first 500, dev: next 1,000).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

from lumos_envs.domains import Domain
from lumos_envs.metrics_webshop import NO_PRICE_CAP, GoalSpec
from lumos_envs.tasks.base import GoldPlan, Task
from lumos_envs.webshop.products import Product

PRICE_RANGE = tuple(10.0 * i for i in range(1, 100))
"""WebShop's price-cap steps"""
TEST_GOALS, DEV_GOALS = 500, 1000
"""WebShop's index splits: goals [0, 500) test, [500, 1500) dev, the rest train"""
HELDOUT_MODULUS = 10
"""a product type is held out when crc32(type) % HELDOUT_MODULUS == 0 (about a tenth of types)"""


@dataclass(frozen=True)
class Goal:
    """One WebShop goal (WebShop's goal dict with typed fields)."""

    asin: str
    instruction: str
    attributes: tuple[str, ...]
    options: dict[str, str]
    """option name -> wanted value (human goals from WebShop files may give values only)"""
    price_upper: float
    name: str
    query: str
    product_category: str
    style: str = "synthetic"
    """`synthetic` (WebShop's template) or `human`"""

    def spec(self) -> GoalSpec:
        return GoalSpec(self.asin, self.name, self.query, self.product_category, self.attributes,
                        tuple(self.options.values()), self.price_upper)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["attributes"] = list(self.attributes)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Goal":
        return cls(**{**data, "attributes": tuple(data["attributes"]), "options": dict(data["options"])})


def split_of(index: int) -> str:
    """WebShop's split of goal `index`."""
    return "test" if index < TEST_GOALS else "dev" if index < TEST_GOALS + DEV_GOALS else "train"


def is_heldout_type(type_name: str) -> bool:
    return zlib.crc32(type_name.encode()) % HELDOUT_MODULUS == 0


def sample_price_upper(rng: random.Random, price: float) -> float:
    """WebShop's cap: two of the next four `PRICE_RANGE` steps above the price, the larger one."""
    steps = [p for p in PRICE_RANGE if p > price][:4]
    if len(steps) >= 2:
        return sorted(rng.sample(steps, 2))[1]
    return NO_PRICE_CAP


def price_text(price_upper: float) -> str:
    return f", and price lower than {price_upper:.2f} dollars" if price_upper < NO_PRICE_CAP else ""


def draw_goal(
    rng: random.Random,
    product: Product,
    *,
    style: str,
    connectors: Mapping[str, str],
    openers: Sequence[tuple[str, int]] = (("i need", 1),),
) -> Goal:
    """A goal for `product`: 1-3 of its attributes, one value per option, a sampled price cap."""
    attributes = tuple(rng.sample(product.attributes, min(len(product.attributes), rng.randint(1, 3))))
    options = {name: rng.choice(values) for name, values in sorted(product.options.items()) if values}
    cap = sample_price_upper(rng, product.price)
    if style == "synthetic":
        pre = [a for a in attributes if connectors.get(a) == "pre"]
        groups = {c: [a for a in attributes if connectors.get(a, "with") == c] for c in ("with", "for")}
        text = "Find me " + (", ".join(pre) + " " if pre else "") + product.query
        for connector, group in groups.items():
            if group:
                text += f" {connector} " + ", ".join(group)
        if options:
            text += " with " + ", and ".join(f"{k}: {v}" for k, v in options.items())
    elif style == "human":
        names, weights = zip(*openers)
        opener = rng.choices(names, weights=weights)[0]
        text = f"{opener} {product.query} that {'is' if len(attributes) == 1 else 'are'} {' and '.join(attributes)}"
        if options:
            text += ", " + " and ".join(f"{k} {v}" for k, v in options.items())
    else:
        raise ValueError(f"goal style must be synthetic or human, got {style!r}")
    return Goal(product.asin, text + price_text(cap), attributes, options, cap, product.title, product.query,
                product.product_category, style)


def make_task(goal: Goal, *, task_id: str, source: str, split: str, catalog: str, plan: GoldPlan | None,
              plan_error: str | None = None) -> Task:
    """The lumos task of a goal: question = instruction, answer = target asin, gold plan attached.

    The plan comes from the caller (`lumos_envs.envs.webshop.gold.observer_gold_plan`): it is an
    observer's episode over the shop's pages, which this package cannot see.
    """
    metadata: dict[str, Any] = {"goal": goal.to_dict(), "catalog": catalog}
    if plan is None:
        metadata["plan_error"] = plan_error or "no plan"
    return Task(
        id=task_id, domain=Domain.WEBSHOP, source=source, split=split, question=goal.instruction,
        answer=goal.asin, plan=plan, metadata=metadata,
    )
