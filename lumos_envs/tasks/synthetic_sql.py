"""Bundled SQL tasks on a database lumos generates itself (`synthetic:sql_train`, the default of
`lumos/SQL-v0`), so the SQL env works anywhere without the Spider files.

The database (`lumos_shop`: customers, products, orders) is written as a MySQL dump by
`synthetic_dump_text`, from a fixed seed, so both back-ends load it exactly as they load Spider.
Tasks follow reasoning-gym: item `i` of a family comes from `Random(salt(family) + seed + i)`;
each fills a question template with values from the generated rows and carries its gold query
(the gold answer is that query's result, computed by the back-end) and a gold plan in the same
SHOW TABLES -> DESCRIBE -> query shape as Spider tasks.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Literal

from lumos_envs.domains import Domain
from lumos_envs.tasks.base import GeneratedTaskSource, Task
from lumos_envs.tasks.spider import sql_gold_plan

DB_NAME = "lumos_shop"
DATA_SEED = 20240101
"""the generated rows never change with the task seed: every task shares one database"""

_FIRST = ("Ava", "Liam", "Maya", "Noah", "Zoe", "Omar", "Lena", "Ravi", "Sofia", "Mateo", "Hana", "Kofi",
          "Priya", "Jonas", "Elena", "Tariq", "Ines", "Yuki", "Amara", "Diego")
_LAST = ("Smith", "Okafor", "Tanaka", "Garcia", "Novak", "Haddad", "Kim", "Silva", "Brown", "Meyer")
_CITIES = ("Lisbon", "Osaka", "Lagos", "Denver", "Tallinn", "Quito", "Hanoi", "Perth")
_PRODUCTS = {
    "kitchen": ("kettle", "toaster", "blender", "pan", "knife set"),
    "garden": ("rake", "hose", "shovel", "planter", "seed kit"),
    "office": ("stapler", "desk lamp", "notebook", "monitor stand", "chair mat"),
    "toys": ("kite", "puzzle", "yo-yo", "robot kit", "board game"),
}


@dataclass(frozen=True)
class ShopData:
    customers: tuple[tuple[int, str, str, int], ...]
    """(id, name, city, age)"""
    products: tuple[tuple[int, str, str, float], ...]
    """(id, name, category, price)"""
    orders: tuple[tuple[int, int, int, int, str], ...]
    """(id, customer_id, product_id, quantity, order_date)"""


@lru_cache(maxsize=1)
def shop_data() -> ShopData:
    """The generated rows (fixed seed)."""
    rng = random.Random(DATA_SEED)
    names = sorted({f"{f} {l}" for f in _FIRST for l in _LAST})
    customers = tuple((i + 1, name, rng.choice(_CITIES), rng.randint(18, 80)) for i, name in enumerate(rng.sample(names, 40)))
    products = []
    for category, items in _PRODUCTS.items():
        for item in items:
            products.append((len(products) + 1, item, category, round(rng.uniform(2, 200), 2)))
    orders = tuple(
        (i + 1, rng.randint(1, len(customers)), rng.randint(1, len(products)), rng.randint(1, 9),
         f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        for i in range(200)
    )
    return ShopData(customers, tuple(products), orders)


def synthetic_dump_text(name: str) -> str:
    """The MySQL dump of a bundled database (only `lumos_shop`)."""
    if name != DB_NAME:
        raise ValueError(f"unknown synthetic SQL database {name!r}; known: {DB_NAME}")
    data = shop_data()

    def values(rows: tuple[tuple, ...]) -> str:
        return ",".join("(" + ",".join(_mysql_literal(v) for v in row) + ")" for row in rows)

    return f"""CREATE DATABASE IF NOT EXISTS `{DB_NAME}`;
USE `{DB_NAME}`;
CREATE TABLE `customers` (
  `id` int NOT NULL,
  `name` varchar(80) DEFAULT NULL,
  `city` varchar(40) DEFAULT NULL,
  `age` int DEFAULT NULL,
  PRIMARY KEY (`id`)
);
INSERT INTO `customers` VALUES {values(data.customers)};
CREATE TABLE `products` (
  `id` int NOT NULL,
  `name` varchar(80) DEFAULT NULL,
  `category` varchar(40) DEFAULT NULL,
  `price` double DEFAULT NULL,
  PRIMARY KEY (`id`)
);
INSERT INTO `products` VALUES {values(data.products)};
CREATE TABLE `orders` (
  `id` int NOT NULL,
  `customer_id` int NOT NULL,
  `product_id` int NOT NULL,
  `quantity` int DEFAULT NULL,
  `order_date` date DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `orders_customer` (`customer_id`),
  KEY `orders_product` (`product_id`),
  CONSTRAINT `orders_fk_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`),
  CONSTRAINT `orders_fk_product` FOREIGN KEY (`product_id`) REFERENCES `products` (`id`)
);
INSERT INTO `orders` VALUES {values(data.orders)};
"""


def _mysql_literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


# ---------------------------------------------------------------------------------------------
# families

Template = Callable[[random.Random, ShopData], tuple[str, str]]
"""returns (question, gold SQL)"""


def _price_of(rng: random.Random, d: ShopData) -> tuple[str, str]:
    product = rng.choice(d.products)
    return f"What is the price of the {product[1]}?", f"SELECT price FROM products WHERE name = '{product[1]}'"


def _customers_in(rng: random.Random, d: ShopData) -> tuple[str, str]:
    city = rng.choice(_CITIES)
    return f"List the names of the customers who live in {city}.", f"SELECT name FROM customers WHERE city = \"{city}\""


def _older_than(rng: random.Random, d: ShopData) -> tuple[str, str]:
    age = rng.randint(20, 70)
    return f"How many customers are older than {age}?", f"SELECT count(*) FROM customers WHERE age > {age}"


def _average_price(rng: random.Random, d: ShopData) -> tuple[str, str]:
    category = rng.choice(sorted(_PRODUCTS))
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
    category = rng.choice(sorted(_PRODUCTS))
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
    """Tasks of one family; item `i` from `Random(salt(family) + seed + i)`."""

    def __init__(self, family: str, size: int = 200, seed: int = 0) -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown SQL family {family!r}; known: {', '.join(FAMILIES)}")
        super().__init__(f"synthetic:{family}", size, f"{family}-{seed}-")
        self.info = FAMILIES[family]
        self.seed = seed

    def _build(self, index: int) -> Task:
        rng = random.Random(zlib.crc32(self.info.name.encode()) + self.seed + index)
        template = rng.choice(self.info.templates)
        question, gold = template(rng, shop_data())
        return Task(
            id=f"{self.info.name}-{self.seed}-{index}",
            domain=Domain.SQL,
            source=self.name,
            split=self.info.split,
            question=question,
            answer=gold,
            plan=sql_gold_plan(gold, ("customers", "products", "orders")),
            metadata={"db": DB_NAME, "dump": f"synthetic:{DB_NAME}", "gold_sql": gold, "template": template.__name__.strip("_")},
        )


def load_family(name: str, size: int = 200, seed: int = 0) -> SyntheticSqlSource:
    return SyntheticSqlSource(name, size=size, seed=seed)
