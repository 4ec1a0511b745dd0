"""A batch job whose result has one status per item, each valid item applied exactly
once, even when the worker dies between an item's write and its result record."""

import asyncio
import hashlib
import json
from typing import Annotated

import httpx
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
REGISTRY = {  # slug -> (status, title, retryable), as in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "idempotency-key-missing": (400, "Idempotency-Key is missing", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "idempotency-key-reused": (422, "Idempotency-Key already used", False),
    "internal-error": (500, "Internal error", True),
}
RETRY_AFTER_SECONDS = 1  # how soon a poll can expect progress


def problem(slug: str, detail: str, **extra) -> dict:
    status, title, retryable = REGISTRY[slug]
    return {"type": PROBLEMS + slug, "title": title, "status": status,
            "detail": detail, "retryable": retryable, **extra}  # fmt: skip


def answer(slug: str, detail: str, **extra) -> JSONResponse:
    body = problem(slug, detail, **extra)
    return JSONResponse(body, body["status"], media_type=PROBLEM_JSON)


def validate(index: int, item: dict) -> dict | None:
    """The problem the single-item endpoint would answer, or None for a valid item."""
    if "@" not in str(item.get("email", "")):
        pointer = f"/items/{index}/email"  # RFC 6901, from the root of the request body
        error = {"pointer": pointer, "detail": "Not an email address."}
        return problem("invalid-request", "The item is not valid.", errors=[error])
    return None


def create_app(contacts: dict | None = None) -> FastAPI:
    app = FastAPI()
    jobs: dict[str, dict] = {}
    keys: dict[str, tuple[str, str]] = {}  # Idempotency-Key -> (body digest, job id)
    contacts = {} if contacts is None else contacts  # the side effect, one per item
    running: set[asyncio.Task] = set()
    app.state.jobs, app.state.contacts = jobs, contacts

    async def process(job: dict) -> None:
        job["status"] = "running"
        try:
            for index, item in enumerate(job["items"]):
                if index in job["results"]:  # recorded before a crash or restart: skip
                    continue
                failure = validate(index, item)
                if failure:
                    job["results"][index] = {"index": index, "status": "failed",
                                             "problem": failure}  # fmt: skip
                    continue
                contact_id = f"ct_{job['id']}_{index}"  # the same id on every attempt
                if contact_id not in contacts:  # a unique key: a rerun cannot duplicate
                    contacts[contact_id] = item
                job["results"][index] = {"index": index, "status": "succeeded",
                                         "id": contact_id}  # fmt: skip
                if index % 100 == 99:
                    await asyncio.sleep(0)  # a long batch shares the event loop
            job["status"] = "succeeded"  # items that failed say so themselves
        except Exception:  # the job itself could not finish
            job["error"] = problem("internal-error", "The batch stopped; resubmit it.")
            job["status"] = "failed"

    def start(job: dict) -> None:
        task = asyncio.create_task(process(job))
        running.add(task)
        task.add_done_callback(running.discard)

    def resume() -> None:  # a restarted worker picks up every unfinished job
        for job in jobs.values():
            if job["status"] == "running":
                start(job)

    app.state.resume = resume

    def public(job: dict) -> dict:
        results = [job["results"][i] for i in sorted(job["results"])]
        failed = sum(1 for r in results if r["status"] == "failed")
        summary = {"succeeded": len(results) - failed, "failed": failed}
        body = {"id": job["id"], "href": f"/jobs/{job['id']}", "status": job["status"]}
        body |= {"summary": summary, "results": results}  # so far, while it runs
        if "error" in job:
            body["error"] = job["error"]
        return body

    @app.exception_handler(HTTPException)
    def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code)
        return answer(slug or "invalid-request", str(exc.detail))

    @app.post("/contacts/batches", status_code=202)
    async def submit(request: Request, idempotency_key: Annotated[str, Header()] = ""):
        if not idempotency_key:
            return answer("idempotency-key-missing", "Send an Idempotency-Key.")
        try:
            items = json.loads(await request.body())["items"]
            if not all(isinstance(item, dict) for item in items):
                raise TypeError
        except (ValueError, KeyError, TypeError):  # not UTF-8, not JSON, no list
            error = {"pointer": "/items", "detail": "A list of objects."}
            return answer("invalid-request", "The body is not a batch.", errors=[error])
        canonical = json.dumps(items, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()  # formatting-blind
        if idempotency_key in keys:  # a retry: answer with the job it already made
            seen, job_id = keys[idempotency_key]
            if seen != digest:
                detail = "The key came with another batch."
                return answer("idempotency-key-reused", detail)
        else:
            job_id = f"job_{len(jobs) + 1}"
            keys[idempotency_key] = (digest, job_id)  # no await since the check: atomic
            jobs[job_id] = {"id": job_id, "status": "queued", "items": items}
            jobs[job_id]["results"] = {}
            start(jobs[job_id])
        body = public(jobs[job_id])
        headers = {"Location": body["href"], "Retry-After": str(RETRY_AFTER_SECONDS)}
        return JSONResponse(body, 202, headers)

    @app.get("/jobs/{job_id}")
    def job_status(job_id: str):
        if job_id not in jobs:
            return answer("not-found", f"No job {job_id}.")
        body = public(jobs[job_id])
        done = body["status"] in ("succeeded", "failed")
        wait = {} if done else {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return JSONResponse(body, headers=wait)

    return app


async def main() -> None:
    app = create_app()
    items = [{"email": f"user{i}@example.com"} for i in range(1000)]
    for i in (3, 250, 500, 750, 999):
        items[i] = {"email": f"user{i} at example.com"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
        headers = {"Idempotency-Key": "batch-2026-11-25-a"}
        batch = {"items": items}
        submitted = await c.post("/contacts/batches", json=batch, headers=headers)
        job = submitted.json()
        print(submitted.status_code, submitted.headers["location"], job["status"])
        #> 202 /jobs/job_1 queued
        while job["status"] in ("queued", "running"):
            await asyncio.sleep(0)  # a real client waits Retry-After seconds
            job = (await c.get(job["href"])).json()
        print(job["status"], job["summary"])
        #> succeeded {'succeeded': 995, 'failed': 5}
        for result in job["results"]:
            if result["status"] == "failed":
                print(result["index"], result["problem"]["errors"][0]["pointer"])
                #> 3 /items/3/email
                #> 250 /items/250/email
                #> 500 /items/500/email
                #> 750 /items/750/email
                #> 999 /items/999/email
        retry = await c.post("/contacts/batches", json=batch, headers=headers)
        print(retry.status_code, retry.headers["location"], len(app.state.contacts))
        #> 202 /jobs/job_1 995


if __name__ == "__main__":
    asyncio.run(main())
