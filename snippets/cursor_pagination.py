"""Keyset pagination behind HMAC-signed opaque cursors and what OFFSET costs instead."""

import asyncio
import base64
import hashlib
import hmac
import json
import sqlite3
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
REGISTRY = {  # slug -> (status, title, retryable), as in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
}
CURSOR_SECRET = b"cursor-key-test-only"  # from your secret store; rotate with a key id
MAX_PAGE_SIZE = 100


class BadParameter(ValueError):
    def __init__(self, parameter: str, detail: str):
        self.parameter, self.detail = parameter, detail


def problem(slug: str, detail: str, **extra) -> JSONResponse:
    status, title, retryable = REGISTRY[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status,
            "detail": detail, "retryable": retryable, **extra}  # fmt: skip
    return JSONResponse(body, status, media_type=PROBLEM_JSON)


def encode_cursor(scope: str, key: list) -> str:
    payload = json.dumps([scope, *key], separators=(",", ":")).encode()
    tag = hmac.new(CURSOR_SECRET, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + tag).rstrip(b"=").decode()


def decode_cursor(scope: str, cursor: str) -> list:
    bad = BadParameter(
        "cursor", "Use the cursor exactly as returned, with the same query."
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except ValueError:
        raise bad from None
    payload, tag = raw[:-16], raw[-16:]
    good = hmac.new(CURSOR_SECRET, payload, hashlib.sha256).digest()[:16]
    if len(raw) <= 16 or not hmac.compare_digest(tag, good):
        raise bad
    data = json.loads(payload)
    if data[0] != scope:  # another endpoint, filter, query or index generation
        raise bad
    return data[1:]


class Store:
    """SQLite with an index on (created, id); counts every row a query examines."""

    def __init__(self):
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, created, title)")
        self.db.execute("CREATE INDEX by_created ON items (created, id)")
        self.db.create_function("examined", 0, self._examine)
        self.db.create_function("relevance", 2, relevance)
        self.examined, self.generation = 0, 1  # generation: bumped when scores change

    def _examine(self) -> int:
        self.examined += 1
        return 1

    def keyset(self, after: list | None, limit: int, min_created=None) -> list:
        where, args = ["examined()"], []
        if after:
            where, args = [*where, "(created, id) > (?, ?)"], [*args, *after]
        if min_created is not None:  # a filter: bound into the cursor's scope
            where, args = [*where, "created >= ?"], [*args, min_created]
        sql = f"SELECT created, id, title FROM items WHERE {' AND '.join(where)} "
        sql += "ORDER BY created, id LIMIT ?"
        return self.db.execute(sql, [*args, limit]).fetchall()

    def offset(self, offset: int, limit: int) -> list:
        sql = "SELECT created, id, title FROM items WHERE examined() "
        sql += "ORDER BY created, id LIMIT ? OFFSET ?"
        return self.db.execute(sql, [limit, offset]).fetchall()

    def search(self, q: str, after: list | None, limit: int) -> list:
        """Scores every row on every page: the cursor bounds what is returned, not
        what is read. A search engine reads a precomputed inverted index instead."""
        score, last_id = after or [float("inf"), 0]
        sql = """SELECT * FROM
                   (SELECT relevance(title, ?) AS score, id, title FROM items
                    WHERE examined())
                 WHERE score > 0 AND (score < ? OR (score = ? AND id > ?))
                 ORDER BY score DESC, id LIMIT ?"""
        return self.db.execute(sql, [q, score, score, last_id, limit]).fetchall()


def relevance(title: str, q: str) -> float:
    words = title.lower().split()
    return round(words.count(q.lower()) / len(words), 6)


def create_app(store: Store) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(BadParameter)
    def bad_parameter(request: Request, exc: BadParameter) -> JSONResponse:
        return problem("invalid-request", exc.detail, parameter=exc.parameter)

    @app.exception_handler(HTTPException)
    def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code)
        return problem(slug or "invalid-request", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        name = str(exc.errors()[0]["loc"][-1])
        return problem("invalid-request", f"{name} is not valid.", parameter=name)

    def scope(request: Request) -> str:
        """The endpoint and every query parameter but the position: a cursor is valid
        only for the query that produced it."""
        params = sorted((k, v) for k, v in request.query_params.multi_items()
                        if k not in ("cursor", "limit"))  # fmt: skip
        return f"{request.url.path}?{urlencode(params)}"

    def page_size(request: Request) -> int:
        limit = request.query_params.get("limit", "20")
        if (
            not (limit.isascii() and limit.isdigit())
            or not 1 <= int(limit) <= MAX_PAGE_SIZE
        ):
            raise BadParameter(
                "limit", f"limit is a whole number from 1 to {MAX_PAGE_SIZE}."
            )
        return int(limit)

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
    def items(request: Request, cursor: str = "", min_created: int | None = None):
        limit, where = page_size(request), scope(request)
        after = decode_cursor(where, cursor) if cursor else None
        rows = store.keyset(after, limit + 1, min_created)
        return page(request, where, rows, limit)

    @app.get("/search")
    def search(request: Request, q: str, cursor: str = ""):
        limit = page_size(request)
        where = scope(request) + f"#g{store.generation}"  # new scores, new cursors
        after = decode_cursor(where, cursor) if cursor else None
        return page(request, where, store.search(q, after, limit + 1), limit)

    return app


async def walk(client: httpx.AsyncClient, path: str, params: dict) -> list:
    """The client half: follow `next` until there is none. A short or even empty page
    is not the end; only a missing cursor is."""
    seen, cursor = [], None
    while True:
        response = await client.get(
            path, params=params | ({"cursor": cursor} if cursor else {})
        )
        response.raise_for_status()
        seen += response.json()["data"]
        if (cursor := response.json()["next"]) is None:
            return seen


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
        cursor = first.json()["next"]
        link = f'</items?limit=2&cursor={cursor}>; rel="next"'
        print(cursor, first.headers["link"] == link)
        #> WyIvaXRlbXM_IiwwLDFdQLnTyrgjJJfwTZ8PXcNBBQ True
        second = await c.get("/items", params={"limit": 2, "cursor": cursor})
        print([item["id"] for item in second.json()["data"]])
        #> [2, 3]
        forged = base64.urlsafe_b64encode(b'["/items?",0,5000]' + bytes(16)).decode()
        bad = await c.get("/items", params={"cursor": forged})
        print(bad.status_code, bad.json()["type"], bad.json()["parameter"])
        #> 400 https://api.example.com/problems/invalid-request cursor
        other = await c.get("/items", params={"cursor": cursor, "min_created": 5})
        print(other.status_code, other.json()["detail"])  # same cursor, another filter
        #> 400 Use the cursor exactly as returned, with the same query.
        hits = await c.get("/search", params={"q": "red", "limit": 3})
        print([item["id"] for item in hits.json()["data"]])
        #> [0, 4, 8]
        print(decode_cursor("/search?q=red#g1", hits.json()["next"]))  # [score, id]
        #> [0.666667, 8]
        everything = await walk(c, "/items", {"min_created": 3300, "limit": 100})
        print(len(everything), everything[0]["id"], everything[-1]["id"])
        #> 100 9900 9999


if __name__ == "__main__":
    asyncio.run(main())
