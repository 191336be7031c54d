"""`make run DB=postgres`: with ZEROSHOP_POSTGRES_URL every service makes its own database on
the server on first start, and finds it again on the next."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ..conftest import POSTGRES_ADMIN_URL
from ..support import Platform


@pytest.fixture
def prefix(postgres_url: str) -> Iterator[str]:
    made = f"zeroshop_run_{uuid.uuid4().hex[:8]}_"
    yield made
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for (name,) in conn.execute(text("SELECT datname FROM pg_database WHERE datname "
                                         "LIKE :p"), {"p": made + "%"}):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def databases(prefix: str) -> set[str]:
    admin = create_engine(POSTGRES_ADMIN_URL)
    with admin.connect() as conn:
        names = {r[0] for r in conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": prefix + "%"})}
    admin.dispose()
    return names


def test_each_service_makes_its_database_once(tmp_path: Path, prefix: str) -> None:
    shop = Platform(tmp_path, ["product", "pricing"], gateway=False,
                    ZEROSHOP_POSTGRES_URL=POSTGRES_ADMIN_URL, ZEROSHOP_POSTGRES_DB_PREFIX=prefix)
    try:
        assert databases(prefix) == {prefix + "product", prefix + "pricing"}
        assert shop.call("product", "get", {"id": 1})["id"] == 1
        price = shop.call("pricing", "get_price", {"product_id": 1})
        shop.stop("pricing", 15)
        shop.start("pricing")  # its database is there now: found, not made again
        assert shop.call("pricing", "get_price", {"product_id": 1}) == price
        assert not list(tmp_path.glob("*.db"))  # nothing went to SQLite
    finally:
        shop.close()
