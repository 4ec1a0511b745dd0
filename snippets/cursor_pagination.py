"""Keyset pagination behind HMAC-signed opaque cursors, and what OFFSET costs instead."""

import asyncio
import base64
import hashlib
import hmac
import json
import sqlite3
from typing import Annotated

import httpx
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

CURSOR_SECRET = b"cursor-key-test-only"  # from your secret store; rotate with a key id
MAX_PAGE_SIZE = 100
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


class BadCursor(ValueError):
    pass


def encode_cursor(scope: str, key: list) -> str:
    payload = json.dumps([scope, *key], separators=(",", ":")).encode()
    tag = hmac.new(CURSOR_SECRET, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + tag).rstrip(b"=").decode()


def decode_cursor(scope: str, cursor: str) -> list:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        raise BadCursor from None
    payload, tag = raw[:-16], raw[-16:]
    good = hmac.new(CURSOR_SECRET, payload, hashlib.sha256).digest()[:16]
    if len(raw) <= 16 or not hmac.compare_digest(tag, good):
        raise BadCursor
    data = json.loads(payload)
    if data[0] != scope:  # a /search cursor replayed on /items, say
        raise BadCursor
    return data[1:]


class Store:
    """SQLite with an index on (created, id); counts every row a query examines."""

    def __init__(self):
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, created, title)")
        self.db.execute("CREATE INDEX by_created ON items (created, id)")
        self.db.create_function("examined", 0, self._examine)
        self.db.create_function("relevance", 2, relevance)
        self.examined = 0

    def _examine(self) -> int:
        self.examined += 1
        return 1

    def keyset(self, after: list | None, limit: int) -> list:
        where = "(created, id) > (?, ?)" if after else "1"
        sql = f"SELECT created, id, title FROM items WHERE examined() AND {where} "
        sql += "ORDER BY created, id LIMIT ?"
        return self.db.execute(sql, [*(after or []), limit]).fetchall()

    def offset(self, offset: int, limit: int) -> list:
        sql = "SELECT created, id, title FROM items WHERE examined() "
        sql += "ORDER BY created, id LIMIT ? OFFSET ?"
        return self.db.execute(sql, [limit, offset]).fetchall()

    def search(self, q: str, after: list | None, limit: int) -> list:
        score, last_id = after or [float("inf"), 0]
        sql = """SELECT * FROM (SELECT relevance(title, ?) AS score, id, title FROM items)
                 WHERE score > 0 AND (score < ? OR (score = ? AND id > ?))
                 ORDER BY score DESC, id LIMIT ?"""
        return self.db.execute(sql, [q, score, score, last_id, limit]).fetchall()


def relevance(title: str, q: str) -> float:
    words = title.lower().split()
    return round(words.count(q.lower()) / len(words), 6)


def create_app(store: Store) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(BadCursor)
    def bad_cursor(request: Request, exc: BadCursor) -> JSONResponse:
        problem = {
            "type": "https://api.example.com/problems/invalid-cursor",
            "title": "Invalid cursor",
            "status": 400,
            "detail": "Use the cursor exactly as returned, or start again without one.",
        }
        return JSONResponse(problem, 400, media_type="application/problem+json")

    def page(request: Request, scope: str, rows: list, limit: int) -> JSONResponse:
        more = len(rows) > limit  # we fetched one extra row to know this
        rows = rows[:limit]
        body = {"data": [{"id": r[1], "title": r[2]} for r in rows], "next": None}
        headers = {}
        if more:
            body["next"] = encode_cursor(scope, [rows[-1][0], rows[-1][1]])
            url = request.url.include_query_params(cursor=body["next"])
            headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
        return JSONResponse(body, headers=headers)

    @app.get("/items")
    def items(request: Request, cursor: str = "", limit: PageSize = 20):
        after = decode_cursor("items", cursor) if cursor else None
        return page(request, "items", store.keyset(after, limit + 1), limit)

    @app.get("/search")
    def search(request: Request, q: str, cursor: str = "", limit: PageSize = 20):
        after = decode_cursor("search:" + q, cursor) if cursor else None
        return page(request, "search:" + q, store.search(q, after, limit + 1), limit)

    return app


def rows_examined(store: Store, query, *args) -> int:
    before = store.examined
    query(*args)
    return store.examined - before


async def main() -> None:
    store = Store()
    rows = [
        (i, i // 3, f"red red {i}" if i % 4 == 0 else f"item {i} red")
        for i in range(10_000)
    ]
    store.db.executemany("INSERT INTO items VALUES (?, ?, ?)", rows)
    for position in (0, 1_000, 5_000, 9_980):
        by_offset = rows_examined(store, store.offset, position, 20)
        last = store.offset(position - 1, 1)[0][:2] if position else None
        by_keyset = rows_examined(store, store.keyset, last, 20)
        print(f"page at row {position:>5}: OFFSET {by_offset:>5}, keyset {by_keyset}")
        #> page at row     0: OFFSET    20, keyset 20
        #> page at row  1000: OFFSET  1020, keyset 21
        #> page at row  5000: OFFSET  5020, keyset 22
        #> page at row  9980: OFFSET 10000, keyset 22

    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        first = await c.get("/items", params={"limit": 2})
        print([item["id"] for item in first.json()["data"]])
        #> [0, 1]
        print(first.headers["link"])
        #> </items?limit=2&cursor=WyJpdGVtcyIsMCwxXRm1_p0Z-E3y_kEYiSFU19M>; rel="next"
        cursor = first.json()["next"]
        second = await c.get("/items", params={"limit": 2, "cursor": cursor})
        print([item["id"] for item in second.json()["data"]])
        #> [2, 3]
        forged = base64.urlsafe_b64encode(b'["items",0,5000]' + bytes(16)).decode()
        bad = await c.get("/items", params={"cursor": forged})
        print(bad.status_code, bad.headers["content-type"], bad.json()["title"])
        #> 400 application/problem+json Invalid cursor
        hits = await c.get("/search", params={"q": "red", "limit": 3})
        print([item["id"] for item in hits.json()["data"]])
        #> [0, 4, 8]
        print(decode_cursor("search:red", hits.json()["next"]))  # [score, id]
        #> [0.666667, 8]


if __name__ == "__main__":
    asyncio.run(main())
