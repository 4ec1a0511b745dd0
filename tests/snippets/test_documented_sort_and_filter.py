"""Behaviour of snippets/documented_sort_and_filter.py: the allow-list is the contract."""

import asyncio
import itertools
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
    "eq": lambda a, b: a == b,
    "gte": lambda a, b: a >= b,
    "lte": lambda a, b: a <= b,
}
PROBLEMS = "https://api.example.com/problems/"


def get(url: str, app=snippet.app) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get(url)

    return asyncio.run(go())


def rows() -> list[dict]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in snippet.ROWS]


def errors_of(r: httpx.Response) -> list[dict]:
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["type"], body["title"]) == (PROBLEMS + "invalid-request", "Invalid request")
    assert body["retryable"] is False
    return body["errors"]


def plan(params: list[tuple[str, str]]) -> list[str]:
    sql, args = snippet.build_sql(params)
    return [row[3] for row in snippet.db.execute("EXPLAIN QUERY PLAN " + sql, args)]


def test_allow_list_is_what_the_page_documents():
    assert SORTABLE == ["price", "rating", "created_at"]
    assert FILTERABLE == ["price", "rating", "created_at", "brand"]
    page = Path(__file__).parents[2] / "data/patterns/documented-sort-and-filter.yml"
    assert "{{ snippet.SEARCH_FIELDS }}" in page.read_text()
    assert "{{ snippet.INDEXES }}" in page.read_text()


def test_the_allow_list_is_published_by_a_discovery_endpoint():
    r = get("/search/capabilities")
    assert r.status_code == 200
    assert r.json() == {
        "fields": snippet.SEARCH_FIELDS,
        "indexes": snippet.INDEXES,
        "page_size": snippet.PAGE_SIZE,
    }


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
        assert plan([("sort", prefix + field)]) == [
            f"SCAN products USING COVERING INDEX products_{field}"
        ]


def every_request_shape():
    """Every sort (or none) with every set of up to two documented filters."""
    filters = [(f"filter[{f}][{op}]", SAMPLE[f]) for f, op in DOCUMENTED_OPS]
    sorts = [[]] + [[("sort", p + f)] for f in SORTABLE for p in ("", "-")]
    for n in (0, 1, 2):
        for chosen in itertools.combinations(filters, n):
            for sort in sorts:
                yield list(chosen) + sort


def test_no_accepted_filter_and_sort_builds_a_temp_btree_or_scans_for_matches():
    accepted = refused = 0
    for params in every_request_shape():
        try:
            steps = plan(params)
        except snippet.BadRequest:
            refused += 1
            continue
        accepted += 1
        assert len(steps) == 1, (params, steps)
        [step] = steps
        assert "TEMP B-TREE" not in step, (params, step)
        filtered = any(key.startswith("filter[") for key, _ in params)
        # Filtered: an index search. Unfiltered: the table or one index walked in order,
        # which LIMIT stops after a page.
        assert step.startswith("SEARCH" if filtered else "SCAN"), (params, step)
        assert "INDEX" in step or step == "SCAN products", (params, step)
    assert accepted > 20 and refused > 20  # both sides of the line are exercised


@pytest.mark.parametrize(
    "query",
    [
        "filter[brand][eq]=acme&sort=price",  # the reviewer's temp B-tree case
        "filter[price][lte]=100&sort=-rating",  # the reviewer's full index scan case
        "filter[price][gte]=10&filter[created_at][gte]=2026-01-01",  # two ranges
        "filter[rating][gte]=4&filter[price][eq]=90",  # no (price, rating) index
    ],
)
def test_a_combination_no_index_serves_is_a_400_listing_the_indexes(query):
    if query == "filter[brand][eq]=acme&sort=price":  # served by (brand, price)
        assert get(f"/search?{query}").json() == {"data": [1, 2]}
        return
    [error] = errors_of(get(f"/search?{query}"))
    assert error == {
        "parameter": "sort",
        "detail": "No index serves this filter and sort.",
        "allowed": snippet.INDEXES,
    }


def test_a_range_filter_without_sort_is_ordered_by_its_field():
    assert get("/search?filter[price][lte]=100").json() == {"data": [3, 5, 1]}
    assert plan([("filter[price][lte]", "100")]) == [
        "SEARCH products USING COVERING INDEX products_price (price<?)"
    ]


@pytest.mark.parametrize("field, op", DOCUMENTED_OPS)
def test_every_documented_filter_operator_works(field, op):
    value = SAMPLE[field]
    r = get(f"/search?filter[{field}][{op}]={value}")
    assert r.status_code == 200
    typed = float(value) if field in ("price", "rating") else value
    matching = [x for x in rows() if PY_OPS[op](x[field], typed)]
    key = field if op != "eq" else "id"  # a range comes back in its field's order
    expected = [x["id"] for x in sorted(matching, key=lambda x: (x[key], x["id"]))]
    assert r.json()["data"] == expected and expected  # non-empty: the filter bites


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("filter[created_at][gte]=20260301", [2, 4, 5]),  # basic format, 2026-03-01
        ("filter[created_at][lte]=20260301", [1, 3]),
        ("filter[created_at][gte]=2026-03-01", [2, 4, 5]),
    ],
)
def test_dates_in_any_accepted_iso_form_compare_as_dates(query, expected):
    assert get(f"/search?{query}").json() == {"data": expected}


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "infinity", "cheap"])
def test_non_finite_or_non_numeric_numbers_are_refused(value):
    [error] = errors_of(get(f"/search?filter[price][gte]={value}"))
    assert error["parameter"] == "filter[price][gte]"
    assert error["detail"] == "Expected a number."


@pytest.mark.parametrize("field", ["description", "brand", "id", "name"])
def test_undocumented_or_unsortable_field_in_sort_is_a_400_listing_allowed(field):
    r = get(f"/search?sort=-{field}")
    assert errors_of(r) == [
        {"parameter": "sort", "detail": f"Cannot sort by '-{field}'.", "allowed": SORTABLE}
    ]
    assert r.json()["detail"] == "Unsupported: sort."


@pytest.mark.parametrize("field", ["description", "id", "name"])
def test_undocumented_field_in_filter_is_a_400_listing_allowed(field):
    [error] = errors_of(get(f"/search?filter[{field}][eq]=x"))
    assert error["parameter"] == f"filter[{field}][eq]"
    assert error["detail"] == f"Unknown parameter 'filter[{field}][eq]'."
    assert error["allowed"] == ["sort", *FILTERABLE]


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
    [error] = errors_of(get(f"/search?filter[{field}][{op}]=1"))
    assert error["detail"] == f"'{field}' has no '{op}' filter."
    fields = {f["field"]: f for f in snippet.SEARCH_FIELDS}
    assert error["allowed"] == fields[field]["filters"].split(", ")


def test_every_bad_parameter_is_listed_at_once():
    r = get("/search?filter[price][gte]=cheap&order_by=price&sort=name&sort=price")
    assert [e["parameter"] for e in errors_of(r)] == [
        "filter[price][gte]",
        "order_by",
        "sort",
    ]
    assert r.json()["detail"] == "Unsupported: filter[price][gte], order_by, sort."
    [error] = errors_of(get("/search?sort=price&sort=-price"))
    assert error["detail"] == "Give at most one sort."


def test_identifier_injection_is_refused_and_harmless():
    errors_of(get("/search?sort=price;DROP TABLE products"))
    errors_of(get("/search?filter[price) OR (1][eq]=1"))
    r = get("/search?filter[brand][eq]=acme' OR '1'='1")  # a value is only ever bound
    assert (r.status_code, r.json()) == (200, {"data": []})
    assert snippet.db.execute("SELECT count(*) FROM products").fetchone() == (5,)


def test_checks_are_derived_from_the_constant_itself(monkeypatch):
    trimmed = [f for f in snippet.SEARCH_FIELDS if f["field"] != "rating"]
    monkeypatch.setattr(snippet, "SEARCH_FIELDS", trimmed)
    [error] = errors_of(get("/search?sort=rating"))
    assert error["allowed"] == ["price", "created_at"]
    [error] = errors_of(get("/search?filter[rating][gte]=4"))
    assert error["parameter"] == "filter[rating][gte]"
    assert get("/search?sort=price").status_code == 200


def test_unknown_path_and_wrong_method_are_problems():
    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/nope"), await c.post("/search")

    missing, wrong = asyncio.run(go())
    assert (missing.status_code, missing.json()["type"]) == (404, PROBLEMS + "not-found")
    assert (wrong.status_code, wrong.json()["type"]) == (405, PROBLEMS + "method-not-allowed")
    assert wrong.headers["allow"] == "GET"
    for r in (missing, wrong):
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["retryable"] is False


def test_fifty_concurrent_searches_get_their_own_answers():
    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            urls = [f"/search?sort={'-' if i % 2 else ''}price" for i in range(50)]
            return await asyncio.gather(*(c.get(u) for u in urls))

    results = asyncio.run(go())
    for i, r in enumerate(results):
        assert r.json()["data"] == ([4, 2, 1, 5, 3] if i % 2 else [3, 5, 1, 2, 4])
