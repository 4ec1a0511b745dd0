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
        header = lambda n: environ.get(  # noqa: E731
            "CONTENT_TYPE" if n == "content-type" else "HTTP_" + n.upper().replace("-", "_"), ""
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


def api_for(s3, wrap=lambda app: app):
    return TestClient(wrap(snippet.make_app(s3)), base_url="http://api")


def ticket(api, name="a.bin", content_type="application/octet-stream") -> dict:
    r = api.post("/uploads", json={"filename": name, "content_type": content_type})
    assert r.status_code == 201
    return r.json()


def test_api_never_carries_the_bytes(store):
    s3, gate, _ = store
    counter = None

    def wrap(app):
        nonlocal counter
        counter = ByteCounter(app)
        return counter

    payload = bytes(range(256)) * 4096  # 1 MiB
    with api_for(s3, wrap) as api:
        t = ticket(api, "big.bin")
        put = httpx.put(
            t["url"], content=payload, headers={"Content-Type": "application/octet-stream"}
        )
        assert put.status_code == 200
        redirect = api.get(f"/files/{t['key']}", follow_redirects=False)
    assert redirect.status_code == 302
    got = httpx.get(redirect.headers["location"])
    assert got.status_code == 200 and got.content == payload
    assert s3.head_object(Bucket=snippet.BUCKET, Key=t["key"])["ContentLength"] == 1 << 20
    assert counter.received < 100  # the small JSON request only
    assert counter.sent < 2000  # the JSON ticket and the redirect only
    assert gate.refused == []


def test_url_is_sigv4_short_lived_and_bound_to_method_key_and_type(store):
    s3, _, _ = store
    with api_for(s3) as api:
        t = ticket(api, "x.pdf", "application/pdf")
    assert t["expires_in"] == snippet.URL_TTL_SECONDS == 300
    parts = urlsplit(t["url"])
    q = dict(parse_qsl(parts.query))
    assert parts.path == f"/{snippet.BUCKET}/{t['key']}"
    assert q["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert q["X-Amz-Expires"] == "300"
    assert q["X-Amz-SignedHeaders"] == "content-type;host"
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


def put_url(s3, key="doc.pdf", content_type="application/pdf") -> str:
    with api_for(s3) as api:
        return ticket(api, key, content_type)["url"]


def test_genuine_urls_pass_the_independent_verifier(store):
    s3, gate, _ = store
    url = put_url(s3)
    assert (
        httpx.put(url, content=b"ok", headers={"Content-Type": "application/pdf"}).status_code
        == 200
    )
    assert gate.refused == []


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda u: u[:-4] + ("0000" if u[-4:] != "0000" else "1111"), id="signature"),
        pytest.param(lambda u: u.replace("/doc.pdf?", "/other.pdf?"), id="object-key"),
        pytest.param(lambda u: u.replace("X-Amz-Expires=300", "X-Amz-Expires=3600"), id="expiry"),
        pytest.param(lambda u: u.replace("/uploads/", "/uploads2/"), id="bucket"),
    ],
)
def test_altered_url_is_refused(store, alter):
    s3, gate, _ = store
    url = put_url(s3)
    altered = alter(url)
    assert altered != url
    r = httpx.put(altered, content=b"evil", headers={"Content-Type": "application/pdf"})
    assert r.status_code == 403
    assert gate.refused == ["SignatureDoesNotMatch"]


def test_other_method_or_content_type_is_refused(store):
    s3, gate, _ = store
    url = put_url(s3)
    assert httpx.get(url).status_code == 403  # a PUT URL does not read
    r = httpx.put(url, content=b"<html>", headers={"Content-Type": "text/html"})
    assert r.status_code == 403
    assert gate.refused == ["SignatureDoesNotMatch", "SignatureDoesNotMatch"]


def test_expired_url_is_refused(store):
    s3, gate, clock = store
    url = put_url(s3)
    headers = {"Content-Type": "application/pdf"}
    clock.skew = timedelta(seconds=snippet.URL_TTL_SECONDS - 5)
    assert httpx.put(url, content=b"in time", headers=headers).status_code == 200
    clock.skew = timedelta(seconds=snippet.URL_TTL_SECONDS + 5)
    assert httpx.put(url, content=b"too late", headers=headers).status_code == 403
    assert gate.refused == ["AccessDenied"]
    with api_for(s3) as api:
        loc = api.get("/files/doc.pdf", follow_redirects=False).headers["location"]
    clock.skew = timedelta(seconds=61)  # download URLs live 60 s
    assert httpx.get(loc).status_code == 403
