"""Pre-signed URLs: the API signs a short-lived S3 URL; the bytes go straight to storage."""

import asyncio
import logging
import uuid
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
from botocore.config import Config
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from moto.server import ThreadedMotoServer

BUCKET = "uploads"
URL_TTL_SECONDS = 300


def make_app(s3) -> FastAPI:
    """The API only signs: it never reads or writes a file's bytes."""
    app = FastAPI()

    @app.post("/uploads", status_code=201)
    def start_upload(body: dict) -> dict:
        key = f"files/{uuid.uuid4()}/{body['filename']}"
        url = s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": BUCKET, "Key": key, "ContentType": body["content_type"]},
            ExpiresIn=URL_TTL_SECONDS,
        )
        return {"key": key, "method": "PUT", "url": url, "expires_in": URL_TTL_SECONDS}

    @app.get("/files/{key:path}")
    def download(key: str) -> RedirectResponse:
        url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=60
        )
        return RedirectResponse(url, status_code=302)

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
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api")
    async with api, httpx.AsyncClient() as storage:
        ticket = (
            await api.post(
                "/uploads",
                json={"filename": "report.pdf", "content_type": "application/pdf"},
            )
        ).json()
        query = parse_qs(urlsplit(ticket["url"]).query)
        print(ticket["method"], query["X-Amz-Algorithm"], query["X-Amz-Expires"])
        #> PUT ['AWS4-HMAC-SHA256'] ['300']
        put = await storage.put(
            ticket["url"],
            content=b"%PDF-1.7 quarterly numbers",
            headers={"Content-Type": "application/pdf"},
        )
        print("upload to storage:", put.status_code)
        #> upload to storage: 200
        redirect = await api.get(f"/files/{ticket['key']}")
        print("API answers", redirect.status_code, "with a signed Location")
        #> API answers 302 with a signed Location
        got = await storage.get(redirect.headers["location"])
        print(got.status_code, got.content)
        #> 200 b'%PDF-1.7 quarterly numbers'


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
