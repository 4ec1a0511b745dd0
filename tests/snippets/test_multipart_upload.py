"""Multipart upload against a real S3 server (moto in server mode) on 127.0.0.1."""

import builtins
import hashlib
import logging
import random
import threading

import boto3
import httpx
import multipart_upload as snippet
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from moto.server import ThreadedMotoServer

logging.getLogger("werkzeug").setLevel(logging.ERROR)
MIB = 1024 * 1024
GIB = 1024 * MIB


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint, request):
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIATESTKEY",
        aws_secret_access_key="test-secret-key",
        config=Config(retries={"total_max_attempts": 1}),  # no SDK retry
    )
    bucket = request.node.name.replace("_", "-").replace("[", "-").replace("]", "")[:60]
    bucket = bucket.lower().strip("-")
    client.create_bucket(Bucket=bucket)
    client.bucket = bucket
    return client


@pytest.fixture
def file_of(tmp_path):
    def make(data: bytes) -> str:
        path = tmp_path / "upload.bin"
        path.write_bytes(data)
        return str(path)

    return make


def part_number(request) -> int:
    return int(request.url.split("partNumber=")[1].split("&")[0])


def in_progress(s3) -> list:
    return s3.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])


def no_sleep(seconds: float) -> None:
    pass


def test_failed_part_is_retried_alone_and_whole_sha256_matches(s3, file_of):
    attempts: dict[int, int] = {}

    def flaky(request, **_):
        n = part_number(request)
        attempts[n] = attempts.get(n, 0) + 1
        if n == 2 and attempts[n] == 1:
            raise ConnectionClosedError(endpoint_url=request.url)

    s3.meta.events.register("before-send.s3.UploadPart", flaky)
    data = random.Random(1).randbytes(2 * snippet.PART_SIZE + 3 * MIB)
    path = file_of(data)
    done = snippet.upload_in_parts(s3, s3.bucket, "f.bin", path, sleep=no_sleep)
    assert attempts == {1: 1, 2: 2, 3: 1}
    got = s3.get_object(Bucket=s3.bucket, Key="f.bin", ChecksumMode="ENABLED")
    body = got["Body"].read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()
    assert got["ChecksumSHA256"] == snippet.composite_sha256(path)
    assert got["ChecksumSHA256"].endswith("-3")
    # The multipart ETag is the MD5 of the parts' MD5s plus "-3", not the object's MD5.
    chunks = [data[i : i + snippet.PART_SIZE] for i in range(0, len(data), snippet.PART_SIZE)]
    md5_of_md5s = hashlib.md5(b"".join(hashlib.md5(c).digest() for c in chunks)).hexdigest()
    assert done["ETag"] == f'"{md5_of_md5s}-3"'
    assert done["ETag"].strip('"') != hashlib.md5(data).hexdigest()
    assert in_progress(s3) == []


def test_parts_are_uploaded_independently_and_out_of_order(s3, file_of):
    """Part 1 is held back until part 3 has been stored: the parts do not depend on each other."""
    part_three_stored = threading.Event()
    finished: list[int] = []
    upload_part = s3.upload_part

    def ordered_upload_part(**kwargs):
        if kwargs["PartNumber"] == 1:
            assert part_three_stored.wait(5), "part 3 never went through on its own"
        response = upload_part(**kwargs)
        finished.append(kwargs["PartNumber"])
        if kwargs["PartNumber"] == 3:
            part_three_stored.set()
        return response

    s3.upload_part = ordered_upload_part
    data = random.Random(2).randbytes(2 * snippet.PART_SIZE + MIB)
    snippet.upload_in_parts(s3, s3.bucket, "g.bin", file_of(data), workers=3)
    assert finished.index(3) < finished.index(1)
    assert sorted(finished) == [1, 2, 3]
    assert s3.get_object(Bucket=s3.bucket, Key="g.bin")["Body"].read() == data


def test_part_failing_every_attempt_aborts_the_upload(s3, file_of):
    attempts = {"n": 0}

    def dead(request, **_):
        if part_number(request) == 2:
            attempts["n"] += 1
            raise ConnectionClosedError(endpoint_url=request.url)

    s3.meta.events.register("before-send.s3.UploadPart", dead)
    data = random.Random(3).randbytes(snippet.PART_SIZE + MIB)
    with pytest.raises(ConnectionClosedError):
        snippet.upload_in_parts(s3, s3.bucket, "h.bin", file_of(data), sleep=no_sleep)
    assert attempts["n"] == snippet.MAX_ATTEMPTS_PER_PART == 4
    assert in_progress(s3) == []  # aborted: no orphaned parts left billing storage
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=s3.bucket, Key="h.bin")
    assert err.value.response["Error"]["Code"] == "404"


@pytest.mark.parametrize("size", [1, snippet.PART_SIZE, snippet.PART_SIZE + 1])
def test_boundary_sizes_assemble_exactly(s3, file_of, size):
    data = random.Random(size).randbytes(size)
    path = file_of(data)
    snippet.upload_in_parts(s3, s3.bucket, "b.bin", path)
    got = s3.get_object(Bucket=s3.bucket, Key="b.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumSHA256"] == snippet.composite_sha256(path)


def test_store_refuses_parts_under_5_mib_except_the_last(s3):
    upload_id = s3.create_multipart_upload(Bucket=s3.bucket, Key="s.bin")["UploadId"]
    parts = []
    for n in (1, 2):
        r = s3.upload_part(
            Bucket=s3.bucket, Key="s.bin", UploadId=upload_id, PartNumber=n, Body=b"x" * MIB
        )
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    with pytest.raises(ClientError) as err:
        s3.complete_multipart_upload(
            Bucket=s3.bucket, Key="s.bin", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    assert err.value.response["Error"]["Code"] == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=s3.bucket, Key="s.bin", UploadId=upload_id)


@pytest.mark.parametrize(
    ("status", "code", "calls"),
    [
        (503, "SlowDown", 2),
        (500, "InternalError", 2),
        (400, "RequestTimeout", 2),  # F-MPU-2: S3's answer to a slow body; botocore retries it
        (400, "InvalidPart", 1),
        (403, "AccessDenied", 1),
        (404, "NoSuchUpload", 1),
    ],
)
def test_only_transient_errors_are_retried(s3, file_of, status, code, calls):
    seen = {"n": 0}

    def once(request, **_):
        if part_number(request) == 1:
            seen["n"] += 1
            if seen["n"] == 1:
                error = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
                raise ClientError(error, "UploadPart")

    s3.meta.events.register("before-send.s3.UploadPart", once)
    data = random.Random(4).randbytes(MIB)
    if calls == 2:
        snippet.upload_in_parts(s3, s3.bucket, "t.bin", file_of(data), sleep=no_sleep)
        assert s3.get_object(Bucket=s3.bucket, Key="t.bin")["Body"].read() == data
    else:
        with pytest.raises(ClientError):
            snippet.upload_in_parts(s3, s3.bucket, "t.bin", file_of(data), sleep=no_sleep)
        assert in_progress(s3) == []
    assert seen["n"] == calls


def test_retries_back_off_exponentially_with_full_jitter(s3, file_of):
    """F-MPU-1: 503 SlowDown means slow down, not "send again at once"."""
    failures = {"n": 0}

    def slow_down(request, **_):
        if failures["n"] < 3:
            failures["n"] += 1
            error = {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}
            raise ClientError(error, "UploadPart")

    s3.meta.events.register("before-send.s3.UploadPart", slow_down)
    delays: list[float] = []
    data = random.Random(5).randbytes(MIB)
    snippet.upload_in_parts(s3, s3.bucket, "j.bin", file_of(data), sleep=delays.append)
    assert len(delays) == 3
    for attempt, delay in enumerate(delays, start=1):
        assert 0 < delay <= snippet.BASE_DELAY_SECONDS * 2 ** (attempt - 1)
    assert [snippet.backoff(a, rng=lambda: 1.0) for a in (1, 2, 3)] == [0.2, 0.4, 0.8]
    assert snippet.backoff(30, rng=lambda: 1.0) == snippet.MAX_DELAY_SECONDS
    assert snippet.backoff(3, rng=lambda: 0.0) == 0.0
    spread = {round(snippet.backoff(3, rng=random.Random(i).random), 3) for i in range(20)}
    assert len(spread) > 10  # jittered: twenty clients do not retry in lockstep


def test_parts_are_read_from_disk_one_part_at_a_time(s3, file_of, monkeypatch):
    """F-MPU-3: the file is never in memory whole, only one part per worker."""
    data = random.Random(6).randbytes(3 * snippet.PART_SIZE + 7)
    path = file_of(data)
    reads: list[int] = []
    real_open = builtins.open

    class Counting:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def seek(self, offset):
            return self.file.seek(offset)

        def read(self, size=-1):
            chunk = self.file.read(size)
            reads.append(len(chunk) if size is not None and size >= 0 else -1)
            return chunk

    monkeypatch.setattr(
        snippet, "open", lambda p, mode="r": Counting(real_open(p, mode)), raising=False
    )
    snippet.upload_in_parts(s3, s3.bucket, "m.bin", path)
    assert -1 not in reads
    assert max(reads) <= snippet.part_size_for(len(data))
    assert sum(reads) == len(data)  # each byte read once
    assert s3.get_object(Bucket=s3.bucket, Key="m.bin")["Body"].read() == data


@pytest.mark.parametrize("size", [0, 1, 5 * MIB, 48 * GIB, 49 * GIB, 1000 * GIB, 10_000 * 5 * GIB])
def test_part_size_keeps_any_file_within_10000_parts(size):
    """F-MPU-4: a fixed 5 MiB part fails at part 10,001 of a 49 GiB file."""
    part = snippet.part_size_for(size)
    assert snippet.PART_SIZE <= part <= snippet.MAX_PART_SIZE
    assert part % MIB == 0
    assert -(-size // part) <= snippet.MAX_PARTS
    if size <= snippet.MAX_PARTS * snippet.PART_SIZE:
        assert part == snippet.PART_SIZE  # small files keep the smallest parts


def test_a_file_beyond_10000_parts_of_5_gib_is_refused_before_any_byte_is_sent():
    with pytest.raises(ValueError, match="10000 parts"):
        snippet.part_size_for(10_000 * 5 * GIB + 1)


def test_resume_sends_only_the_missing_parts(s3, file_of):
    """F-MPU-6: after a crash, ListParts says what S3 has; only the rest is sent."""
    data = random.Random(7).randbytes(3 * snippet.PART_SIZE + MIB)
    path = file_of(data)
    upload_id = s3.create_multipart_upload(
        Bucket=s3.bucket, Key="r.bin", ChecksumAlgorithm="SHA256"
    )["UploadId"]
    for n in (1, 3):  # the crashed client had sent parts 1 and 3
        body = data[(n - 1) * snippet.PART_SIZE : n * snippet.PART_SIZE]
        s3.upload_part(
            Bucket=s3.bucket, Key="r.bin", UploadId=upload_id, PartNumber=n, Body=body,
            ChecksumSHA256=snippet.b64_sha256(body),
        )  # fmt: skip
    sent: list[int] = []
    s3.meta.events.register(
        "before-send.s3.UploadPart", lambda request, **_: sent.append(part_number(request))
    )
    snippet.upload_in_parts(s3, s3.bucket, "r.bin", path, upload_id=upload_id)
    assert sorted(sent) == [2, 4]
    got = s3.get_object(Bucket=s3.bucket, Key="r.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumSHA256"] == snippet.composite_sha256(path)


def test_a_stored_part_that_differs_from_the_file_is_sent_again(s3, file_of):
    data = random.Random(8).randbytes(snippet.PART_SIZE + MIB)
    path = file_of(data)
    upload_id = s3.create_multipart_upload(
        Bucket=s3.bucket, Key="d.bin", ChecksumAlgorithm="SHA256"
    )["UploadId"]
    wrong = b"\0" * snippet.PART_SIZE
    s3.upload_part(
        Bucket=s3.bucket, Key="d.bin", UploadId=upload_id, PartNumber=1, Body=wrong,
        ChecksumSHA256=snippet.b64_sha256(wrong),
    )  # fmt: skip
    snippet.upload_in_parts(s3, s3.bucket, "d.bin", path, upload_id=upload_id)
    assert s3.get_object(Bucket=s3.bucket, Key="d.bin")["Body"].read() == data


def test_presigned_upload_part_urls_let_a_client_upload_without_credentials(s3, file_of):
    """F-MPU-7: the API creates the upload and signs one URL per part; the client PUTs."""
    data = random.Random(9).randbytes(snippet.PART_SIZE + MIB)
    upload_id = s3.create_multipart_upload(Bucket=s3.bucket, Key="p.bin")["UploadId"]
    signer = boto3.client(
        "s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1",
        aws_access_key_id="AKIATESTKEY", aws_secret_access_key="test-secret-key",
        config=Config(signature_version="s3v4"),
    )  # fmt: skip
    parts = []
    for n, start in enumerate(range(0, len(data), snippet.PART_SIZE), start=1):
        url = signer.generate_presigned_url(
            "upload_part",
            Params={"Bucket": s3.bucket, "Key": "p.bin", "UploadId": upload_id, "PartNumber": n},
            ExpiresIn=900,
        )
        assert f"partNumber={n}" in url and "X-Amz-Signature=" in url
        put = httpx.put(url, content=data[start : start + snippet.PART_SIZE])
        assert put.status_code == 200
        parts.append({"PartNumber": n, "ETag": put.headers["ETag"]})
    s3.complete_multipart_upload(
        Bucket=s3.bucket, Key="p.bin", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert s3.get_object(Bucket=s3.bucket, Key="p.bin")["Body"].read() == data
