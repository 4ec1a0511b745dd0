"""Multipart upload against a real S3 server (moto in server mode) on 127.0.0.1."""

import hashlib
import logging
import random
import threading

import boto3
import multipart_upload as snippet
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from moto.server import ThreadedMotoServer

logging.getLogger("werkzeug").setLevel(logging.ERROR)
MIB = 1024 * 1024


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
    client.create_bucket(Bucket=bucket)
    client.bucket = bucket
    return client


def part_number(request) -> int:
    return int(request.url.split("partNumber=")[1].split("&")[0])


def in_progress(s3) -> list:
    return s3.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])


def test_failed_part_is_retried_alone_and_whole_sha256_matches(s3):
    attempts: dict[int, int] = {}

    def flaky(request, **_):
        n = part_number(request)
        attempts[n] = attempts.get(n, 0) + 1
        if n == 2 and attempts[n] == 1:
            raise ConnectionClosedError(endpoint_url=request.url)

    s3.meta.events.register("before-send.s3.UploadPart", flaky)
    data = random.Random(1).randbytes(2 * snippet.PART_SIZE + 3 * MIB)
    done = snippet.upload_in_parts(s3, s3.bucket, "f.bin", data)
    assert attempts == {1: 1, 2: 2, 3: 1}
    got = s3.get_object(Bucket=s3.bucket, Key="f.bin", ChecksumMode="ENABLED")
    body = got["Body"].read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()
    assert got["ChecksumSHA256"] == snippet.composite_sha256(data)
    assert got["ChecksumSHA256"].endswith("-3")
    # The multipart ETag is the MD5 of the parts' MD5s plus "-3", not the object's MD5.
    chunks = [data[i : i + snippet.PART_SIZE] for i in range(0, len(data), snippet.PART_SIZE)]
    md5_of_md5s = hashlib.md5(b"".join(hashlib.md5(c).digest() for c in chunks)).hexdigest()
    assert done["ETag"] == f'"{md5_of_md5s}-3"'
    assert done["ETag"].strip('"') != hashlib.md5(data).hexdigest()
    assert in_progress(s3) == []


def test_parts_are_uploaded_independently_and_out_of_order(s3):
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
    snippet.upload_in_parts(s3, s3.bucket, "g.bin", data, workers=3)
    assert finished.index(3) < finished.index(1)
    assert sorted(finished) == [1, 2, 3]
    assert s3.get_object(Bucket=s3.bucket, Key="g.bin")["Body"].read() == data


def test_part_failing_every_attempt_aborts_the_upload(s3):
    attempts = {"n": 0}

    def dead(request, **_):
        if part_number(request) == 2:
            attempts["n"] += 1
            raise ConnectionClosedError(endpoint_url=request.url)

    s3.meta.events.register("before-send.s3.UploadPart", dead)
    data = random.Random(3).randbytes(snippet.PART_SIZE + MIB)
    with pytest.raises(ConnectionClosedError):
        snippet.upload_in_parts(s3, s3.bucket, "h.bin", data)
    assert attempts["n"] == snippet.MAX_ATTEMPTS_PER_PART == 3
    assert in_progress(s3) == []  # aborted: no orphaned parts left billing storage
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=s3.bucket, Key="h.bin")
    assert err.value.response["Error"]["Code"] == "404"


@pytest.mark.parametrize("size", [1, snippet.PART_SIZE, snippet.PART_SIZE + 1])
def test_boundary_sizes_assemble_exactly(s3, size):
    data = random.Random(size).randbytes(size)
    snippet.upload_in_parts(s3, s3.bucket, "b.bin", data)
    got = s3.get_object(Bucket=s3.bucket, Key="b.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumSHA256"] == snippet.composite_sha256(data)


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
    ("status", "code", "calls"), [(503, "SlowDown", 2), (400, "InvalidPart", 1)]
)
def test_only_transient_errors_are_retried(s3, status, code, calls):
    seen = {"n": 0}

    def once(request, **_):
        if part_number(request) == 1:
            seen["n"] += 1
            if seen["n"] == 1:
                error = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
                raise ClientError(error, "UploadPart")

    s3.meta.events.register("before-send.s3.UploadPart", once)
    data = random.Random(4).randbytes(MIB)
    if status >= 500:
        snippet.upload_in_parts(s3, s3.bucket, "t.bin", data)
        assert s3.get_object(Bucket=s3.bucket, Key="t.bin")["Body"].read() == data
    else:
        with pytest.raises(ClientError):
            snippet.upload_in_parts(s3, s3.bucket, "t.bin", data)
        assert in_progress(s3) == []
    assert seen["n"] == calls
