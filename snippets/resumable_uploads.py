"""Resumable uploads: a tus 1.0 server (core protocol and creation); resume at its offset."""

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from starlette.requests import ClientDisconnect

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation"
MAX_SIZE = 1_073_741_824  # Tus-Max-Size: 1 GiB


@dataclass
class Upload:
    length: int
    data: bytearray = field(
        default_factory=bytearray
    )  # a file or object store in production
    received: int = 0  # every body byte that reached the server, for the demo
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


uploads: dict[str, Upload] = {}
app = FastAPI()


def tus(status: int, **headers: str) -> Response:
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    return Response(
        status_code=status, headers={"Tus-Resumable": TUS_VERSION, **headers}
    )


@app.middleware("http")
async def require_tus_version(request: Request, call_next):
    if (
        request.method != "OPTIONS"
        and request.headers.get("Tus-Resumable") != TUS_VERSION
    ):
        return Response(status_code=412, headers={"Tus-Version": TUS_VERSION})
    return await call_next(request)


@app.options("/files/")
def capabilities() -> Response:
    return tus(
        204,
        Tus_Version=TUS_VERSION,
        Tus_Extension=TUS_EXTENSIONS,
        Tus_Max_Size=str(MAX_SIZE),
    )


@app.post("/files/")
def create(request: Request) -> Response:
    length = request.headers.get("Upload-Length", "")
    if not length.isdigit():
        return tus(400)
    if int(length) > MAX_SIZE:
        return tus(413)
    upload_id = uuid.uuid4().hex
    uploads[upload_id] = Upload(int(length))
    return tus(201, Location=f"/files/{upload_id}")


@app.head("/files/{upload_id}")
def offset(upload_id: str) -> Response:
    if (upload := uploads.get(upload_id)) is None:
        return tus(404)
    return tus(
        200,
        Upload_Offset=str(len(upload.data)),
        Upload_Length=str(upload.length),
        Cache_Control="no-store",
    )


@app.patch("/files/{upload_id}")
async def append(upload_id: str, request: Request) -> Response:
    if (upload := uploads.get(upload_id)) is None:
        return tus(404)
    if request.headers.get("Content-Type") != "application/offset+octet-stream":
        return tus(415)
    async with upload.lock:  # one writer per upload
        if request.headers.get("Upload-Offset") != str(len(upload.data)):
            return tus(409, Upload_Offset=str(len(upload.data)))
        try:
            async for chunk in request.stream():  # keep every byte as it arrives
                upload.received += len(chunk)
                if len(upload.data) + len(chunk) > upload.length:
                    return tus(400)
                upload.data += chunk
        except ClientDisconnect:  # the client is gone; what arrived stays stored
            pass
        return tus(204, Upload_Offset=str(len(upload.data)))


def serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def cut_off_after(data: bytes, n: int, upload: Upload):
    yield data[:n]
    while len(upload.data) < n:  # demo only: let those bytes land, then drop the line
        time.sleep(0.01)
    raise ConnectionResetError("network dropped")


if __name__ == "__main__":
    server, thread, base = serve(app)
    video = bytes(range(256)) * 400  # 102,400 bytes
    patch = {"Content-Type": "application/offset+octet-stream"}
    with httpx.Client(base_url=base, headers={"Tus-Resumable": TUS_VERSION}) as client:
        created = client.post("/files/", headers={"Upload-Length": str(len(video))})
        url = created.headers["Location"]
        upload = uploads[url.rsplit("/", 1)[1]]
        try:
            body = cut_off_after(video, 40_000, upload)
            size = {"Content-Length": str(len(video)), "Upload-Offset": "0"}
            client.patch(url, content=body, headers={**patch, **size})
        except ConnectionResetError as exc:
            print("first PATCH:", exc)
            #> first PATCH: network dropped
        offset = client.head(url).headers["Upload-Offset"]
        print("HEAD Upload-Offset:", offset)
        #> HEAD Upload-Offset: 40000
        stale = client.patch(url, content=b"", headers={**patch, "Upload-Offset": "0"})
        print("PATCH at byte zero:", stale.status_code, stale.headers["Upload-Offset"])
        #> PATCH at byte zero: 409 40000
        rest = {**patch, "Upload-Offset": offset}
        done = client.patch(url, content=video[int(offset) :], headers=rest)
        print("resume:", done.status_code, done.headers["Upload-Offset"])
        #> resume: 204 102400
    print("complete:", upload.data == video, "| bytes received:", upload.received)
    #> complete: True | bytes received: 102400
    server.should_exit = True
    thread.join()
