"""Behaviour of snippets/query_timeouts.py: deadlines that really cancel the query."""

import asyncio
import time

import httpx
import pytest
import query_timeouts as snippet

SLOW = "/search?q=shoe&sort=mentions"  # 20,000 products x 2,000 reviews: seconds
FAST = "/search?q=shoe&brand=b7&sort=mentions"  # 20 products via the brand index


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def assert_all_connections_idle_and_usable(app, slots: int) -> None:
    pool = app.state.pool
    assert pool.idle.qsize() == slots
    connections = [pool.idle.get_nowait() for _ in range(slots)]
    for db in connections:  # an interrupted connection still answers queries
        assert db.execute("SELECT count(*) FROM products").fetchone() == (20000,)
        pool.idle.put_nowait(db)


def test_fast_query_within_budget_returns_results():
    async def go():
        app = snippet.create_app(budget_ms=100)
        async with client_for(app) as c:
            r1, r2 = await c.get(FAST), await c.get("/search?q=shoe 1&sort=id")
        return r1, r2

    r1, r2 = asyncio.run(go())
    assert (r1.status_code, r1.json()) == (200, {"data": [7, 7007, 1007]})
    assert (r2.status_code, r2.json()) == (200, {"data": [1, 10, 11]})


def test_the_slow_query_really_needs_longer_than_the_budget():
    pool_db = snippet.sqlite3.connect(":memory:")
    pool_db.executescript(snippet.DATA)
    sql = f"SELECT id FROM products ORDER BY {snippet.MENTIONS} DESC LIMIT 3"
    with pytest.raises(snippet.QueryTimeout):  # still running after 0.2 s
        snippet.execute(pool_db, sql, (), time.monotonic() + 0.2)


def test_slow_query_is_cancelled_at_the_deadline_and_resources_released():
    async def go():
        app = snippet.create_app(budget_ms=100)
        async with client_for(app) as c:
            started = time.monotonic()
            r = await c.get(SLOW)
            elapsed = time.monotonic() - started
            after = await c.get(FAST)  # the same connections serve the next search
        others = asyncio.all_tasks() - {asyncio.current_task()}
        return app, r, elapsed, after, others

    app, r, elapsed, after, others = asyncio.run(go())
    assert r.status_code == 504
    assert r.headers["content-type"] == "application/problem+json"
    assert "retry-after" not in r.headers  # the same query would time out again
    assert r.json() == {
        "type": "https://api.example.com/problems/query-timeout",
        "status": 504,
        "title": "Query timeout",
        "detail": "Cancelled after 100 ms. Narrow it: add a brand filter or sort by id.",
    }
    assert 0.1 <= elapsed < 1.0
    assert after.status_code == 200
    assert others == set()  # no task left running
    assert_all_connections_idle_and_usable(app, snippet.SEARCH_SLOTS)


def test_client_disconnect_interrupts_the_query_long_before_its_deadline(monkeypatch):
    finished: list[tuple[float, int]] = []  # (when the worker thread returned, idle slots)

    def recording_execute(db, sql, params, deadline):
        try:
            return execute(db, sql, params, deadline)
        finally:
            finished.append((time.monotonic(), app.state.pool.idle.qsize()))

    execute = snippet.execute
    monkeypatch.setattr(snippet, "execute", recording_execute)

    async def go():
        async with client_for(app) as c:
            request = asyncio.create_task(c.get(SLOW))
            await asyncio.sleep(0.05)
            assert app.state.pool.idle.qsize() == snippet.SEARCH_SLOTS - 1
            request.cancel()
            cancelled_at = time.monotonic()
            while app.state.pool.idle.qsize() < snippet.SEARCH_SLOTS:
                await asyncio.sleep(0.005)
            released_at = time.monotonic()
            with pytest.raises(asyncio.CancelledError):
                await request
        return cancelled_at, released_at

    app = snippet.create_app(budget_ms=5000)
    cancelled_at, released_at = asyncio.run(go())
    [(stopped_at, idle_while_running)] = finished
    assert stopped_at - cancelled_at < 0.5  # not the 5 s deadline: interrupt() stopped it
    assert idle_while_running == snippet.SEARCH_SLOTS - 1  # still checked out while running
    assert stopped_at <= released_at  # returned to the pool only after the thread ended
    assert_all_connections_idle_and_usable(app, snippet.SEARCH_SLOTS)


def test_no_free_slot_is_a_503_with_retry_after_and_capacity_returns():
    async def go():
        app = snippet.create_app(budget_ms=200, wait_ms=50, slots=2)
        async with client_for(app) as c:
            slow = asyncio.gather(c.get(SLOW), c.get(SLOW))
            await asyncio.sleep(0.03)
            busy = await c.get(FAST)
            slow_results = await slow
            later = await c.get(FAST)
        return app, busy, slow_results, later

    app, busy, slow_results, later = asyncio.run(go())
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.headers["content-type"] == "application/problem+json"
    assert busy.json()["type"] == "https://api.example.com/problems/search-busy"
    assert busy.json()["detail"] == "All 2 search slots stayed busy for 50 ms."
    assert [r.status_code for r in slow_results] == [504, 504]
    assert later.status_code == 200
    assert_all_connections_idle_and_usable(app, 2)


def test_thirty_concurrent_slow_queries_never_hold_more_than_the_slots():
    async def go():
        app = snippet.create_app(budget_ms=100, wait_ms=50, slots=2)
        async with client_for(app) as c:
            started = time.monotonic()
            results = await asyncio.gather(*(c.get(SLOW) for _ in range(30)))
            elapsed = time.monotonic() - started
        return app, results, elapsed

    app, results, elapsed = asyncio.run(go())
    statuses = sorted(r.status_code for r in results)
    assert statuses == [503] * 28 + [504] * 2  # two ran and were cut; the rest shed
    assert elapsed < 1.5
    assert_all_connections_idle_and_usable(app, 2)


def test_fifty_concurrent_fast_queries_all_succeed_through_two_slots():
    # A 5 ms query, but 50 requests share the GIL with two query threads; this test is about
    # the slots, so the budget leaves room for a cold, busy machine (a CI run saw 504s at 200).
    async def go():
        app = snippet.create_app(budget_ms=2000, wait_ms=5000, slots=2)
        async with client_for(app) as c:
            results = await asyncio.gather(*(c.get(FAST) for _ in range(50)))
        return app, results

    app, results = asyncio.run(go())
    assert [r.status_code for r in results] == [200] * 50
    assert {tuple(r.json()["data"]) for r in results} == {(7, 7007, 1007)}
    assert_all_connections_idle_and_usable(app, 2)
