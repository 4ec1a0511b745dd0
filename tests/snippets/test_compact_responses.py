"""Behaviour of snippets/compact_responses.py: sparse fieldsets, bytes saved, 400 problems."""

import asyncio
import gzip
import json

import compact_responses as snippet
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def get(url: str, **headers) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get(url, headers=headers)

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
    canonical = get("/articles?fields=title,author")
    again = get("/articles?fields=author,%20title,title,")
    assert again.content == canonical.content
    assert again.headers["etag"] == canonical.headers["etag"]  # one representation, one tag


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
        "type": "https://api.example.com/problems/invalid-request",
        "title": "Invalid request",
        "status": 400,
        "detail": "The fields parameter is not valid.",
        "retryable": False,
        "errors": [
            {"parameter": "fields", "value": "email", "detail": "Not a field of articles."},
            {"parameter": "fields", "value": "passwd", "detail": "Not a field of articles."},
        ],
    }


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
@settings(max_examples=40, deadline=None)
def test_any_name_outside_the_allow_list_is_rejected(name):
    response = get(f"/articles?fields=title,{name}")
    if name in snippet.FIELDS:
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert [e["value"] for e in response.json()["errors"]] == [name]


def test_the_wire_carries_gzip_with_vary_when_the_client_accepts_it():
    response = get("/articles?fields=title,author", **{"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.num_bytes_downloaded == 223  # the middleware's level-9 gzip
    assert len(response.content) == 1550
    plain = get("/articles?fields=title,author", **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.num_bytes_downloaded == 1550 and plain.content == response.content


def test_bodies_under_the_minimum_size_are_not_compressed():
    small = get("/articles?fields=", **{"Accept-Encoding": "gzip"})
    assert len(small.content) == small.num_bytes_downloaded == 320  # under minimum_size=500
    assert "content-encoding" not in small.headers


def test_problems_that_reflect_input_are_never_compressed():
    names = ",".join(f"x{n}" for n in range(60))[: snippet.MAX_FIELDS_LENGTH]
    response = get(f"/articles?fields={names}", **{"Accept-Encoding": "gzip"})
    assert response.status_code == 400
    assert len(response.content) > 500  # big enough that gzip would have applied
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize(
    "query",
    [
        "fields=title&fields=body",  # repeated: which one would the server pick?
        "fields=" + "title," * 40,  # longer than MAX_FIELDS_LENGTH
    ],
)
def test_repeated_or_oversized_fields_are_400(query):
    response = get("/articles?" + query)
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "fields"


def test_odd_names_are_not_echoed_back():
    response = get("/articles?fields=%3Cscript%3E,title")
    assert response.status_code == 400
    assert response.json()["errors"][0]["value"] == "(not a field name)"
    assert "<script>" not in response.text


def test_each_fields_value_has_its_own_etag_and_revalidates_to_304():
    full, trimmed = get("/articles"), get("/articles?fields=title,author")
    assert full.headers["etag"] != trimmed.headers["etag"]
    assert trimmed.headers["etag"].startswith('W/"')
    same = get("/articles?fields=author,title", **{"If-None-Match": trimmed.headers["etag"]})
    assert (same.status_code, same.content) == (304, b"")
    other = get("/articles", **{"If-None-Match": trimmed.headers["etag"]})
    assert other.status_code == 200 and other.content == full.content
    assert get("/articles?fields=title,author", **{"If-None-Match": "*"}).status_code == 304


def test_a_304_repeats_the_etag_cache_control_and_vary_of_the_200():
    ok = get("/articles?fields=title,author", **{"Accept-Encoding": "gzip"})
    assert ok.headers["vary"] == "Accept-Encoding"
    assert ok.headers["etag"] == 'W/"a1572a284f2c97633fee"'  # the page's wire example
    same = get(
        "/articles?fields=title,author",
        **{"Accept-Encoding": "gzip", "If-None-Match": ok.headers["etag"]},
    )
    assert same.status_code == 304
    for name in ("etag", "cache-control", "vary"):  # RFC 9110 §15.4.5
        assert same.headers[name] == ok.headers[name]


@pytest.mark.parametrize(
    "if_none_match",
    ['"nope", {tag}', '{tag}, W/"other"', "{bare}", "*", "  {tag} "],
)
def test_if_none_match_is_a_list_compared_weakly_and_star_matches(if_none_match):
    tag = get("/articles?fields=title").headers["etag"]
    value = if_none_match.format(tag=tag, bare=tag.removeprefix("W/"))
    assert get("/articles?fields=title", **{"If-None-Match": value}).status_code == 304
    assert get("/articles?fields=title", **{"If-None-Match": '"nope"'}).status_code == 200


@pytest.mark.parametrize("coding", ["br", "zstd", "br, zstd", "zstd;q=1, br;q=0.9"])
def test_a_client_asking_only_for_br_or_zstd_gets_identity(coding):
    # RFC 9110 §12.5.3: identity is acceptable unless excluded, so the plain body is right
    response = get("/articles?fields=title,author", **{"Accept-Encoding": coding})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.num_bytes_downloaded == len(response.content) == 1550


def test_the_etag_is_the_same_whatever_the_content_coding():
    zipped = get("/articles", **{"Accept-Encoding": "gzip"})
    plain = get("/articles", **{"Accept-Encoding": "identity"})
    assert zipped.headers["etag"] == plain.headers["etag"]  # weak, so this is allowed
    assert get("/articles", **{"If-None-Match": zipped.headers["etag"]}).status_code == 304


def test_unknown_path_and_wrong_method_are_problems():
    assert get("/nope").json()["type"].endswith("/not-found")

    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.post("/articles")

    response = asyncio.run(go())
    assert response.status_code == 405
    assert response.json()["retryable"] is False


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
