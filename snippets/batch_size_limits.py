"""Documented, enforced caps: items per batch (422) and bytes per request (413)."""

import asyncio
import json

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

MAX_BATCH_ITEMS = 1000
MAX_BATCH_BYTES = 1048576  # 1 MiB
DOCS = "https://docs.example/limits"


def problem(status: int, kind: str, title: str, detail: str, **extra) -> JSONResponse:
    body = {"type": f"{DOCS}#{kind}", "title": title, "status": status,
            "detail": detail, **extra}  # fmt: skip
    return JSONResponse(body, status, media_type="application/problem+json")


def too_large() -> JSONResponse:
    detail = f"Request bodies are limited to {MAX_BATCH_BYTES} bytes."
    return problem(413, "body-too-large", "Request body too large", detail,
                   max_bytes=MAX_BATCH_BYTES)  # fmt: skip


def create_app() -> FastAPI:
    app = FastAPI()
    app.state.contacts = []

    @app.post("/contacts/batch")
    async def submit(request: Request):
        declared = request.headers.get("content-length")
        if declared is not None and int(declared) > MAX_BATCH_BYTES:
            return too_large()  # refused before reading a byte of the body
        body = bytearray()
        async for chunk in request.stream():  # chunked bodies have no length
            body += chunk
            if len(body) > MAX_BATCH_BYTES:
                return too_large()
        try:
            items = json.loads(body)["items"]
        except (ValueError, KeyError, TypeError):
            items = None
        if not isinstance(items, list):
            detail = 'The body must be a JSON object {"items": [...]}'
            return problem(400, "malformed-batch", "Malformed batch", detail)
        count = len(items)
        if count > MAX_BATCH_ITEMS:  # checked before any item is touched
            detail = f"{count} items is over the limit of {MAX_BATCH_ITEMS} per batch"
            extra = {"max_items": MAX_BATCH_ITEMS, "received_items": count}
            return problem(422, "batch-too-large", "Batch too large", detail, **extra)
        app.state.contacts.extend(items)
        return {"accepted": count}

    return app


async def main() -> None:
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
        items = [{"email": f"user{i}@example.com"} for i in range(MAX_BATCH_ITEMS + 1)]
        at_cap = await c.post("/contacts/batch", json={"items": items[:-1]})
        print(at_cap.status_code, at_cap.json())
        #> 200 {'accepted': 1000}
        over = await c.post("/contacts/batch", json={"items": items})
        print(over.status_code, over.headers["content-type"])
        #> 422 application/problem+json
        print(over.json()["detail"])
        #> 1001 items is over the limit of 1000 per batch
        print(over.json()["max_items"], len(app.state.contacts))
        #> 1000 1000
        huge = await c.post("/contacts/batch", content=b" " * (MAX_BATCH_BYTES + 1))
        print(huge.status_code, huge.json()["max_bytes"])
        #> 413 1048576


if __name__ == "__main__":
    asyncio.run(main())
