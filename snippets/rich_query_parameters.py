"""Search filters, sorts and facets as validated query parameters, or as a bounded JSON
filter in a POST body; invalid input is a 400 problem naming the parameter or field."""

import asyncio
import json
from collections import Counter
from typing import Annotated, Literal

import httpx
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
TYPES = {  # slug: (status, title, retryable), as in the site's problem-type registry
    "invalid-request": (400, "Invalid request", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "content-too-large": (413, "Content too large", False),
}
PRODUCTS = [
    {"id": 1, "name": "trail shoe", "brand": "acme", "colour": "red", "price": 90},
    {"id": 2, "name": "road shoe", "brand": "acme", "colour": "blue", "price": 120},
    {"id": 3, "name": "trail sock", "brand": "zenith", "colour": "red", "price": 12},
    {"id": 4, "name": "trail pro", "brand": "zenith", "colour": "black", "price": 150},
]
MAX_TERMS = 500  # values in one "in" list
MAX_ALTERNATIVES = 20  # entries in one any_of
MAX_DEPTH = 3  # filters nested in any_of, counting the top one
MAX_NODES = 50  # filter objects in one body: the cost is products x nodes
MAX_BODY_BYTES = 65536
Sort = Literal["relevance", "price", "-price", "name", "-name"]
Facet = Literal["brand", "colour"]
STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class Terms(BaseModel):
    model_config = STRICT
    in_: list[str] = Field(alias="in", min_length=1, max_length=MAX_TERMS)


class Range(BaseModel):
    model_config = STRICT
    gte: float | None = Field(None, ge=0)
    lte: float | None = Field(None, ge=0)


class Filter(BaseModel):  # fields are ANDed; any_of holds alternatives (OR)
    model_config = STRICT
    brand: Terms | None = None
    colour: Terms | None = None
    price: Range | None = None
    any_of: list["Filter"] = Field([], max_length=MAX_ALTERNATIVES)


class SearchBody(BaseModel):  # POST /search: the filter as a JSON document
    model_config = STRICT
    q: str = Field("", max_length=200)
    filter: Filter = Filter()
    sort: Sort = "relevance"
    facets: list[Facet] = []


class SearchQuery(BaseModel):  # GET /search: the same search as query parameters
    model_config = STRICT
    q: str = Field("", max_length=200)
    brand: list[str] = Field([], alias="filter[brand]", max_length=MAX_TERMS)
    colour: list[str] = Field([], alias="filter[colour]", max_length=MAX_TERMS)
    price_min: float | None = Field(None, ge=0)
    price_max: float | None = Field(None, ge=0)
    sort: Sort = "relevance"
    facets: list[Facet] = []

    @field_validator("brand", "colour", "facets", mode="before")
    @classmethod
    def split_commas(cls, v: list[str]) -> list[str]:  # ?facets=brand,colour
        return [part for item in v for part in item.split(",") if part]

    def to_body(self) -> SearchBody:
        f = Filter(
            brand=Terms(in_=self.brand) if self.brand else None,
            colour=Terms(in_=self.colour) if self.colour else None,
            price=Range(gte=self.price_min, lte=self.price_max),
        )
        return SearchBody(q=self.q, filter=f, sort=self.sort, facets=self.facets)


def matches(p: dict, f: Filter) -> bool:
    pairs = [("brand", f.brand), ("colour", f.colour)]
    terms = all(not t or p[name] in t.in_ for name, t in pairs)
    r, price = f.price or Range(), p["price"]
    priced = (r.gte is None or price >= r.gte) and (r.lte is None or price <= r.lte)
    return terms and priced and (not f.any_of or any(matches(p, a) for a in f.any_of))


def nested(node, at: str = "/filter", depth: int = 1):
    """Each filter object's JSON Pointer and depth, never deeper than MAX_DEPTH + 1."""
    if isinstance(node, dict) and depth <= MAX_DEPTH + 1:
        yield at, depth
        alts = node.get("any_of")
        for i, alt in enumerate(alts if isinstance(alts, list) else []):
            yield from nested(alt, f"{at}/any_of/{i}", depth + 1)


def search(body: SearchBody) -> dict:
    words = body.q.split()
    scored = [(sum(w in p["name"].split() for w in words), p) for p in PRODUCTS]
    hits = [(s, p) for s, p in scored if (s or not words) and matches(p, body.filter)]
    field = body.sort.lstrip("-")
    by_field = lambda h: h[1][field]  # noqa: E731
    rank = (lambda h: (-h[0], h[1]["id"])) if field == "relevance" else by_field
    hits.sort(key=rank, reverse=body.sort.startswith("-"))
    facets = {}  # disjunctive: a facet counts as if its own top-level filter were unset
    for f in body.facets:
        others = body.filter.model_copy(update={f: None})
        found = [p for s, p in scored if (s or not words) and matches(p, others)]
        facets[f] = dict(Counter(p[f] for p in found))
    return {"data": [p["id"] for _, p in hits], "facets": facets}


def problem(slug: str, detail: str, headers=None, **extensions) -> JSONResponse:
    status, title, retryable = TYPES[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    body |= {"retryable": retryable, **extensions}
    return JSONResponse(body, status, headers, media_type=PROBLEM_JSON)


def invalid(errors: list[dict]) -> JSONResponse:
    names = ", ".join(e.get("parameter", e.get("pointer")) or "(body)" for e in errors)
    return problem("invalid-request", f"Fix these and retry: {names}", errors=errors)


def pointer(path) -> str:  # RFC 6901: "~" is written "~0" and "/" is "~1"
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


app = FastAPI()


@app.exception_handler(RequestValidationError)
async def invalid_query(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"parameter": e["loc"][1], "detail": e["msg"]} for e in exc.errors()]
    return invalid(errors)


@app.exception_handler(HTTPException)
async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if exc.status_code != 405:
        return problem("not-found", f"No {request.method} {request.url.path}.")
    here = [r for r in app.routes if getattr(r, "path", "") == request.url.path]
    allow = ", ".join(sorted({m for r in here for m in r.methods}))  # every route's
    return problem("method-not-allowed", f"Use {allow}.", {"Allow": allow})


@app.get("/search")
async def search_get(params: Annotated[SearchQuery, Query()]) -> dict:
    return search(params.to_body())


@app.post("/search")
async def search_post(request: Request):
    raw = b""
    async for chunk in request.stream():  # counted as it arrives, not by Content-Length
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            return problem("content-too-large", f"Send at most {MAX_BODY_BYTES} bytes.")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or too deep to parse
        return invalid([{"pointer": "", "detail": "The body is not a JSON document."}])
    top = doc.get("filter") if isinstance(doc, dict) else None
    for count, (at, depth) in enumerate(nested(top), 1):
        if depth > MAX_DEPTH or count > MAX_NODES:
            limit = f"Use at most {MAX_NODES} filters, nested at most {MAX_DEPTH} deep."
            return invalid([{"pointer": at, "detail": limit}])
    try:
        return search(SearchBody.model_validate(doc))
    except ValidationError as e:
        errors = e.errors()
    return invalid([{"pointer": pointer(x["loc"]), "detail": x["msg"]} for x in errors])


async def demo() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        url = "/search?q=trail&filter[brand]=acme,zenith&price_max=100&facets=colour"
        r = await client.get(url)
        print(r.status_code, r.json())
        #> 200 {'data': [1, 3], 'facets': {'colour': {'red': 2}}}
        r = await client.get("/search?sort=-price&price_min=100")
        print(r.status_code, r.json()["data"])
        #> 200 [4, 2]
        cheap_red = {"colour": {"in": ["red"]}, "price": {"lte": 50}}
        body = {"filter": {"any_of": [cheap_red, {"brand": {"in": ["zenith"]}}]}}
        r = await client.post("/search", json=body | {"sort": "price"})
        print(r.status_code, r.json()["data"])
        #> 200 [3, 4]
        r = await client.get("/search?price_min=cheap&filter[size]=42")
        print(r.status_code, r.headers["content-type"])
        #> 400 application/problem+json
        for error in r.json()["errors"]:
            print(error["parameter"], "-", error["detail"].split(",")[0])
            #> price_min - Input should be a valid number
            #> filter[size] - Extra inputs are not permitted
        r = await client.post("/search", json={"filter": {"price": {"gt": 10}}})
        print(r.json()["detail"])
        #> Fix these and retry: /filter/price/gt


if __name__ == "__main__":
    asyncio.run(demo())
