"""Sort and filter only on documented, indexed fields and combinations: one allow-list
drives the checks, the indexes, the discovery endpoint and the docs page's table."""

import asyncio
import math
import re
import sqlite3
from datetime import date

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
TYPES = {  # slug: (status, title, retryable), as in the site's problem-type registry
    "invalid-request": (400, "Invalid request", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
}
SEARCH_FIELDS = [
    {"field": "price", "type": "number", "sortable": True, "filters": "eq, gte, lte"},
    {"field": "rating", "type": "number", "sortable": True, "filters": "gte"},
    {"field": "created_at", "type": "date", "sortable": True, "filters": "gte, lte"},
    {"field": "brand", "type": "string", "sortable": False, "filters": "eq"},
]
# Each index serves equality filters on its leading fields, then one range or sort.
INDEXES = ["price", "rating", "created_at", "brand", "brand, price", "brand, rating"]
PAGE_SIZE = 20  # an unfiltered sort walks its index and stops here
OPERATORS = {"eq": "= ?", "gte": ">= ?", "lte": "<= ?"}
FILTER_PARAM = re.compile(r"filter\[(\w+)\]\[(\w+)\]")
ROWS = [  # id, brand, price, rating, created_at, description (undocumented)
    (1, "acme", 90.0, 4.5, "2026-01-10", "trail shoe"),
    (2, "acme", 120.0, 3.9, "2026-03-02", "road shoe"),
    (3, "zenith", 12.0, 4.8, "2026-02-20", "wool sock"),
    (4, "zenith", 150.0, 4.1, "2026-04-11", "carbon racer"),
    (5, "orbit", 45.0, 2.7, "2026-05-30", "sandal"),
]


def number(text: str) -> float:
    if not math.isfinite(value := float(text)):  # float() takes "nan" and "inf"
        raise ValueError(text)
    return value


def day(text: str) -> str:  # bound as stored: "20260301" compares as "2026-03-01"
    return date.fromisoformat(text).isoformat()


PARSERS = {"number": number, "date": day, "string": str}


def build_sql(params: list[tuple[str, str]]) -> tuple[str, list]:
    fields, errors = {f["field"]: f for f in SEARCH_FIELDS}, []
    where, args, equal, ranged, sort = [], [], set(), set(), None
    for key, value in params:
        m = FILTER_PARAM.fullmatch(key)
        name, op = m.groups() if m else (value.removeprefix("-"), "sort")
        sortable = [n for n, f in fields.items() if f["sortable"]]
        ops = fields[name]["filters"].split(", ") if name in fields else []
        if key == "sort" and sort:
            errors.append((key, "Give at most one sort.", sortable))
        elif key == "sort" and name not in sortable:
            errors.append((key, f"Cannot sort by '{value}'.", sortable))
        elif key == "sort":
            sort = (name, "DESC" if value.startswith("-") else "ASC")
        elif not m or name not in fields:
            errors.append((key, f"Unknown parameter '{key}'.", ["sort", *fields]))
        elif op not in ops:
            errors.append((key, f"'{name}' has no '{op}' filter.", ops))
        else:
            try:
                args.append(PARSERS[fields[name]["type"]](value))
            except ValueError:
                errors.append((key, f"Expected a {fields[name]['type']}.", ops))
            where.append(f"{name} {OPERATORS[op]}")  # names come from the list only
            (equal if op == "eq" else ranged).add(name)
    sort = sort or ((min(ranged), "ASC") if ranged else None)  # a range sorts by it
    key = sort[0] if sort else None
    index = ", ".join(sorted(equal - {key}) + ([key] if key else []))
    if not errors and (len(ranged - {key}) or (index and index not in INDEXES)):
        errors.append(("sort", "No index serves this filter and sort.", INDEXES))
    if errors:
        raise BadRequest(errors)
    order = f"{key} {sort[1]}, id {sort[1]}" if sort else "id"  # walks one index as is
    sql = "SELECT id FROM products" + (" WHERE " + " AND ".join(where) if where else "")
    return f"{sql} ORDER BY {order} LIMIT {PAGE_SIZE}", args


class BadRequest(Exception): ...


def problem(slug: str, detail: str, headers=None, **extensions) -> JSONResponse:
    status, title, retryable = TYPES[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    body |= {"retryable": retryable, **extensions}
    return JSONResponse(body, status, headers, media_type=PROBLEM_JSON)


def create_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute(
        "CREATE TABLE products(id INTEGER PRIMARY KEY, brand TEXT, price REAL,"
        " rating REAL, created_at TEXT, description TEXT)"
    )
    db.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)", ROWS)
    for columns in INDEXES:  # every documented combination has its index
        name = "products_" + columns.replace(", ", "_")
        db.execute(f"CREATE INDEX {name} ON products({columns})")
    return db


app = FastAPI()
db = create_db()


@app.exception_handler(HTTPException)
async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code)
    slug = slug or "invalid-request"  # e.g. a body the framework could not parse
    return problem(slug, f"No {request.method} {request.url.path}.", exc.headers)


@app.get("/search/capabilities")  # the allow-list, for clients and doc generators
async def capabilities() -> dict:
    return {"fields": SEARCH_FIELDS, "indexes": INDEXES, "page_size": PAGE_SIZE}


@app.get("/search")
async def search(request: Request) -> JSONResponse:
    try:
        sql, args = build_sql(request.query_params.multi_items())
    except BadRequest as e:
        keys = ("parameter", "detail", "allowed")
        errors = [dict(zip(keys, error, strict=True)) for error in e.args[0]]
        names = ", ".join(error["parameter"] for error in errors)
        return problem("invalid-request", f"Unsupported: {names}.", errors=errors)
    return JSONResponse({"data": [row[0] for row in db.execute(sql, args)]})


async def demo() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        r = await client.get("/search?sort=-price&filter[price][lte]=100")
        print(r.status_code, r.json())
        #> 200 {'data': [1, 5, 3]}
        r = await client.get("/search?filter[brand][eq]=acme&sort=-rating")
        print(r.status_code, r.json())
        #> 200 {'data': [1, 2]}
        for url in ["sort=description", "filter[rating][lte]=3"]:
            [error] = (await client.get(f"/search?{url}")).json()["errors"]
            print(error["detail"], error["allowed"])
            #> Cannot sort by 'description'. ['price', 'rating', 'created_at']
            #> 'rating' has no 'lte' filter. ['gte']
        r = await client.get("/search?filter[price][lte]=100&sort=-rating")
        print(r.status_code, r.json()["errors"][0]["detail"])
        #> 400 No index serves this filter and sort.
    sql, args = build_sql([("filter[brand][eq]", "acme"), ("sort", "price")])
    print([row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, args)])
    #> ['SEARCH products USING COVERING INDEX products_brand_price (brand=?)']


if __name__ == "__main__":
    asyncio.run(demo())
