"""A per-query deadline enforced inside the database: a slow search is interrupted, its
connection goes back to the pool, and the client gets a problem saying how to narrow it.
"""

import asyncio
import sqlite3
import time
from typing import Literal

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse

QUERY_BUDGET_MS = 200  # documented: no query runs longer than this
QUEUE_WAIT_MS = 50  # documented: how long a search may wait for a free slot
SEARCH_SLOTS = 2  # connections, so at most this many queries run at once
DATA = """
CREATE TABLE products(id INTEGER PRIMARY KEY, brand TEXT, name TEXT);
CREATE INDEX products_brand ON products(brand);
CREATE TABLE reviews(id INTEGER PRIMARY KEY, body TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO products SELECT i, 'b' || (i % 1000), 'shoe ' || i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO reviews SELECT i, 'my shoe ' || (i * 7 % 20000) || ' is great' FROM n;
"""
MENTIONS = "(SELECT count(*) FROM reviews WHERE body LIKE '%' || products.name || ' %')"


class QueryTimeout(Exception):
    pass


class PoolBusy(Exception):
    pass


class SearchPool:
    def __init__(self, slots: int, budget_s: float, wait_s: float) -> None:
        self.budget_s, self.wait_s, self.idle = budget_s, wait_s, asyncio.Queue()
        for _ in range(slots):
            db = sqlite3.connect(":memory:", check_same_thread=False)
            db.executescript(DATA)
            self.idle.put_nowait(db)

    async def run(self, sql: str, params: tuple) -> list:
        try:
            async with asyncio.timeout(self.wait_s):
                db = await self.idle.get()
        except TimeoutError:
            raise PoolBusy from None
        deadline = time.monotonic() + self.budget_s
        work = asyncio.ensure_future(
            asyncio.to_thread(execute, db, sql, params, deadline)
        )
        # The connection returns to the pool only once the thread has really stopped.
        work.add_done_callback(lambda _: self.idle.put_nowait(db))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:  # the client went away: stop the query now
            db.interrupt()
            raise


def execute(db: sqlite3.Connection, sql: str, params: tuple, deadline: float) -> list:
    # SQLite calls the handler every 1000 VM steps; a true result aborts the query.
    db.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as e:
        if str(e) == "interrupted":
            raise QueryTimeout from e
        raise
    finally:
        db.set_progress_handler(None, 0)


def problem(status: int, kind: str, detail: str, **headers: str) -> JSONResponse:
    body = {"type": f"https://api.example.com/problems/{kind}", "status": status}
    body |= {"title": kind.replace("-", " ").capitalize(), "detail": detail}
    return JSONResponse(body, status, headers, media_type="application/problem+json")


def create_app(budget_ms=QUERY_BUDGET_MS, wait_ms=QUEUE_WAIT_MS, slots=SEARCH_SLOTS):
    app = FastAPI()
    app.state.pool = pool = SearchPool(slots, budget_ms / 1000, wait_ms / 1000)

    @app.get("/search")
    async def search(
        q: str, brand: str | None = None, sort: Literal["id", "mentions"] = "id"
    ):
        where = "name LIKE '%' || ? || '%'" + (" AND brand = ?" if brand else "")
        order = f"{MENTIONS} DESC, id" if sort == "mentions" else "id"
        sql = f"SELECT id FROM products WHERE {where} ORDER BY {order} LIMIT 3"
        try:
            rows = await pool.run(sql, (q, brand) if brand else (q,))
        except QueryTimeout:
            hint = "Narrow it: add a brand filter or sort by id."
            detail = f"Cancelled after {budget_ms} ms. {hint}"
            return problem(504, "query-timeout", detail)
        except PoolBusy:
            detail = f"All {slots} search slots stayed busy for {wait_ms} ms."
            return problem(503, "search-busy", detail, **{"Retry-After": "1"})
        return {"data": [row[0] for row in rows]}

    return app


async def demo() -> None:
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        r = await client.get("/search?q=shoe&brand=b7&sort=mentions")
        print(r.status_code, r.json())
        #> 200 {'data': [7, 7007, 1007]}
        started = time.monotonic()
        r = await client.get("/search?q=shoe&sort=mentions")  # 20,000 rows x 2,000
        print(r.status_code, time.monotonic() - started < 1)
        #> 504 True
        print(r.json()["detail"])
        #> Cancelled after 200 ms. Narrow it: add a brand filter or sort by id.
        print(app.state.pool.idle.qsize(), "of", SEARCH_SLOTS, "connections idle")
        #> 2 of 2 connections idle
        slow = [client.get("/search?q=shoe&sort=mentions") for _ in range(SEARCH_SLOTS)]
        running = asyncio.gather(*slow)
        await asyncio.sleep(0.05)  # both slots are now held by slow queries
        r = await client.get("/search?q=shoe&brand=b7")
        print(r.status_code, r.headers["retry-after"], r.json()["detail"])
        #> 503 1 All 2 search slots stayed busy for 50 ms.
        print([r.status_code for r in await running], app.state.pool.idle.qsize())
        #> [504, 504] 2


if __name__ == "__main__":
    asyncio.run(demo())
