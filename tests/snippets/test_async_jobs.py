"""Async jobs: 202 with a job URL, a background worker, polling, a completion webhook."""

import asyncio
import logging
import socket
import threading
import time
from contextlib import asynccontextmanager

import async_jobs as snippet
import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Response

ALICE = {"Authorization": "Bearer sk_test_alice"}
BOB = {"Authorization": "Bearer sk_test_bob"}
PUBLIC_IP = "93.184.215.14"


async def public_dns(host: str) -> list[str]:
    return [PUBLIC_IP]


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
async def running(work, hook_status: int = 204, resolve=public_dns):
    events: list[dict] = []
    seen: list[httpx.Request] = []
    receiver = FastAPI()

    @receiver.post("/hooks")
    async def hook(event: dict) -> Response:
        events.append(event)
        headers = {"Location": "http://169.254.169.254/latest"}
        return Response(status_code=hook_status, headers=headers)

    @receiver.get("/latest")
    async def metadata() -> dict:
        events.append({"type": "redirect-followed"})
        return {}

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    hook_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(receiver), event_hooks={"request": [record]}
    )
    jobs = snippet.Jobs(work, hook_http, resolve=resolve)
    app = snippet.make_app(jobs)
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://api", headers=ALICE
    )
    async with app.router.lifespan_context(app), hook_http, api:
        yield api, events, jobs, seen


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
        async with running(work) as (api, *_):
            r = await api.post("/scans", json={"file": "a.pdf"})
            assert r.status_code == 202
            job_id = r.json()["id"]
            assert job_id.startswith("job_")
            assert r.headers["Location"] == r.json()["href"] == f"/jobs/{job_id}"
            assert r.headers["Retry-After"] == "2"
            assert r.json() == {
                "id": job_id, "href": f"/jobs/{job_id}", "status": "queued",
                "input": {"file": "a.pdf"},
            }  # fmt: skip
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
        async with running(work) as (api, *_):
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
        async with running(snippet.virus_scan) as (api, events, *_):
            body = {"file": "eicar.com", "callback_url": "https://client.example/hooks"}
            r = await api.post("/scans", json=body)
            job = await settle(api, r.headers["Location"])
            assert job["status"] == "failed" and "result" not in job
            assert job["error"] == {
                "type": "https://api.example.com/problems/malware-found",
                "title": "Malware found",
                "status": 422,
                "detail": "Signature EICAR-Test-File matched.",
                "retryable": False,
            }
            await until(lambda: events)
            assert [e["type"] for e in events] == ["job.failed"]
            assert events[0]["job"] == job

    asyncio.run(main())


def test_unexpected_crash_fails_the_job_without_leaking_internals():
    async def main():
        work = Gate(fail_with=RuntimeError("password=hunter2 at db01:5432"))
        work.release.set()
        async with running(work) as (api, *_):
            r = await api.post("/scans", json={"file": "x"})
            job = await settle(api, r.headers["Location"])
            assert job["status"] == "failed"
            assert job["error"]["type"].endswith("/internal-error")
            assert job["error"]["retryable"] is False
            assert "hunter2" not in str(job)
            work.fail_with = None  # the worker survives the crash and takes the next job
            nxt = await api.post("/scans", json={"file": "y"})
            assert (await settle(api, nxt.headers["Location"]))["status"] == "succeeded"

    asyncio.run(main())


def test_completion_webhook_is_sent_once_and_a_failing_receiver_does_not_fail_the_job():
    async def main():
        for hook_status in (204, 500):
            async with running(snippet.virus_scan, hook_status) as (api, events, *_):
                body = {"file": "ok.pdf", "callback_url": "https://client.example/hooks"}
                r = await api.post("/scans", json=body)
                job = await settle(api, r.headers["Location"])
                await until(lambda: events)
                assert job["status"] == "succeeded"
                assert events == [{"type": "job.succeeded", "job": job}]
                assert "callback_url" not in job and "owner" not in job

    asyncio.run(main())


@pytest.mark.parametrize("bad", ["https://[::1", "http://[::1", "https://"])
def test_a_malformed_callback_never_kills_the_worker(bad, caplog):
    """F-JOB-1: `httpx.InvalidURL` and `ValueError` are not `httpx.HTTPError`."""

    async def main():
        async with running(snippet.virus_scan) as (api, events, jobs, _):
            refused = await api.post("/scans", json={"file": "a", "callback_url": bad})
            assert refused.status_code == 400
            assert refused.json()["errors"][0]["pointer"] == "/callback_url"
            jobs.submit("acct_alice", {"file": "a"}, bad)  # past the check, say from a DB
            hooked = {"file": "b", "callback_url": "https://client.example/hooks"}
            nxt = await api.post("/scans", json=hooked)
            assert (await settle(api, nxt.headers["Location"]))["status"] == "succeeded"
            await until(lambda: events)
            assert [e["job"]["input"]["file"] for e in events] == ["b"]

    with caplog.at_level(logging.WARNING, logger="jobs"):
        asyncio.run(main())
    assert "callback not delivered" in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "http://client.example/hooks",
        "ftp://client.example/hooks",
        "https://user:pw@client.example/hooks",
        "client.example/hooks",
        "https:///hooks",
        "https://client.example:99999/hooks",
        "https://client.example:0/hooks",
    ],
)
def test_callback_must_be_an_https_url_with_a_host(url):
    async def main():
        async with running(snippet.virus_scan) as (api, _, jobs, _seen):
            r = await api.post("/scans", json={"file": "a", "callback_url": url})
            assert r.status_code == 400
            assert r.headers["Content-Type"] == "application/problem+json"
            assert r.json()["type"].endswith("/invalid-request")
            assert r.json()["errors"][0]["pointer"] == "/callback_url"
            assert jobs.store == {}

    asyncio.run(main())


@pytest.fixture
def internal_service():
    """A plain TCP listener on 127.0.0.1 that counts every connection made to it."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.05)
    accepted, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], accepted
    stop.set()
    thread.join()
    sock.close()


def test_callbacks_to_non_public_addresses_after_real_dns_are_never_connected(
    internal_service, caplog
):
    """F-JOB-2: the real resolver; `localhost` is a name that resolves to loopback."""
    port, accepted = internal_service
    urls = [
        f"https://localhost:{port}/hooks",
        f"https://127.0.0.1:{port}/hooks",
        f"https://[::ffff:127.0.0.1]:{port}/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.7/hooks",
        "https://[fd00::1]/hooks",
    ]

    async def main():
        work = Gate()
        work.release.set()
        jobs = snippet.Jobs(work, httpx.AsyncClient())  # the real resolver
        app = snippet.make_app(jobs)
        transport = httpx.ASGITransport(app)
        api = httpx.AsyncClient(transport=transport, base_url="http://api", headers=ALICE)
        async with app.router.lifespan_context(app), api, jobs.http:
            for url in urls:
                r = await api.post("/scans", json={"file": url, "callback_url": url})
                assert r.status_code == 202
                assert (await settle(api, r.headers["Location"]))["status"] == "succeeded"
            await until(lambda: caplog.text.count("non-public address") == len(urls))

    with caplog.at_level(logging.WARNING, logger="jobs"):
        asyncio.run(main())
    time.sleep(0.1)
    assert accepted == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.1.2.3", "0.0.0.0", "10.1.2.3", "172.16.0.1", "192.168.1.1",
        "100.64.0.1", "169.254.169.254", "224.0.0.1", "::1", "::", "fe80::1", "fd00::1",
        "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    ],
)  # fmt: skip
def test_every_non_public_range_is_refused(address):
    async def main():
        with pytest.raises(ValueError, match="non-public"):
            await snippet.public_addresses(address)

    asyncio.run(main())


def test_public_addresses_refuses_a_name_with_any_private_address():
    async def main():
        with pytest.raises(ValueError, match="non-public"):
            await snippet.public_addresses("localhost")
        assert await snippet.public_addresses(PUBLIC_IP) == [PUBLIC_IP]

    asyncio.run(main())


def test_callback_goes_to_the_checked_address_and_no_redirect_is_followed():
    """Pinned to the resolved IP (no second lookup to rebind) and never redirected."""

    async def main():
        async with running(snippet.virus_scan, hook_status=307) as (api, events, _, seen):
            body = {"file": "a", "callback_url": "https://client.example:8443/hooks"}
            r = await api.post("/scans", json=body)
            await settle(api, r.headers["Location"])
            await until(lambda: events)
            await asyncio.sleep(0.01)
            assert [e["type"] for e in events] == ["job.succeeded"]  # 307 not followed
            (sent,) = seen
            assert sent.url.host == PUBLIC_IP and sent.url.port == 8443
            assert sent.headers["Host"] == "client.example:8443"
            assert sent.extensions["sni_hostname"] == "client.example"

    asyncio.run(main())


def test_a_job_is_visible_only_to_the_account_that_created_it():
    async def main():
        async with running(snippet.virus_scan) as (api, *_):
            r = await api.post("/scans", json={"file": "a"})
            location = r.headers["Location"]
            assert (await settle(api, location))["status"] == "succeeded"
            foreign = await api.get(location, headers=BOB)
            unknown = await api.get("/jobs/job_nope", headers=BOB)
            assert foreign.status_code == unknown.status_code == 404
            assert foreign.json()["type"].endswith("/not-found")
            assert foreign.json().keys() == unknown.json().keys()
            assert "input" not in foreign.json() and "verdict" not in foreign.text

    asyncio.run(main())


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, 'Bearer realm="api"'),
        ({"Authorization": "Bearer sk_test_mallory"}, 'Bearer realm="api", error="invalid_token"'),
        (
            {"Authorization": "Basic c2tfdGVzdF9hbGljZTo="},
            'Bearer realm="api", error="invalid_token"',
        ),
    ],
)
def test_no_or_a_wrong_credential_is_a_401_with_www_authenticate(headers, challenge):
    async def main():
        async with running(snippet.virus_scan) as (api, *_):
            api.headers.pop("Authorization")
            for r in (
                await api.post("/scans", json={"file": "a"}, headers=headers),
                await api.get("/jobs/job_x", headers=headers),
            ):
                assert r.status_code == 401
                assert r.headers["WWW-Authenticate"] == challenge
                assert r.json()["type"].endswith("/unauthorized")
                assert r.json()["retryable"] is False

    asyncio.run(main())


def test_scheme_is_case_insensitive_and_a_repeated_authorization_is_refused():
    async def main():
        async with running(snippet.virus_scan) as (api, *_):
            api.headers.pop("Authorization")
            ok = await api.post(
                "/scans", json={"file": "a"}, headers={"authorization": "BEARER sk_test_alice"}
            )
            assert ok.status_code == 202
            two = [
                ("Authorization", "Bearer sk_test_alice"),
                ("Authorization", "Bearer sk_test_bob"),
            ]
            r = await api.post("/scans", json={"file": "a"}, headers=two)
            assert r.status_code == 400 and r.json()["type"].endswith("/invalid-request")

    asyncio.run(main())


@pytest.mark.parametrize(
    ("content", "pointer"),
    [
        (b'{"callback_url": "https://client.example/hooks"}', "/file"),
        (b'{"file": 7}', "/file"),
        (b'{"file": ""}', "/file"),
        (b"{not json", None),
        (b'{"file": "\xff\xfe"}', None),
        (b"[]", None),
    ],
)
def test_a_bad_body_is_a_400_problem_never_a_500(content, pointer):
    """F-JOB-3: a missing `file` gave 500."""

    async def main():
        async with running(snippet.virus_scan) as (api, _, jobs, _seen):
            h = {"Content-Type": "application/json"}
            r = await api.post("/scans", content=content, headers=h)
            assert r.status_code == 400
            assert r.headers["Content-Type"] == "application/problem+json"
            body = r.json()
            assert body["type"].endswith("/invalid-request") and body["retryable"] is False
            if pointer:
                assert [e["pointer"] for e in body["errors"]] == [pointer]
            assert jobs.store == {}

    asyncio.run(main())


def test_framework_errors_are_problem_details():
    async def main():
        async with running(snippet.virus_scan) as (api, *_):
            wrong_method = await api.delete("/scans")
            assert wrong_method.status_code == 405
            assert wrong_method.json()["type"].endswith("/method-not-allowed")
            assert "allow" in wrong_method.headers
            nowhere = await api.get("/nowhere")
            assert nowhere.status_code == 404
            assert nowhere.headers["Content-Type"] == "application/problem+json"
            assert nowhere.json()["retryable"] is False

    asyncio.run(main())


def serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


def test_50_concurrent_submissions_over_real_connections_each_run_exactly_once():
    """F-JOB-5: 50 threads, 50 TCP connections to uvicorn, one worker."""
    calls: list[str] = []

    async def work(payload: dict) -> dict:
        calls.append(payload["file"])
        await asyncio.sleep(0)
        return {"file": payload["file"]}

    jobs = snippet.Jobs(work, httpx.AsyncClient(), resolve=public_dns)
    server, thread, base = serve(snippet.make_app(jobs))
    locations: list[str] = []
    barrier = threading.Barrier(50)

    def submit(i: int) -> None:
        with httpx.Client(base_url=base, headers=ALICE) as c:
            barrier.wait()
            r = c.post("/scans", json={"file": f"f{i}"})
            assert r.status_code == 202
            locations.append(r.headers["Location"])

    try:
        threads = [threading.Thread(target=submit, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(locations)) == 50
        with httpx.Client(base_url=base, headers=ALICE) as c:
            deadline = time.monotonic() + 5
            while len(calls) < 50 and time.monotonic() < deadline:
                time.sleep(0.01)
            states = {c.get(loc).json()["status"] for loc in locations}
        assert states == {"succeeded"}
        assert sorted(calls) == sorted(f"f{i}" for i in range(50))
    finally:
        server.should_exit = True
        thread.join()
