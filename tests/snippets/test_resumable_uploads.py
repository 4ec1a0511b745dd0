"""The tus 1.0 server (core protocol and creation extension), live in uvicorn on 127.0.0.1."""

import io
import random
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest
import resumable_uploads as snippet
from tusclient.client import TusClient

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}


@pytest.fixture(scope="module")
def base():
    server, thread, url = snippet.serve(snippet.app)
    yield url
    server.should_exit = True
    thread.join()


@pytest.fixture
def client(base):
    snippet.uploads.clear()
    with httpx.Client(base_url=base) as c:
        yield c


def create(client, length: int) -> str:
    r = client.post("/files/", headers={**TUS, "Upload-Length": str(length)})
    assert r.status_code == 201 and r.headers["Tus-Resumable"] == "1.0.0"
    return r.headers["Location"]


def stored(url: str) -> snippet.Upload:
    return snippet.uploads[url.rsplit("/", 1)[1]]


def test_options_advertises_version_extensions_and_max_size(client):
    r = client.options("/files/")  # no Tus-Resumable needed on OPTIONS
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0"
    assert r.headers["Tus-Extension"] == "creation"
    assert r.headers["Tus-Max-Size"] == str(1024**3)


def test_request_without_tus_resumable_gets_412_and_versions(client):
    r = client.post("/files/", headers={"Upload-Length": "10"})
    assert r.status_code == 412 and r.headers["Tus-Version"] == "1.0.0"
    assert snippet.uploads == {}


def test_creation_head_and_errors(client):
    assert client.post("/files/", headers=TUS).status_code == 400  # no Upload-Length
    too_big = {**TUS, "Upload-Length": str(1024**3 + 1)}
    assert client.post("/files/", headers=too_big).status_code == 413
    url = create(client, 10)
    assert url.startswith("/files/")
    head = client.head(url, headers=TUS)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == "10"
    assert head.headers["Cache-Control"] == "no-store"
    assert client.head("/files/nope", headers=TUS).status_code == 404


def test_patch_rules(client):
    url = create(client, 10)
    wrong_type = {**TUS, "Content-Type": "application/octet-stream", "Upload-Offset": "0"}
    assert client.patch(url, content=b"abc", headers=wrong_type).status_code == 415
    ahead = client.patch(url, content=b"abc", headers={**OCTETS, "Upload-Offset": "3"})
    assert ahead.status_code == 409 and ahead.headers["Upload-Offset"] == "0"
    ok = client.patch(url, content=b"abcd", headers={**OCTETS, "Upload-Offset": "0"})
    assert ok.status_code == 204 and ok.headers["Upload-Offset"] == "4"
    behind = client.patch(url, content=b"abcd", headers={**OCTETS, "Upload-Offset": "0"})
    assert behind.status_code == 409 and behind.headers["Upload-Offset"] == "4"
    over = client.patch(url, content=b"x" * 7, headers={**OCTETS, "Upload-Offset": "4"})
    assert over.status_code == 400
    assert bytes(stored(url).data) == b"abcd"


def test_cut_off_upload_resumes_from_server_offset_not_byte_zero(client, base):
    """A raw socket sends the headers and 300,000 of 1,000,000 bytes, then closes."""
    data = random.Random(5).randbytes(1_000_000)
    url = create(client, len(data))
    host, port = urlsplit(base).netloc.split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            (
                f"PATCH {url} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\n"
                "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            ).encode()
            + data[:300_000]
        )
        deadline = time.monotonic() + 5
        while len(stored(url).data) < 300_000 and time.monotonic() < deadline:
            time.sleep(0.01)
    offset = None
    for _ in range(100):  # the server notices the disconnect and releases the upload
        offset = client.head(url, headers=TUS).headers["Upload-Offset"]
        resumed = client.patch(
            url, content=data[int(offset) :], headers={**OCTETS, "Upload-Offset": offset}
        )
        if resumed.status_code == 204:
            break
        time.sleep(0.01)
    assert offset == "300000"
    assert resumed.status_code == 204 and resumed.headers["Upload-Offset"] == "1000000"
    assert bytes(stored(url).data) == data
    assert stored(url).received == len(data)  # not 1,300,000: nothing re-sent


def test_concurrent_patches_at_one_offset_append_once(client, base):
    url = create(client, 200_000)
    chunk = random.Random(6).randbytes(200_000)
    results = []

    def send():
        with httpx.Client(base_url=base) as c:
            h = {**OCTETS, "Upload-Offset": "0"}
            results.append(c.patch(url, content=chunk, headers=h).status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [204, 409]
    assert bytes(stored(url).data) == chunk


def test_tuspy_uploads_a_file(client, base):
    data = random.Random(7).randbytes(300_000)
    uploader = TusClient(f"{base}/files/").uploader(
        file_stream=io.BytesIO(data), chunk_size=64 * 1024, metadata={"filename": "a.bin"}
    )
    uploader.upload()
    assert uploader.offset == len(data)
    (upload,) = snippet.uploads.values()
    assert bytes(upload.data) == data and upload.received == len(data)


def test_tuspy_resumes_an_interrupted_upload_at_the_server_offset(client, base):
    data = random.Random(8).randbytes(300_000)
    tus = TusClient(f"{base}/files/")
    first = tus.uploader(file_stream=io.BytesIO(data), chunk_size=50_000)
    first.upload(stop_at=100_000)  # the process dies here
    (upload,) = snippet.uploads.values()
    assert len(upload.data) == 100_000
    again = tus.uploader(file_stream=io.BytesIO(data), chunk_size=50_000, url=first.url)
    assert again.offset == 100_000  # asked the server with HEAD
    again.upload()
    assert bytes(upload.data) == data and upload.received == len(data)
