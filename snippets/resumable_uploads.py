"""Resumable uploads: a tus 1.0 server (core, creation, checksum, termination)."""

import asyncio
import base64
import binascii
import hashlib
import re
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,checksum,termination"
CHECKSUMS = "sha1,sha256"  # Tus-Checksum-Algorithm
MAX_SIZE = 1_073_741_824  # Tus-Max-Size: 1 GiB
LOCK_WAIT_SECONDS = 5  # how long a request waits for the writer to let go
OCTETS = "application/offset+octet-stream"
METADATA = re.compile(r"[!-+\--~]+( [A-Za-z0-9+/]*={0,2})?")  # key, base64 value


@dataclass
class Upload:
    length: int
    metadata: str | None = None  # Upload-Metadata, returned as received
    data: bytearray = field(default_factory=bytearray)  # a file or object in production
    received: int = 0  # every body byte that reached the server, for the demo
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    release: asyncio.Event = field(default_factory=asyncio.Event)


uploads: dict[str, Upload] = {}
app = FastAPI()


def tus(status: int, **headers: str) -> Response:
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    headers = {"Tus-Resumable": TUS_VERSION, **headers}
    return Response(status_code=status, headers=headers)


@app.middleware("http")
async def tus_core(request: Request, call_next):
    if override := request.headers.get("X-HTTP-Method-Override"):
        request.scope["method"] = override.upper()  # for proxies that block PATCH
    version = request.headers.get("Tus-Resumable")
    if request.method != "OPTIONS" and version != TUS_VERSION:
        return tus(412, Tus_Version=TUS_VERSION)
    return await call_next(request)


@app.exception_handler(HTTPException)
async def bare_status(request: Request, exc: HTTPException) -> Response:
    if request.url.path.startswith("/files"):  # tus answers with bare status codes
        return tus(exc.status_code)
    problem = {"type": "https://api.example.com/problems/not-found",
               "title": "Not found", "status": 404,
               "detail": "No such resource.", "retryable": False}  # fmt: skip
    return JSONResponse(problem, 404, media_type="application/problem+json")


@asynccontextmanager
async def writer(upload_id: str):
    """The upload, locked; a holder whose client went quiet is asked to let go."""
    if (upload := uploads.get(upload_id)) is None:
        raise HTTPException(404)
    lock = upload.lock  # one writer per upload
    upload.release.set()
    try:
        await asyncio.wait_for(lock.acquire(), LOCK_WAIT_SECONDS)
    except TimeoutError:
        raise HTTPException(423) from None  # Locked: still busy, try again
    upload.release = release = asyncio.Event()
    try:
        if uploads.get(upload_id) is not upload:  # terminated while this one waited
            raise HTTPException(404)
        yield upload, release
    finally:
        lock.release()


async def chunks(request: Request, release: asyncio.Event):
    """The body as it arrives, until it ends, the client goes or a request waits."""
    body, let_go = request.stream().__aiter__(), asyncio.ensure_future(release.wait())
    try:
        while True:
            nxt = asyncio.ensure_future(anext(body))
            await asyncio.wait({nxt, let_go}, return_when=asyncio.FIRST_COMPLETED)
            if not nxt.done():
                nxt.cancel()
                return
            yield nxt.result()
    except (StopAsyncIteration, ClientDisconnect):  # what arrived stays stored
        return
    finally:
        let_go.cancel()


async def store(upload: Upload, chunk: bytes) -> None:
    """Append to the upload: an awaited file or object-store write in production."""
    upload.data += chunk


@app.options("/files/")
def capabilities() -> Response:
    return tus(204, Tus_Version=TUS_VERSION, Tus_Extension=TUS_EXTENSIONS,
               Tus_Max_Size=str(MAX_SIZE),
               Tus_Checksum_Algorithm=CHECKSUMS)  # fmt: skip


@app.post("/files/")
def create(request: Request) -> Response:
    length = request.headers.get("Upload-Length", "")
    metadata = request.headers.get("Upload-Metadata") or None
    if not re.fullmatch(r"[0-9]{1,19}", length):  # ASCII digits only: not "²"
        return tus(400)
    if metadata is not None and not valid_metadata(metadata):
        return tus(400)
    if int(length) > MAX_SIZE:
        return tus(413)
    upload_id = uuid.uuid4().hex
    uploads[upload_id] = Upload(int(length), metadata)
    return tus(201, Location=f"/files/{upload_id}")


def valid_metadata(header: str) -> bool:
    pairs = [pair.strip() for pair in header.split(",")]
    keys = [pair.split(" ")[0] for pair in pairs]
    try:
        [base64.b64decode(p.partition(" ")[2], validate=True) for p in pairs]
    except binascii.Error:
        return False
    return all(METADATA.fullmatch(p) for p in pairs) and len(set(keys)) == len(keys)


@app.head("/files/{upload_id}")
async def offset(upload_id: str) -> Response:
    async with writer(upload_id) as (upload, _):  # a stale PATCH lets go: final offset
        meta = {"Upload_Metadata": upload.metadata} if upload.metadata else {}
        at, length = str(len(upload.data)), str(upload.length)
        return tus(200, Upload_Offset=at, Upload_Length=length,
                   Cache_Control="no-store", **meta)  # fmt: skip


@app.patch("/files/{upload_id}")
async def append(upload_id: str, request: Request) -> Response:
    if request.headers.get("Content-Type") != OCTETS:
        return tus(415)
    algorithm, _, digest = request.headers.get("Upload-Checksum", "").partition(" ")
    if algorithm and algorithm not in CHECKSUMS.split(","):
        return tus(400)
    async with writer(upload_id) as (upload, release):
        at = len(upload.data)
        if request.headers.get("Upload-Offset") != str(at):
            return tus(409, Upload_Offset=str(at))
        if at + int(request.headers.get("Content-Length") or 0) > upload.length:
            return tus(413, Upload_Offset=str(at))  # refused before any byte is kept
        held = bytearray()  # with a checksum, nothing is kept until it matches
        async for chunk in chunks(request, release):
            upload.received += len(chunk)
            if len(upload.data) + len(held) + len(chunk) > upload.length:
                return tus(413, Upload_Offset=str(len(upload.data)))
            if algorithm:
                held += chunk
            else:
                await store(upload, chunk)
        if algorithm:
            sent = base64.b64encode(hashlib.new(algorithm, held).digest()).decode()
            if sent != digest:
                return tus(460, Upload_Offset=str(at))  # Checksum Mismatch
            await store(upload, held)
        return tus(204, Upload_Offset=str(len(upload.data)))


@app.delete("/files/{upload_id}")
async def terminate(upload_id: str) -> Response:
    async with writer(upload_id):
        del uploads[upload_id]
    return tus(204)


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
        name = "filename dGFsay5tcDQ="  # talk.mp4, base64
        new = {"Upload-Length": str(len(video)), "Upload-Metadata": name}
        created = client.post("/files/", headers=new)
        url = created.headers["Location"]
        upload = uploads[url.rsplit("/", 1)[1]]
        try:
            body = cut_off_after(video, 40_000, upload)
            size = {"Content-Length": str(len(video)), "Upload-Offset": "0"}
            client.patch(url, content=body, headers={**patch, **size})
        except ConnectionResetError as exc:
            print("first PATCH:", exc)
            #> first PATCH: network dropped
        head = client.head(url).headers
        offset = head["Upload-Offset"]
        print("HEAD Upload-Offset:", offset, "|", head["Upload-Metadata"])
        #> HEAD Upload-Offset: 40000 | filename dGFsay5tcDQ=
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
