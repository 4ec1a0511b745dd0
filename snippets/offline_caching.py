"""Offline-first client cache: ETag revalidation, stale-while-offline and push
invalidation."""

import asyncio
import hashlib
import json

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

MAX_AGE = 60  # seconds a cached copy is used without asking the server
ARTICLES = {"a1": {"id": "a1", "title": "Trail map", "body": "North loop, 12 km."}}
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_JSON = "application/problem+json"
SLUGS = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
}
app = FastAPI()


@app.exception_handler(HTTPException)
async def problem(request: Request, exc: HTTPException) -> JSONResponse:
    status = exc.status_code if exc.status_code in SLUGS else 404
    slug, title = SLUGS[status]
    body = {"type": PROBLEMS + slug, "title": title, "status": status}
    body |= {"detail": str(exc.detail), "retryable": False}
    headers = (exc.headers or {}) | {"Cache-Control": "no-store"}
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_JSON)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 section 13.1.2): W/"x" matches "x"."""
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


@app.get("/articles/{article_id}")
def get_article(article_id: str, request: Request) -> Response:
    if article_id not in ARTICLES:
        raise HTTPException(404, f"No article {article_id!r}.")
    body = json.dumps(ARTICLES[article_id], separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={MAX_AGE}"}
    if etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)  # no body
    return Response(body, media_type="application/json", headers=headers)


class OfflineCache:
    """A client-side store: (user, URL path) -> ETag, body, time stored, lifetime."""

    def __init__(self, client: httpx.AsyncClient, clock, user: str, store=None):
        self.client, self.clock, self.user = client, clock, user
        self.entries = {} if store is None else store  # one store may serve a device
        self.inflight: dict[str, asyncio.Task] = {}

    async def get(self, path: str) -> tuple[str, dict]:
        entry = self.entries.get((self.user, path))
        if entry and self.clock() - entry["stored_at"] < entry["max_age"]:
            return "cache", entry["body"]
        task = self.inflight.get(path)
        if task is None:  # single flight: concurrent reads of a path share one request
            task = self.inflight[path] = asyncio.create_task(self.fetch(path, entry))
            task.add_done_callback(lambda _: self.inflight.pop(path, None))
        return await asyncio.shield(task)  # a cancelled reader does not cancel the rest

    async def fetch(self, path: str, entry: dict | None) -> tuple[str, dict]:
        headers = {"If-None-Match": entry["etag"]} if entry else {}
        try:
            response = await self.client.get(path, headers=headers)
        except httpx.TransportError:
            if entry is None:
                raise
            return "offline", entry["body"]  # stale, but the screen still works
        lifetime = freshness(response, self.clock())
        if response.status_code == 304 and entry:  # RFC 9111 section 4.3.4
            entry.update(lifetime, etag=response.headers.get("etag", entry["etag"]))
            return "revalidated", entry["body"]
        self.entries.pop((self.user, path), None)
        response.raise_for_status()
        if lifetime is not None and "etag" in response.headers:
            etag = response.headers["etag"]
            self.entries[(self.user, path)] = lifetime | {
                "etag": etag,
                "body": response.json(),
            }
        return "network", response.json()

    def on_push(self, data: dict[str, str]) -> None:
        """Handle an FCM/APNs data message: {"type": "invalidate", "path": ...}."""
        if isinstance(data, dict) and data.get("type") == "invalidate":
            entry = self.entries.get((self.user, str(data.get("path"))))
            if entry:
                entry["max_age"] = float("-inf")  # stale: revalidate, but keep it

    def sign_out(self) -> None:
        for key in [k for k in self.entries if k[0] == self.user]:
            del self.entries[key]


def freshness(response: httpx.Response, now: float) -> dict | None:
    """RFC 9111 section 5.2: None for no-store, else when stored and for how long."""
    directives = {}
    for directive in response.headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        directives[name.lower()] = value.strip('"')
    if "no-store" in directives:
        return None
    max_age = directives.get("max-age", "")
    seconds = 0 if "no-cache" in directives or not max_age.isdigit() else int(max_age)
    age = response.headers.get("age", "0")  # seconds it already spent in a cache
    return {"stored_at": now - (int(age) if age.isdigit() else 0), "max_age": seconds}


class Network(httpx.AsyncBaseTransport):
    """Wraps the real transport; when offline, fails like a phone in a tunnel."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner, self.online, self.log = inner, True, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.online:
            raise httpx.ConnectError("network unreachable", request=request)
        response = await self.inner.handle_async_request(request)
        self.log.append((request.headers.get("if-none-match"), response.status_code))
        return response


async def main() -> None:
    now = [1000.0]
    network = Network(httpx.ASGITransport(app=app))
    async with httpx.AsyncClient(transport=network, base_url="http://api") as client:
        cache = OfflineCache(client, clock=lambda: now[0], user="usr_ada")
        source, article = await cache.get("/articles/a1")
        print(source, article["title"], network.log)
        #> network Trail map [(None, 200)]
        source, article = await cache.get("/articles/a1")
        print(source, article["title"], len(network.log))
        #> cache Trail map 1
        now[0] += MAX_AGE
        source, article = await cache.get("/articles/a1")
        print(source, article["title"], network.log[-1])
        #> revalidated Trail map ('"32beb0f325d1c784"', 304)
        now[0] += MAX_AGE
        network.online = False
        source, article = await cache.get("/articles/a1")
        print(source, article["title"])
        #> offline Trail map
        ARTICLES["a1"]["title"] = "Trail map (closed)"
        cache.on_push({"type": "invalidate", "path": "/articles/a1"})  # still offline
        source, article = await cache.get("/articles/a1")
        print(source, article["title"])
        #> offline Trail map
        network.online = True
        source, article = await cache.get("/articles/a1")
        print(source, article["title"], network.log[-1][1])
        #> network Trail map (closed) 200
        cache.sign_out()
        print(len(cache.entries))
        #> 0


if __name__ == "__main__":
    asyncio.run(main())
