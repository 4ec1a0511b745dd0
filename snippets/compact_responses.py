"""Compact responses: ?fields= sparse fieldsets and gzip, and the bytes each saves."""

import asyncio
import hashlib
import json
import random
import re

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

FIELDS = ["id", "title", "author", "summary", "body", "tags", "cover_url", "updated"]
ALWAYS = ["id"]  # like JSON:API's id and type: present whatever the client asks
MAX_FIELDS_LENGTH = 200  # characters of ?fields= accepted, so a reflection stays small
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_JSON = "application/problem+json"
SLUGS = {
    400: ("invalid-request", "Invalid request"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
}

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
# Problems reflect the client's input: never compress them (BREACH)
app.add_middleware(
    GZipMiddleware, minimum_size=500, exclude_content_types=(PROBLEM_JSON,)
)


def problem(status: int, detail: str, headers=None, **extensions) -> JSONResponse:
    slug, title = SLUGS[status]
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    body |= {"retryable": False} | extensions
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_JSON)


@app.exception_handler(HTTPException)
async def http_problem(request: Request, exc: HTTPException) -> JSONResponse:
    status = exc.status_code if exc.status_code in SLUGS else 400
    return problem(status, str(exc.detail), exc.headers)


def parse_fields(values: list[str]) -> list[str]:
    """No parameter means every field; "title,author" means id plus those, in order."""
    if not values:
        return FIELDS
    if len(values) > 1 or len(values[0]) > MAX_FIELDS_LENGTH:
        raise ValueError([{"parameter": "fields", "detail": "Send one short list."}])
    wanted = {name.strip() for name in values[0].split(",") if name.strip()}
    unknown = sorted(wanted - set(FIELDS))
    if unknown:
        raise ValueError([unknown_field(name) for name in unknown])
    return [f for f in FIELDS if f in wanted or f in ALWAYS]


def unknown_field(name: str) -> dict:
    shown = name if re.fullmatch(r"[a-z_]{1,32}", name) else "(not a field name)"
    return {"parameter": "fields", "value": shown, "detail": "Not a field of articles."}


@app.get("/articles")
def list_articles(request: Request) -> Response:
    try:
        chosen = parse_fields(request.query_params.getlist("fields"))
    except ValueError as err:
        return problem(400, "The fields parameter is not valid.", errors=err.args[0])
    items = [{f: article[f] for f in chosen} for article in ARTICLES]
    body = json.dumps({"data": items}, separators=(",", ":")).encode()
    # one tag per representation: each fields value is its own (weak: any coding)
    etag = 'W/"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=60"}
    if_none_match = request.headers.get("if-none-match", "")
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    # weak comparison over the list, * included (RFC 9110 §13.1.2); the 304 repeats the
    # ETag, Cache-Control and Vary that a 200 would send (RFC 9110 §15.4.5)
    if etag.removeprefix("W/") in tags or "*" in tags:
        return Response(status_code=304, headers=headers | {"Vary": "Accept-Encoding"})
    return Response(body, media_type="application/json", headers=headers)


async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        sizes, gzip_ok = {}, {"Accept-Encoding": "gzip"}
        for name, query in (("full", ""), ("trimmed", "?fields=title,author")):
            response = await client.get("/articles" + query, headers=gzip_ok)
            sizes[name], sent = len(response.content), response.num_bytes_downloaded
            coding = response.headers["content-encoding"]
            print(f"{name}: {sizes[name]} bytes of JSON, {sent} sent as {coding}")
            #> full: 23768 bytes of JSON, 4661 sent as gzip
            #> trimmed: 1550 bytes of JSON, 223 sent as gzip
        print(f"saved {1 - sizes['trimmed'] / sizes['full']:.0%} of the JSON")
        #> saved 93% of the JSON
        one = await client.get("/articles?fields=title")
        print(one.json()["data"][0], one.headers["etag"] != response.headers["etag"])
        #> {'id': 'art_0', 'title': 'Field notes 0'} True
        bad = await client.get("/articles?fields=title,passwd")
        print(bad.status_code, bad.headers["content-type"])
        #> 400 application/problem+json
        print(bad.json()["type"], [e["value"] for e in bad.json()["errors"]])
        #> https://api.example.com/problems/invalid-request ['passwd']


if __name__ == "__main__":
    asyncio.run(main())
