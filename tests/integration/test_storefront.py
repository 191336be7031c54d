"""The storefront API end to end: real service processes, the real gateway, over TCP."""

from __future__ import annotations

import json
import urllib.request

from shared.catalog_seed import products

from ..support import Platform


class TestProductPage:
    def test_the_page_is_whole(self, platform: Platform) -> None:
        status, page = platform.get("/api/products/1")
        assert status == 200
        assert page["degraded"] == []
        assert page["product"]["id"] == 1 and page["product"]["name"] == products()[0].name
        assert set(page["inventory"]) == {"available", "in_stock"}
        assert page["price"] == {"amount": products()[0].price, "currency": "USD"}
        assert page["discount"]["scope"] == "product" and page["discount"]["value"] == 30
        price = products()[0].price
        assert page["final_price"] == {"amount": price - price * 30 // 100, "currency": "USD"}
        assert len(page["recommendations"]) >= 4
        names = {p.id: p.name for p in products()}
        assert all(names[r["id"]] == r["name"] for r in page["recommendations"])

    def test_a_sold_out_product_says_so(self, platform: Platform) -> None:
        sold_out = next(p for p in products() if p.stock == 0)
        status, page = platform.get(f"/api/products/{sold_out.id}")
        assert status == 200 and page["inventory"] == {"available": 0, "in_stock": False}

    def test_unknown_product_is_a_json_404(self, platform: Platform) -> None:
        status, body = platform.get("/api/products/999999")
        assert status == 404
        assert body["error"] == {"code": "not_found", "message": "product 999999 does not exist"}

    def test_non_integer_id_is_a_json_400(self, platform: Platform) -> None:
        for bad in ("abc", "0", "-3", "1.5", "99999999999"):
            status, body = platform.get(f"/api/products/{bad}")
            assert status == 400, bad
            assert body["error"]["code"] == "bad_request"
            assert "product_id" in body["error"]["message"]


class TestProductList:
    def test_first_page_has_prices(self, platform: Platform) -> None:
        status, body = platform.get("/api/products")
        assert status == 200 and body["total"] == len(products())
        assert body["page"] == 1 and body["page_size"] == 20 and len(body["items"]) == 20
        first = body["items"][0]
        assert set(first) >= {"id", "name", "category", "price"}
        assert first["price"]["currency"] == "USD" and body["degraded"] == []

    def test_category_search_and_paging(self, platform: Platform) -> None:
        status, body = platform.get("/api/products?category=Garden&page=2&page_size=5")
        assert status == 200 and body["total"] == 52 and len(body["items"]) == 5
        assert {i["category"] for i in body["items"]} == {"Garden"}
        _, found = platform.get("/api/products?q=atlas&page_size=100")
        assert found["total"] > 0 and all("atlas" in i["name"].lower() for i in found["items"])

    def test_a_page_past_the_end_is_empty(self, platform: Platform) -> None:
        status, body = platform.get("/api/products?page=1000")
        assert status == 200 and body["items"] == [] and body["total"] == len(products())

    def test_bad_parameters_are_json_400s(self, platform: Platform) -> None:
        cases = {"page_size=101": "page_size", "page_size=0": "page_size", "page=x": "page",
                 "nonsense=1": "nonsense"}
        for query, field in cases.items():
            status, body = platform.get(f"/api/products?{query}")
            assert status == 400, query
            assert field in body["error"]["message"], body

    def test_categories(self, platform: Platform) -> None:
        status, body = platform.get("/api/categories")
        assert status == 200 and len(body["items"]) >= 8
        assert sum(c["product_count"] for c in body["items"]) == len(products())


class TestOperations:
    def test_health_and_readiness(self, platform: Platform) -> None:
        assert platform.get("/healthz") == (200, {"status": "ok"})
        status, body = platform.get("/readyz")
        assert status == 200 and set(body["services"].values()) == {"ok"}

    def test_unknown_path_and_method_are_json(self, platform: Platform) -> None:
        status, body = platform.get("/nowhere")
        assert status == 404 and body["error"]["code"] == "not_found"
        request = urllib.request.Request(platform.url + "/api/products/1", method="DELETE")
        try:
            urllib.request.urlopen(request, timeout=5)
            raise AssertionError("DELETE was accepted")
        except urllib.error.HTTPError as exc:
            assert exc.code == 405
            assert exc.headers["Allow"] == "GET, HEAD, OPTIONS"  # RFC 9110 asks for it
            assert json.loads(exc.read())["error"]["code"] == "method_not_allowed"

    def test_openapi_is_generated_from_the_schemas(self, platform: Platform) -> None:
        status, spec = platform.get("/openapi.json")
        assert status == 200 and spec["openapi"].startswith("3.")
        page = spec["paths"]["/api/products/{product_id}"]["get"]
        schema_name = page["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page_schema = spec["components"]["schemas"][schema_name.rsplit("/", 1)[-1]]
        assert set(page_schema["required"]) >= {"product", "inventory", "price", "discount",
                                                 "final_price", "recommendations", "degraded"}
        size = next(p for p in spec["paths"]["/api/products"]["get"]["parameters"]
                    if p["name"] == "page_size")
        assert size["schema"]["maximum"] == 100

    def test_every_amount_of_money_in_the_api_has_the_one_money_shape(
            self, platform: Platform) -> None:
        schemas = platform.get("/openapi.json")[1]["components"]["schemas"]
        assert set(schemas["Money"]["properties"]) == {"amount", "currency"}
        # A currency beside a bare integer elsewhere would be a second shape of money.
        assert [name for name, schema in schemas.items()
                if "currency" in schema.get("properties", {})] == ["Money"]
