"""Bundled SQL tasks on a database lumos generates itself (`synthetic:sql_train`, the default of
`lumos/SQL-v0`), so the SQL env works anywhere without the Spider files.

The database (`lumos_shop`: customers, products, orders) lives in `lumos_envs/sql/shop.py`,
written as a MySQL dump from a fixed seed, so both back-ends load it exactly as they load Spider.
Tasks follow reasoning-gym: item `i` of a family comes from `Random(f"{family}/{seed}/{i}/{attempt}")`
(`base.item_rng`: two seeds never share an item; `part=train|validation|test` keeps a
masked-question-disjoint part);
each fills a question template with values from the generated rows and carries its gold query
(the gold answer is that query's result, computed by the back-end) and a gold plan in the same
SHOW TABLES -> DESCRIBE -> query shape as Spider tasks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Literal

from lumos_envs.domains import Domain
from lumos_envs.sql.shop import CITIES, DB_NAME, PRODUCTS, ShopData, shop_data
from lumos_envs.tasks.base import GeneratedTaskSource, Task
from lumos_envs.tasks.sql_tasks import sql_gold_plan

Template = Callable[[random.Random, ShopData], tuple[str, str]]
"""returns (question, gold SQL)"""


def _price_of(rng: random.Random, d: ShopData) -> tuple[str, str]:
    product = rng.choice(d.products)
    return f"What is the price of the {product[1]}?", f"SELECT price FROM products WHERE name = '{product[1]}'"


def _customers_in(rng: random.Random, d: ShopData) -> tuple[str, str]:
    city = rng.choice(CITIES)
    return f"List the names of the customers who live in {city}.", f"SELECT name FROM customers WHERE city = \"{city}\""


def _older_than(rng: random.Random, d: ShopData) -> tuple[str, str]:
    age = rng.randint(20, 70)
    return f"How many customers are older than {age}?", f"SELECT count(*) FROM customers WHERE age > {age}"


def _average_price(rng: random.Random, d: ShopData) -> tuple[str, str]:
    category = rng.choice(sorted(PRODUCTS))
    return (f"What is the average price of the products in the {category} category?",
            f"SELECT avg(price) FROM products WHERE category = '{category}'")


def _top_expensive(rng: random.Random, d: ShopData) -> tuple[str, str]:
    n = rng.randint(2, 5)
    return (f"What are the names of the {n} most expensive products, from the most expensive down?",
            f"SELECT name FROM products ORDER BY price DESC, name LIMIT {n}")


def _count_per_city(rng: random.Random, d: ShopData) -> tuple[str, str]:
    return ("How many customers live in each city? Give each city with its count.",
            "SELECT city, count(*) FROM customers GROUP BY city")


def _orders_of(rng: random.Random, d: ShopData) -> tuple[str, str]:
    customer = rng.choice(d.customers)
    return (f"How many orders did {customer[1]} place?",
            f"SELECT count(*) FROM orders AS T1 JOIN customers AS T2 ON T1.customer_id = T2.id WHERE T2.name = '{customer[1]}'")


def _quantity_of(rng: random.Random, d: ShopData) -> tuple[str, str]:
    product = rng.choice(d.products)
    return (f"What is the total quantity of {product[1]} ordered?",
            f"SELECT sum(T1.quantity) FROM orders AS T1 JOIN products AS T2 ON T1.product_id = T2.id WHERE T2.name = '{product[1]}'")


def _city_buyers(rng: random.Random, d: ShopData) -> tuple[str, str]:
    category = rng.choice(sorted(PRODUCTS))
    return (f"Which cities have customers who ordered a product in the {category} category?",
            "SELECT DISTINCT T3.city FROM orders AS T1 JOIN products AS T2 ON T1.product_id = T2.id "
            f"JOIN customers AS T3 ON T1.customer_id = T3.id WHERE T2.category = '{category}'")


@dataclass(frozen=True)
class SqlFamilyInfo:
    name: str
    split: Literal["train", "heldout"]
    description: str
    templates: tuple[Template, ...]


FAMILIES: dict[str, SqlFamilyInfo] = {
    f.name: f
    for f in (
        SqlFamilyInfo("sql_lookup", "train", "one-table lookups, filters and counts on lumos_shop",
                      (_price_of, _customers_in, _older_than)),
        SqlFamilyInfo("sql_aggregate", "train", "aggregates, grouping and ordered top-k on lumos_shop",
                      (_average_price, _top_expensive, _count_per_city)),
        SqlFamilyInfo("sql_join", "heldout", "two- and three-table joins on lumos_shop",
                      (_orders_of, _quantity_of, _city_buyers)),
    )
}


class SyntheticSqlSource(GeneratedTaskSource):
    """Tasks of one family; item `i` from `base.item_rng(family, seed, i, attempt)`."""

    def __init__(self, family: str, size: int = 200, seed: int = 0, part: str = "all") -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown SQL family {family!r}; known: {', '.join(FAMILIES)}")
        super().__init__(family, size, seed, f"{family}-", part)
        self.info = FAMILIES[family]

    def _draw(self, rng: random.Random, index: int) -> Task:
        template = rng.choice(self.info.templates)
        question, gold = template(rng, shop_data())
        return Task(
            id=f"{self.id_prefix}{index}",
            domain=Domain.SQL,
            source=self.name,
            split=self.info.split,
            question=question,
            answer=gold,
            plan=sql_gold_plan(gold, ("customers", "products", "orders")),
            metadata={"db": DB_NAME, "dump": f"synthetic:{DB_NAME}", "gold_sql": gold, "template": template.__name__.strip("_")},
        )


def load_family(name: str, size: int = 200, seed: int = 0, part: str = "all") -> SyntheticSqlSource:
    """What `synthetic:NAME?size=&seed=&part=` builds for an SQL family."""
    return SyntheticSqlSource(name, size=size, seed=seed, part=part)
