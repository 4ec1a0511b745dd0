"""Behaviour of the cursor-pagination reference implementation."""

import asyncio
import base64
import hashlib
import hmac

import cursor_pagination as snippet
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROBLEM = {
    "type": "https://api.example.com/problems/invalid-request",
    "title": "Invalid request",
    "status": 400,
    "detail": "Use the cursor exactly as returned, with the same query.",
    "retryable": False,
    "parameter": "cursor",
}


def make_store(rows):
    store = snippet.Store()
    store.db.executemany("INSERT INTO items VALUES (?, ?, ?)", rows)
    return store


def call(app, path, params):
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await c.get(path, params=params)

    return asyncio.run(go())


def walk(store, path, params, between_pages=lambda page_number: None):
    """Follow `next` to the end, calling between_pages after every page."""
    app, seen, cursor, n = snippet.create_app(store), [], None, 0
    while True:
        response = call(app, path, params | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["data"]]
        if body["next"] is None:
            assert "link" not in response.headers
            return seen
        between_pages(n)
        n += 1
        cursor = body["next"]


# ---- the property: no repeats, no skips of rows that exist throughout ----------

row_keys = st.integers(min_value=0, max_value=5)  # few values: many ties on created
mutation = st.tuples(
    st.lists(row_keys, max_size=4),  # rows inserted before the next page
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=3),  # deletions
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    initial=st.lists(row_keys, max_size=30),
    page_size=st.integers(min_value=1, max_value=6),
    mutations=st.lists(mutation, max_size=12),
)
def test_paging_under_inserts_and_deletes_never_repeats_or_skips(initial, page_size, mutations):
    store = make_store([(i, c, f"item {i}") for i, c in enumerate(initial)])
    next_id = [len(initial)]
    deleted = set()

    def mutate(page_number):
        if page_number >= len(mutations):
            return
        inserts, deletes = mutations[page_number]
        for created in inserts:
            store.db.execute("INSERT INTO items VALUES (?, ?, ?)", (next_id[0], created, "new"))
            next_id[0] += 1
        live = [r[0] for r in store.db.execute("SELECT id FROM items ORDER BY id")]
        for pick in deletes:
            if live:
                victim = live.pop(pick % len(live))
                store.db.execute("DELETE FROM items WHERE id = ?", (victim,))
                deleted.add(victim)

    seen = walk(store, "/items", {"limit": page_size}, mutate)
    assert len(seen) == len(set(seen)), "a row was returned twice"
    throughout = set(range(len(initial))) - deleted
    assert throughout <= set(seen), "a row that existed throughout was skipped"


@settings(max_examples=40, deadline=None)
@given(
    initial=st.lists(st.sampled_from(["red", "red red", "red blue", "blue"]), max_size=20),
    page_size=st.integers(min_value=1, max_value=4),
    inserted=st.lists(st.sampled_from(["red", "red red x", "red"]), max_size=8),
)
def test_search_paging_is_stable_while_higher_scoring_rows_arrive(initial, page_size, inserted):
    store = make_store([(i, 0, title) for i, title in enumerate(initial)])
    queue = list(inserted)

    def insert(page_number):
        if queue:
            store.db.execute("INSERT INTO items (created, title) VALUES (0, ?)", (queue.pop(),))

    seen = walk(store, "/search", {"q": "red", "limit": page_size}, insert)
    assert len(seen) == len(set(seen))
    matching = {i for i, title in enumerate(initial) if "red" in title.split()}
    assert matching <= set(seen)


def offset_walk(store, page_size, between_pages):
    seen, offset, n = [], 0, 0
    while rows := store.offset(offset, page_size):
        seen += [r[1] for r in rows]
        offset += page_size
        between_pages(n)
        n += 1
    return seen


def test_the_same_scenario_breaks_offset_pagination():
    """Control: the property above is not trivially true. Offset skips and repeats."""
    store = make_store([(i, i, "x") for i in range(10)])
    skipped = offset_walk(store, 3, lambda n: store.db.execute("DELETE FROM items WHERE id = 0"))
    assert skipped == [0, 1, 2, 4, 5, 6, 7, 8, 9]  # row 3 existed throughout, never seen
    store = make_store([(i, i + 10, "x") for i in range(10)])
    ins = iter(range(100, 110))
    repeated = offset_walk(
        store,
        3,
        lambda n: store.db.execute("INSERT INTO items VALUES (?, 0, 'x')", (next(ins),)),
    )
    assert repeated.count(2) == 2  # row 2 shown on two pages
    keyset = walk(
        make_store([(i, i, "x") for i in range(10)]),
        "/items",
        {"limit": 3},
        lambda n: None,
    )
    assert keyset == list(range(10))


# ---- tamper evidence ------------------------------------------------------------


def signed(payload: bytes, secret=snippet.CURSOR_SECRET) -> str:
    tag = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + tag).rstrip(b"=").decode()


@pytest.fixture
def app():
    return snippet.create_app(make_store([(i, i // 2, f"red {i}") for i in range(50)]))


def first_cursor(app, path="/items", params=None):
    return call(app, path, {"limit": 5} | (params or {})).json()["next"]


def test_cursor_is_base64url_without_padding_and_round_trips(app):
    cursor = first_cursor(app)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert cursor == signed(b'["/items?",2,4]')
    assert snippet.decode_cursor("/items?", cursor) == [2, 4]


def tampered_variants(cursor):
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    payload, tag = raw[:-16], raw[-16:]
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    edited = payload.replace(b",4]", b",40]")
    return {
        "edited position, old tag": b64(edited + tag),
        "edited position, no tag": b64(edited),
        "tag bit flipped": b64(payload + bytes([tag[0] ^ 1]) + tag[1:]),
        "truncated": cursor[:-4],
        "signed with another key": signed(edited, secret=b"attacker"),
        "not base64": "%%%not-a-cursor%%%",
        "non-ascii": "curs\u00f6r",
        "empty tag only": b64(bytes(16)),
        "bad padding": "A",
    }


@pytest.mark.parametrize(
    "variant",
    list(tampered_variants(signed(b'["/items?",2,4]'))),
)
def test_tampered_cursor_is_a_400_problem(app, variant):
    forged = tampered_variants(first_cursor(app))[variant]
    r = call(app, "/items", {"cursor": forged})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == PROBLEM


def test_a_cursor_from_another_endpoint_or_query_is_rejected(app):
    search_cursor = first_cursor(app, "/search", {"q": "red"})
    assert call(app, "/items", {"cursor": search_cursor}).status_code == 400
    r = call(app, "/search", {"q": "blue", "cursor": search_cursor})
    assert r.status_code == 400 and r.json() == PROBLEM
    assert call(app, "/search", {"q": "red", "cursor": search_cursor}).status_code == 200


def test_search_cursor_carries_score_and_id_of_the_last_row(app):
    r = call(app, "/search", {"q": "red", "limit": 3})
    score, last_id = snippet.decode_cursor("/search?q=red#g1", r.json()["next"])
    assert (score, last_id) == (0.5, 2)
    assert score == snippet.relevance("red 2", "red")
    assert [item["id"] for item in r.json()["data"]] == [0, 1, 2]


# ---- the wire --------------------------------------------------------------------


def test_link_header_points_at_the_next_page_and_the_last_page_has_none(app):
    r = call(app, "/items", {"limit": 20})
    cursor = r.json()["next"]
    assert r.headers["link"] == f'</items?limit=20&cursor={cursor}>; rel="next"'
    assert walk(snippet.Store(), "/items", {}) == []
    ids = walk(make_store([(i, i, "x") for i in range(40)]), "/items", {"limit": 20})
    assert ids == list(range(40))
    forty = snippet.create_app(make_store([(i, i, "x") for i in range(40)]))
    cursor = call(forty, "/items", {"limit": 20}).json()["next"]
    second = call(forty, "/items", {"limit": 20, "cursor": cursor})
    assert len(second.json()["data"]) == 20
    assert second.json()["next"] is None and "link" not in second.headers  # no empty third page


@pytest.mark.parametrize("limit", [0, 101, -1, "abc", "1.5", "\u00b2", ""])
def test_page_size_outside_the_documented_range_is_a_400_naming_limit(app, limit):
    r = call(app, "/items", {"limit": limit})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "https://api.example.com/problems/invalid-request"
    assert r.json()["parameter"] == "limit" and r.json()["retryable"] is False


def test_the_largest_page_is_accepted(app):
    assert call(app, "/items", {"limit": snippet.MAX_PAGE_SIZE}).status_code == 200


def test_a_malformed_filter_or_a_missing_query_is_a_400_naming_it(app):
    r = call(app, "/items", {"min_created": "soon"})
    assert r.status_code == 400 and r.json()["parameter"] == "min_created"
    r = call(app, "/search", {})
    assert r.status_code == 400 and r.json()["parameter"] == "q"


def test_unknown_paths_and_methods_are_problems(app):
    r = call(app, "/nowhere", {})
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await c.post("/items")

    r = asyncio.run(go())
    assert r.status_code == 405 and r.json()["type"].endswith("/method-not-allowed")


def test_a_cursor_is_bound_to_the_filters_that_produced_it(app):
    cursor = call(app, "/items", {"limit": 3, "min_created": 5}).json()["next"]
    assert call(app, "/items", {"cursor": cursor, "min_created": 5}).status_code == 200
    for other in ({"min_created": 0}, {}, {"min_created": 5, "extra": "x"}):
        r = call(app, "/items", {"cursor": cursor} | other)
        assert r.status_code == 400 and r.json() == PROBLEM, other
    # the page size is not part of the query: a client may change it between pages
    assert call(app, "/items", {"cursor": cursor, "min_created": 5, "limit": 7}).status_code == 200


def test_filtered_paging_returns_exactly_the_matching_rows():
    store = make_store([(i, i % 7, f"item {i}") for i in range(60)])
    ids = walk(store, "/items", {"limit": 4, "min_created": 4})
    assert sorted(ids) == sorted(i for i in range(60) if i % 7 >= 4)
    assert len(ids) == len(set(ids))


def test_search_cursors_die_when_the_index_generation_changes(app):
    """Scores that change under a cursor (new IDF statistics, a new ranking model) would
    skip or repeat rows; the generation in the scope turns that into a clean 400."""
    store = make_store([(i, i // 2, f"red {i}") for i in range(50)])
    search_app = snippet.create_app(store)
    cursor = first_cursor(search_app, "/search", {"q": "red"})
    assert call(search_app, "/search", {"q": "red", "cursor": cursor}).status_code == 200
    store.generation += 1  # re-indexed: every score may have moved
    r = call(search_app, "/search", {"q": "red", "cursor": cursor})
    assert r.status_code == 400 and r.json() == PROBLEM


def test_search_pages_score_every_row_as_the_page_says():
    """The honest cost: the search path is not an index seek. Every page reads the whole
    table to compute relevance; only the collection path seeks."""
    store = make_store([(i, i, "red" if i % 2 else "blue") for i in range(500)])
    assert snippet.rows_examined(store, store.search, "red", None, 10) == 500
    after = [1.0, 101]
    assert snippet.rows_examined(store, store.search, "red", after, 10) == 500
    assert snippet.rows_examined(store, store.keyset, [100, 100], 10) <= 11


# ---- the client half ------------------------------------------------------------


def test_the_client_walks_until_there_is_no_next_cursor():
    store = make_store([(i, i // 3, f"item {i}") for i in range(250)])

    async def go():
        transport = httpx.ASGITransport(app=snippet.create_app(store))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await snippet.walk(c, "/items", {"limit": 40})

    assert [item["id"] for item in asyncio.run(go())] == list(range(250))


def test_the_client_does_not_stop_at_a_short_page():
    """A page may hold fewer items than `limit` while more exist (here the server trims
    a page); only a missing `next` ends the walk."""

    def handler(request: httpx.Request) -> httpx.Response:
        pages = {"": ([1, 2], "a"), "a": ([], "b"), "b": ([3], None)}
        data, nxt = pages[request.url.params.get("cursor", "")]
        return httpx.Response(200, json={"data": [{"id": i} for i in data], "next": nxt})

    async def go():
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await snippet.walk(c, "/items", {"limit": 2})

    assert [item["id"] for item in asyncio.run(go())] == [1, 2, 3]


def test_the_client_stops_on_an_error_instead_of_looping():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"type": "x", "retryable": False})

    async def go():
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await snippet.walk(c, "/items", {})

    with pytest.raises(httpx.HTTPStatusError):
        asyncio.run(go())


# ---- the cost of OFFSET, measured in rows examined ------------------------------


def test_offset_cost_grows_with_depth_while_keyset_stays_at_the_page_size():
    store = make_store([(i, i, "x") for i in range(20_000)])
    for position in (0, 100, 1_000, 10_000, 19_980):
        assert snippet.rows_examined(store, store.offset, position, 20) == position + 20
        after = [position - 1, position - 1] if position else None
        # the index seek lands on the cursor row itself, which is read and discarded
        expected = 21 if position else 20
        assert snippet.rows_examined(store, store.keyset, after, 20) == expected


@pytest.mark.parametrize("last_id, examined", [(1500, 21), (1501, 22), (1502, 23)])
def test_keyset_overhead_is_only_the_ties_at_the_cursor(last_id, examined):
    store = make_store([(i, i // 3, "x") for i in range(3_000)])
    # created=500 holds ids 1500-1502: the seek re-reads those up to the cursor's id
    assert snippet.rows_examined(store, store.keyset, [500, last_id], 20) == examined


def plan_of(store, query, *args) -> list[str]:
    """The query plan of the SQL the snippet itself ran (captured, then explained)."""
    statements = []
    store.db.set_trace_callback(statements.append)
    try:
        query(*args)
    finally:
        store.db.set_trace_callback(None)
    (sql,) = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    return [row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql)]


def test_query_plans_seek_the_index_for_keyset_and_scan_for_offset():
    store = make_store([(i, i, "x") for i in range(100)])
    seek = "SEARCH items USING INDEX by_created (created>?)"
    assert plan_of(store, store.keyset, [5, 5], 20) == [seek]
    assert plan_of(store, store.keyset, [5, 5], 20, 3)[0].startswith("SEARCH items USING")
    assert plan_of(store, store.offset, 50, 20) == ["SCAN items USING INDEX by_created"]
    assert plan_of(store, store.search, "x", [1.0, 0], 20)[0].startswith("SCAN items")


def test_demo_numbers_are_what_the_page_table_states():
    store = make_store(
        [(i, i // 3, "red red" if i % 4 == 0 else "item red") for i in range(10_000)]
    )
    positions = (0, 1000, 5000, 9980)
    offset = [snippet.rows_examined(store, store.offset, p, 20) for p in positions]
    keyset = [
        snippet.rows_examined(store, store.keyset, store.offset(p - 1, 1)[0][:2] if p else None, 20)
        for p in positions
    ]
    assert offset == [20, 1020, 5020, 10000]
    assert keyset == [20, 21, 22, 22]
