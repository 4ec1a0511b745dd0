"""HTTP caching: Cache-Control max-age for expiration, a strong ETag and Last-Modified
for validation, and a private client cache that honours them."""

import asyncio
import hashlib
import json
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=30"  # for every caller
TIMETABLES = {
    "berlin": [{"train": f"ICE {100 + i}", "platform": i % 8 + 1} for i in range(40)]
}
MODIFIED = {"berlin": 1_796_198_400}  # Wed, 02 Dec 2026 08:00:00 GMT
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
    headers = (exc.headers or {}) | {"Cache-Control": "no-store"}  # errors: never reuse
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_JSON)


def set_platform(station: str, train: int, platform: int, at: int) -> None:
    """The one write path: the content and its Last-Modified change together."""
    TIMETABLES[station][train]["platform"] = platform
    MODIFIED[station] = at


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def none_match(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison of RFC 9110 section 13.1.2."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return etag in (tag.strip().removeprefix("W/") for tag in header.split(","))


def http_date(value: str | None) -> float | None:
    """An HTTP-date in seconds; None if absent, invalid or a list (RFC 9110 13.1.3)."""
    if value is None or value.count(",") > 1:
        return None
    try:
        return parsedate_to_datetime(value).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def not_modified(request: Request, etag: str, modified: int) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides; If-Modified-Since only without it."""
    since = http_date(request.headers.get("if-modified-since"))
    if "if-none-match" in request.headers:
        return none_match(request.headers["if-none-match"], etag)
    return since is not None and modified <= since


@app.get("/stations/{station}/departures")
def departures(station: str, request: Request) -> Response:
    if station not in TIMETABLES:
        raise HTTPException(404, f"No station {station!r}.")
    body = json.dumps(TIMETABLES[station], separators=(",", ":")).encode()
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": entity_tag(body)}  # and no Vary
    if not_modified(request, headers["ETag"], MODIFIED[station]):
        return Response(status_code=304, headers=headers)  # no content, RFC 9110 15.4.5
    headers["Last-Modified"] = formatdate(MODIFIED[station], usegmt=True)
    return Response(body, media_type="application/json", headers=headers)


def directives(response: httpx.Response) -> dict[str, str]:
    """Cache-Control directives, names lower-cased (RFC 9111 section 5.2)."""
    values = response.headers.get("cache-control", "").split(",")
    pairs = (d.strip().partition("=") for d in values)
    return {name.lower(): value.strip('"') for name, _, value in pairs if name}


def seconds(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


class PrivateCache:
    """A client-side cache: fresh entries skip the network, stale ones revalidate."""

    def __init__(self, client: httpx.AsyncClient, clock):
        self.client, self.clock, self.entries, self.pending = client, clock, {}, {}
        self.received = self.saved = 0

    async def get(self, url: str) -> tuple[str, bytes]:
        entry = self.entries.get(url)
        if entry:
            age = self.clock() - entry["stored_at"]
            if age < entry["max_age"]:
                self.saved += len(entry["body"])
                return "fresh hit, no request", entry["body"]
            if age < entry["max_age"] + entry["swr"]:  # RFC 5861 section 3
                if url not in self.pending:
                    self.pending[url] = asyncio.create_task(self.fetch(url, entry))
                return "stale, revalidating", entry["body"]
        return await self.fetch(url, entry)

    async def fetch(self, url: str, entry: dict | None) -> tuple[str, bytes]:
        try:
            headers = {"If-None-Match": entry["etag"]} if entry else {}
            response = await self.client.get(url, headers=headers)
        finally:
            self.pending.pop(url, None)
        self.received += len(response.content)
        cc = directives(response)
        revalidate = cc.keys() & {"no-cache", "must-revalidate"}  # RFC 9111 4.2.4
        fresh = {
            "stored_at": self.clock() - seconds(response.headers.get("age")),
            "max_age": 0 if "no-cache" in cc else seconds(cc.get("max-age")),
            "swr": 0 if revalidate else seconds(cc.get("stale-while-revalidate")),
        }
        if response.status_code == 304 and entry:  # RFC 9111 section 4.3.4
            entry.update(fresh, etag=response.headers.get("etag", entry["etag"]))
            self.saved += len(entry["body"])
            return "304 Not Modified", entry["body"]
        self.entries.pop(url, None)
        if response.status_code == 200 and "etag" in response.headers:
            if "no-store" not in cc:
                etag = response.headers["etag"]
                self.entries[url] = fresh | {"etag": etag, "body": response.content}
        return f"{response.status_code} with body", response.content

    async def settle(self) -> None:
        await asyncio.gather(*self.pending.values())


async def main() -> None:
    now = [0]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        cache = PrivateCache(client, clock=lambda: now[0])
        url = "/stations/berlin/departures"
        for t in (0, 30, 61, 100, 130, 150):
            if t == 100:  # the timetable changes
                set_platform("berlin", train=0, platform=9, at=MODIFIED["berlin"] + t)
            now[0] = t
            outcome, body = await cache.get(url)
            await cache.settle()  # let a background revalidation finish
            platform = json.loads(body)[0]["platform"]
            print(f"t={t:>3}s {outcome:<22} {len(body)} bytes, platform {platform}")
            #> t=  0s 200 with body          1321 bytes, platform 1
            #> t= 30s fresh hit, no request  1321 bytes, platform 1
            #> t= 61s stale, revalidating    1321 bytes, platform 1
            #> t=100s fresh hit, no request  1321 bytes, platform 1
            #> t=130s stale, revalidating    1321 bytes, platform 1
            #> t=150s fresh hit, no request  1321 bytes, platform 9
    print(f"body bytes received {cache.received}, saved {cache.saved}")
    #> body bytes received 2642, saved 5284


if __name__ == "__main__":
    asyncio.run(main())
