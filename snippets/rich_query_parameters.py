"""Search filters, sorts and facets as validated query parameters, or as a JSON filter
in a POST body; any invalid input is a 400 problem naming the parameter or field."""

import asyncio
from collections import Counter
from typing import Annotated, Literal

import httpx
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

PRODUCTS = [
    {"id": 1, "name": "trail shoe", "brand": "acme", "colour": "red", "price": 90},
    {"id": 2, "name": "road shoe", "brand": "acme", "colour": "blue", "price": 120},
    {"id": 3, "name": "trail sock", "brand": "zenith", "colour": "red", "price": 12},
    {"id": 4, "name": "trail pro", "brand": "zenith", "colour": "black", "price": 150},
]
MAX_TERMS = 500  # values in one "in" list
MAX_ALTERNATIVES = 20  # entries in one any_of
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
    brand: list[str] = Field([], alias="filter[brand]")
    colour: list[str] = Field([], alias="filter[colour]")
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
    for name in ("brand", "colour"):
        terms = getattr(f, name)
        if terms and p[name] not in terms.in_:
            return False
    if f.price and f.price.gte is not None and p["price"] < f.price.gte:
        return False
    if f.price and f.price.lte is not None and p["price"] > f.price.lte:
        return False
    return not f.any_of or any(matches(p, alt) for alt in f.any_of)


def search(body: SearchBody) -> dict:
    words = body.q.split()
    scored = [(sum(w in p["name"].split() for w in words), p) for p in PRODUCTS]
    hits = [(s, p) for s, p in scored if (s or not words) and matches(p, body.filter)]
    if body.sort == "relevance":
        hits.sort(key=lambda h: (-h[0], h[1]["id"]))
    else:
        hits.sort(
            key=lambda h: h[1][body.sort.lstrip("-")], reverse=body.sort[0] == "-"
        )
    facets = {f: dict(Counter(p[f] for _, p in hits)) for f in body.facets}
    return {"data": [p["id"] for _, p in hits], "facets": facets}


app = FastAPI()


@app.exception_handler(RequestValidationError)
async def invalid_search(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for e in exc.errors():
        where, *path = e["loc"]
        if where == "query":
            errors.append({"parameter": path[0], "detail": e["msg"]})
        else:  # RFC 9457 section 3 style: a JSON Pointer into the request body
            pointer = (
                "#" if e["type"] == "json_invalid" else "#/" + "/".join(map(str, path))
            )
            errors.append({"pointer": pointer, "detail": e["msg"]})
    names = ", ".join(x.get("parameter") or x["pointer"] for x in errors)
    problem = {
        "type": "https://api.example.com/problems/invalid-search",
        "title": "Invalid search request",
        "status": 400,
        "detail": f"Fix these and retry: {names}",
        "errors": errors,
    }
    return JSONResponse(problem, status_code=400, media_type="application/problem+json")


@app.get("/search")
async def search_get(params: Annotated[SearchQuery, Query()]) -> dict:
    return search(params.to_body())


@app.post("/search")
async def search_post(body: SearchBody) -> dict:
    return search(body)


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
        #> Fix these and retry: #/filter/price/gt


if __name__ == "__main__":
    asyncio.run(demo())
