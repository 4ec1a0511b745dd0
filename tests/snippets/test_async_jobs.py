"""Async jobs: 202 with a job URL, a background worker, polling, a completion webhook."""

import asyncio
from contextlib import asynccontextmanager

import async_jobs as snippet
import httpx
from fastapi import FastAPI, Response


class Gate:
    """Work that runs only when the test lets it, recording which task ran it."""

    def __init__(self, fail_with: Exception | None = None):
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.calls: list[str] = []
        self.tasks: set[str] = set()
        self.fail_with = fail_with

    async def __call__(self, payload: dict) -> dict:
        self.calls.append(payload["file"])
        self.tasks.add(asyncio.current_task().get_name())
        self.started.set()
        await self.release.wait()
        if self.fail_with:
            raise self.fail_with
        return {"file": payload["file"], "verdict": "clean"}


@asynccontextmanager
async def running(work, hook_status: int = 204):
    events: list[dict] = []
    receiver = FastAPI()

    @receiver.post("/hooks")
    async def hook(event: dict) -> Response:
        events.append(event)
        return Response(status_code=hook_status)

    hook_http = httpx.AsyncClient(transport=httpx.ASGITransport(receiver))
    app = snippet.make_app(snippet.Jobs(work, hook_http))
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api")
    async with app.router.lifespan_context(app), hook_http, api:
        yield api, events


async def settle(api, location: str) -> dict:
    for _ in range(500):
        job = (await api.get(location)).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.001)
    raise AssertionError("job never finished")


async def until(condition) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never became true")


def test_202_with_location_before_the_work_runs_then_poll_to_success():
    async def main():
        work = Gate()
        async with running(work) as (api, _):
            r = await api.post("/scans", json={"file": "a.pdf"})
            assert r.status_code == 202
            assert r.headers["Location"] == f"/jobs/{r.json()['id']}"
            assert r.headers["Retry-After"] == "2"
            assert r.json() == {
                "id": r.json()["id"],
                "status": "queued",
                "input": {"file": "a.pdf"},
            }
            await asyncio.wait_for(work.started.wait(), 1)
            running_now = await api.get(r.headers["Location"])
            assert running_now.json()["status"] == "running"
            assert running_now.headers["Retry-After"] == "2"
            work.release.set()
            job = await settle(api, r.headers["Location"])
            done = await api.get(r.headers["Location"])
            assert "retry-after" not in done.headers  # terminal: stop polling
            assert job["result"] == {"file": "a.pdf", "verdict": "clean"}
            assert work.tasks == {"job-worker"}  # ran in the worker, not the request

    asyncio.run(main())


def test_status_is_queued_while_an_earlier_job_holds_the_worker():
    async def main():
        work = Gate()
        async with running(work) as (api, _):
            first = await api.post("/scans", json={"file": "1.pdf"})
            await asyncio.wait_for(work.started.wait(), 1)
            second = await api.post("/scans", json={"file": "2.pdf"})
            assert (await api.get(second.headers["Location"])).json()["status"] == "queued"
            assert (await api.get(first.headers["Location"])).json()["status"] == "running"
            work.release.set()
            assert (await settle(api, second.headers["Location"]))["status"] == "succeeded"
            assert work.calls == ["1.pdf", "2.pdf"]

    asyncio.run(main())


def test_failed_job_says_why_with_problem_details_and_webhook():
    async def main():
        async with running(snippet.virus_scan) as (api, events):
            body = {"file": "eicar.com", "callback_url": "http://client/hooks"}
            r = await api.post("/scans", json=body)
            job = await settle(api, r.headers["Location"])
            assert job["status"] == "failed" and "result" not in job
            assert job["error"] == {
                "type": "https://api.example.com/problems/malware-found",
                "title": "The file contains malware",
                "status": 422,
                "detail": "Signature EICAR-Test-File matched; the file was quarantined.",
            }
            await until(lambda: events)
            assert [e["type"] for e in events] == ["job.failed"]
            assert events[0]["job"] == job

    asyncio.run(main())


def test_unexpected_crash_fails_the_job_without_leaking_internals():
    async def main():
        work = Gate(fail_with=RuntimeError("password=hunter2 at db01:5432"))
        work.release.set()
        async with running(work) as (api, _):
            r = await api.post("/scans", json={"file": "x"})
            job = await settle(api, r.headers["Location"])
            assert job["error"] == {"type": "about:blank", "title": "Internal error", "status": 500}
            assert "hunter2" not in str(job)
            # the worker survives the crash and takes the next job
            work.fail_with = None
            nxt = await api.post("/scans", json={"file": "y"})
            assert (await settle(api, nxt.headers["Location"]))["status"] == "succeeded"

    asyncio.run(main())


def test_completion_webhook_is_sent_once_and_a_failing_receiver_does_not_fail_the_job():
    async def main():
        for hook_status in (204, 500):
            async with running(snippet.virus_scan, hook_status) as (api, events):
                body = {"file": "ok.pdf", "callback_url": "http://client/hooks"}
                r = await api.post("/scans", json=body)
                job = await settle(api, r.headers["Location"])
                await until(lambda: events)
                assert job["status"] == "succeeded"
                assert events == [{"type": "job.succeeded", "job": job}]
                assert "callback_url" not in job  # not echoed back

    asyncio.run(main())


def test_50_concurrent_submissions_each_processed_exactly_once():
    async def main():
        work = Gate()
        work.release.set()
        async with running(work) as (api, _):
            posts = await asyncio.gather(
                *(api.post("/scans", json={"file": f"f{i}"}) for i in range(50))
            )
            assert {p.status_code for p in posts} == {202}
            locations = {p.headers["Location"] for p in posts}
            assert len(locations) == 50
            jobs = await asyncio.gather(*(settle(api, loc) for loc in locations))
            assert {j["status"] for j in jobs} == {"succeeded"}
            assert sorted(work.calls) == sorted(f"f{i}" for i in range(50))

    asyncio.run(main())


def test_unknown_job_is_a_404_problem():
    async def main():
        async with running(snippet.virus_scan) as (api, _):
            r = await api.get("/jobs/nope")
            assert r.status_code == 404
            assert r.headers["Content-Type"] == "application/problem+json"
            assert r.json() == {"type": "about:blank", "title": "Not Found", "status": 404}

    asyncio.run(main())
