"""Behaviour of snippets/rich_query_parameters.py: query-parameter and JSON-body search."""

import asyncio
import json
import time

import httpx
import jsonpointer
import pytest
import rich_query_parameters as snippet
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

BRANDS = ["acme", "zenith", "nobody"]
PROBLEMS = "https://api.example.com/problems/"
INVALID = PROBLEMS + "invalid-request"


def call(method: str, url: str, **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.request(method, url, **kwargs)

    return asyncio.run(go())


def ids(r: httpx.Response) -> list[int]:
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_query_parameter_filters_combine_with_and():
    assert ids(call("GET", "/search?filter[brand]=zenith")) == [3, 4]
    assert ids(call("GET", "/search?filter[colour]=red&price_min=50")) == [1]
    assert ids(call("GET", "/search?filter[brand]=acme&filter[brand]=zenith")) == [1, 2, 3, 4]
    assert ids(call("GET", "/search?price_min=12&price_max=90")) == [1, 3]


def test_sorts_each_direction_and_relevance_ties_break_on_id():
    assert ids(call("GET", "/search?sort=price")) == [3, 1, 2, 4]
    assert ids(call("GET", "/search?sort=-price")) == [4, 2, 1, 3]
    assert ids(call("GET", "/search?sort=name")) == [2, 4, 1, 3]
    # "trail shoe" scores 2 for id 1, 1 for ids 2, 3 and 4
    assert ids(call("GET", "/search?q=trail+shoe")) == [1, 2, 3, 4]
    assert ids(call("GET", "/search?q=sock")) == [3]


def test_facets_count_only_the_matching_results():
    r = call("GET", "/search?q=trail&facets=brand,colour")
    assert r.json()["facets"] == {
        "brand": {"acme": 1, "zenith": 2},
        "colour": {"red": 2, "black": 1},
    }


def test_post_body_any_of_is_an_or_of_and_groups():
    body = {
        "filter": {
            "price": {"gte": 50},
            "any_of": [{"colour": {"in": ["red"]}}, {"brand": {"in": ["zenith"]}}],
        },
        "sort": "-price",
    }
    assert ids(call("POST", "/search", json=body)) == [4, 1]


def test_post_body_takes_a_filter_too_long_for_a_url():
    many = [f"brand-{i:03}" for i in range(snippet.MAX_TERMS - 1)] + ["zenith"]
    body = {"filter": {"brand": {"in": many}}, "facets": ["brand"]}
    r = call("POST", "/search", json=body)
    # Facets are disjunctive: the brand counts ignore the brand filter itself.
    assert ids(r) == [3, 4] and r.json()["facets"] == {"brand": {"acme": 2, "zenith": 2}}
    too_many = call("POST", "/search", json={"filter": {"brand": {"in": many + ["x"]}}})
    assert too_many.status_code == 400
    assert [e["pointer"] for e in too_many.json()["errors"]] == ["/filter/brand/in"]


@settings(max_examples=40, deadline=None)
@given(
    brands=st.lists(st.sampled_from(BRANDS), max_size=3, unique=True),
    low=st.none() | st.integers(0, 200),
    high=st.none() | st.integers(0, 200),
    sort=st.sampled_from(["price", "-price", "name", "-name"]),
)
def test_get_and_post_agree_with_a_brute_force_reference(brands, low, high, sort):
    query = {"sort": sort, "filter[brand]": ",".join(brands)} if brands else {"sort": sort}
    if low is not None:
        query["price_min"] = low
    if high is not None:
        query["price_max"] = high
    body = {"sort": sort, "filter": {"price": {"gte": low, "lte": high}}}
    if brands:
        body["filter"]["brand"] = {"in": brands}
    expected = [
        p
        for p in snippet.PRODUCTS
        if (not brands or p["brand"] in brands)
        and (low is None or p["price"] >= low)
        and (high is None or p["price"] <= high)
    ]
    key = sort.lstrip("-")
    expected.sort(key=lambda p: p[key], reverse=sort.startswith("-"))
    want = [p["id"] for p in expected]
    assert ids(call("GET", "/search", params=query)) == want
    assert ids(call("POST", "/search", json=body)) == want


@pytest.mark.parametrize(
    "url, parameter",
    [
        ("/search?price_min=cheap", "price_min"),
        ("/search?price_max=-1", "price_max"),
        ("/search?filter[size]=42", "filter[size]"),
        ("/search?sort=popularity", "sort"),
        ("/search?facets=brand,price", "facets"),
        ("/search?q=" + "x" * 201, "q"),
    ],
)
def test_invalid_query_parameter_is_a_400_problem_naming_it(url, parameter):
    r = call("GET", url)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"] == "https://api.example.com/problems/invalid-request"
    assert problem["status"] == 400 and problem["title"] == "Invalid request"
    assert problem["retryable"] is False
    assert [e["parameter"] for e in problem["errors"]] == [parameter]
    assert problem["detail"] == f"Fix these and retry: {parameter}"


@pytest.mark.parametrize(
    "body, pointer",
    [
        ({"filter": {"price": {"gt": 10}}}, "/filter/price/gt"),
        ({"filter": {"price": {"gte": "ten"}}}, "/filter/price/gte"),
        ({"filter": {"weight": {"lte": 3}}}, "/filter/weight"),
        ({"filter": {"any_of": [{"brand": {"in": []}}]}}, "/filter/any_of/0/brand/in"),
        ({"sort": "random"}, "/sort"),
        ({"facets": ["price"]}, "/facets/0"),
        ({"filter": {"a/b~c": 1}}, "/filter/a~1b~0c"),  # RFC 6901 section 3 escapes
        ([1, 2], ""),  # the whole document is not an object
    ],
)
def test_invalid_body_filter_is_a_400_problem_pointing_at_the_field(body, pointer):
    r = call("POST", "/search", json=body)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert not any(e["pointer"].startswith("#") for e in problem["errors"])
    assert (problem["type"], problem["retryable"]) == (INVALID, False)


@pytest.mark.parametrize(
    "content",
    [b'{"filter": ', b"", b"\xff\xfe{}", b'{"q": "\xe9"}', b"[" * 5000 + b"]" * 5000],
)
def test_malformed_or_non_utf8_json_is_a_400_problem_pointing_at_the_document(content):
    headers = {"content-type": "application/json"}
    r = call("POST", "/search", content=content, headers=headers)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == INVALID
    assert [e["pointer"] for e in r.json()["errors"]] == [""]


def nest(depth: int, width: int = 1) -> dict:
    """A filter whose any_of alternatives nest `depth` levels, `width` at each level."""
    node: dict = {"price": {"gte": 0}}
    for _ in range(depth - 1):
        node = {"any_of": [node] * width}
    return node


def test_nesting_deeper_than_the_cap_is_refused_at_the_first_deep_filter():
    ok = call("POST", "/search", json={"filter": nest(snippet.MAX_DEPTH)})
    assert ids(ok) == [1, 2, 3, 4]
    r = call("POST", "/search", json={"filter": nest(snippet.MAX_DEPTH + 1)})
    assert r.status_code == 400 and r.json()["type"] == INVALID
    [error] = r.json()["errors"]
    assert error["pointer"] == "/filter" + "/any_of/0" * snippet.MAX_DEPTH
    assert error["detail"] == "Use at most 50 filters, nested at most 3 deep."


@pytest.mark.parametrize("depth", [950, 1200, 3000])
def test_nesting_past_the_parsers_limit_is_a_problem_not_a_framework_error(depth):
    body = b'{"filter": ' + b'{"any_of": [' * depth + b"{}" + b"]}" * depth + b"}"
    r = call("POST", "/search", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == INVALID and r.json()["retryable"] is False


def test_too_many_filters_are_refused_even_when_shallow():
    wide = {"any_of": [{"any_of": [{"price": {"gte": 1}}] * 10}] * 5}  # 1 + 5 + 50 nodes
    r = call("POST", "/search", json={"filter": wide})
    assert r.status_code == 400
    assert r.json()["errors"][0]["pointer"].startswith("/filter/any_of/")
    fits = {"any_of": [{"any_of": [{"price": {"gte": 1}}] * 8}] * 5}  # 46 nodes
    assert ids(call("POST", "/search", json={"filter": fits})) == [1, 2, 3, 4]


def test_the_reviewers_costly_body_is_refused_quickly():
    # F-RQP-1: 20 alternatives, 4 levels deep took 2.8 s before any cap on depth or nodes.
    body = json.dumps({"filter": nest(4, width=20)}).encode()
    started = time.monotonic()
    r = call("POST", "/search", content=body, headers={"content-type": "application/json"})
    elapsed = time.monotonic() - started
    assert r.status_code in (400, 413)
    assert r.headers["content-type"] == "application/problem+json"
    assert elapsed < 1.0


def test_a_body_over_the_size_cap_is_413_even_without_content_length():
    big = json.dumps({"q": "", "filter": {"brand": {"in": ["x" * 200] * 400}}}).encode()
    assert len(big) > snippet.MAX_BODY_BYTES

    async def chunks():
        for i in range(0, len(big), 4096):
            yield big[i : i + 4096]

    headers = {"content-type": "application/json"}
    for content in (big, chunks()):  # declared length, then chunked with none
        r = call("POST", "/search", content=content, headers=headers)
        assert r.status_code == 413
        assert r.json() == {
            "type": "https://api.example.com/problems/content-too-large",
            "title": "Content too large",
            "status": 413,
            "detail": f"Send at most {snippet.MAX_BODY_BYTES} bytes.",
            "retryable": False,
        }


def test_facets_are_disjunctive_a_facet_ignores_its_own_filter():
    r = call("GET", "/search?filter[brand]=acme&facets=brand,colour")
    assert ids(r) == [1, 2]
    # brand counts ignore the brand filter, so the other brands stay selectable;
    # colour counts still apply it.
    assert r.json()["facets"] == {
        "brand": {"acme": 2, "zenith": 2},
        "colour": {"red": 1, "blue": 1},
    }
    body = {"filter": {"colour": {"in": ["red"]}}, "facets": ["colour", "brand"]}
    r = call("POST", "/search", json=body)
    assert ids(r) == [1, 3]
    assert r.json()["facets"] == {
        "colour": {"red": 2, "blue": 1, "black": 1},
        "brand": {"acme": 1, "zenith": 1},
    }


def test_unknown_path_and_wrong_method_are_problems():
    missing, wrong = call("GET", "/nope"), call("DELETE", "/search")
    assert (missing.status_code, missing.json()["type"]) == (404, PROBLEMS + "not-found")
    assert (wrong.status_code, wrong.json()["type"]) == (405, PROBLEMS + "method-not-allowed")
    assert wrong.headers["allow"] == "GET, POST"
    for r in (missing, wrong):
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["retryable"] is False


def test_all_errors_are_reported_at_once():
    r = call("GET", "/search?price_min=a&price_max=b&sort=c")
    assert r.status_code == 400
    assert [e["parameter"] for e in r.json()["errors"]] == ["price_min", "price_max", "sort"]


@pytest.mark.parametrize(
    "body",
    [
        {"filter": {"price": {"gt": 10}}},
        {"filter": {"any_of": [{"brand": {"in": []}}, {"colour": {"in": [7]}}]}},
        {"filter": {"a/b~c": 1, "price": {"gte": "ten"}}, "sort": "random"},
        {"facets": ["brand", "price"], "q": 5},
        {"filter": nest(snippet.MAX_DEPTH + 2)},
    ],
)
def test_every_pointer_resolves_in_the_body_with_an_independent_rfc_6901_library(body):
    r = call("POST", "/search", json=body)
    assert r.status_code == 400
    for error in r.json()["errors"]:
        # python-json-pointer, not the snippet's code, walks the pointer into the body.
        jsonpointer.resolve_pointer(body, error["pointer"])
        assert jsonpointer.JsonPointer(error["pointer"]).path == error["pointer"]


def test_an_oversized_chunked_body_is_refused_by_a_real_server():
    async def go():
        config = uvicorn.Config(snippet.app, host="127.0.0.1", port=0, log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]

        async def chunks():  # no Content-Length: Transfer-Encoding: chunked
            yield b'{"q": "'
            for _ in range(64):
                yield b"x" * 4096
            yield b'"}'

        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
                headers = {"content-type": "application/json"}
                r = await c.post("/search", content=chunks(), headers=headers)
        finally:
            server.should_exit = True
            await task
        return r

    r = asyncio.run(go())
    assert r.status_code == 413
    assert r.json()["type"] == PROBLEMS + "content-too-large"
    assert r.request.headers.get("transfer-encoding") == "chunked"
