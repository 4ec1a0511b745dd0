"""Pre-signed URLs against a real S3 server (moto in server mode) on 127.0.0.1.

moto stores and serves objects exactly as S3 does but does not check the signature or the
expiry of a pre-signed URL (`test_moto_alone_does_not_check_presigned_signatures` pins that
down). Real S3 does. To prove that an expired or altered URL is refused, the store here is moto
behind `SigV4QueryGate`: an independent, standard-library implementation of S3's SigV4
query-string authentication (AWS Signature Version 4, "Authenticating Requests: Using Query
Parameters"), which recomputes the signature from the request it receives with the secret key.
"""

import hashlib
import hmac
import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx
import presigned_urls as snippet
import pytest
from fastapi.testclient import TestClient
from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

logging.getLogger("werkzeug").setLevel(logging.ERROR)
SECRETS = {"AKIATESTKEY": "test-secret-key"}


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class SigV4QueryGate:
    """WSGI middleware: refuse a pre-signed request whose signature or expiry is wrong."""

    def __init__(self, app, secrets: dict[str, str], clock):
        self.app, self.secrets, self.clock = app, secrets, clock
        self.refused: list[str] = []

    def __call__(self, environ, start_response):
        raw_path, _, raw_query = environ["RAW_URI"].partition("?")
        if "X-Amz-Signature=" not in raw_query:
            return self.app(environ, start_response)
        code = self.check(environ, raw_path, raw_query)
        if code is None:
            return self.app(environ, start_response)
        self.refused.append(code)
        start_response("403 Forbidden", [("Content-Type", "application/xml")])
        return [f"<Error><Code>{code}</Code></Error>".encode()]

    def check(self, environ, raw_path: str, raw_query: str) -> str | None:
        pairs = parse_qsl(raw_query, keep_blank_values=True)
        q = dict(pairs)
        access_key, date, region, service, _ = q["X-Amz-Credential"].split("/")
        signed_at = datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires = int(q["X-Amz-Expires"])
        if not 1 <= expires <= 604800:
            return "AuthorizationQueryParametersError"
        if self.clock() > signed_at + timedelta(seconds=expires):
            return "AccessDenied"  # S3: "Request has expired"
        enc = lambda s: quote(s, safe="-_.~")  # noqa: E731
        canonical_query = "&".join(
            f"{enc(k)}={enc(v)}" for k, v in sorted(pairs) if k != "X-Amz-Signature"
        )
        names = q["X-Amz-SignedHeaders"].split(";")
        wsgi = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
        header = lambda n: environ.get(  # noqa: E731
            wsgi.get(n, "HTTP_" + n.upper().replace("-", "_")), ""
        )
        canonical_headers = "".join(f"{n}:{header(n).strip()}\n" for n in names)
        canonical_request = "\n".join(
            [
                environ["REQUEST_METHOD"],
                quote(unquote(raw_path), safe="/~"),
                canonical_query,
                canonical_headers,
                q["X-Amz-SignedHeaders"],
                "UNSIGNED-PAYLOAD",
            ]
        )
        scope = f"{date}/{region}/{service}/aws4_request"
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                q["X-Amz-Date"],
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        key = ("AWS4" + self.secrets.get(access_key, "")).encode()
        for part in (date, region, service, "aws4_request"):
            key = _hmac(key, part)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, q["X-Amz-Signature"]):
            return "SignatureDoesNotMatch"
        return None


class Clock:
    def __init__(self):
        self.skew = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.skew


@pytest.fixture(scope="module")
def gated_store():
    """moto's S3 app behind the SigV4 gate, served by werkzeug on 127.0.0.1:0."""
    clock = Clock()
    gate = SigV4QueryGate(DomainDispatcherApplication(create_backend_app), SECRETS, clock)
    server = make_server("127.0.0.1", 0, gate, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    s3 = snippet.s3_client(f"http://127.0.0.1:{server.server_port}")
    s3.create_bucket(Bucket=snippet.BUCKET)
    yield s3, gate, clock
    server.shutdown()
    thread.join()


@pytest.fixture
def store(gated_store):
    s3, gate, clock = gated_store
    clock.skew = timedelta(0)
    gate.refused.clear()
    return s3, gate, clock


class ByteCounter:
    """ASGI middleware counting every body byte the API receives and sends."""

    def __init__(self, app):
        self.app, self.received, self.sent = app, 0, 0

    async def __call__(self, scope, receive, send):
        async def counting_receive():
            message = await receive()
            self.received += len(message.get("body", b""))
            return message

        async def counting_send(message):
            self.sent += len(message.get("body", b""))
            await send(message)

        await self.app(scope, counting_receive, counting_send)


ALICE = {"Authorization": "Bearer sk_test_alice"}
BOB = {"Authorization": "Bearer sk_test_bob"}


def api_for(s3, wrap=lambda app: app):
    return TestClient(wrap(snippet.make_app(s3)), base_url="http://api", headers=ALICE)


def ticket(api, name="a.bin", content_type="application/pdf", size=5) -> dict:
    body = {"filename": name, "content_type": content_type, "size": size}
    r = api.post("/uploads", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_aws_published_presigned_url_example_passes_the_verifier():
    """The verifier against AWS's own example (sigv4-query-string-auth, 'examplebucket').

    Secret, date and signature as AWS publishes them, so the gate that the refusal tests
    rely on is checked against S3's documentation, not only against botocore."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    gate = SigV4QueryGate(
        None,
        {"AKIAIOSFODNN7EXAMPLE": secret},
        lambda: datetime(2013, 5, 24, 1, tzinfo=UTC),
    )
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    environ = {"REQUEST_METHOD": "GET", "HTTP_HOST": "examplebucket.s3.amazonaws.com"}
    assert gate.check(environ, "/test.txt", query) is None
    assert gate.check(environ, "/test2.txt", query) == "SignatureDoesNotMatch"
    assert gate.check({**environ, "REQUEST_METHOD": "PUT"}, "/test.txt", query) is not None


def test_api_never_carries_the_bytes(store):
    s3, gate, _ = store
    counter = None

    def wrap(app):
        nonlocal counter
        counter = ByteCounter(app)
        return counter

    payload = bytes(range(256)) * 4096  # 1 MiB
    with api_for(s3, wrap) as api:
        t = ticket(api, "big.pdf", size=len(payload))
        put = httpx.put(t["url"], content=payload, headers=t["headers"])
        assert put.status_code == 200
        redirect = api.get(f"/files/{t['key']}", follow_redirects=False)
    assert redirect.status_code == 302
    got = httpx.get(redirect.headers["location"])
    assert got.status_code == 200 and got.content == payload
    assert s3.head_object(Bucket=snippet.BUCKET, Key=t["key"])["ContentLength"] == 1 << 20
    assert counter.received < 200  # the small JSON request only
    assert counter.sent < 2000  # the JSON ticket and the redirect only
    assert gate.refused == []


def test_url_is_sigv4_short_lived_and_bound_to_method_key_type_and_length(store):
    s3, _, _ = store
    with api_for(s3) as api:
        t = ticket(api, "x.pdf", "application/pdf", size=1234)
    assert t["expires_in"] == snippet.URL_TTL_SECONDS == 300
    assert t["headers"] == {"Content-Type": "application/pdf"}
    parts = urlsplit(t["url"])
    q = dict(parse_qsl(parts.query))
    assert parts.path == f"/{snippet.BUCKET}/{t['key']}"
    assert q["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert q["X-Amz-Expires"] == "300"
    assert q["X-Amz-SignedHeaders"] == "content-length;content-type;host"
    assert q["X-Amz-Credential"].startswith("AKIATESTKEY/")
    assert q["X-Amz-Credential"].endswith("/us-east-1/s3/aws4_request")
    assert "test-secret-key" not in t["url"]


def test_moto_alone_does_not_check_presigned_signatures():
    """The limitation that makes the gate necessary: if this starts failing, moto verifies."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = snippet.s3_client(f"http://{host}:{port}")
        s3.create_bucket(Bucket=snippet.BUCKET)
        url = s3.generate_presigned_url(
            "put_object", Params={"Bucket": snippet.BUCKET, "Key": "k"}, ExpiresIn=1
        )
        forged = url[:-8] + "00000000"
        assert httpx.put(forged, content=b"forged").status_code == 200
    finally:
        server.stop()


PDF = {"Content-Type": "application/pdf"}


def put_url(s3, size=2) -> str:
    with api_for(s3) as api:
        return ticket(api, "doc.pdf", "application/pdf", size)["url"]


def test_genuine_urls_pass_the_independent_verifier(store):
    s3, gate, _ = store
    url = put_url(s3)
    assert httpx.put(url, content=b"ok", headers=PDF).status_code == 200
    assert gate.refused == []


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda u: u[:-4] + ("0000" if u[-4:] != "0000" else "1111"), id="signature"),
        pytest.param(lambda u: u.replace("/files/", "/files/0"), id="object-key"),
        pytest.param(lambda u: u.replace("X-Amz-Expires=300", "X-Amz-Expires=3600"), id="expiry"),
        pytest.param(lambda u: u.replace("/uploads/", "/uploads2/"), id="bucket"),
    ],
)
def test_altered_url_is_refused(store, alter):
    s3, gate, _ = store
    url = put_url(s3, size=4)
    altered = alter(url)
    assert altered != url
    r = httpx.put(altered, content=b"evil", headers=PDF)
    assert r.status_code == 403
    assert gate.refused == ["SignatureDoesNotMatch"]


def test_other_method_content_type_or_length_is_refused(store):
    """F-PRE-7: the signed Content-Length pins the exact size of a pre-signed PUT."""
    s3, gate, _ = store
    url = put_url(s3, size=6)
    assert httpx.get(url).status_code == 403  # a PUT URL does not read
    assert (
        httpx.put(url, content=b"<html>", headers={"Content-Type": "text/html"}).status_code == 403
    )
    assert httpx.put(url, content=b"x" * 7, headers=PDF).status_code == 403
    assert httpx.put(url, content=b"x" * 5_000_000, headers=PDF).status_code == 403
    assert gate.refused == ["SignatureDoesNotMatch"] * 4
    assert httpx.put(url, content=b"x" * 6, headers=PDF).status_code == 200


def test_expired_url_is_refused(store):
    s3, gate, clock = store
    with api_for(s3) as api:
        t = ticket(api, "doc.pdf", size=7)
        clock.skew = timedelta(seconds=snippet.URL_TTL_SECONDS - 5)
        assert httpx.put(t["url"], content=b"in time", headers=PDF).status_code == 200
        clock.skew = timedelta(seconds=snippet.URL_TTL_SECONDS + 5)
        assert httpx.put(t["url"], content=b"too late", headers=PDF).status_code == 403
        assert gate.refused == ["AccessDenied"]
        clock.skew = timedelta(0)
        loc = api.get(f"/files/{t['key']}", follow_redirects=False).headers["location"]
    assert httpx.get(loc).status_code == 200
    clock.skew = timedelta(seconds=snippet.DOWNLOAD_TTL_SECONDS + 1)  # download URLs live 60 s
    assert httpx.get(loc).status_code == 403


def test_a_file_is_downloadable_only_by_the_account_that_uploaded_it(store):
    """F-PRE-1: no signed URL for a key the caller does not own, or that was never issued."""
    s3, _, _ = store
    with api_for(s3) as api:
        t = ticket(api, "mine.pdf", size=4)
        assert httpx.put(t["url"], content=b"mine", headers=PDF).status_code == 200
        s3.put_object(Bucket=snippet.BUCKET, Key="files/legacy", Body=b"not issued by the API")
        for key, headers in [(t["key"], BOB), ("files/legacy", ALICE), ("files/nope", ALICE)]:
            r = api.get(f"/files/{key}", headers=headers, follow_redirects=False)
            assert r.status_code == 404, key
            assert r.headers["Content-Type"] == "application/problem+json"
            assert r.json()["type"] == "https://api.example.com/problems/not-found"
            assert "location" not in r.headers
        assert api.get(f"/files/{t['key']}", follow_redirects=False).status_code == 302


@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, 'Bearer realm="api"'),
        ({"Authorization": "Bearer sk_test_mallory"}, 'Bearer realm="api", error="invalid_token"'),
        ({"Authorization": "Basic YWxpY2U6"}, 'Bearer realm="api", error="invalid_token"'),
    ],
)
def test_signing_requires_a_credential(store, headers, challenge):
    """F-PRE-2: both endpoints authenticate before they sign anything."""
    s3, _, _ = store
    api = TestClient(snippet.make_app(s3), base_url="http://api")
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 1}
    for r in (
        api.post("/uploads", json=body, headers=headers),
        api.get("/files/files/x", headers=headers, follow_redirects=False),
    ):
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == challenge
        assert r.json()["type"].endswith("/unauthorized") and r.json()["retryable"] is False
        assert "X-Amz-Signature" not in r.text


def test_scheme_is_case_insensitive_and_two_authorizations_are_refused(store):
    s3, _, _ = store
    api = TestClient(snippet.make_app(s3), base_url="http://api")
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size": 1}
    ok = api.post("/uploads", json=body, headers={"authorization": "bearer sk_test_alice"})
    assert ok.status_code == 201
    two = [("Authorization", "Bearer sk_test_alice"), ("Authorization", "Bearer sk_test_bob")]
    r = api.post("/uploads", json=body, headers=two)
    assert r.status_code == 400 and r.json()["type"].endswith("/invalid-request")


@pytest.mark.parametrize(
    "name", ["../../index.html", "a/b.pdf", "..", "Qüartalsbericht 報告.pdf", "x" * 255]
)
def test_the_server_chooses_the_key_and_the_name_never_reaches_it(store, name):
    """F-PRE-4: a random key per upload; the client's name is metadata only."""
    s3, _, _ = store
    with api_for(s3) as api:
        body = {"filename": name, "content_type": "application/pdf", "size": 2}
        r = api.post("/uploads", json=body)
        if "/" in name:
            assert r.status_code == 400
            assert r.json()["errors"][0]["pointer"] == "/filename"
            return
        t = r.json()
        assert re.fullmatch(r"files/[0-9a-f]{32}", t["key"])
        assert quote(name) not in t["url"] and name not in t["url"]
        assert httpx.put(t["url"], content=b"ok", headers=PDF).status_code == 200
        loc = api.get(f"/files/{t['key']}", follow_redirects=False).headers["location"]
    got = httpx.get(loc)
    assert (
        got.headers["Content-Disposition"] == f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    )


def test_two_uploads_of_one_name_get_two_keys(store):
    s3, _, _ = store
    with api_for(s3) as api:
        assert ticket(api, "index.html.pdf")["key"] != ticket(api, "index.html.pdf")["key"]


@pytest.mark.parametrize(
    "content_type", ["text/html", "image/svg+xml", "application/xhtml+xml", "text/javascript", ""]
)
def test_only_allow_listed_content_types_are_signed(store, content_type):
    """F-PRE-5: a type that a browser would render and run is never signed."""
    s3, _, _ = store
    with api_for(s3) as api:
        body = {"filename": "a.pdf", "content_type": content_type, "size": 1}
        r = api.post("/uploads", json=body)
    assert r.status_code == 400
    assert r.json()["errors"][0]["pointer"] == "/content_type"
    assert "url" not in r.json()


def test_download_is_an_attachment_of_the_stored_type_with_no_referrer(store):
    """F-PRE-6: the signed GET overrides the response headers; the redirect sets no-referrer."""
    s3, _, _ = store
    with api_for(s3) as api:
        t = ticket(api, "photo.png", "image/png", size=4)
        assert httpx.put(t["url"], content=b"\x89PNG", headers=t["headers"]).status_code == 200
        redirect = api.get(f"/files/{t['key']}", follow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["Referrer-Policy"] == "no-referrer"
    assert redirect.headers["Cache-Control"] == "no-store"
    q = dict(parse_qsl(urlsplit(redirect.headers["location"]).query))
    assert q["X-Amz-Expires"] == str(snippet.DOWNLOAD_TTL_SECONDS)
    got = httpx.get(redirect.headers["location"])
    assert got.headers["Content-Disposition"] == "attachment; filename*=UTF-8''photo.png"
    assert got.headers["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    ("content", "pointer"),
    [
        (b'{"filename": "a.pdf", "content_type": "application/pdf"}', "/size"),
        (b'{"filename": "a.pdf", "size": 1}', "/content_type"),
        (b'{"content_type": "application/pdf", "size": 1}', "/filename"),
        (b'{"filename": "a.pdf", "content_type": "application/pdf", "size": 0}', "/size"),
        (b'{"filename": "a.pdf", "content_type": "application/pdf", "size": 104857601}', "/size"),
        (b'{"filename": "", "content_type": "application/pdf", "size": 1}', "/filename"),
        (
            b'{"filename": "a\\u0000.pdf", "content_type": "application/pdf", "size": 1}',
            "/filename",
        ),
        (b"{not json", None),
        (b'{"filename": "\xff.pdf"}', None),
        (b"[]", None),
    ],
)
def test_a_bad_body_is_a_400_problem_never_a_500(store, content, pointer):
    """F-PRE-3: a missing field gave 500."""
    s3, _, _ = store
    with api_for(s3) as api:
        r = api.post("/uploads", content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["type"].endswith("/invalid-request") and r.json()["retryable"] is False
    if pointer:
        assert pointer in [e["pointer"] for e in r.json()["errors"]]


def test_framework_errors_are_problem_details(store):
    s3, _, _ = store
    with api_for(s3) as api:
        r = api.delete("/uploads")
        assert r.status_code == 405 and r.json()["type"].endswith("/method-not-allowed")
        r = api.get("/nowhere")
        assert r.status_code == 404 and r.headers["Content-Type"] == "application/problem+json"
