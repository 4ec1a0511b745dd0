"""Standard Webhooks receiver and sender: attacks, rotation, interoperability, retries."""

import random
import time
from datetime import UTC, datetime

import httpx
import pytest
import signed_webhooks as snippet
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
NEW_SECRET = "whsec_dGVzdC1vbmx5LXJvdGF0ZWQtc2VjcmV0LTMyYnl0ZXM="
NOW = 1_764_000_000
BODY = b'{"type": "charge.succeeded", "data": {"id": "ch_1"}}'


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


def test_spec_example_verifies_with_our_verifier():
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    event = snippet.verify([SPEC_SECRET], headers, SPEC_BODY, now=SPEC_TIMESTAMP)
    assert event == {"test": 2432232314}
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
    assert snippet.verify([NEW_SECRET], headers, BODY, now)["data"] == {"id": "ch_1"}


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
    assert snippet.verify([NEW_SECRET], headers, BODY, NOW)["data"] == {"id": "ch_1"}
    assert snippet.TOLERANCE_SECONDS == 300


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": "msg_1", "webhook-timestamp": str(NOW)},
        {"webhook-id": "msg_1", "webhook-timestamp": "soon", "webhook-signature": "v1,x"},
    ],
)
def test_missing_or_malformed_headers_are_rejected(headers):
    assert rejected([NEW_SECRET], headers) == "missing or malformed headers"


def test_previous_secret_is_accepted_during_rotation_and_refused_after():
    signed_with_old = headers_for(SPEC_SECRET)
    assert snippet.verify([NEW_SECRET, SPEC_SECRET], signed_with_old, BODY, NOW)
    assert rejected([NEW_SECRET], signed_with_old) == "no matching signature"


def test_two_signatures_during_rotation_are_accepted_by_either_secret_here_and_by_library():
    now = int(time.time())
    new, old = headers_for(NEW_SECRET, timestamp=now), headers_for(SPEC_SECRET, timestamp=now)
    both = {**new, "webhook-signature": f"{new['webhook-signature']} {old['webhook-signature']}"}
    for secret in (NEW_SECRET, SPEC_SECRET):
        assert snippet.verify([secret], both, BODY, now)["data"] == {"id": "ch_1"}
        assert Webhook(secret).verify(BODY, both)["data"] == {"id": "ch_1"}
    unknown = {**both, "webhook-signature": "v1,AAAA v2,BBBB"}
    assert rejected([NEW_SECRET], unknown, now=now) == "no matching signature"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_replayed_webhook_id_is_acknowledged_but_not_processed_again():
    now = [float(NOW)]
    app = snippet.create_receiver([NEW_SECRET], clock=lambda: now[0])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
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
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        await client.post("/webhooks", content=BODY, headers=headers_for(NEW_SECRET))
        now[0] += snippet.ID_RETENTION_HOURS * 3600
        late = headers_for(NEW_SECRET, "msg_2", int(now[0]))
        await client.post("/webhooks", content=BODY, headers=late)
        assert list(app.state.processed) == ["msg_1", "msg_2"]
        now[0] += 1
        later = headers_for(NEW_SECRET, "msg_3", int(now[0]))
        await client.post("/webhooks", content=BODY, headers=later)
        assert list(app.state.processed) == ["msg_2", "msg_3"]


class Ceiling:
    """A random source that always draws the top of the range: the longest schedule."""

    def uniform(self, low, high):
        return high


def test_retry_schedule_ceilings_cap_and_longest_total_span():
    delays = snippet.retry_delays(Ceiling())
    assert delays == [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720] + [43_200] * 4
    assert max(delays) == snippet.RETRY_CAP_SECONDS == 12 * 3600
    assert sum(delays) == 234_180  # 65.05 hours: the longest a message can be retried
    assert sum(delays) < snippet.ID_RETENTION_HOURS * 3600


def test_jittered_schedule_stays_under_each_ceiling_and_is_reproducible():
    ceilings = snippet.retry_delays(Ceiling())
    for seed in range(200):
        delays = snippet.retry_delays(random.Random(seed))
        assert len(delays) == snippet.MAX_ATTEMPTS - 1
        assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert snippet.retry_delays(random.Random(7)) == snippet.retry_delays(random.Random(7))
    assert round(sum(snippet.retry_delays(random.Random(7))) / 3600, 1) == 22.3


class Harness:
    def __init__(self, statuses):
        self.now, self.statuses, self.calls = float(NOW), list(statuses), []
        self.sender = snippet.Sender(
            [NEW_SECRET], self.post, Ceiling(), lambda: self.now, self.wait
        )

    def wait(self, seconds):
        self.now += seconds

    async def post(self, headers, body):
        assert snippet.verify([NEW_SECRET], headers, body, self.now)  # fresh signature
        self.calls.append((self.now - NOW, headers["webhook-id"]))
        return self.statuses.pop(0) if self.statuses else 503


@pytest.mark.anyio
async def test_dead_letters_after_the_last_attempt_and_manual_replay_redelivers():
    harness = Harness([])
    delays = await harness.sender.deliver("msg_1", BODY)
    assert len(delays) == len(harness.calls) == snippet.MAX_ATTEMPTS == 15
    assert harness.calls[-1] == (234_180, "msg_1")
    assert harness.sender.dead_letters == {"msg_1": BODY}

    harness.statuses = [500]  # still broken: stays in the queue
    assert await harness.sender.replay("msg_1") is False
    assert harness.sender.dead_letters == {"msg_1": BODY}
    harness.statuses = [204]
    assert await harness.sender.replay("msg_1") is True
    assert harness.sender.dead_letters == {}
    assert len(harness.calls) == 17


@pytest.mark.anyio
async def test_delivery_stops_at_the_first_2xx():
    harness = Harness([503, 500, 200])
    delays = await harness.sender.deliver("msg_1", BODY)
    assert delays == [0.0, 60, 120]
    assert harness.calls == [(0, "msg_1"), (60, "msg_1"), (180, "msg_1")]
    assert harness.sender.dead_letters == {}
