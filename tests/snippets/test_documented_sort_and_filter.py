"""Behaviour of snippets/documented_sort_and_filter.py: the allow-list is the contract."""

import asyncio
from pathlib import Path

import documented_sort_and_filter as snippet
import httpx
import pytest

SORTABLE = [f["field"] for f in snippet.SEARCH_FIELDS if f["sortable"]]
FILTERABLE = [f["field"] for f in snippet.SEARCH_FIELDS if f["filters"]]
DOCUMENTED_OPS = [
    (f["field"], op) for f in snippet.SEARCH_FIELDS for op in f["filters"].split(", ")
]
COLUMNS = ["id", "brand", "price", "rating", "created_at", "description"]
SAMPLE = {"price": "90", "rating": "4.1", "created_at": "2026-03-02", "brand": "acme"}
PY_OPS = {
    "eq": lambda a, b: a == b[0],
    "gte": lambda a, b: a >= b[0],
    "lte": lambda a, b: a <= b[0],
    "in": lambda a, b: a in b,
}


def get(url: str, app=snippet.app) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get(url)

    return asyncio.run(go())


def rows() -> list[dict]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in snippet.ROWS]


def test_allow_list_is_what_the_page_documents():
    assert SORTABLE == ["price", "rating", "created_at"]
    assert FILTERABLE == ["price", "rating", "created_at", "brand"]
    page = Path(__file__).parents[2] / "data/patterns/documented-sort-and-filter.yml"
    assert "{{ snippet.SEARCH_FIELDS }}" in page.read_text()


@pytest.mark.parametrize("field", SORTABLE)
@pytest.mark.parametrize("descending", [False, True])
def test_every_documented_sort_works_in_both_directions(field, descending):
    r = get(f"/search?sort={'-' if descending else ''}{field}")
    assert r.status_code == 200
    expected = sorted(rows(), key=lambda x: (x[field], x["id"]), reverse=descending)
    assert r.json()["data"] == [x["id"] for x in expected]


@pytest.mark.parametrize("field", SORTABLE)
def test_every_documented_sort_walks_an_index_instead_of_sorting(field):
    for prefix in ("", "-"):
        sql, _ = snippet.build_sql([("sort", prefix + field)])
        plan = [row[3] for row in snippet.db.execute("EXPLAIN QUERY PLAN " + sql)]
        assert plan == [f"SCAN products USING COVERING INDEX products_{field}"]


@pytest.mark.parametrize("field, op", DOCUMENTED_OPS)
def test_every_documented_filter_operator_works(field, op):
    value = "acme,zenith" if op == "in" else SAMPLE[field]
    r = get(f"/search?filter[{field}][{op}]={value}")
    assert r.status_code == 200
    typed = value.split(",")
    if field in ("price", "rating"):
        typed = [float(v) for v in typed]
    expected = [x["id"] for x in rows() if PY_OPS[op](x[field], typed)]
    assert r.json()["data"] == expected and expected  # non-empty: the filter bites


@pytest.mark.parametrize("field", ["description", "brand", "id", "name"])
def test_undocumented_or_unsortable_field_in_sort_is_a_400_listing_allowed(field):
    r = get(f"/search?sort=-{field}")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "https://api.example.com/problems/unsupported-field",
        "title": "Unsupported sort or filter",
        "status": 400,
        "detail": f"Cannot sort by '{field}'.",
        "parameter": "sort",
        "field": field,
        "allowed": SORTABLE,
    }


@pytest.mark.parametrize("field", ["description", "id", "name"])
def test_undocumented_field_in_filter_is_a_400_listing_allowed(field):
    r = get(f"/search?filter[{field}][eq]=x")
    assert r.status_code == 400
    problem = r.json()
    assert (problem["parameter"], problem["field"]) == (f"filter[{field}][eq]", field)
    assert problem["detail"] == f"Cannot filter on '{field}'."
    assert problem["allowed"] == FILTERABLE


@pytest.mark.parametrize(
    "field, op",
    [
        (f["field"], op)
        for f in snippet.SEARCH_FIELDS
        for op in ["eq", "gte", "lte", "in", "like"]
        if op not in f["filters"].split(", ")
    ],
)
def test_undocumented_operator_is_a_400_listing_the_fields_operators(field, op):
    r = get(f"/search?filter[{field}][{op}]=1")
    assert r.status_code == 400
    problem = r.json()
    assert problem["detail"] == f"'{field}' has no '{op}' filter."
    assert problem["allowed"] == snippet.fields()[field]["filters"].split(", ")


def test_bad_values_and_unknown_parameters_are_400s():
    assert get("/search?filter[price][gte]=cheap").json()["detail"] == "Expected a number."
    r = get("/search?filter[created_at][gte]=yesterday")
    assert (r.status_code, r.json()["detail"]) == (400, "Expected a date.")
    r = get("/search?order_by=price")
    assert (r.status_code, r.json()["parameter"]) == (400, "order_by")


def test_identifier_injection_is_refused_and_harmless():
    r = get("/search?sort=price;DROP TABLE products")
    assert r.status_code == 400
    r = get("/search?filter[price) OR (1][eq]=1")
    assert r.status_code == 400
    assert snippet.db.execute("SELECT count(*) FROM products").fetchone() == (5,)


def test_checks_are_derived_from_the_constant_itself(monkeypatch):
    trimmed = [f for f in snippet.SEARCH_FIELDS if f["field"] != "rating"]
    monkeypatch.setattr(snippet, "SEARCH_FIELDS", trimmed)
    r = get("/search?sort=rating")
    assert r.status_code == 400
    assert r.json()["allowed"] == ["price", "created_at"]
    assert get("/search?filter[rating][gte]=4").json()["field"] == "rating"
    assert get("/search?sort=price").status_code == 200


def test_fifty_concurrent_searches_get_their_own_answers():
    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            urls = [f"/search?sort={'-' if i % 2 else ''}price" for i in range(50)]
            return await asyncio.gather(*(c.get(u) for u in urls))

    results = asyncio.run(go())
    for i, r in enumerate(results):
        assert r.json()["data"] == ([4, 2, 1, 5, 3] if i % 2 else [3, 5, 1, 2, 4])
