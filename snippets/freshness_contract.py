"""An eventually consistent search index whose responses state how stale they are, and
refuse to answer once the documented staleness window would be broken."""

import asyncio
import math
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
TYPES = {  # slug: (status, title, retryable), as in the site's problem-type registry
    "index-behind": (503, "Search index is behind", True),
    "invalid-request": (400, "Invalid request", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
}
MAX_STALENESS_S = 5  # documented: search reflects every write older than this
INDEX_INTERVAL_S = 1  # the indexer applies all committed writes this often
MAX_WAIT_S = 2  # documented: how long ?after= may wait for the index to catch up
MAX_RETRY_AFTER_S = 300  # a long stall is retried at most this rarely


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

        self.caught_up = asyncio.Event()  # set after each indexer run

    def write(self, doc: dict) -> tuple[float, int]:  # commits, queues for the index
        self.rows[doc["id"]] = doc
        self.log.append((self.clock(), doc))
        return self.log[-1][0], len(self.log)  # commit time and log position

    def read_log(self) -> tuple[list, int, float]:
        # The batch, its end position and the primary's commit clock at the read: every
        # write committed before that time is in the batch, however long applying takes.
        return self.log[self.applied :], len(self.log), self.clock()

    def apply(self, batch: list, end: int, through: float) -> None:
        for _, doc in batch:
            self.docs[doc["id"]] = doc
        self.applied, self.indexed_through = end, through
        self.caught_up.set()
        self.caught_up = asyncio.Event()

    def refresh(self) -> None:  # one indexer run: apply the whole backlog
        self.apply(*self.read_log())


async def run_indexer(search: Search, sleep=asyncio.sleep) -> None:
    while True:
        search.refresh()
        await sleep(INDEX_INTERVAL_S)


def problem(slug: str, detail: str, headers=None, **extensions) -> JSONResponse:
    status, title, retryable = TYPES[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    body |= {"retryable": retryable, **extensions}
    return JSONResponse(body, status, headers, media_type=PROBLEM_JSON)


def located(e: dict) -> dict:  # a parameter by name, a body field by JSON Pointer
    if e["loc"][0] == "query":
        return {"parameter": e["loc"][1]}
    path = [] if e["type"] == "json_invalid" else e["loc"][1:]  # bad JSON: the document
    return {"pointer": "".join(f"/{p}" for p in path)}


def create_app(clock, sleep=asyncio.sleep, max_wait_s=MAX_WAIT_S) -> FastAPI:
    search = Search(clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        indexer = asyncio.create_task(run_indexer(search, sleep))
        yield
        indexer.cancel()

    app = FastAPI(lifespan=lifespan)
    app.state.search = search

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [located(e) | {"detail": e["msg"]} for e in exc.errors()]
        return problem("invalid-request", "Fix the request.", errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code)
        slug = slug or "invalid-request"  # e.g. a body the framework could not parse
        return problem(slug, f"No {request.method} {request.url.path}.", exc.headers)

    @app.post("/products", status_code=201)
    async def create(product: Product) -> dict:
        committed, position = search.write(product.model_dump())
        searchable_by = iso(committed + MAX_STALENESS_S)
        return {"id": product.id, "searchable_by": searchable_by, "position": position}

    @app.get("/products/{product_id}")  # read-your-writes: bypasses the index
    async def read(product_id: int) -> dict:
        if product_id not in search.rows:
            raise HTTPException(404)
        return search.rows[product_id]

    @app.get("/search")
    async def find(q: str = "", after: int = 0) -> JSONResponse:
        if not 0 <= after <= len(search.log):
            detail = "Pass a position that POST /products returned."
            error = {"parameter": "after", "detail": detail}
            return problem("invalid-request", detail, errors=[error])
        try:  # wait for the index to include the caller's own write, briefly
            async with asyncio.timeout(max_wait_s):
                while search.applied < after:
                    await search.caught_up.wait()
        except TimeoutError:
            pass  # answered below: fresh enough for the window, or a 503
        staleness = clock() - search.indexed_through
        if staleness > MAX_STALENESS_S or search.applied < after:
            # Retry about as long as it has been broken, so a long stall is not polled.
            behind = staleness - MAX_STALENESS_S
            wait = math.ceil(min(MAX_RETRY_AFTER_S, max(INDEX_INTERVAL_S, behind)))
            detail = (
                f"Results would be {staleness:.0f} s stale; the contract is "
                f"{MAX_STALENESS_S} s. Retry, or read /products/{{id}} directly."
            )
            return problem("index-behind", detail, {"Retry-After": str(wait)})
        hits = [i for i, d in search.docs.items() if not q or q in d["name"].split()]
        body = {"data": sorted(hits), "indexed_through": iso(search.indexed_through)}
        body |= {"staleness_s": round(staleness, 3), "max_staleness_s": MAX_STALENESS_S}
        # must-revalidate: no cache may serve it stale (RFC 9111 section 4.2.4), so a
        # cache adds at most max-age and the total stays in the window.
        max_age = math.floor(MAX_STALENESS_S - staleness)
        cache = f"max-age={max_age}, must-revalidate"
        return JSONResponse(body, headers={"Cache-Control": cache})

    return app


async def demo() -> None:
    now = [1795608000.0]  # an injected clock: 2026-11-25T12:00:00Z
    app = create_app(clock=lambda: now[0])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        now[0] += 0.25
        r = await client.post("/products", json={"id": 7, "name": "trail shoe"})
        print(r.status_code, r.json())
        #> 201 {'id': 7, 'searchable_by': '2026-11-25T12:00:05.250Z', 'position': 1}
        r = await client.get("/search?q=shoe")
        print(r.json()["data"], r.json()["indexed_through"], r.json()["staleness_s"])
        #> [] 2026-11-25T12:00:00.000Z 0.25
        print(r.headers["cache-control"], r.json()["max_staleness_s"])
        #> max-age=4, must-revalidate 5
        now[0] += 0.75
        app.state.search.refresh()  # what the background indexer does every second
        r = await client.get("/search?q=shoe")
        print(r.json()["data"], r.json()["staleness_s"], r.headers["cache-control"])
        #> [7] 0.0 max-age=5, must-revalidate
        now[0] += 6  # the indexer stalls: answering would break the contract
        r = await client.get("/search?q=shoe")
        print(r.status_code, r.headers["retry-after"], r.json()["title"])
        #> 503 1 Search index is behind


if __name__ == "__main__":
    asyncio.run(demo())
