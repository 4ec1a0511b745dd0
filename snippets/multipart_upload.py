"""Multipart upload: parts read from disk, sent alone, retried with backoff, resumed."""

import base64
import hashlib
import logging
import os
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, HTTPClientError
from botocore.exceptions import ConnectionError as NetworkError
from moto.server import ThreadedMotoServer

PART_SIZE = 5_242_880  # 5 MiB, S3's minimum for every part except the last
MAX_PART_SIZE = 5_368_709_120  # 5 GiB, S3's maximum part size
MAX_PARTS = 10_000
MAX_ATTEMPTS_PER_PART = 4
BASE_DELAY_SECONDS = 0.2  # backoff: full jitter up to 0.2, 0.4, 0.8 … seconds
MAX_DELAY_SECONDS = 20.0
# S3 answers a body that arrives too slowly with 400 RequestTimeout: retried like a 5xx.
RETRYABLE_CODES = ["RequestTimeout", "RequestTimeoutException",
                   "PriorRequestNotComplete"]  # fmt: skip


def part_size_for(size: int) -> int:
    """The smallest whole-MiB part size, at least 5 MiB, that fits in 10,000 parts."""
    mib = 1_048_576
    part = -(-max(PART_SIZE, -(-size // MAX_PARTS)) // mib) * mib
    if part > MAX_PART_SIZE:
        raise ValueError(f"{size} bytes do not fit in {MAX_PARTS} parts of 5 GiB")
    return part


def transient(exc: Exception) -> bool:
    """A dropped connection, a timeout, a 5xx (500 InternalError, 503 SlowDown)."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        return status >= 500 or code in RETRYABLE_CODES
    return isinstance(exc, NetworkError | HTTPClientError)


def backoff(attempt: int, rng=random.random) -> float:
    """Full jitter: uniform between 0 and the capped exponential delay."""
    return rng() * min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** (attempt - 1))


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def stored_parts(s3, bucket: str, key: str, upload_id: str) -> dict[int, dict]:
    """The parts S3 already has for an upload, from ListParts (1,000 per page)."""
    pages = s3.get_paginator("list_parts").paginate(
        Bucket=bucket, Key=key, UploadId=upload_id
    )
    return {p["PartNumber"]: p for page in pages for p in page.get("Parts", [])}


def upload_in_parts(s3, bucket, key, path, upload_id=None, workers=3, sleep=time.sleep):
    """Upload the file at `path`; given an `upload_id`, send only the missing parts."""
    size = os.path.getsize(path)
    part_size = part_size_for(size)
    count = max(1, -(-size // part_size))
    if upload_id is None:
        upload_id = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256"
        )["UploadId"]
    have = stored_parts(s3, bucket, key, upload_id)

    def send(number: int) -> dict:
        with open(path, "rb") as file:  # one part in memory per worker, never the file
            file.seek((number - 1) * part_size)
            body = file.read(part_size)
        checksum, kept = b64_sha256(body), have.get(number, {})
        etag = f'"{hashlib.md5(body).hexdigest()}"'  # a part's ETag, unless SSE-KMS
        if kept.get("ChecksumSHA256", kept.get("ETag")) in (checksum, etag):  # stored
            return {"PartNumber": number, "ETag": kept["ETag"],
                    "ChecksumSHA256": checksum}  # fmt: skip
        for attempt in range(1, MAX_ATTEMPTS_PER_PART + 1):
            try:
                etag = s3.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                    Body=body, ChecksumSHA256=checksum,
                )["ETag"]  # fmt: skip
                return {"PartNumber": number, "ETag": etag, "ChecksumSHA256": checksum}
            except Exception as exc:
                if attempt == MAX_ATTEMPTS_PER_PART or not transient(exc):
                    raise
                sleep(backoff(attempt))

    try:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(send, range(1, count + 1)))
        return s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except Exception:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def composite_sha256(path: str) -> str:
    """S3's checksum of a multipart object: SHA-256 of the parts' digests, '-N'."""
    part_size, digests = part_size_for(os.path.getsize(path)), b""
    with open(path, "rb") as file:
        while chunk := file.read(part_size):
            digests += hashlib.sha256(chunk).digest()
    return f"{b64_sha256(digests)}-{len(digests) // 32}"


if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = boto3.client(
        "s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
        aws_access_key_id="AKIATESTKEY", aws_secret_access_key="test-secret-key",
        config=Config(retries={"total_max_attempts": 1}),  # ours, below
    )  # fmt: skip
    s3.create_bucket(Bucket="uploads")
    attempts: dict[int, int] = {}

    def flaky_network(request, **_):  # the first try of part 2 loses its connection
        number = int(request.url.split("partNumber=")[1].split("&")[0])
        attempts[number] = attempts.get(number, 0) + 1
        if number == 2 and attempts[number] == 1:
            raise ConnectionClosedError(endpoint_url=request.url)

    s3.meta.events.register("before-send.s3.UploadPart", flaky_network)
    data = random.Random(7).randbytes(2 * PART_SIZE + 1024 * 1024)  # 11 MiB
    with tempfile.NamedTemporaryFile() as video:  # on disk, read part by part
        video.write(data)
        video.flush()
        try:
            done = upload_in_parts(s3, "uploads", "videos/talk.mp4", video.name)
            print("parts:", part_size_for(os.path.getsize(video.name)), "bytes each")
            #> parts: 5242880 bytes each
            print("attempts per part:", dict(sorted(attempts.items())))
            #> attempts per part: {1: 1, 2: 2, 3: 1}
            print("ETag ends in", done["ETag"].strip('"')[-2:])
            #> ETag ends in -3
            key = done["Key"]
            got = s3.get_object(Bucket="uploads", Key=key, ChecksumMode="ENABLED")
            body = got["Body"].read()
            print("S3 checksum:", got["ChecksumSHA256"] == composite_sha256(video.name))
            #> S3 checksum: True
            same = hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
            print("SHA-256:", same)
            #> SHA-256: True
        finally:
            server.stop()
