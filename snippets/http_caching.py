"""HTTP caching: Cache-Control max-age for expiration, a strong ETag for validation."""

import asyncio
import hashlib
import json

import httpx
from fastapi import FastAPI, HTTPException, Request, Response

CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=30"
TIMETABLES = {
    "berlin": [{"train": f"ICE {100 + i}", "platform": i % 8 + 1} for i in range(40)]
}

app = FastAPI()


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def none_match(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison of RFC 9110 section 13.1.2."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return etag in (tag.strip().removeprefix("W/") for tag in header.split(","))


@app.get("/stations/{station}/departures")
def departures(station: str, request: Request) -> Response:
    if station not in TIMETABLES:
        raise HTTPException(404)
    body = json.dumps(TIMETABLES[station], separators=(",", ":")).encode()
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": entity_tag(body)}
    if none_match(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)  # no content
    return Response(body, media_type="application/json", headers=headers)


class PrivateCache:
    """A client-side cache: fresh entries skip the network, stale ones revalidate."""

    def __init__(self, client: httpx.AsyncClient, clock):
        self.client, self.clock, self.entries = client, clock, {}
        self.received = self.saved = 0

    async def get(self, url: str) -> tuple[str, bytes]:
        entry = self.entries.get(url)
        if entry and self.clock() - entry["stored_at"] < entry["max_age"]:
            self.saved += len(entry["body"])
            return "fresh hit, no request", entry["body"]
        headers = {"If-None-Match": entry["etag"]} if entry else {}
        response = await self.client.get(url, headers=headers)
        self.received += len(response.content)
        directives = dict(
            d.strip().partition("=")[::2]
            for d in response.headers["cache-control"].split(",")
        )
        if response.status_code == 304:
            entry.update(stored_at=self.clock(), max_age=int(directives["max-age"]))
            self.saved += len(entry["body"])
            return "304 Not Modified", entry["body"]
        self.entries[url] = {
            "etag": response.headers["etag"],
            "body": response.content,
            "stored_at": self.clock(),
            "max_age": int(directives["max-age"]),
        }
        return f"{response.status_code} with body", response.content


async def main() -> None:
    now = [0]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        cache = PrivateCache(client, clock=lambda: now[0])
        url = "/stations/berlin/departures"
        for t in (0, 30, 61, 100, 130):
            if t == 100:
                TIMETABLES["berlin"][0]["platform"] = 9  # the resource changes
            now[0] = t
            outcome, body = await cache.get(url)
            platform = json.loads(body)[0]["platform"]
            print(f"t={t:>3}s {outcome:<22} {len(body)} bytes, platform {platform}")
            #> t=  0s 200 with body          1321 bytes, platform 1
            #> t= 30s fresh hit, no request  1321 bytes, platform 1
            #> t= 61s 304 Not Modified       1321 bytes, platform 1
            #> t=100s fresh hit, no request  1321 bytes, platform 1
            #> t=130s 200 with body          1321 bytes, platform 9
    print(f"body bytes received {cache.received}, saved {cache.saved}")
    #> body bytes received 2642, saved 3963


if __name__ == "__main__":
    asyncio.run(main())
