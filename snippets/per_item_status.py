"""A batch job whose result has one status per item, applied exactly once per item."""

import asyncio
import hashlib
import json
from typing import Annotated

import httpx
from fastapi import BackgroundTasks, FastAPI, Header, Request
from fastapi.responses import JSONResponse

PROBLEM = "application/problem+json"


def validate(index: int, item: dict) -> dict | None:
    """An RFC 9457 problem for one item, or None if the item is valid."""
    if "@" not in str(item.get("email", "")):
        return {"type": "https://docs.example/problems/invalid-field",
                "title": "Invalid field", "status": 422,
                "detail": "email must be an email address",
                "pointer": f"/items/{index}/email"}  # fmt: skip
    return None


def create_app() -> FastAPI:
    app = FastAPI()
    jobs: dict[str, dict] = {}
    keys: dict[str, tuple[str, str]] = {}  # Idempotency-Key -> (body hash, job id)
    contacts: dict[str, dict] = {}  # the side effect: one contact per valid item
    app.state.jobs, app.state.contacts = jobs, contacts

    def process(job_id: str) -> None:
        job = jobs[job_id]
        for index, item in enumerate(job["items"]):
            if index in job["results"]:  # done before a crash or restart: skip
                continue
            problem = validate(index, item)
            if problem:
                job["results"][index] = {
                    "index": index,
                    "status": 422,
                    "problem": problem,
                }
                continue
            contact_id = f"ct_{len(contacts) + 1}"
            contacts[contact_id] = item  # the write and its record commit together
            job["results"][index] = {"index": index, "status": 201, "id": contact_id}
        job["status"] = "completed"

    app.state.process = process

    @app.post("/contacts/batches", status_code=202)
    async def submit(
        request: Request,
        tasks: BackgroundTasks,
        idempotency_key: Annotated[str | None, Header()] = None,
    ):
        if not idempotency_key:
            problem = {"title": "Idempotency-Key header required", "status": 400}
            return JSONResponse(problem, 400, media_type=PROBLEM)
        body = await request.body()
        digest = hashlib.sha256(body).hexdigest()
        if idempotency_key in keys:  # a retry: answer with the job it already made
            seen_digest, job_id = keys[idempotency_key]
            if seen_digest != digest:
                problem = {"title": "Idempotency-Key reused with another body",
                           "status": 422}  # fmt: skip
                return JSONResponse(problem, 422, media_type=PROBLEM)
            return JSONResponse({"id": job_id}, 202, {"Location": f"/jobs/{job_id}"})
        job_id = f"job_{len(jobs) + 1}"
        keys[idempotency_key] = (digest, job_id)  # no await since the check: atomic
        jobs[job_id] = {"status": "running", "items": json.loads(body)["items"],
                        "results": {}}  # fmt: skip
        tasks.add_task(process, job_id)
        return JSONResponse({"id": job_id}, 202, {"Location": f"/jobs/{job_id}"})

    @app.get("/jobs/{job_id}")
    def job_status(job_id: str):
        job = jobs[job_id]
        results = [job["results"][i] for i in sorted(job["results"])]
        failed = sum(1 for r in results if r["status"] >= 400)
        summary = {"succeeded": len(results) - failed, "failed": failed}
        return {"id": job_id, "status": job["status"], "summary": summary,
                "results": results}  # fmt: skip

    return app


async def main() -> None:
    app = create_app()
    items = [{"email": f"user{i}@example.com"} for i in range(1000)]
    for i in (3, 250, 500, 750, 999):
        items[i] = {"email": f"user{i} at example.com"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
        headers = {"Idempotency-Key": "batch-2026-11-25-a"}
        submitted = await c.post(
            "/contacts/batches", json={"items": items}, headers=headers
        )
        print(submitted.status_code, submitted.headers["location"])
        #> 202 /jobs/job_1
        job = (await c.get(submitted.headers["location"])).json()
        print(job["status"], job["summary"])
        #> completed {'succeeded': 995, 'failed': 5}
        for result in job["results"]:
            if result["status"] != 201:
                print(result["index"], result["problem"]["pointer"])
                #> 3 /items/3/email
                #> 250 /items/250/email
                #> 500 /items/500/email
                #> 750 /items/750/email
                #> 999 /items/999/email
        retry = await c.post(
            "/contacts/batches", json={"items": items}, headers=headers
        )
        print(retry.status_code, retry.headers["location"], len(app.state.contacts))
        #> 202 /jobs/job_1 995


if __name__ == "__main__":
    asyncio.run(main())
