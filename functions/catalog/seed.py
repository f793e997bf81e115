"""Load the catalog's seed products; safe to run any number of times."""

import json
from pathlib import Path

import psycopg

from functions.catalog import repository
from functions.catalog.bodies import Product

SEED_FILE = Path(__file__).with_name("seed_products.json")


def seed_products() -> list[Product]:
    return [Product.model_validate(p) for p in json.loads(SEED_FILE.read_text())]


def seed(database_url: str) -> int:
    """Insert the seed products that are missing; returns how many were inserted."""
    with psycopg.connect(database_url) as conn, conn.transaction():
        return repository.insert_missing(conn, seed_products())
