"""Offline-first client cache: ETag revalidation, stale-while-offline, push invalidation."""

import asyncio
import hashlib
import json

import httpx
from fastapi import FastAPI, HTTPException, Request, Response

MAX_AGE = 60  # seconds a cached copy is used without asking the server
ARTICLES = {"a1": {"id": "a1", "title": "Trail map", "body": "North loop, 12 km."}}
app = FastAPI()


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 section 13.1.2): W/"x" matches "x"."""
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


@app.get("/articles/{article_id}")
def get_article(article_id: str, request: Request) -> Response:
    if article_id not in ARTICLES:
        raise HTTPException(404, "not found")
    body = json.dumps(ARTICLES[article_id], separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={MAX_AGE}"}
    if etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)  # no body
    return Response(body, media_type="application/json", headers=headers)


class OfflineCache:
    """A client-side store: URL path -> (ETag, body, time stored, max-age)."""

    def __init__(self, client: httpx.AsyncClient, clock):
        self.client, self.clock, self.entries = client, clock, {}

    async def get(self, path: str) -> tuple[str, dict]:
        entry = self.entries.get(path)
        if entry and self.clock() - entry["stored_at"] < entry["max_age"]:
            return "cache", entry["body"]
        headers = {"If-None-Match": entry["etag"]} if entry else {}
        try:
            response = await self.client.get(path, headers=headers)
        except httpx.TransportError:
            if entry is None:
                raise
            return "offline", entry["body"]  # stale, but the screen still works
        if response.status_code == 304:
            entry.update(stored_at=self.clock(), max_age=max_age(response))
            return "revalidated", entry["body"]
        response.raise_for_status()
        self.entries[path] = {
            "etag": response.headers["etag"],
            "body": response.json(),
            "stored_at": self.clock(),
            "max_age": max_age(response),
        }
        return "network", response.json()

    def on_push(self, data: dict[str, str]) -> None:
        """Handle an FCM/APNs data message: {"type": "invalidate", "path": ...}."""
        if data.get("type") == "invalidate":
            self.entries.pop(data.get("path", ""), None)


def max_age(response: httpx.Response) -> int:
    for directive in response.headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        if name == "max-age" and value.isdigit():
            return int(value)
    return 0


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
        cache = OfflineCache(client, clock=lambda: now[0])
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
        network.online = True
        ARTICLES["a1"]["title"] = "Trail map (closed)"
        cache.on_push({"type": "invalidate", "path": "/articles/a1"})
        source, article = await cache.get("/articles/a1")
        print(source, article["title"], network.log[-1])
        #> network Trail map (closed) (None, 200)


if __name__ == "__main__":
    asyncio.run(main())
