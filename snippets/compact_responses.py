"""Compact responses: ?fields= sparse fieldsets, with the bytes saved measured."""

import asyncio
import gzip
import random

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse

FIELDS = ["id", "title", "author", "summary", "body", "tags", "cover_url", "updated"]
ALWAYS = ["id"]  # like JSON:API's id and type: present whatever the client asks

rng = random.Random(7)
WORDS = """river stone market night signal garden copper winter bridge lantern harbour
meadow engine paper orbit canyon violet thunder glacier pepper ladder mirror cactus
saddle walnut beacon quarry falcon tunnel marble cotton ember anchor velvet""".split()
ARTICLES = [
    {
        "id": f"art_{n}",
        "title": f"Field notes {n}",
        "author": {"id": f"usr_{n % 3}", "name": ["Ana", "Ben", "Chi"][n % 3]},
        "summary": " ".join(rng.choices(WORDS, k=20)),
        "body": " ".join(rng.choices(WORDS, k=120)),
        "tags": rng.sample(WORDS, 3),
        "cover_url": f"https://img.example.com/covers/{n}.jpg",
        "updated": f"2026-05-{n + 1:02d}T09:00:00Z",
    }
    for n in range(20)
]
app = FastAPI()


def problem(detail: str, invalid: list[str]) -> JSONResponse:
    body = {
        "type": "https://api.example.com/problems/unknown-field",
        "status": 400,
        "title": "Unknown field in fields parameter",
        "detail": detail,
        "invalid_fields": invalid,
    }
    return JSONResponse(body, status_code=400, media_type="application/problem+json")


def parse_fields(raw: str | None) -> list[str]:
    """None means every field; "title,author" means id plus those, in schema order."""
    if raw is None:
        return FIELDS
    wanted = {name.strip() for name in raw.split(",") if name.strip()}
    unknown = sorted(wanted - set(FIELDS))
    if unknown:
        raise ValueError(unknown)
    return [f for f in FIELDS if f in wanted or f in ALWAYS]


@app.get("/articles")
def list_articles(fields: str | None = None):
    try:
        chosen = parse_fields(fields)
    except ValueError as err:
        unknown = err.args[0]
        return problem(f"Unknown field(s): {', '.join(unknown)}.", unknown)
    items = [{f: article[f] for f in chosen} for article in ARTICLES]
    return {"data": items}  # FastAPI writes compact JSON: no spaces, no indent


async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        full = (await client.get("/articles")).content
        trimmed = (await client.get("/articles?fields=title,author")).content
        for name, body in (("full", full), ("trimmed", trimmed)):
            zipped = len(gzip.compress(body, mtime=0))
            print(f"{name}: {len(body)} bytes of JSON, {zipped} gzipped")
            #> full: 23768 bytes of JSON, 4661 gzipped
            #> trimmed: 1550 bytes of JSON, 223 gzipped
        print(f"saved {1 - len(trimmed) / len(full):.0%} of the JSON")
        #> saved 93% of the JSON
        print((await client.get("/articles?fields=title")).json()["data"][0])
        #> {'id': 'art_0', 'title': 'Field notes 0'}
        bad = await client.get("/articles?fields=title,passwd")
        print(bad.status_code, bad.headers["content-type"])
        #> 400 application/problem+json
        print(bad.json()["detail"])
        #> Unknown field(s): passwd.


if __name__ == "__main__":
    asyncio.run(main())
