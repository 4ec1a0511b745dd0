"""Behaviour of snippets/compact_responses.py: sparse fieldsets, bytes saved, 400 problems."""

import asyncio
import gzip
import json

import compact_responses as snippet
import httpx
from hypothesis import given, settings
from hypothesis import strategies as st


def get(url: str) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get(url)

    return asyncio.run(go())


def test_without_fields_every_field_is_returned_in_schema_order():
    items = get("/articles").json()["data"]
    assert len(items) == 20
    assert all(list(item) == snippet.FIELDS for item in items)
    assert items == snippet.ARTICLES


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(snippet.FIELDS), unique=True))
def test_any_subset_returns_exactly_id_plus_that_subset(subset):
    response = get("/articles?fields=" + ",".join(subset))
    assert response.status_code == 200
    expected_keys = [f for f in snippet.FIELDS if f in subset or f == "id"]
    items = response.json()["data"]
    assert [list(item) for item in items] == [expected_keys] * 20
    assert items == [{k: a[k] for k in expected_keys} for a in snippet.ARTICLES]


def test_whitespace_duplicates_and_order_do_not_matter():
    canonical = get("/articles?fields=title,author").content
    assert get("/articles?fields=author,%20title,title,").content == canonical


def test_empty_fields_returns_ids_only():
    assert get("/articles?fields=").json()["data"][:2] == [{"id": "art_0"}, {"id": "art_1"}]


def test_bytes_saved_are_exact_and_deterministic():
    full = get("/articles").content
    trimmed = get("/articles?fields=title,author").content
    assert (len(full), len(trimmed)) == (23768, 1550)
    assert (len(gzip.compress(full, mtime=0)), len(gzip.compress(trimmed, mtime=0))) == (
        4661,
        223,
    )
    assert gzip.compress(full, mtime=0) == gzip.compress(full, mtime=0)
    # the body is the most compact JSON encoding: no whitespace between tokens
    compact = json.dumps(json.loads(trimmed), separators=(",", ":"), ensure_ascii=False)
    assert trimmed == compact.encode()


def test_unknown_field_is_a_400_problem_listing_every_unknown_name():
    response = get("/articles?fields=title,passwd,email")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://api.example.com/problems/unknown-field",
        "status": 400,
        "title": "Unknown field in fields parameter",
        "detail": "Unknown field(s): email, passwd.",
        "invalid_fields": ["email", "passwd"],
    }


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
@settings(max_examples=40, deadline=None)
def test_any_name_outside_the_allow_list_is_rejected(name):
    response = get(f"/articles?fields=title,{name}")
    if name in snippet.FIELDS:
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert response.json()["invalid_fields"] == [name]


def test_fifty_concurrent_trimmed_requests_agree():
    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await asyncio.gather(
                *(client.get(f"/articles?fields={f}") for f in snippet.FIELDS * 6 + ["x", "y"])
            )

    responses = asyncio.run(go())
    assert [r.status_code for r in responses] == [200] * 48 + [400, 400]
    for field, response in zip(snippet.FIELDS * 6, responses, strict=False):
        assert set(response.json()["data"][0]) == {"id", field}
