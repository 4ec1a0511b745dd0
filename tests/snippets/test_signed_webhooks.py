"""Standard Webhooks receiver and sender: attacks, rotation, interoperability, retries."""

import asyncio
import base64
import hashlib
import random
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
import signed_webhooks as snippet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
NEW_SECRET = "whsec_dGVzdC1vbmx5LXJvdGF0ZWQtc2VjcmV0LTMyYnl0ZXM="
NOW = 1_764_000_000
BODY = b'{"type": "charge.succeeded", "data": {"id": "ch_1"}}'
URL = "https://shop.example/webhooks"
PUBLIC_IP = "93.184.215.14"


def keypair(label: bytes) -> tuple[str, str]:
    seed = hashlib.sha256(b"test-only " + label).digest()
    raw = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return "whsk_" + base64.b64encode(seed).decode(), "whpk_" + base64.b64encode(raw).decode()


def headers_for(secret, msg_id="msg_1", timestamp=NOW, body=BODY):
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": snippet.sign(secret, msg_id, timestamp, body),
    }


def rejected(secrets, headers, body=BODY, now=NOW):
    with pytest.raises(snippet.WebhookVerificationError) as error:
        snippet.verify(secrets, headers, body, now)
    return str(error.value)


def accepted(secrets, headers, body=BODY, now=NOW) -> bool:
    snippet.verify(secrets, headers, body, now)
    return True


@pytest.fixture
def anyio_backend():
    return "asyncio"


def receiver_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop")


# --- interoperability -----------------------------------------------------------------


def test_spec_example_verifies_with_our_verifier():
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    assert accepted([SPEC_SECRET], headers, SPEC_BODY, now=SPEC_TIMESTAMP)
    assert snippet.sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_spec_example_verifies_with_the_standardwebhooks_library(monkeypatch):
    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(SPEC_TIMESTAMP, tz=UTC)

    import standardwebhooks.webhooks as library

    monkeypatch.setattr(library, "datetime", FrozenDatetime)
    webhook = Webhook(SPEC_SECRET)
    stamp = datetime.fromtimestamp(SPEC_TIMESTAMP, tz=UTC)
    assert webhook.sign(SPEC_ID, stamp, SPEC_BODY.decode()) == SPEC_SIGNATURE
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    assert webhook.verify(SPEC_BODY, headers) == {"test": 2432232314}


def test_our_signature_is_accepted_by_the_standardwebhooks_library():
    now = int(time.time())  # the library checks against the real clock
    headers = headers_for(NEW_SECRET, timestamp=now)
    assert Webhook(NEW_SECRET).verify(BODY, headers) == {
        "type": "charge.succeeded",
        "data": {"id": "ch_1"},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(NEW_SECRET).verify(BODY + b" ", headers)


def test_the_libraries_signature_is_accepted_by_our_verifier():
    now = int(time.time())
    stamp = datetime.fromtimestamp(now, tz=UTC)
    signature = Webhook(NEW_SECRET).sign("msg_9", stamp, BODY.decode())
    headers = {"webhook-id": "msg_9", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert accepted([NEW_SECRET], headers, BODY, now)


# --- verification -----------------------------------------------------------------------


def test_tampered_body_is_rejected():
    tampered = BODY.replace(b"ch_1", b"ch_2")
    assert rejected([NEW_SECRET], headers_for(NEW_SECRET), body=tampered) == (
        "no matching signature"
    )


def test_tampered_id_or_timestamp_is_rejected():
    headers = headers_for(NEW_SECRET)
    assert rejected([NEW_SECRET], {**headers, "webhook-id": "msg_2"}) == "no matching signature"
    moved = {**headers, "webhook-timestamp": str(NOW + 1)}
    assert rejected([NEW_SECRET], moved) == "no matching signature"


def test_wrong_secret_is_rejected():
    assert rejected([NEW_SECRET], headers_for(SPEC_SECRET)) == "no matching signature"


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 86_400])
def test_timestamp_outside_the_tolerance_is_rejected(offset):
    headers = headers_for(NEW_SECRET, timestamp=NOW + offset)
    assert rejected([NEW_SECRET], headers) == "timestamp outside the tolerance"


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamp_at_the_edge_of_the_tolerance_is_accepted(offset):
    headers = headers_for(NEW_SECRET, timestamp=NOW + offset)
    assert accepted([NEW_SECRET], headers)
    assert snippet.TOLERANCE_SECONDS == 300


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing headers"),
        ({"webhook-id": "msg_1", "webhook-timestamp": str(NOW)}, "missing headers"),
        (
            {"webhook-id": "msg_1", "webhook-timestamp": "soon", "webhook-signature": "v1,x"},
            "malformed timestamp",
        ),
        (
            {"webhook-id": "msg_1", "webhook-timestamp": f" +{NOW}", "webhook-signature": "x"},
            "malformed timestamp",
        ),
    ],
)
def test_missing_or_malformed_headers_are_rejected(headers, reason):
    assert rejected([NEW_SECRET], headers) == reason


def test_previous_secret_is_accepted_during_rotation_and_refused_after():
    signed_with_old = headers_for(SPEC_SECRET)
    assert accepted([NEW_SECRET, SPEC_SECRET], signed_with_old)
    assert rejected([NEW_SECRET], signed_with_old) == "no matching signature"


def test_two_signatures_during_rotation_are_accepted_by_either_secret_here_and_by_library():
    now = int(time.time())
    new, old = headers_for(NEW_SECRET, timestamp=now), headers_for(SPEC_SECRET, timestamp=now)
    both = {**new, "webhook-signature": f"{new['webhook-signature']} {old['webhook-signature']}"}
    for secret in (NEW_SECRET, SPEC_SECRET):
        assert accepted([secret], both, now=now)
        assert Webhook(secret).verify(BODY, both)["data"] == {"id": "ch_1"}
    unknown = {**both, "webhook-signature": "v1,AAAA v2,BBBB"}
    assert rejected([NEW_SECRET], unknown, now=now) == "no matching signature"


# --- asymmetric v1a signatures (F-SWH-7) -----------------------------------------------


def test_v1a_ed25519_signature_verifies_with_the_public_key_alone():
    private, public = keypair(b"provider")
    headers = headers_for(private)
    assert headers["webhook-signature"].startswith("v1a,")
    assert len(base64.b64decode(headers["webhook-signature"][4:])) == 64
    assert accepted([public], headers)
    # Independent check: the raw Ed25519 signature over the spec's signed content.
    seed = base64.b64decode(private[5:])
    content = f"msg_1.{NOW}.".encode() + BODY
    raw = Ed25519PrivateKey.from_private_bytes(seed).sign(content)
    assert headers["webhook-signature"] == "v1a," + base64.b64encode(raw).decode()


def test_v1a_rejects_tampering_another_key_and_a_relabelled_signature():
    private, public = keypair(b"provider")
    _, stranger = keypair(b"stranger")
    headers = headers_for(private)
    assert rejected([public], headers, body=BODY + b" ") == "no matching signature"
    assert rejected([stranger], headers) == "no matching signature"
    relabelled = {**headers, "webhook-signature": "v1" + headers["webhook-signature"][3:]}
    assert rejected([public], relabelled) == "no matching signature"
    garbage = {**headers, "webhook-signature": "v1a,not base64!"}
    assert rejected([public], garbage) == "no matching signature"


def test_v1_and_v1a_signatures_side_by_side_during_a_migration():
    private, public = keypair(b"provider")
    v1, v1a = headers_for(NEW_SECRET), headers_for(private)
    both = {**v1, "webhook-signature": f"{v1['webhook-signature']} {v1a['webhook-signature']}"}
    assert accepted([NEW_SECRET], both)
    assert accepted([public], both)


def test_each_direction_has_its_own_key_so_a_reflected_event_is_refused():
    """Both organisations send and receive; A's event replayed at A's own receiver fails."""
    a_private, a_public = keypair(b"org-a")
    b_private, b_public = keypair(b"org-b")
    from_a = headers_for(a_private)
    assert accepted([a_public], from_a)  # B's receiver trusts A's public key
    assert rejected([b_public], from_a) == "no matching signature"  # A's receiver
    from_b = headers_for(b_private, "msg_b1")
    assert accepted([b_public], from_b)
    assert rejected([a_public], from_b) == "no matching signature"


# --- the receiver over HTTP ---------------------------------------------------------------


@pytest.mark.anyio
async def test_replayed_webhook_id_is_acknowledged_but_not_processed_again():
    now = [float(NOW)]
    app = snippet.create_receiver([NEW_SECRET], clock=lambda: now[0])
    async with receiver_client(app) as client:
        headers = headers_for(NEW_SECRET)
        first = await client.post("/webhooks", content=BODY, headers=headers)
        now[0] += 60
        replay = await client.post("/webhooks", content=BODY, headers=headers)
        # The sender's own retry: same id, fresh timestamp and signature, other payload.
        other = b'{"type": "charge.refunded"}'
        resent = headers_for(NEW_SECRET, timestamp=int(now[0]), body=other)
        again = await client.post("/webhooks", content=other, headers=resent)
        now[0] += 301
        stale = await client.post("/webhooks", content=BODY, headers=headers)
    assert [r.status_code for r in (first, replay, again, stale)] == [200, 200, 200, 400]
    assert app.state.processed == {
        "msg_1": (NOW, {"type": "charge.succeeded", "data": {"id": "ch_1"}})
    }


@pytest.mark.anyio
async def test_processed_ids_are_kept_for_the_retention_window_then_pruned():
    now = [float(NOW)]
    app = snippet.create_receiver([NEW_SECRET], clock=lambda: now[0])
    async with receiver_client(app) as client:
        await client.post("/webhooks", content=BODY, headers=headers_for(NEW_SECRET))
        now[0] += snippet.ID_RETENTION_DAYS * 86_400
        late = headers_for(NEW_SECRET, "msg_2", int(now[0]))
        await client.post("/webhooks", content=BODY, headers=late)
        assert list(app.state.processed) == ["msg_1", "msg_2"]
        now[0] += 1
        later = headers_for(NEW_SECRET, "msg_3", int(now[0]))
        await client.post("/webhooks", content=BODY, headers=later)
        assert list(app.state.processed) == ["msg_2", "msg_3"]


@pytest.mark.anyio
async def test_a_dead_letter_replayed_days_later_is_still_a_duplicate():
    """F-SWH-4: processed, answer lost, retried for 65 h, replayed by hand a week later."""
    now = [float(NOW)]
    app = snippet.create_receiver([NEW_SECRET], clock=lambda: now[0])
    asgi = httpx.ASGITransport(app=app)
    calls = []

    async def network(request):
        calls.append(now[0])
        response = await asgi.handle_async_request(request)
        if len(calls) == 1:  # processed, then the connection drops before the answer
            raise httpx.ReadError("connection reset")
        return httpx.Response(503) if not replaying else response

    replaying = False
    async with httpx.AsyncClient(transport=httpx.MockTransport(network)) as client:
        sender = snippet.Sender(
            URL, [NEW_SECRET], client, Ceiling(), lambda: now[0], wait_on(now),
            lambda host: [PUBLIC_IP],
        )  # fmt: skip
        await sender.deliver("msg_1", BODY)
        assert "msg_1" in sender.dead_letters
        now[0] += 7 * 86_400  # an operator fixes the endpoint after a week
        replaying = True
        assert await sender.replay("msg_1") is True
    assert list(app.state.processed) == ["msg_1"]
    assert app.state.processed["msg_1"][0] == NOW  # processed once, at the first attempt


def test_receivers_remember_ids_longer_than_senders_can_replay():
    longest_retry = sum(snippet.retry_delays(Ceiling()))
    assert snippet.REPLAY_DAYS * 86_400 > longest_retry
    assert snippet.ID_RETENTION_DAYS > snippet.REPLAY_DAYS


@pytest.mark.anyio
async def test_replay_is_refused_past_the_replay_horizon():
    harness = Harness([])
    await harness.sender.deliver("msg_1", BODY)
    harness.statuses = [204]
    harness.now = NOW + snippet.REPLAY_DAYS * 86_400 + 1
    assert await harness.sender.replay("msg_1") is False
    assert harness.sender.dead_letters == {}
    assert len(harness.calls) == snippet.MAX_ATTEMPTS  # no request was sent


@pytest.mark.anyio
async def test_signed_body_that_is_not_json_or_not_utf8_is_a_400_problem():
    app = snippet.create_receiver([NEW_SECRET], clock=lambda: NOW)
    async with receiver_client(app) as client:
        for body in (b"not json", b'{"a": "\xff"}', b""):
            response = await client.post("/webhooks", content=body, headers=headers_for(
                NEW_SECRET, body=body))  # fmt: skip
            assert response.status_code == 400
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json() == {
                "type": "https://api.example.com/problems/invalid-request",
                "title": "Invalid request",
                "status": 400,
                "detail": "The body is not valid JSON.",
                "retryable": False,
            }
    assert app.state.processed == {}


@pytest.mark.anyio
async def test_every_verification_failure_gets_one_identical_problem():
    app = snippet.create_receiver([NEW_SECRET], clock=lambda: NOW)
    good = headers_for(NEW_SECRET)
    attempts = [
        {},  # no headers at all
        {**good, "webhook-timestamp": "soon"},
        {**good, "webhook-timestamp": str(NOW - 3600)},
        {**good, "webhook-signature": "v1,AAAA"},
        headers_for(SPEC_SECRET),
    ]
    async with receiver_client(app) as client:
        responses = [await client.post("/webhooks", content=BODY, headers=h) for h in attempts]
    bodies = {r.content for r in responses}
    assert [r.status_code for r in responses] == [400] * 5
    assert len(bodies) == 1  # the answer does not say which check failed
    assert responses[0].json() == {
        "type": "https://api.example.com/problems/webhook-unverified",
        "title": "Webhook not verified",
        "status": 400,
        "detail": "The webhook could not be verified.",
        "retryable": False,
    }
    assert responses[0].headers["content-type"] == "application/problem+json"
    assert app.state.processed == {}


@pytest.mark.anyio
async def test_unknown_path_and_wrong_method_are_problems():
    app = snippet.create_receiver([NEW_SECRET], clock=lambda: NOW)
    async with receiver_client(app) as client:
        missing = await client.post("/nope", content=BODY)
        wrong = await client.get("/webhooks")
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://api.example.com/problems/not-found"
    assert missing.json()["retryable"] is False
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert wrong.json()["type"] == "https://api.example.com/problems/method-not-allowed"
    assert wrong.headers["content-type"] == "application/problem+json"


@pytest.mark.anyio
async def test_an_oversized_body_is_refused_without_reading_it_all():
    app = snippet.create_receiver([NEW_SECRET], clock=lambda: NOW)
    chunk, chunks_sent = b"x" * 16_384, []
    total = 64  # 1 MiB on offer

    async def receive():
        chunks_sent.append(1)
        more = len(chunks_sent) < total
        return {"type": "http.request", "body": chunk, "more_body": more}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": "/webhooks", "raw_path": b"/webhooks",
        "query_string": b"", "root_path": "", "server": ("shop", 80),
        "client": ("127.0.0.1", 1), "headers": list(headers_for(NEW_SECRET).items()),
    }  # fmt: skip
    scope["headers"] = [(k.encode(), v.encode()) for k, v in scope["headers"]]
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert len(chunks_sent) == snippet.MAX_BODY_BYTES // len(chunk) + 1  # not all 64
    assert b"payload-too-large" in sent[1]["body"]


@pytest.mark.anyio
async def test_a_body_at_the_limit_is_accepted():
    body = b'{"pad": "' + b"x" * (snippet.MAX_BODY_BYTES - 11) + b'"}'
    assert len(body) == snippet.MAX_BODY_BYTES
    app = snippet.create_receiver([NEW_SECRET], clock=lambda: NOW)
    async with receiver_client(app) as client:
        ok = await client.post(
            "/webhooks", content=body, headers=headers_for(NEW_SECRET, body=body)
        )
        big = body + b" "
        too_big = await client.post(
            "/webhooks", content=big, headers=headers_for(NEW_SECRET, "msg_2", body=big)
        )
    assert (ok.status_code, too_big.status_code) == (200, 413)
    assert too_big.json()["type"] == "https://api.example.com/problems/payload-too-large"


@pytest.mark.anyio
async def test_receiver_accepts_v1a_from_its_trusted_public_key_only():
    private, public = keypair(b"provider")
    forger, _ = keypair(b"forger")
    app = snippet.create_receiver([public], clock=lambda: NOW)
    async with receiver_client(app) as client:
        good = await client.post("/webhooks", content=BODY, headers=headers_for(private))
        bad = await client.post("/webhooks", content=BODY, headers=headers_for(forger, "m2"))
        # The HMAC secret is not a v1a key: a v1 signature does not pass a whpk_ check.
        hmac_signed = headers_for(NEW_SECRET, "m3")
        other = await client.post("/webhooks", content=BODY, headers=hmac_signed)
    assert [good.status_code, bad.status_code, other.status_code] == [200, 400, 400]
    assert list(app.state.processed) == ["msg_1"]


# --- the sender ---------------------------------------------------------------------------


class Ceiling:
    """A random source that always draws the top of the range: the longest schedule."""

    def uniform(self, low, high):
        return high


def wait_on(now: list):
    def wait(seconds):
        now[0] += seconds

    return wait


def test_retry_schedule_ceilings_cap_and_longest_total_span():
    delays = snippet.retry_delays(Ceiling())
    assert delays == [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720] + [43_200] * 4
    assert max(delays) == snippet.RETRY_CAP_SECONDS == 12 * 3600
    assert sum(delays) == 234_180  # 65.05 hours: the longest a message can be retried
    assert sum(delays) < snippet.ID_RETENTION_DAYS * 86_400


def test_jittered_schedule_stays_under_each_ceiling_and_is_reproducible():
    ceilings = snippet.retry_delays(Ceiling())
    for seed in range(200):
        delays = snippet.retry_delays(random.Random(seed))
        assert len(delays) == snippet.MAX_ATTEMPTS - 1
        assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert snippet.retry_delays(random.Random(7)) == snippet.retry_delays(random.Random(7))
    assert round(sum(snippet.retry_delays(random.Random(7))) / 3600, 1) == 22.3


class Harness:
    """A sender whose network answers from a script: a status, a Response or an exception."""

    def __init__(self, statuses, resolve=lambda host: [PUBLIC_IP]):
        self.now, self.statuses, self.calls, self.requests = float(NOW), list(statuses), [], []
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        self.sender = snippet.Sender(
            URL, [NEW_SECRET], client, Ceiling(), lambda: self.now, self.wait, resolve
        )

    def wait(self, seconds):
        self.now += seconds

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        assert accepted([NEW_SECRET], request.headers, body, self.now)  # fresh signature
        self.calls.append((self.now - NOW, request.headers["webhook-id"]))
        self.requests.append(request)
        step = self.statuses.pop(0) if self.statuses else 503
        if isinstance(step, Exception):
            raise step
        return step if isinstance(step, httpx.Response) else httpx.Response(step)


@pytest.mark.anyio
async def test_dead_letters_after_the_last_attempt_and_manual_replay_redelivers():
    harness = Harness([])
    delays = await harness.sender.deliver("msg_1", BODY)
    assert len(delays) == len(harness.calls) == snippet.MAX_ATTEMPTS == 15
    assert harness.calls[-1] == (234_180, "msg_1")
    assert harness.sender.dead_letters == {"msg_1": (NOW, BODY)}

    harness.statuses = [500]  # still broken: stays in the queue
    assert await harness.sender.replay("msg_1") is False
    assert harness.sender.dead_letters == {"msg_1": (NOW, BODY)}
    harness.statuses = [204]
    assert await harness.sender.replay("msg_1") is True
    assert harness.sender.dead_letters == {}
    assert len(harness.calls) == 17
    assert {c[1] for c in harness.calls} == {"msg_1"}  # the original id every time


@pytest.mark.anyio
async def test_delivery_stops_at_the_first_2xx():
    harness = Harness([503, 500, 200])
    delays = await harness.sender.deliver("msg_1", BODY)
    assert delays == [0.0, 60, 120]
    assert harness.calls == [(0, "msg_1"), (60, "msg_1"), (180, "msg_1")]
    assert harness.sender.dead_letters == {}


@pytest.mark.anyio
async def test_transport_errors_are_failed_attempts_then_dead_letters():
    """F-SWH-1: a timeout or refused connection is retried, never an escaping exception."""
    errors = [httpx.ConnectTimeout("slow"), httpx.ConnectError("refused")]
    errors += [httpx.ReadTimeout("no answer"), httpx.RemoteProtocolError("bad")]
    harness = Harness(errors + [httpx.ReadTimeout("still")] * 11)
    delays = await harness.sender.deliver("msg_1", BODY)
    assert len(delays) == len(harness.calls) == snippet.MAX_ATTEMPTS
    assert list(harness.sender.dead_letters) == ["msg_1"]


@pytest.mark.anyio
async def test_a_timeout_then_success_delivers_on_the_retry():
    harness = Harness([httpx.ReadTimeout("no answer in 15 s"), 200])
    assert await harness.sender.deliver("msg_1", BODY) == [0.0, 60]
    assert harness.sender.dead_letters == {}
    timeout = harness.requests[0].extensions["timeout"]
    assert timeout == {key: snippet.TIMEOUT_SECONDS for key in timeout}


@pytest.mark.anyio
async def test_410_gone_disables_the_endpoint_and_stops_retrying():
    """F-SWH-2: Standard Webhooks says to disable an endpoint that answers 410."""
    harness = Harness([410])
    assert await harness.sender.deliver("msg_1", BODY) == [0.0]
    assert harness.sender.disabled is True
    assert list(harness.sender.dead_letters) == ["msg_1"]
    assert await harness.sender.deliver("msg_2", BODY) == []  # no attempt while disabled
    assert len(harness.calls) == 1
    assert list(harness.sender.dead_letters) == ["msg_1", "msg_2"]
    harness.sender.disabled = False  # the customer re-enables it and replays
    harness.statuses = [200, 200]
    assert [await harness.sender.replay(m) for m in ("msg_1", "msg_2")] == [True, True]


@pytest.mark.anyio
async def test_other_4xx_and_redirects_are_ordinary_failures_and_not_followed():
    moved = httpx.Response(301, headers={"location": "https://elsewhere.example/hook"})
    harness = Harness([404, moved, 200])
    assert await harness.sender.deliver("msg_1", BODY) == [0.0, 60, 120]
    assert harness.sender.disabled is False
    assert {r.url.host for r in harness.requests} == {PUBLIC_IP}  # never elsewhere


@pytest.mark.anyio
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds_is_honoured(status):
    """F-SWH-3: the next attempt waits at least what the receiver asked for."""
    asked = httpx.Response(status, headers={"retry-after": "3600"})
    harness = Harness([asked, 200])
    assert await harness.sender.deliver("msg_1", BODY) == [0.0, 3600]
    assert harness.calls[1][0] == 3600


@pytest.mark.anyio
async def test_retry_after_as_an_http_date_is_honoured():
    later = datetime.fromtimestamp(NOW + 7200, tz=UTC)
    asked = httpx.Response(503, headers={"retry-after": format_datetime(later, usegmt=True)})
    harness = Harness([asked, 200])
    assert await harness.sender.deliver("msg_1", BODY) == [0.0, 7200]


@pytest.mark.anyio
async def test_retry_after_is_capped_and_a_shorter_one_keeps_the_backoff():
    huge = httpx.Response(503, headers={"retry-after": str(10**9)})
    short = httpx.Response(503, headers={"retry-after": "5"})
    junk = httpx.Response(503, headers={"retry-after": "tomorrow-ish"})
    harness = Harness([huge, short, junk, 200])
    delays = await harness.sender.deliver("msg_1", BODY)
    assert delays == [0.0, snippet.RETRY_CAP_SECONDS, 120, 240]


def test_retry_after_parsing():
    assert snippet.retry_after(None, NOW) == 0.0
    past = format_datetime(datetime.fromtimestamp(NOW - 60, tz=UTC), usegmt=True)
    assert snippet.retry_after(httpx.Response(503, headers={"retry-after": past}), NOW) == 0
    assert snippet.retry_after(httpx.Response(503, headers={"retry-after": "-5"}), NOW) == 0
    assert snippet.retry_after(httpx.Response(503, headers={"retry-after": "1.5e3"}), NOW) == 0


# --- where the sender may connect (F-SWH-5, F-SWH-6) -----------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.example/webhooks",
        "ftp://shop.example/webhooks",
        "https:///webhooks",
        "https://user:pass@shop.example/webhooks",
        "//shop.example/webhooks",
    ],
)
def test_only_https_endpoints_can_be_registered(url):
    with pytest.raises(ValueError, match="endpoint must be an https:// URL"):
        snippet.Sender(url, [NEW_SECRET], None, None, None, None, lambda host: [PUBLIC_IP])


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.0.0.7"],
        ["172.16.0.1"],
        ["192.168.1.1"],
        ["169.254.169.254"],  # cloud metadata
        ["100.64.0.1"],  # carrier-grade NAT
        ["0.0.0.0"],
        ["::1"],
        ["fd00::1"],
        ["fe80::1"],
        ["::ffff:127.0.0.1"],  # IPv4-mapped loopback
        [PUBLIC_IP, "10.0.0.7"],  # one bad record is enough
        [],
    ],
)
def test_endpoints_resolving_to_internal_addresses_are_refused(addresses):
    with pytest.raises(ValueError, match="private or reserved address"):
        snippet.Sender(URL, [NEW_SECRET], None, None, None, None, lambda host: addresses)


def test_public_endpoints_are_accepted_including_ipv6():
    for address in (PUBLIC_IP, "2606:4700:4700::1111"):
        assert snippet.public_address(URL, lambda host, address=address: [address]) == address


@pytest.mark.anyio
async def test_each_attempt_connects_to_the_checked_address_with_the_original_host():
    harness = Harness([200])
    await harness.sender.deliver("msg_1", BODY)
    request = harness.requests[0]
    assert (request.url.scheme, request.url.host, request.url.port) == ("https", PUBLIC_IP, None)
    assert request.url.path == "/webhooks"
    assert request.headers["host"] == "shop.example"
    assert request.extensions["sni_hostname"] == "shop.example"  # TLS checks the name


@pytest.mark.anyio
async def test_a_non_default_port_is_kept_in_the_pinned_url_and_the_host_header():
    harness = Harness([200])
    harness.sender.url = "https://shop.example:8443/webhooks"
    await harness.sender.deliver("msg_1", BODY)
    request = harness.requests[0]
    assert (request.url.host, request.url.port) == (PUBLIC_IP, 8443)
    assert request.headers["host"] == "shop.example:8443"


@pytest.mark.anyio
async def test_ipv6_endpoint_is_pinned_in_brackets():
    harness = Harness([200], resolve=lambda host: ["2606:4700:4700::1111"])
    await harness.sender.deliver("msg_1", BODY)
    assert harness.requests[0].url.host == "2606:4700:4700::1111"


@pytest.mark.anyio
async def test_dns_rebinding_to_an_internal_address_sends_nothing():
    answers = iter([[PUBLIC_IP]] + [["169.254.169.254"]] * 20)
    harness = Harness([200], resolve=lambda host: next(answers))
    delays = await harness.sender.deliver("msg_1", BODY)
    assert harness.requests == []  # not one request reached the metadata address
    assert len(delays) == snippet.MAX_ATTEMPTS
    assert list(harness.sender.dead_letters) == ["msg_1"]


@pytest.mark.anyio
async def test_a_dns_failure_is_a_failed_attempt():
    lookups = []

    def flaky(host):  # registration resolves, the first attempt's lookup fails
        lookups.append(host)
        if len(lookups) == 2:
            raise OSError("temporary failure in name resolution")
        return [PUBLIC_IP]

    harness = Harness([200], resolve=flaky)
    assert await harness.sender.deliver("msg_1", BODY) == [0.0, 60]
    assert len(harness.requests) == 1


def test_the_pages_rotation_and_v1a_examples_are_what_the_code_signs():
    body = b'{"type": "charge.succeeded", "data": {"id": "ch_1"}}'
    assert snippet.sign(NEW_SECRET, "msg_2Lh9KpA3", NOW, body) == (
        "v1,NtMCb7VTlvbDeXUBaMzUS2B6X2tQ1DOYlelbVAUAxoI="
    )
    assert snippet.sign(SPEC_SECRET, "msg_2Lh9KpA3", NOW, body) == (
        "v1,SNN1YeiH+QfTGQs4zZRRUHWBYjN+V8o8v85112BVRqQ="
    )
    seed = hashlib.sha256(b"test-only ed25519 seed").digest()  # the snippet's demo key
    private = "whsk_" + base64.b64encode(seed).decode()
    assert private == "whsk_wzLzEmaSUaXQZrHjM8Uh71J/oYRvtglMWCUh5UmfI7o="
    assert snippet.sign(private, "msg_2Lh9KpA3", NOW, body) == (
        "v1a,vOX7aMVzjTIpcRVfQGLO+YXDkgZN56TtNjWwUPLHusUOFilZMFCif0xXh8V8DRCnwR0snZNda920Tx/xAIyIBQ=="
    )
    public = "whpk_2g4V8w+kFRsKVAbcmjz8g16KNejvkMeh34JcteDPCRY="
    headers = headers_for(private, "msg_2Lh9KpA3", NOW, body)
    assert accepted([public], headers, body)


@pytest.mark.anyio
async def test_concurrent_duplicate_deliveries_are_processed_once():
    app = snippet.create_receiver([NEW_SECRET], clock=lambda: NOW)
    async with receiver_client(app) as client:
        responses = await asyncio.gather(
            *(client.post("/webhooks", content=BODY, headers=headers_for(NEW_SECRET))
              for _ in range(50))
        )  # fmt: skip
    assert {r.status_code for r in responses} == {200}
    assert list(app.state.processed) == ["msg_1"]


@pytest.mark.anyio
async def test_a_receiver_that_never_answers_times_out_over_a_real_socket(monkeypatch):
    """The timeout is a real one: a TCP server on 127.0.0.1 that accepts and stays silent."""
    accepted_connections = []

    async def silent(reader, writer):
        accepted_connections.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(snippet, "TIMEOUT_SECONDS", 0.3)
    # The address check would refuse loopback; for this test only, let it through.
    monkeypatch.setattr(snippet, "public_address", lambda url, resolve: "127.0.0.1")
    now = [float(NOW)]
    async with httpx.AsyncClient() as client:
        sender = snippet.Sender(
            f"https://shop.example:{port}/webhooks", [NEW_SECRET], client, Ceiling(),
            lambda: now[0], wait_on(now), lambda host: [PUBLIC_IP],
        )  # fmt: skip
        started = time.monotonic()
        response = await sender.attempt("msg_1", BODY)
        elapsed = time.monotonic() - started
    server.close()
    for writer in accepted_connections:
        writer.close()
    await server.wait_closed()
    assert response is None  # a failed attempt, not an exception
    assert accepted_connections  # the connection was made, then nothing came back
    assert 0.25 < elapsed < 5
