"""Async jobs: 202 Accepted and a job URL; a background worker; polling or a webhook."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

RETRY_AFTER_SECONDS = 2


class JobFailed(Exception):
    """Raised by the work with a problem (RFC 9457) that the job reports."""

    def __init__(self, problem: dict):
        super().__init__(problem["detail"])
        self.problem = problem


class Jobs:
    def __init__(
        self, work: Callable[[dict], Awaitable[dict]], http: httpx.AsyncClient
    ):
        self.work, self.http = work, http
        self.store: dict[str, dict] = {}
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def submit(self, payload: dict, callback_url: str | None) -> dict:
        job = {"id": str(uuid.uuid4()), "status": "queued", "input": payload}
        self.store[job["id"]] = job | {"callback_url": callback_url}
        self.queue.put_nowait(job["id"])
        return self.public(job["id"])

    def public(self, job_id: str) -> dict:
        return {k: v for k, v in self.store[job_id].items() if k != "callback_url"}

    async def worker(self) -> None:
        while True:
            job = self.store[await self.queue.get()]
            job["status"] = "running"
            try:
                job["result"], job["status"] = (
                    await self.work(job["input"]),
                    "succeeded",
                )
            except JobFailed as exc:
                job["error"], job["status"] = exc.problem, "failed"
            except Exception:  # never leak internals into the job
                job["status"] = "failed"
                job["error"] = {
                    "type": "about:blank",
                    "title": "Internal error",
                    "status": 500,
                }
            if job["callback_url"]:
                event = {"type": f"job.{job['status']}", "job": self.public(job["id"])}
                try:  # the webhook is a hint; the job resource stays the truth
                    await self.http.post(job["callback_url"], json=event)
                except httpx.HTTPError:
                    pass


def make_app(jobs: Jobs) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(jobs.worker(), name="job-worker")
        yield
        task.cancel()

    app = FastAPI(lifespan=lifespan)

    @app.post("/scans")
    async def submit(request: Request) -> JSONResponse:
        body = await request.json()
        job = jobs.submit({"file": body["file"]}, body.get("callback_url"))
        headers = {
            "Location": f"/jobs/{job['id']}",
            "Retry-After": str(RETRY_AFTER_SECONDS),
        }
        return JSONResponse(job, status_code=202, headers=headers)

    @app.get("/jobs/{job_id}")
    async def status(job_id: str) -> JSONResponse:
        if job_id not in jobs.store:
            problem = {"type": "about:blank", "title": "Not Found", "status": 404}
            return JSONResponse(problem, 404, media_type="application/problem+json")
        job = jobs.public(job_id)
        done = job["status"] in ("succeeded", "failed")
        headers = {} if done else {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return JSONResponse(job, headers=headers)

    return app


async def virus_scan(payload: dict) -> dict:
    await asyncio.sleep(0)  # the real scan takes minutes
    if "eicar" in payload["file"]:
        raise JobFailed({
            "type": "https://api.example.com/problems/malware-found",
            "title": "The file contains malware",
            "status": 422,
            "detail": "Signature EICAR-Test-File matched; the file was quarantined.",
        })  # fmt: skip
    return {"file": payload["file"], "verdict": "clean"}


async def demo() -> None:
    delivered: asyncio.Queue[dict] = asyncio.Queue()
    receiver = FastAPI()  # the client's webhook endpoint

    @receiver.post("/hooks")
    async def hook(event: dict) -> None:
        await delivered.put(event)

    hook_http = httpx.AsyncClient(transport=httpx.ASGITransport(receiver))
    app = make_app(Jobs(virus_scan, hook_http))
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api")
    async with app.router.lifespan_context(app), hook_http, api:
        hooked = {"file": "report.pdf", "callback_url": "http://client/hooks"}
        accepted = await api.post("/scans", json=hooked)
        print(
            accepted.status_code,
            accepted.json()["status"],
            accepted.headers["Retry-After"],
        )
        #> 202 queued 2
        event = await delivered.get()  # told by webhook
        print(event["type"], event["job"]["result"])
        #> job.succeeded {'file': 'report.pdf', 'verdict': 'clean'}
        accepted = await api.post("/scans", json={"file": "eicar.com"})
        while True:  # found out by polling
            polled = await api.get(accepted.headers["Location"])
            if polled.json()["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.01)  # a real client waits Retry-After seconds
        print(polled.json()["status"], polled.json()["error"]["title"])
        #> failed The file contains malware


if __name__ == "__main__":
    asyncio.run(demo())
