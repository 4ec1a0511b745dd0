"""Sort and filter only on documented, indexed fields: one allow-list drives the checks,
the indexes and the table on the docs page."""

import asyncio
import re
import sqlite3
from datetime import date

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SEARCH_FIELDS = [
    {"field": "price", "type": "number", "sortable": True, "filters": "eq, gte, lte"},
    {"field": "rating", "type": "number", "sortable": True, "filters": "gte"},
    {"field": "created_at", "type": "date", "sortable": True, "filters": "gte, lte"},
    {"field": "brand", "type": "string", "sortable": False, "filters": "eq, in"},
]
OPERATORS = {"eq": "= ?", "gte": ">= ?", "lte": "<= ?"}
PARSERS = {"number": float, "date": date.fromisoformat, "string": str}
FILTER_PARAM = re.compile(r"filter\[(\w+)\]\[(\w+)\]")
ROWS = [  # id, brand, price, rating, created_at, description (undocumented)
    (1, "acme", 90.0, 4.5, "2026-01-10", "trail shoe"),
    (2, "acme", 120.0, 3.9, "2026-03-02", "road shoe"),
    (3, "zenith", 12.0, 4.8, "2026-02-20", "wool sock"),
    (4, "zenith", 150.0, 4.1, "2026-04-11", "carbon racer"),
    (5, "orbit", 45.0, 2.7, "2026-05-30", "sandal"),
]


def fields() -> dict[str, dict]:  # read on every request: the constant is the truth
    return {f["field"]: f for f in SEARCH_FIELDS}


class BadParameter(Exception):
    def __init__(self, parameter: str, field: str, detail: str, allowed: list[str]):
        super().__init__(detail)
        self.problem = {"type": "https://api.example.com/problems/unsupported-field"}
        self.problem |= {"title": "Unsupported sort or filter", "status": 400}
        self.problem |= {"detail": detail, "parameter": parameter, "field": field}
        self.problem |= {"allowed": allowed}


def build_sql(params: list[tuple[str, str]]) -> tuple[str, list]:
    where, args, order = [], [], "id"
    for key, value in params:
        if key == "sort":
            name = value.removeprefix("-")
            allowed = [n for n, f in fields().items() if f["sortable"]]
            if name not in allowed:
                raise BadParameter("sort", name, f"Cannot sort by '{name}'.", allowed)
            way = "DESC" if value.startswith("-") else "ASC"
            order = f"{name} {way}, id {way}"  # walks the index (price, rowid) as is
        elif m := FILTER_PARAM.fullmatch(key):
            name, op = m.groups()
            allowed = [n for n, f in fields().items() if f["filters"]]
            if name not in allowed:
                raise BadParameter(key, name, f"Cannot filter on '{name}'.", allowed)
            ops = fields()[name]["filters"].split(", ")
            if op not in ops:
                raise BadParameter(key, name, f"'{name}' has no '{op}' filter.", ops)
            values = value.split(",") if op == "in" else [value]
            kind = fields()[name]["type"]
            try:  # dates stay ISO strings, which sort correctly as text
                checked = [PARSERS[kind](v) for v in values]
            except ValueError:
                raise BadParameter(key, name, f"Expected a {kind}.", ops) from None
            values = checked if kind == "number" else values
            marks = (
                f"IN ({', '.join('?' * len(values))})" if op == "in" else OPERATORS[op]
            )
            where.append(f"{name} {marks}")  # name comes from the allow-list only
            args += values
        else:
            allowed = ["sort", "filter[field][op]"]
            raise BadParameter(key, key, f"Unknown parameter '{key}'.", allowed)
    sql = "SELECT id FROM products" + (" WHERE " + " AND ".join(where) if where else "")
    return f"{sql} ORDER BY {order}", args


def create_db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute(
        "CREATE TABLE products(id INTEGER PRIMARY KEY, brand TEXT, price REAL,"
        " rating REAL, created_at TEXT, description TEXT)"
    )
    db.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)", ROWS)
    for name in fields():  # every documented field is indexed
        db.execute(f"CREATE INDEX products_{name} ON products({name})")
    return db


app = FastAPI()
db = create_db()


@app.get("/search")
async def search(request: Request) -> JSONResponse:
    try:
        sql, args = build_sql(request.query_params.multi_items())
    except BadParameter as e:
        return JSONResponse(e.problem, 400, media_type="application/problem+json")
    return JSONResponse({"data": [row[0] for row in db.execute(sql, args)]})


async def demo() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        r = await client.get("/search?sort=-rating&filter[price][lte]=100")
        print(r.status_code, r.json())
        #> 200 {'data': [3, 1, 5]}
        r = await client.get("/search?filter[brand][in]=acme,orbit&sort=created_at")
        print(r.status_code, r.json())
        #> 200 {'data': [1, 2, 5]}
        for url in ["sort=description", "filter[rating][lte]=3"]:
            problem = (await client.get(f"/search?{url}")).json()
            print(problem["status"], problem["detail"], problem["allowed"])
            #> 400 Cannot sort by 'description'. ['price', 'rating', 'created_at']
            #> 400 'rating' has no 'lte' filter. ['gte']
    plan = db.execute("EXPLAIN QUERY PLAN " + build_sql([("sort", "-price")])[0])
    print([row[3] for row in plan])
    #> ['SCAN products USING COVERING INDEX products_price']


if __name__ == "__main__":
    asyncio.run(demo())
