"""WebShop goal task sources: WebShop's own files (`webshop:PATH`) and generated goals (`synthetic:shop_*`).

`webshop:FOLDER_OR_items_shuffle.json?split=test&goals=human` reads WebShop's files in their schema
(see `lumos_envs.webshop.files`) and builds WebShop's goals: `goals=human` from
`items_human_ins.json`, `goals=synthetic` from `items_ins_v2*.json` (every option combination of
every product with an instruction, as WebShop does). Goals are shuffled with `seed` (WebShop: 233)
and split by index (test: first 500, dev: next 1,000, train: the rest). WebShop's files hold
every split, so without `split=` (or with `split=all`) all goals are kept, each labelled with its
own split; `split=` accepts `train`, `dev` (or `val`, `validation`), `test` and `all`. Ids are
`webshop-{goals}-{index}-{digest}`: WebShop's goal index (its `fixed_{index}` session) and a digest
of the goal (ASIN, product title, instruction, attributes, options, price cap), so another
`seed=` or another folder's files never give a different goal the same id.
`webshop:generated?catalog_size=100000&goals=synthetic&size=500` draws goals over a generated catalog.

`synthetic:shop_synthetic`, `shop_human` (train) and `shop_heldout` (held-out product types) draw
goal `i` from `Random(f"{family}/{seed}/{i}/{attempt}")` (`base.item_rng`) over the default generated
catalog (1,000 products); `part=train|validation|test` keeps a masked-instruction-disjoint part.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lumos_envs.tasks.base import GeneratedTaskSource, Task
from lumos_envs.tasks.splits import content_digest, normalise_split
from lumos_envs.webshop.catalog import Catalog, CatalogSpec, Product, get_catalog
from lumos_envs.webshop.files import find_file, read_json
from lumos_envs.webshop.goals import Goal, draw_goal, is_heldout_type, make_task, price_text, sample_price_upper, split_of

MAX_DRAWS = 10_000
"""product draws a goal may take to find a product of the right (held-out or not) type"""


@dataclass(frozen=True)
class ShopFamilyInfo:
    split: Literal["train", "heldout"]
    description: str
    style: str
    heldout_types: bool


FAMILIES: dict[str, ShopFamilyInfo] = {
    "shop_synthetic": ShopFamilyInfo("train", "WebShop-template goals over the generated catalog", "synthetic", False),
    "shop_human": ShopFamilyInfo("train", "human-style goals over the generated catalog", "human", False),
    "shop_heldout": ShopFamilyInfo("heldout", "goals on held-out product types (never in train families)", "synthetic", True),
}


class GeneratedGoalSource(GeneratedTaskSource):
    """Goals over a generated catalog; goal `i` depends only on (family, seed, part, i, catalog)."""

    def __init__(self, family: str, size: int, seed: int, catalog: CatalogSpec | None = None, style: str | None = None,
                 part: str = "all") -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown WebShop goal family {family!r}; known: {', '.join(FAMILIES)}")
        super().__init__(family, size, seed, f"webshop-{family}-", part)
        self.info = FAMILIES[family]
        self.style = style or self.info.style
        self.catalog = get_catalog(catalog)

    def _draw(self, rng: random.Random, index: int) -> Task:
        vocabulary = self.catalog.vocabulary
        for _ in range(MAX_DRAWS):
            product = self.catalog[rng.randrange(len(self.catalog))]
            if is_heldout_type(product.query) == self.info.heldout_types:
                break
        else:
            raise ValueError(f"no product of the wanted type in {MAX_DRAWS} draws (catalog too small?)")
        goal = draw_goal(rng, product, style=self.style, connectors=vocabulary.connectors, openers=vocabulary.openers)
        split = "heldout" if self.info.heldout_types else split_of(index)
        return make_task(goal, task_id=f"{self.id_prefix}{index}", source=self.name, split=split,
                         catalog=self.catalog.spec, plan=None, plan_error="not built yet")

    def _finish(self, task: Task) -> Task:
        """The observer's gold plan (one scratch episode), built for accepted draws only."""
        return _task_with_plan(Goal.from_dict(task.metadata["goal"]), self.catalog, task_id=task.id,
                               source=task.source, split=task.split)


def load_family(name: str, size: int = 200, seed: int = 0, part: str = "all") -> GeneratedGoalSource:
    """A bundled goal family over the default generated catalog (registry entry point)."""
    return GeneratedGoalSource(name, size, seed, part=part)


def load_webshop(
    path: str,
    split: str | None = None,
    goals: str = "human",
    seed: int | str = 233,
    size: int | str = 500,
    catalog_size: int | str = 1000,
    catalog_seed: int | str = 0,
    attributes: str | None = None,
    human: str | None = None,
) -> "WebShopFileGoals | GeneratedGoalSource":
    """WebShop goals from WebShop's files (or `generated`); see the module docstring."""
    if goals not in ("human", "synthetic"):
        raise ValueError(f"goals must be human or synthetic, got {goals!r}")
    keep_split = "all" if split in (None, "", "all") else normalise_split(str(split))
    if keep_split is None:
        raise ValueError(f"unknown split {split!r} for webshop:{path}; use train, dev, test or all")
    if path == "generated":
        spec = CatalogSpec(size=int(catalog_size), seed=int(catalog_seed))
        family = "shop_human" if goals == "human" else "shop_synthetic"
        return GeneratedGoalSource(family, int(size), int(seed), catalog=spec)
    location = Path(path)
    folder = location if location.is_dir() else location.parent
    products_path = find_file(folder, "items_shuffle*.json") if location.is_dir() else location
    if products_path is None or not products_path.is_file():
        raise FileNotFoundError(f"no WebShop products file (items_shuffle*.json) at {path}")
    attributes_path = Path(attributes) if attributes else find_file(folder, "items_ins_v2*.json")
    spec = CatalogSpec(kind="webshop", products_path=str(products_path.resolve()),
                       attributes_path=str(attributes_path.resolve()) if attributes_path else "")
    catalog = get_catalog(spec)
    rng = random.Random(int(seed))
    drafted: list[tuple[Goal, Product]] = []
    if goals == "human":
        human_path = Path(human) if human else folder / "items_human_ins.json"
        table = read_json(human_path, dict)
        for asin in sorted(table):
            try:
                product = catalog[catalog.index_of(asin)]
            except KeyError:
                continue
            for k, entry in enumerate(table[asin]):
                if not isinstance(entry, dict) or "instruction" not in entry:
                    raise ValueError(f"{human_path}: {asin}[{k}] lacks 'instruction'")
                wanted = [str(a) for a in entry.get("instruction_attributes") or []]
                if not wanted:
                    continue  # WebShop skips human goals without attributes
                cap = sample_price_upper(rng, product.price)
                drafted.append((Goal(product.asin, str(entry["instruction"]).strip(".") + price_text(cap), tuple(wanted),
                                     _named_options(entry.get("instruction_options"), product), cap, product.title,
                                     product.query, product.product_category, "human"), product))
    else:
        if attributes_path is None:
            raise FileNotFoundError(f"no items_ins_v2*.json beside {products_path} for synthetic goals")
        table = read_json(attributes_path, dict)
        for index in range(len(catalog)):
            product = catalog[index]
            entry = table.get(product.asin)
            if not isinstance(entry, dict) or not entry.get("instruction") or not entry.get("instruction_attributes"):
                continue
            cap = sample_price_upper(rng, product.price)
            names = sorted(product.options)
            for combination in itertools.product(*(product.options[n] for n in names)):
                options = dict(zip(names, combination))
                text = str(entry["instruction"])
                if options:
                    text += " with " + ", and ".join(f"{k}: {v}" for k, v in options.items())
                drafted.append((Goal(product.asin, text + price_text(cap), tuple(entry["instruction_attributes"]), options,
                                     cap, product.title, product.query, product.product_category, "synthetic"), product))
    random.Random(int(seed)).shuffle(drafted)
    kept = [(index, goal) for index, (goal, _) in enumerate(drafted) if keep_split in ("all", split_of(index))]
    if not kept:
        raise ValueError(f"no WebShop goals in split {split!r} at {path}")
    return WebShopFileGoals(kept, catalog, goals, name=f"webshop:{path}")


class WebShopFileGoals:
    """Goals from WebShop's files; task `i` (with its observer gold plan, one scratch episode) is
    built on first use, so a 10,000-goal split costs nothing until its tasks are read."""

    def __init__(self, goals: list[tuple[int, Goal]], catalog: Catalog, kind: str, name: str) -> None:
        self.goals, self.catalog, self.kind, self.name = goals, catalog, kind, name
        self._ids = {_file_goal_id(kind, index, goal): position for position, (index, goal) in enumerate(goals)}
        self._cache: dict[int, Task] = {}

    def __len__(self) -> int:
        return len(self.goals)

    def __getitem__(self, position: int) -> Task:
        if isinstance(position, bool) or not isinstance(position, int):
            raise TypeError(f"task index must be an integer, got {type(position).__name__}")
        if position < 0:
            position += len(self.goals)
        if not 0 <= position < len(self.goals):
            raise IndexError(f"task index {position} out of range for {self.name} ({len(self.goals)} tasks)")
        if position not in self._cache:
            index, goal = self.goals[position]
            self._cache[position] = _task_with_plan(goal, self.catalog, task_id=_file_goal_id(self.kind, index, goal),
                                                    source="webshop", split=split_of(index))
        return self._cache[position]

    def index_of(self, task_id: str) -> int:
        try:
            return self._ids[task_id]
        except KeyError:
            raise KeyError(f"no task with id {task_id!r} in {self.name}") from None


def _file_goal_id(kind: str, index: int, goal: Goal) -> str:
    """The id of WebShop file goal `index` (module docstring)."""
    digest = content_digest(goal.asin, goal.name, goal.instruction, goal.attributes, goal.options, goal.price_upper)
    return f"webshop-{kind}-{index}-{digest}"


def _task_with_plan(goal: Goal, catalog: Catalog, *, task_id: str, source: str, split: str) -> Task:
    """The task of `goal` with the gold plan an observer of the shop would write."""
    from lumos_envs.envs.webshop.gold import observer_gold_plan, scratch_shop

    try:
        plan, error = observer_gold_plan(goal.instruction, scratch_shop(catalog)), None
    except ValueError as failure:
        plan, error = None, f"observer: {failure}"
    return make_task(goal, task_id=task_id, source=source, split=split, catalog=catalog.spec, plan=plan, plan_error=error)


def _named_options(options: object, product: Product) -> dict[str, str]:
    """Human goals list option values only; name each by the product option that lists it."""
    if isinstance(options, dict):
        return {str(k).lower(): str(v).lower() for k, v in options.items()}
    named: dict[str, str] = {}
    for k, value in enumerate(options or []):
        value = str(value).lower()
        name = next((n for n, values in product.options.items() if value in values), f"option {k + 1}")
        named[name] = value
    return named


