"""An eventually consistent search index whose responses state how stale they are, and
refuse to answer once the documented staleness window would be broken."""

import asyncio
import math
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel

MAX_STALENESS_S = 5  # documented: search reflects every write older than this
INDEX_INTERVAL_S = 1  # the indexer applies all committed writes this often


class Product(BaseModel):
    id: int
    name: str


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class Search:
    def __init__(self, clock) -> None:
        self.clock, self.log, self.docs, self.applied = clock, [], {}, 0
        self.rows: dict[int, dict] = {}  # the primary store, always current
        self.indexed_through = clock()  # every write committed before it is searchable

    def write(self, doc: dict) -> float:  # commits to the store, queues for the index
        self.rows[doc["id"]] = doc
        self.log.append((self.clock(), doc))
        return self.log[-1][0]

    def refresh(self) -> None:  # one indexer run: apply the whole backlog
        now = self.clock()
        for _, doc in self.log[self.applied :]:
            self.docs[doc["id"]] = doc
        self.applied, self.indexed_through = len(self.log), now


async def run_indexer(search: Search, sleep=asyncio.sleep) -> None:
    while True:
        search.refresh()
        await sleep(INDEX_INTERVAL_S)


def create_app(clock, sleep=asyncio.sleep) -> FastAPI:
    search = Search(clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        indexer = asyncio.create_task(run_indexer(search, sleep))
        yield
        indexer.cancel()

    app = FastAPI(lifespan=lifespan)
    app.state.search = search

    @app.post("/products", status_code=201)
    async def create(product: Product) -> dict:
        committed = search.write(product.model_dump())
        return {"id": product.id, "searchable_by": iso(committed + MAX_STALENESS_S)}

    @app.get("/products/{product_id}")  # read-your-writes: bypasses the index
    async def read(product_id: int) -> dict:
        if product_id not in search.rows:
            raise HTTPException(404)
        return search.rows[product_id]

    @app.get("/search")
    async def find(q: str = "") -> JSONResponse:
        staleness = clock() - search.indexed_through
        if staleness > MAX_STALENESS_S:  # never serve results that break the contract
            problem = {
                "type": "https://api.example.com/problems/index-behind",
                "title": "Search index is behind",
                "status": 503,
                "detail": f"Results would be {staleness:.0f} s stale; the contract is "
                f"{MAX_STALENESS_S} s. Retry, or read /products/{{id}} directly.",
            }
            headers = {"Retry-After": str(INDEX_INTERVAL_S)}
            return JSONResponse(problem, 503, headers, "application/problem+json")
        hits = [i for i, d in search.docs.items() if not q or q in d["name"].split()]
        body = {"data": sorted(hits), "indexed_through": iso(search.indexed_through)}
        body |= {"staleness_s": round(staleness, 3), "max_staleness_s": MAX_STALENESS_S}
        # A cache may add at most max-age more staleness: the total stays in the window.
        max_age = math.floor(MAX_STALENESS_S - staleness)
        return JSONResponse(body, headers={"Cache-Control": f"max-age={max_age}"})

    return app


async def demo() -> None:
    now = [1795608000.0]  # an injected clock: 2026-11-25T12:00:00Z
    app = create_app(clock=lambda: now[0])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        now[0] += 0.25
        r = await client.post("/products", json={"id": 7, "name": "trail shoe"})
        print(r.status_code, r.json())
        #> 201 {'id': 7, 'searchable_by': '2026-11-25T12:00:05.250Z'}
        r = await client.get("/search?q=shoe")
        print(r.json()["data"], r.json()["indexed_through"], r.json()["staleness_s"])
        #> [] 2026-11-25T12:00:00.000Z 0.25
        print(r.headers["cache-control"], r.json()["max_staleness_s"])
        #> max-age=4 5
        now[0] += 0.75
        app.state.search.refresh()  # what the background indexer does every second
        r = await client.get("/search?q=shoe")
        print(r.json()["data"], r.json()["staleness_s"], r.headers["cache-control"])
        #> [7] 0.0 max-age=5
        now[0] += 6  # the indexer stalls: answering would break the contract
        r = await client.get("/search?q=shoe")
        print(r.status_code, r.headers["retry-after"], r.json()["title"])
        #> 503 1 Search index is behind


if __name__ == "__main__":
    asyncio.run(demo())
