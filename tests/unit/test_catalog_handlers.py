"""Handlers of the five page services, called directly with a real session (no sockets)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from services.discount import models as discount_models
from services.discount import service as discount
from services.inventory import models as inventory_models
from services.inventory import service as inventory
from services.pricing import models as pricing_models
from services.pricing import service as pricing
from services.product import models as product_models
from services.product import service as product
from services.recommendation import models as recommendation_models
from services.recommendation import service as recommendation
from shared.catalog_seed import products
from shared.contracts.base import NoParams
from shared.contracts.discount import GetDiscount, GetDiscounts, Promotion, discounted
from shared.contracts.inventory import GetStock, GetStocks
from shared.contracts.pricing import GetPrice, GetPrices
from shared.contracts.product import GetProduct, GetProducts, ListProducts
from shared.contracts.recommendation import Recommend
from shared.errors import NotFound

SessionFor = Callable[[MetaData], Session]


def seeded(session_for: SessionFor, models: object, seed: Callable[[Session], None]) -> Session:
    db = session_for(models.Base.metadata)  # type: ignore[attr-defined]
    seed(db)
    db.commit()
    return db


class TestProductCatalog:
    def test_get_returns_the_seeded_product(self, session_for: SessionFor) -> None:
        db = seeded(session_for, product_models, product.seed)
        item = product.get(GetProduct(id=1), db)
        assert (item.id, item.name, item.category) == (1, products()[0].name, "Books")

    def test_get_unknown_id_is_not_found(self, session_for: SessionFor) -> None:
        db = seeded(session_for, product_models, product.seed)
        with pytest.raises(NotFound, match="product 9999 does not exist"):
            product.get(GetProduct(id=9999), db)

    def test_seed_is_idempotent_and_large_enough(self, session_for: SessionFor) -> None:
        db = seeded(session_for, product_models, product.seed)
        product.seed(db)
        db.commit()
        cats = product.categories(NoParams(), db).items
        assert len(cats) >= 8
        assert sum(c.product_count for c in cats) == len(products()) >= 500

    def test_list_filters_by_category_and_name_and_pages(self, session_for: SessionFor) -> None:
        db = seeded(session_for, product_models, product.seed)
        page = product.list(ListProducts(category="Books", page=2, page_size=10), db)
        assert page.total == 52 and len(page.items) == 10 and page.page == 2
        assert {p.category for p in page.items} == {"Books"}
        name = products()[4].name
        found = product.list(ListProducts(q=name.split()[-1].lower()), db)
        assert any(p.name == name for p in found.items)
        assert all(name.split()[-1].lower() in p.name.lower() for p in found.items)

    def test_search_treats_wildcards_literally(self, session_for: SessionFor) -> None:
        db = seeded(session_for, product_models, product.seed)
        assert product.list(ListProducts(q="%"), db).total == 0

    def test_get_many_keeps_order_and_skips_unknown(self, session_for: SessionFor) -> None:
        db = seeded(session_for, product_models, product.seed)
        got = product.get_many(GetProducts(ids=[3, 9999, 1]), db)
        assert [p.id for p in got.items] == [3, 1]


class TestInventory:
    def test_stock_matches_the_seed(self, session_for: SessionFor) -> None:
        db = seeded(session_for, inventory_models, inventory.seed)
        sold_out = next(p for p in products() if p.stock == 0)
        stock = inventory.get_stock(GetStock(product_id=sold_out.id), db)
        assert (stock.available, stock.in_stock) == (0, False)
        many = inventory.get_many(GetStocks(product_ids=[1, 2, 99999]), db)
        assert [s.product_id for s in many.items] == [1, 2]

    def test_unknown_product_is_not_found(self, session_for: SessionFor) -> None:
        db = seeded(session_for, inventory_models, inventory.seed)
        with pytest.raises(NotFound):
            inventory.get_stock(GetStock(product_id=99999), db)


class TestPricing:
    def test_prices_are_integer_minor_units(self, session_for: SessionFor) -> None:
        db = seeded(session_for, pricing_models, pricing.seed)
        price = pricing.get_price(GetPrice(product_id=1), db)
        assert price.amount == products()[0].price and price.currency == "USD"
        many = pricing.get_many(GetPrices(product_ids=[2, 1]), db)
        assert [p.product_id for p in many.items] == [2, 1]
        with pytest.raises(NotFound):
            pricing.get_price(GetPrice(product_id=99999), db)


class TestDiscount:
    def test_product_promotion_beats_category(self, session_for: SessionFor) -> None:
        db = seeded(session_for, discount_models, discount.seed)
        # Product 1 is a book (15% category promotion) with its own 30% deal.
        promo = discount.get_discount(GetDiscount(product_id=1), db).promotion
        assert promo is not None and (promo.scope, promo.value) == ("product", 30)

    def test_category_promotion_applies_to_the_category(self, session_for: SessionFor) -> None:
        db = seeded(session_for, discount_models, discount.seed)
        book = next(p for p in products() if p.category == "Books" and p.id != 1)
        promo = discount.get_discount(GetDiscount(product_id=book.id), db).promotion
        assert promo is not None and promo.category == "Books"

    def test_code_applies_when_given(self, session_for: SessionFor) -> None:
        db = seeded(session_for, discount_models, discount.seed)
        home = next(p for p in products() if p.category == "Home")
        assert discount.get_discount(GetDiscount(product_id=home.id), db).promotion is None
        coded = discount.get_discount(GetDiscount(product_id=home.id, code="WELCOME10"), db)
        assert coded.promotion is not None and coded.promotion.code == "WELCOME10"
        many = discount.get_many(GetDiscounts(product_ids=[home.id, 1]), db)
        assert [d.product_id for d in many.items] == [home.id, 1]

    def test_discounted_price_rounds_in_favour_of_the_customer_and_stops_at_zero(self) -> None:
        big = Promotion(id=9, name="x", kind="amount", value=10_000, scope="product", product_id=1)
        third = Promotion(id=8, name="y", kind="percent", value=33, scope="category", category="A")
        assert discounted(500, big) == 0
        assert discounted(999, third) == 670  # 999 - floor(329.67)
        assert discounted(1000, None) == 1000


class TestRecommendation:
    def test_recommends_named_products_of_the_same_category(self, session_for: SessionFor) -> None:
        db = seeded(session_for, recommendation_models, recommendation.seed)
        recs = recommendation.recommend(Recommend(product_id=1, limit=4), db)
        by_id = {p.id: p for p in products()}
        assert len(recs.items) == 4 and 1 not in [r.id for r in recs.items]
        assert all(by_id[r.id].name == r.name and by_id[r.id].category == "Books"
                   for r in recs.items)

    def test_bought_together_comes_first(self, session_for: SessionFor) -> None:
        db = seeded(session_for, recommendation_models, recommendation.seed)
        db.add(recommendation_models.CoPurchase(product_id=1, other_id=500, count=3))
        db.flush()
        recs = recommendation.recommend(Recommend(product_id=1, limit=4), db)
        assert recs.items[0].id == 500 and len(recs.items) == 4

    def test_unknown_product_is_not_found(self, session_for: SessionFor) -> None:
        db = seeded(session_for, recommendation_models, recommendation.seed)
        with pytest.raises(NotFound):
            recommendation.recommend(Recommend(product_id=99999), db)
