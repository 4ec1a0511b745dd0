"""A per-query deadline enforced inside the database: a slow search is interrupted, and
so is one whose client hung up; only then does its connection go back to the pool."""

import asyncio
import random
import sqlite3
import threading
import time
from typing import Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
TYPES = {  # slug: (status, title, retryable), as in the site's problem-type registry
    "invalid-request": (400, "Invalid request", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "query-timeout": (503, "Query timeout", True),
    "service-unavailable": (503, "Service unavailable", True),
}
QUERY_BUDGET_MS = 200  # documented: no query runs longer than this
QUEUE_WAIT_MS = 50  # documented: how long a search may wait for a free slot
SEARCH_SLOTS = 2  # connections, so at most this many queries run at once
RETRY_AFTER_S = (1, 3)  # a shed search is told to come back after 1 to 3 s, at random
DATA = """
CREATE TABLE products(id INTEGER PRIMARY KEY, brand TEXT, name TEXT);
CREATE INDEX products_brand ON products(brand);
CREATE TABLE reviews(id INTEGER PRIMARY KEY, body TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO products SELECT i, 'b' || (i % 1000), 'shoe ' || i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO reviews SELECT i, 'my shoe ' || (i * 7 % 20000) || ' is great' FROM n;
"""
Sort = Literal["id", "mentions"]
MENTIONS = "(SELECT count(*) FROM reviews WHERE body LIKE '%' || products.name || ' %')"


class QueryTimeout(Exception): ...


class PoolBusy(Exception): ...


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
        deadline, stop = time.monotonic() + self.budget_s, threading.Event()
        work = asyncio.ensure_future(
            asyncio.to_thread(execute, db, sql, params, deadline, stop)
        )
        # The connection returns to the pool only once the thread has really stopped.
        work.add_done_callback(lambda _: self.idle.put_nowait(db))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:  # the client went away: stop the query now
            stop.set()  # unlike db.interrupt(), also stops a statement not yet started
            raise


def execute(db: sqlite3.Connection, sql: str, params: tuple, deadline, stop) -> list:
    # SQLite calls the handler every 1000 VM steps; a true result aborts the query.
    db.set_progress_handler(lambda: stop.is_set() or time.monotonic() > deadline, 1000)
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError as e:
        if str(e) == "interrupted":
            raise QueryTimeout from e
        raise
    finally:
        db.set_progress_handler(None, 0)


def problem(slug: str, detail: str, headers=None, **extensions) -> JSONResponse:
    status, title, retryable = TYPES[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    body |= {"retryable": retryable, **extensions}
    return JSONResponse(body, status, headers, media_type=PROBLEM_JSON)


async def client_gone(request: Request) -> None:
    # uvicorn answers receive() with http.disconnect once the client socket has closed.
    while (await request.receive())["type"] != "http.disconnect":
        pass


def create_app(budget_ms=QUERY_BUDGET_MS, wait_ms=QUEUE_WAIT_MS, slots=SEARCH_SLOTS):
    app = FastAPI()
    app.state.pool = pool = SearchPool(slots, budget_ms / 1000, wait_ms / 1000)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"parameter": e["loc"][1], "detail": e["msg"]} for e in exc.errors()]
        return problem("invalid-request", "Fix the query parameters.", errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code)
        slug = slug or "invalid-request"  # e.g. a body the framework could not parse
        return problem(slug, f"No {request.method} {request.url.path}.", exc.headers)

    @app.get("/search")
    async def search(
        request: Request, q: str, brand: str | None = None, sort: Sort = "id"
    ):
        where = "name LIKE '%' || ? || '%'" + (" AND brand = ?" if brand else "")
        order = f"{MENTIONS} DESC, id" if sort == "mentions" else "id"
        sql = f"SELECT id FROM products WHERE {where} ORDER BY {order} LIMIT 3"
        query = asyncio.ensure_future(pool.run(sql, (q, brand) if brand else (q,)))
        gone = asyncio.ensure_future(client_gone(request))
        try:
            await asyncio.wait([query, gone], return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            hung_up = query.cancel()  # still running: the client left, interrupt it
        if hung_up:
            return Response(status_code=204)  # nobody reads it; the server drops it
        try:
            return {"data": [row[0] for row in query.result()]}
        except QueryTimeout:
            hint = "Narrow it: add a brand filter or sort by id."
            return problem("query-timeout", f"Cancelled after {budget_ms} ms. {hint}")
        except PoolBusy:
            wait = {"Retry-After": str(random.randint(*RETRY_AFTER_S))}
            detail = f"All {slots} search slots stayed busy for {wait_ms} ms."
            return problem("service-unavailable", detail, wait)

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
        print(r.status_code, r.json()["retryable"], time.monotonic() - started < 2)
        #> 503 True True
        print(r.json()["detail"])
        #> Cancelled after 200 ms. Narrow it: add a brand filter or sort by id.
        slow = [client.get("/search?q=shoe&sort=mentions") for _ in range(SEARCH_SLOTS)]
        running = asyncio.gather(*slow)
        while app.state.pool.idle.qsize():  # until both slots hold slow queries
            await asyncio.sleep(0.01)
        r = await client.get("/search?q=shoe&brand=b7")
        print(r.json()["title"], r.headers["retry-after"] in {"1", "2", "3"})
        #> Service unavailable True
        print([r.json()["title"] for r in await running], app.state.pool.idle.qsize())
        #> ['Query timeout', 'Query timeout'] 2


if __name__ == "__main__":
    asyncio.run(demo())
