"""The tus 1.0 server (core, creation, checksum, termination), live in uvicorn on 127.0.0.1."""

import base64
import hashlib
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


def create(client, length: int, **headers: str) -> str:
    r = client.post("/files/", headers={**TUS, "Upload-Length": str(length), **headers})
    assert r.status_code == 201 and r.headers["Tus-Resumable"] == "1.0.0"
    return r.headers["Location"]


def stored(url: str) -> snippet.Upload:
    return snippet.uploads[url.rsplit("/", 1)[1]]


def raw_patch(base: str, url: str, length: int, offset: int = 0) -> socket.socket:
    """A PATCH whose headers are sent on a raw socket; the caller sends (some of) the body."""
    host, port = urlsplit(base).netloc.split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        (
            f"PATCH {url} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\n"
            "Content-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: {offset}\r\nContent-Length: {length}\r\n\r\n"
        ).encode()
    )
    return sock


def wait_for(condition, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.005)


def test_options_advertises_version_extensions_checksums_and_max_size(client):
    r = client.options("/files/")  # no Tus-Resumable needed on OPTIONS
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0"
    assert r.headers["Tus-Extension"] == "creation,checksum,termination"
    assert r.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"
    assert r.headers["Tus-Max-Size"] == str(1024**3)


@pytest.mark.parametrize("version", [None, "0.2.2", "1.0"])
def test_request_without_the_right_tus_resumable_gets_412_with_both_headers(client, version):
    """F-RSU-2: Tus-Resumable is in every response except to OPTIONS, the 412 included."""
    headers = {"Upload-Length": "10"} | ({"Tus-Resumable": version} if version else {})
    r = client.post("/files/", headers=headers)
    assert r.status_code == 412
    assert r.headers["Tus-Version"] == "1.0.0" and r.headers["Tus-Resumable"] == "1.0.0"
    assert snippet.uploads == {}


@pytest.mark.parametrize("length", ["", "²", "-1", "1e3", "+10", "0x10", "9" * 20])
def test_a_bad_upload_length_is_a_400_never_a_500(client, length):
    """F-RSU-7: "²".isdigit() is True and int("²") raises."""
    r = client.post("/files/", headers={**TUS, "Upload-Length": length.encode()})
    assert r.status_code == 400 and r.headers["Tus-Resumable"] == "1.0.0"
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
    assert "Upload-Metadata" not in head.headers
    assert client.head("/files/nope", headers=TUS).status_code == 404


def test_upload_metadata_is_kept_and_returned_on_head(client):
    """F-RSU-1: HEAD MUST include Upload-Metadata when the upload has metadata."""
    meta = "filename cmVwb3J0LnBkZg==,is_confidential"
    url = create(client, 10, **{"Upload-Metadata": meta})
    head = client.head(url, headers=TUS)
    assert head.headers["Upload-Metadata"] == meta


@pytest.mark.parametrize(
    "meta", ["filename not*base64", "a YQ==,a Yg==", "f\u00fcr YQ==", "two words here", ","]
)
def test_malformed_upload_metadata_is_a_400(client, meta):
    r = client.post(
        "/files/",
        headers={**TUS, "Upload-Length": "1", "Upload-Metadata": meta.encode()},
    )
    assert r.status_code == 400
    assert snippet.uploads == {}


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
    nowhere = client.patch("/files/nope", content=b"a", headers={**OCTETS, "Upload-Offset": "0"})
    assert nowhere.status_code == 404 and nowhere.headers["Tus-Resumable"] == "1.0.0"
    assert bytes(stored(url).data) == b"abcd"


def test_bytes_beyond_upload_length_are_a_413_and_none_of_them_is_kept(client, base):
    """F-RSU-8: refused before any byte is appended, with the offset, as tusd answers."""
    url = create(client, 10)
    client.patch(url, content=b"abcd", headers={**OCTETS, "Upload-Offset": "0"})
    over = client.patch(url, content=b"x" * 7, headers={**OCTETS, "Upload-Offset": "4"})
    assert over.status_code == 413 and over.headers["Upload-Offset"] == "4"
    with raw_patch(base, url, 7, offset=4) as sock:  # 3 bytes that fit, then 4 that don't
        try:
            sock.sendall(b"efg")
            time.sleep(0.1)
            sock.sendall(b"hijk")
        except OSError:
            pass  # the server may answer and close before reading the body
        answer = sock.recv(500)
    assert answer.startswith(b"HTTP/1.1 413") and b"upload-offset: 4\r\n" in answer.lower()
    assert bytes(stored(url).data) == b"abcd"

    def chunked():  # no Content-Length: the overflow is only seen as the bytes arrive
        yield b"efg"
        yield b"hijk"

    over = client.patch(url, content=chunked(), headers={**OCTETS, "Upload-Offset": "4"})
    assert over.status_code == 413
    assert over.headers["Upload-Offset"] == str(len(stored(url).data))
    assert len(stored(url).data) <= 10


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_checksum_extension_appends_only_matching_bytes(client, algorithm):
    """F-RSU-4: a mismatch is 460 and the bytes are not appended."""
    url = create(client, 8)

    def checksum(data: bytes) -> str:
        return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"

    bad = {**OCTETS, "Upload-Offset": "0", "Upload-Checksum": checksum(b"abcx")}
    r = client.patch(url, content=b"abcd", headers=bad)
    assert r.status_code == 460 and r.headers["Upload-Offset"] == "0"
    assert bytes(stored(url).data) == b""
    good = {**OCTETS, "Upload-Offset": "0", "Upload-Checksum": checksum(b"abcd")}
    r = client.patch(url, content=b"abcd", headers=good)
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "4"
    md5 = {**OCTETS, "Upload-Offset": "4", "Upload-Checksum": "md5 AAAA"}
    assert client.patch(url, content=b"efgh", headers=md5).status_code == 400
    assert bytes(stored(url).data) == b"abcd"


def test_tuspy_with_checksums_uploads_a_file(client, base):
    data = random.Random(9).randbytes(200_000)
    uploader = TusClient(f"{base}/files/").uploader(
        file_stream=io.BytesIO(data), chunk_size=64 * 1024, upload_checksum=True
    )
    uploader.upload()
    (upload,) = snippet.uploads.values()
    assert bytes(upload.data) == data


def test_x_http_method_override_is_honoured(client):
    """F-RSU-3: if present, the server MUST treat its value as the request's method."""
    url = create(client, 4)
    as_patch = {**OCTETS, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"}
    r = client.post(url, content=b"abcd", headers=as_patch)
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "4"
    r = client.post(url, headers={**TUS, "X-HTTP-Method-Override": "HEAD"})
    assert r.status_code == 200 and r.headers["Upload-Offset"] == "4"
    r = client.post(url, headers={**TUS, "X-HTTP-Method-Override": "DELETE"})
    assert r.status_code == 204
    assert client.head(url, headers=TUS).status_code == 404


def test_termination_deletes_the_upload(client):
    """F-RSU-5: the termination extension."""
    url = create(client, 4)
    client.patch(url, content=b"ab", headers={**OCTETS, "Upload-Offset": "0"})
    r = client.delete(url, headers=TUS)
    assert r.status_code == 204 and r.headers["Tus-Resumable"] == "1.0.0"
    assert client.head(url, headers=TUS).status_code == 404
    assert (
        client.patch(url, content=b"cd", headers={**OCTETS, "Upload-Offset": "2"}).status_code
        == 404
    )
    assert client.delete(url, headers=TUS).status_code == 404


def test_a_request_that_waited_while_the_upload_was_terminated_gets_404():
    """A PATCH queued behind a DELETE must not append to the deleted upload."""

    async def main():
        snippet.uploads["u1"] = upload = snippet.Upload(4)
        await upload.lock.acquire()  # the DELETE holds the upload
        waiting = snippet.asyncio.create_task(enter(snippet.writer("u1")))
        await snippet.asyncio.sleep(0.01)
        del snippet.uploads["u1"]
        upload.lock.release()
        with pytest.raises(snippet.HTTPException) as refused:
            await waiting
        assert refused.value.status_code == 404
        assert not upload.lock.locked()

    async def enter(context):
        async with context:
            raise AssertionError("entered a deleted upload")

    snippet.uploads.clear()
    snippet.asyncio.run(main())


def test_framework_errors_under_files_are_bare_tus_status_codes(client):
    r = client.get("/files/x", headers=TUS)
    assert r.status_code == 405 and r.content == b"" and r.headers["Tus-Resumable"] == "1.0.0"
    r = client.get("/elsewhere", headers=TUS)
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["retryable"] is False


def test_cut_off_upload_resumes_from_server_offset_not_byte_zero(client, base):
    """A raw socket sends the headers and 300,000 of 1,000,000 bytes, then closes."""
    data = random.Random(5).randbytes(1_000_000)
    url = create(client, len(data))
    with raw_patch(base, url, len(data)) as sock:
        sock.sendall(data[:300_000])
        wait_for(lambda: len(stored(url).data) >= 300_000)
    offset = client.head(url, headers=TUS).headers["Upload-Offset"]
    assert offset == "300000"
    resumed = client.patch(
        url, content=data[int(offset) :], headers={**OCTETS, "Upload-Offset": offset}
    )
    assert resumed.status_code == 204 and resumed.headers["Upload-Offset"] == "1000000"
    assert bytes(stored(url).data) == data
    assert stored(url).received == len(data)  # not 1,300,000: nothing re-sent


def test_a_connection_the_server_has_not_seen_die_does_not_block_the_resume(client, base):
    """F-RSU-6: the old PATCH's socket stays open and silent; HEAD and PATCH still answer.

    The resume asks the writer to let go (tusd's lock release) instead of waiting for the
    half-open connection to time out."""
    data = random.Random(11).randbytes(500_000)
    url = create(client, len(data))
    stale = raw_patch(base, url, len(data))
    try:
        stale.sendall(data[:200_000])
        wait_for(lambda: len(stored(url).data) >= 200_000)
        started = time.monotonic()
        head = client.head(url, headers=TUS, timeout=10)
        assert head.status_code == 200 and head.headers["Upload-Offset"] == "200000"
        assert time.monotonic() - started < 2
        resumed = client.patch(
            url, content=data[200_000:], headers={**OCTETS, "Upload-Offset": "200000"}
        )
        assert resumed.status_code == 204
        assert bytes(stored(url).data) == data
    finally:
        stale.close()


def test_concurrent_patches_at_one_offset_append_once(client, base, monkeypatch):
    """F-RSU-9: two PATCHes at offset 0; the first is held inside its storage write.

    Without the per-upload lock the second passes the offset check while the first has not
    yet written, and both append: the file holds more bytes than were sent once."""
    chunk = random.Random(6).randbytes(100_000)
    url = create(client, len(chunk))
    gate, held = threading.Event(), threading.Event()
    real_store = snippet.store

    async def slow_store(upload, data):
        if not held.is_set():  # the first write waits until the second request is in
            held.set()
            while not gate.is_set():
                await snippet.asyncio.sleep(0.005)
        await real_store(upload, data)

    monkeypatch.setattr(snippet, "store", slow_store)
    first = raw_patch(base, url, len(chunk))
    results: list[int] = []
    try:
        first.sendall(chunk)
        wait_for(held.is_set)
        upload = stored(url)
        wait_for(lambda: not upload.release.is_set())  # the holder's own event
        second = threading.Thread(
            target=lambda: results.append(
                httpx.patch(
                    base + url, content=chunk, headers={**OCTETS, "Upload-Offset": "0"}, timeout=10
                ).status_code
            )
        )
        second.start()
        wait_for(upload.release.is_set)  # the second request is waiting for the writer
        time.sleep(0.05)
        gate.set()
        second.join()
        status = first.recv(200).split(b" ")[1]
        results.append(int(status))
    finally:
        first.close()
    assert sorted(results) == [204, 409]
    kept = bytes(upload.data)
    assert len(kept) <= len(chunk) and kept == chunk[: len(kept)]


def test_tuspy_uploads_a_file_with_metadata(client, base):
    data = random.Random(7).randbytes(300_000)
    uploader = TusClient(f"{base}/files/").uploader(
        file_stream=io.BytesIO(data), chunk_size=64 * 1024, metadata={"filename": "a.bin"}
    )
    uploader.upload()
    assert uploader.offset == len(data)
    (upload,) = snippet.uploads.values()
    assert bytes(upload.data) == data and upload.received == len(data)
    head = httpx.head(uploader.url, headers=TUS)
    assert head.headers["Upload-Metadata"] == "filename YS5iaW4="


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
