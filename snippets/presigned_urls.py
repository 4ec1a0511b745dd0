"""Pre-signed URLs: the API signs a short-lived S3 URL; bytes go straight to storage."""

import asyncio
import logging
import uuid
from typing import Literal
from urllib.parse import parse_qs, quote, urlsplit

import boto3
import httpx
from botocore.config import Config
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from moto.server import ThreadedMotoServer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

BUCKET = "uploads"
URL_TTL_SECONDS = 300
DOWNLOAD_TTL_SECONDS = 60
MAX_UPLOAD_BYTES = 104_857_600  # 100 MiB
ALLOWED_TYPES = Literal["application/pdf", "image/png", "image/jpeg"]
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
TYPES = {  # slug: (status, title, retryable), as in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "unauthorized": (401, "Unauthorized", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
}
TOKENS = {"sk_test_alice": "acct_alice", "sk_test_bob": "acct_bob"}  # token: account


def problem(slug: str, detail: str, **extra) -> dict:
    status, title, retryable = TYPES[slug]
    return {"type": PROBLEMS + slug, "title": title, "status": status,
            "detail": detail, "retryable": retryable, **extra}  # fmt: skip


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


NAME = r"^[^/\\\x00-\x1f\x7f]+$"  # no path separators, no control characters


class NewUpload(BaseModel):  # the name is metadata only: it never reaches the key
    filename: str = Field(min_length=1, max_length=255, pattern=NAME)
    content_type: ALLOWED_TYPES  # never text/html or image/svg+xml: they run scripts
    size: int = Field(ge=1, le=MAX_UPLOAD_BYTES)


def make_app(s3) -> FastAPI:
    """The API only signs: it never reads or writes a file's bytes."""
    app = FastAPI()
    files: dict[str, dict] = {}  # key: owner and metadata (a table in production)

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
        body = problem("invalid-request", "The body is not an upload.", errors=errors)
        return JSONResponse(body, 400, media_type=PROBLEM_JSON)

    @app.post("/uploads", status_code=201)
    def start_upload(body: NewUpload, owner: str = Depends(caller)) -> dict:
        key = f"files/{uuid.uuid4().hex}"  # chosen by the server, not the client
        files[key] = {"owner": owner, **body.model_dump()}
        params = {"Bucket": BUCKET, "Key": key, "ContentType": body.content_type,
                  "ContentLength": body.size}  # fmt: skip
        url = s3.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=URL_TTL_SECONDS
        )
        return {"key": key, "method": "PUT", "url": url, "expires_in": URL_TTL_SECONDS,
                "headers": {"Content-Type": body.content_type}}  # fmt: skip

    @app.get("/files/{key:path}")
    def download(key: str, owner: str = Depends(caller)) -> RedirectResponse:
        if files.get(key, {}).get("owner") != owner:  # others' files: not found
            raise HTTPException(404, problem("not-found", "No such file."))
        name = quote(files[key]["filename"], safe="")
        disposition = f"attachment; filename*=UTF-8''{name}"  # saved, never rendered
        params = {"Bucket": BUCKET, "Key": key,
                  "ResponseContentDisposition": disposition,
                  "ResponseContentType": files[key]["content_type"]}  # fmt: skip
        url = s3.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=DOWNLOAD_TTL_SECONDS
        )
        headers = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
        return RedirectResponse(url, status_code=302, headers=headers)

    return app


def s3_client(endpoint_url: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="AKIATESTKEY",
        aws_secret_access_key="test-secret-key",
        config=Config(signature_version="s3v4"),
    )


async def demo(app: FastAPI) -> None:
    alice = {"Authorization": "Bearer sk_test_alice"}
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://api", headers=alice
    )
    async with api, httpx.AsyncClient() as storage:
        pdf = b"%PDF-1.7 quarterly numbers"
        new = {"filename": "Q3 report.pdf", "content_type": "application/pdf"}
        ticket = (await api.post("/uploads", json=new | {"size": len(pdf)})).json()
        query = parse_qs(urlsplit(ticket["url"]).query)
        print(ticket["method"], query["X-Amz-Expires"], query["X-Amz-SignedHeaders"])
        #> PUT ['300'] ['content-length;content-type;host']
        put = await storage.put(ticket["url"], content=pdf, headers=ticket["headers"])
        print("upload to storage:", put.status_code)
        #> upload to storage: 200
        html = new | {"content_type": "text/html", "size": 10}
        print("text/html:", (await api.post("/uploads", json=html)).status_code)
        #> text/html: 400
        redirect = await api.get(f"/files/{ticket['key']}")
        print("API answers", redirect.status_code, redirect.headers["Referrer-Policy"])
        #> API answers 302 no-referrer
        bob = {"Authorization": "Bearer sk_test_bob"}
        foreign = await api.get(f"/files/{ticket['key']}", headers=bob)
        print("Bob:", foreign.status_code)
        #> Bob: 404
        got = await storage.get(redirect.headers["location"])
        print(got.status_code, got.content)
        #> 200 b'%PDF-1.7 quarterly numbers'
        print(got.headers["Content-Disposition"])
        #> attachment; filename*=UTF-8''Q3%20report.pdf


if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # quiet moto's access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = s3_client(f"http://{host}:{port}")
    s3.create_bucket(Bucket=BUCKET)
    try:
        asyncio.run(demo(make_app(s3)))
    finally:
        server.stop()
