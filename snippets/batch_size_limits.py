"""Documented, enforced caps: bytes per request (413), items per batch (422), bytes and
nesting per item (400), checked before any item is applied; a client that splits."""

import asyncio
import json

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
REGISTRY = {  # slug -> (status, title, retryable), as in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "content-too-large": (413, "Content too large", False),
    "batch-too-large": (422, "Batch too large", False),
}
MAX_BATCH_ITEMS = 1000
MAX_BATCH_BYTES = 1048576  # 1 MiB
MAX_ITEM_BYTES = 1024  # one item, serialised
MAX_ITEM_DEPTH = 4  # {"a": {"b": ...}} nesting levels within one item


def problem(slug: str, detail: str, **extra) -> JSONResponse:
    status, title, retryable = REGISTRY[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status,
            "detail": detail, "retryable": retryable, **extra}  # fmt: skip
    return JSONResponse(body, status, media_type=PROBLEM_JSON)


def too_large() -> JSONResponse:
    detail = f"Request bodies are limited to {MAX_BATCH_BYTES} bytes."
    return problem("content-too-large", detail, max_bytes=MAX_BATCH_BYTES)


def depth(value) -> int:
    if isinstance(value, dict | list):
        children = value.values() if isinstance(value, dict) else value
        return 1 + max((depth(child) for child in children), default=0)
    return 0


def item_errors(items: list) -> list[dict]:
    errors = []
    for index, item in enumerate(items):
        if len(json.dumps(item).encode()) > MAX_ITEM_BYTES:
            errors.append({"pointer": f"/items/{index}", "detail": "Item too large."})
        elif depth(item) > MAX_ITEM_DEPTH:
            errors.append({"pointer": f"/items/{index}", "detail": "Item too deep."})
    return errors


def create_app() -> FastAPI:
    app = FastAPI()
    app.state.contacts = []

    @app.exception_handler(HTTPException)
    def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code)
        return problem(slug or "invalid-request", str(exc.detail))

    @app.post("/contacts/batch")
    async def submit(request: Request):
        declared = request.headers.get("content-length", "0")
        if not (declared.isascii() and declared.isdigit()):  # "-1", "1, 2", "²"
            return problem("invalid-request", "Content-Length is not a number.",
                           header="content-length")  # fmt: skip
        if int(declared) > MAX_BATCH_BYTES:
            return too_large()  # refused before reading a byte of the body
        body = bytearray()
        async for chunk in request.stream():  # chunked bodies have no length
            body += chunk
            if len(body) > MAX_BATCH_BYTES:
                return too_large()
        try:
            items = json.loads(body)["items"]
        except (ValueError, KeyError, TypeError, RecursionError):  # and not UTF-8
            items = None
        if not isinstance(items, list):
            error = {"pointer": "/items", "detail": "A list of items."}
            detail = "The body is not a batch."
            return problem("invalid-request", detail, errors=[error])
        count = len(items)
        if count > MAX_BATCH_ITEMS:  # checked before any item is touched
            detail = f"{count} items is over the limit of {MAX_BATCH_ITEMS} per batch"
            return problem("batch-too-large", detail, max_items=MAX_BATCH_ITEMS,
                           received_items=count)  # fmt: skip
        if errors := item_errors(items):  # every item checked before any is applied
            return problem("invalid-request", "Some items are over the limits.",
                           errors=errors)  # fmt: skip
        app.state.contacts.extend(items)
        return {"accepted": count}

    return app


async def submit_all(client: httpx.AsyncClient, items: list, size: int = 5000) -> list:
    """The client half: send in batches, and when the server names a smaller cap in
    `max_items`, split to it and carry on; nothing is sent twice."""
    answers, start = [], 0
    while start < len(items):
        batch = {"items": items[start : start + size]}
        response = await client.post("/contacts/batch", json=batch)
        if response.status_code == 422 and "max_items" in response.json():
            size = response.json()["max_items"]  # nothing was applied: resend smaller
            continue
        response.raise_for_status()
        answers.append(response.json()["accepted"])
        start += size
    return answers


async def main() -> None:
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
        items = [{"email": f"user{i}@example.com"} for i in range(MAX_BATCH_ITEMS + 1)]
        at_cap = await c.post("/contacts/batch", json={"items": items[:-1]})
        print(at_cap.status_code, at_cap.json())
        #> 200 {'accepted': 1000}
        over = await c.post("/contacts/batch", json={"items": items})
        print(over.status_code, over.json()["type"])
        #> 422 https://api.example.com/problems/batch-too-large
        print(over.json()["detail"], over.json()["max_items"], len(app.state.contacts))
        #> 1001 items is over the limit of 1000 per batch 1000 1000
        huge = await c.post("/contacts/batch", content=b" " * (MAX_BATCH_BYTES + 1))
        print(huge.status_code, huge.json()["max_bytes"])
        #> 413 1048576
        many = [{"email": f"bulk{i}@example.com"} for i in range(2500)]
        print(await submit_all(c, many), len(app.state.contacts))
        #> [1000, 1000, 500] 3500


if __name__ == "__main__":
    asyncio.run(main())
