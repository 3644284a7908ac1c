"""The bundled SQL database `lumos_shop` (customers, products, orders), written as a MySQL dump.

It sits under `sql/` because the dump layer (`catalog.DumpSource("synthetic:lumos_shop")`) loads
it exactly as it loads a Spider dump; the bundled task families (`tasks/synthetic_sql.py`) ask
their questions about these rows. The rows come from a fixed seed and never change.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

DB_NAME = "lumos_shop"
DATA_SEED = 20240101
"""the generated rows never change with the task seed: every task shares one database"""

FIRST_NAMES = ("Ava", "Liam", "Maya", "Noah", "Zoe", "Omar", "Lena", "Ravi", "Sofia", "Mateo", "Hana", "Kofi",
               "Priya", "Jonas", "Elena", "Tariq", "Ines", "Yuki", "Amara", "Diego")
LAST_NAMES = ("Smith", "Okafor", "Tanaka", "Garcia", "Novak", "Haddad", "Kim", "Silva", "Brown", "Meyer")
CITIES = ("Lisbon", "Osaka", "Lagos", "Denver", "Tallinn", "Quito", "Hanoi", "Perth")
PRODUCTS = {
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
    names = sorted({f"{f} {l}" for f in FIRST_NAMES for l in LAST_NAMES})
    customers = tuple((i + 1, name, rng.choice(CITIES), rng.randint(18, 80)) for i, name in enumerate(rng.sample(names, 40)))
    products = []
    for category, items in PRODUCTS.items():
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
