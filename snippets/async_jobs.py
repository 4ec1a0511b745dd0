"""Async jobs: 202 Accepted and a job URL; a background worker; polling or a webhook."""

import asyncio
import ipaddress
import logging
import socket
import uuid
from contextlib import asynccontextmanager
from urllib.parse import SplitResult, urlsplit

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException

RETRY_AFTER_SECONDS = 2
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
TYPES = {  # slug: (status, title, retryable), as in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "unauthorized": (401, "Unauthorized", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "malware-found": (422, "Malware found", False),
    "internal-error": (500, "Internal error", False),
}
TOKENS = {"sk_test_alice": "acct_alice", "sk_test_bob": "acct_bob"}  # token: account
log = logging.getLogger("jobs")


def problem(slug: str, detail: str, **extra) -> dict:
    status, title, retryable = TYPES[slug]
    return {"type": PROBLEMS + slug, "title": title, "status": status,
            "detail": detail, "retryable": retryable, **extra}  # fmt: skip


class JobFailed(Exception):
    """Raised by the work with the problem that the failed job reports as `error`."""

    def __init__(self, problem: dict):
        super().__init__(problem["detail"])
        self.problem = problem


def https_url(url: str) -> SplitResult:
    parts = urlsplit(url)  # ValueError for "https://[::1"
    if parts.scheme != "https" or not parts.hostname or "@" in parts.netloc:
        raise ValueError("must be an https:// URL with a host and no credentials")
    if parts.port == 0:  # and ValueError for a port beyond 65535
        raise ValueError("must have a valid port")
    return parts  # the host's addresses are checked when the callback is sent


async def public_addresses(host: str) -> list[str]:
    """The addresses a callback host resolves to, unless one is not public (SSRF)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    ips = {ipaddress.ip_address(info[4][0]) for info in infos}
    ips = {getattr(ip, "ipv4_mapped", None) or ip for ip in ips}  # ::ffff:10.0.0.1
    if not ips or not all(ip.is_global and not ip.is_multicast for ip in ips):
        raise ValueError(f"{host} resolves to a non-public address")
    return sorted(str(ip) for ip in ips)


class Jobs:
    def __init__(self, work, http: httpx.AsyncClient, resolve=public_addresses):
        self.work, self.http, self.resolve = work, http, resolve
        self.store: dict[str, dict] = {}
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    def submit(self, owner: str, payload: dict, callback_url: str | None) -> dict:
        job_id = f"job_{uuid.uuid4().hex}"
        job = {"id": job_id, "href": f"/jobs/{job_id}", "status": "queued"}
        job["input"] = payload
        self.store[job_id] = job | {"owner": owner, "callback_url": callback_url}
        self.queue.put_nowait(job_id)
        return self.public(job_id)

    def public(self, job_id: str) -> dict:
        hidden = ("owner", "callback_url")
        return {k: v for k, v in self.store[job_id].items() if k not in hidden}

    async def worker(self) -> None:
        while True:
            job_id = await self.queue.get()
            try:  # one bad job or one bad callback never stops the worker
                await self.run(self.store[job_id])
            except Exception as exc:
                log.warning("job %s: callback not delivered: %r", job_id, exc)

    async def run(self, job: dict) -> None:
        job["status"] = "running"
        try:
            job["result"], job["status"] = await self.work(job["input"]), "succeeded"
        except JobFailed as exc:
            job["error"], job["status"] = exc.problem, "failed"
        except Exception:  # never leak internals into the job
            job["error"] = problem("internal-error", "The job stopped unexpectedly.")
            job["status"] = "failed"
        if job["callback_url"]:
            event = {"type": f"job.{job['status']}", "job": self.public(job["id"])}
            await self.deliver(job["callback_url"], event)

    async def deliver(self, url: str, event: dict) -> None:
        """POST to the address checked after resolution (pinned), never redirected."""
        parts = https_url(url)
        ip = ipaddress.ip_address((await self.resolve(parts.hostname))[0])
        host = f"[{ip}]" if ip.version == 6 else str(ip)
        pinned = parts._replace(netloc=f"{host}:{parts.port or 443}").geturl()
        await self.http.post(
            pinned, json=event, headers={"Host": parts.netloc}, follow_redirects=False,
            extensions={"sni_hostname": parts.hostname}, timeout=10,
        )  # fmt: skip


class Scan(BaseModel):
    file: str = Field(min_length=1, max_length=1024)
    callback_url: str | None = Field(None, max_length=2048)

    @field_validator("callback_url")
    @classmethod
    def https_only(cls, url: str | None) -> str | None:
        return url if url is None else https_url(url).geturl()


def caller(request: Request) -> str:
    sent = request.headers.getlist("authorization")
    if len(sent) > 1:
        raise HTTPException(400, problem("invalid-request", "Send one Authorization."))
    scheme, _, token = (sent or [""])[0].partition(" ")
    if scheme.lower() != "bearer" or token.strip() not in TOKENS:
        challenge = 'Bearer realm="api"' + (', error="invalid_token"' if sent else "")
        detail = problem("unauthorized", "Send a valid bearer token.")
        raise HTTPException(401, detail, {"WWW-Authenticate": challenge})
    return TOKENS[token.strip()]


def make_app(jobs: Jobs) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(jobs.worker(), name="job-worker")
        yield
        task.cancel()

    app = FastAPI(lifespan=lifespan)

    @app.exception_handler(HTTPException)
    async def http_problem(request: Request, exc: HTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code)
        slug = slug or "invalid-request"  # 400: a body that is not JSON or not UTF-8
        body = exc.detail if isinstance(exc.detail, dict) else problem(slug, exc.detail)
        return JSONResponse(body, body["status"], exc.headers, media_type=PROBLEM_JSON)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"pointer": "".join(f"/{p}" for p in e["loc"][1:]), "detail": e["msg"]}
            for e in exc.errors()
        ]
        body = problem("invalid-request", "The body is not a scan.", errors=errors)
        return JSONResponse(body, 400, media_type=PROBLEM_JSON)

    @app.post("/scans")
    async def submit(scan: Scan, owner: str = Depends(caller)) -> JSONResponse:
        job = jobs.submit(owner, {"file": scan.file}, scan.callback_url)
        headers = {"Location": job["href"], "Retry-After": str(RETRY_AFTER_SECONDS)}
        return JSONResponse(job, status_code=202, headers=headers)

    @app.get("/jobs/{job_id}")
    async def status(job_id: str, owner: str = Depends(caller)) -> JSONResponse:
        if jobs.store.get(job_id, {}).get("owner") != owner:  # others' jobs: not found
            raise HTTPException(404, problem("not-found", f"No job {job_id}."))
        job = jobs.public(job_id)
        done = job["status"] in ("succeeded", "failed")
        headers = {} if done else {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return JSONResponse(job, headers=headers)

    return app


async def virus_scan(payload: dict) -> dict:
    await asyncio.sleep(0)  # the real scan takes minutes
    if "eicar" in payload["file"]:
        raise JobFailed(problem("malware-found", "Signature EICAR-Test-File matched."))
    return {"file": payload["file"], "verdict": "clean"}


async def demo() -> None:
    delivered: asyncio.Queue[dict] = asyncio.Queue()
    receiver = FastAPI()  # the client's webhook endpoint

    @receiver.post("/hooks")
    async def hook(event: dict) -> None:
        await delivered.put(event)

    async def dns(host: str) -> list[str]:  # the demo's DNS: one public address
        return ["93.184.215.14"]

    hook_http = httpx.AsyncClient(transport=httpx.ASGITransport(receiver))
    app = make_app(Jobs(virus_scan, hook_http, resolve=dns))
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://api",
        headers={"Authorization": "Bearer sk_test_alice"},
    )  # fmt: skip
    async with app.router.lifespan_context(app), hook_http, api:
        hooked = {"file": "report.pdf", "callback_url": "https://client.example/hooks"}
        accepted = await api.post("/scans", json=hooked)
        job, retry = accepted.json(), accepted.headers["Retry-After"]
        print(accepted.status_code, job["status"], retry)
        #> 202 queued 2
        event = await delivered.get()  # told by webhook
        print(event["type"], event["job"]["result"])
        #> job.succeeded {'file': 'report.pdf', 'verdict': 'clean'}
        plain = {"file": "x", "callback_url": "http://client.example/hooks"}
        refused = await api.post("/scans", json=plain)
        print(refused.status_code, refused.json()["errors"][0]["pointer"])
        #> 400 /callback_url
        accepted = await api.post("/scans", json={"file": "eicar.com"})
        while True:  # found out by polling
            polled = (await api.get(accepted.json()["href"])).json()
            if polled["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.01)  # a real client waits Retry-After seconds
        print(polled["status"], polled["error"]["type"].removeprefix(PROBLEMS))
        #> failed malware-found


if __name__ == "__main__":
    asyncio.run(demo())
