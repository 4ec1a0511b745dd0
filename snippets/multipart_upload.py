"""Multipart upload: parts sent independently and retried alone, the whole verified."""

import base64
import hashlib
import logging
import random
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, HTTPClientError
from botocore.exceptions import ConnectionError as NetworkError
from moto.server import ThreadedMotoServer

PART_SIZE = 5_242_880  # 5 MiB, S3's minimum for every part except the last
MAX_ATTEMPTS_PER_PART = 3


def transient(exc: Exception) -> bool:
    """A dropped connection, a timeout or a 5xx (S3's 500 InternalError, 503 SlowDown)."""
    if isinstance(exc, ClientError):
        return exc.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
    return isinstance(exc, NetworkError | HTTPClientError)


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def upload_in_parts(s3, bucket: str, key: str, data: bytes, workers: int = 3) -> dict:
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256"
    )["UploadId"]
    chunks = [data[i : i + PART_SIZE] for i in range(0, len(data), PART_SIZE)]

    def send(number: int) -> dict:
        body, checksum = chunks[number - 1], b64_sha256(chunks[number - 1])
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

    try:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(send, range(1, len(chunks) + 1)))
        return s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except Exception:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise


def composite_sha256(data: bytes) -> str:
    """S3's checksum of a multipart object: SHA-256 of the parts' digests, '-N'."""
    chunks = [data[i : i + PART_SIZE] for i in range(0, len(data), PART_SIZE)]
    digests = b"".join(hashlib.sha256(c).digest() for c in chunks)
    return f"{b64_sha256(digests)}-{len(chunks)}"


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
    video = random.Random(7).randbytes(2 * PART_SIZE + 1024 * 1024)  # 11 MiB
    try:
        done = upload_in_parts(s3, "uploads", "videos/talk.mp4", video)
        print("attempts per part:", dict(sorted(attempts.items())))
        #> attempts per part: {1: 1, 2: 2, 3: 1}
        etag = done["ETag"].strip('"')
        print(
            "ETag:", etag[-2:], "| MD5 of file:", etag == hashlib.md5(video).hexdigest()
        )
        #> ETag: -3 | MD5 of file: False
        got = s3.get_object(Bucket="uploads", Key=done["Key"], ChecksumMode="ENABLED")
        body = got["Body"].read()
        print("S3 checksum:", got["ChecksumSHA256"] == composite_sha256(video))
        #> S3 checksum: True
        print(
            "SHA-256:", hashlib.sha256(body).digest() == hashlib.sha256(video).digest()
        )
        #> SHA-256: True
    finally:
        server.stop()
