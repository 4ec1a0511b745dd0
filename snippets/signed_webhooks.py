"""Standard Webhooks: a receiver that verifies signatures and drops redeliveries, and a
sender that retries with exponential backoff and full jitter, then dead-letters."""

import asyncio
import base64
import hashlib
import hmac
import json
import random
import time

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

TOLERANCE_SECONDS = 300  # reject timestamps more than 5 minutes from our clock
RETRY_BASE_SECONDS = 60  # ceiling of the first retry delay; doubles on each retry
RETRY_CAP_SECONDS = 43_200  # no delay ceiling above 12 hours
MAX_ATTEMPTS = 15  # the first attempt and 14 retries, then the dead-letter queue
ID_RETENTION_HOURS = 72  # longer than the longest possible retry span (65 hours)


class WebhookVerificationError(Exception):
    pass


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(key, signed, hashlib.sha256)).decode()


def verify(secrets: list[str], headers, body: bytes, now: float) -> dict:
    """Accept if any offered v1 signature matches any of our secrets (new, then old)."""
    try:
        msg_id = headers["webhook-id"]
        timestamp = int(headers["webhook-timestamp"])
        offered = headers["webhook-signature"].split(" ")
    except (KeyError, ValueError) as error:
        raise WebhookVerificationError("missing or malformed headers") from error
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("timestamp outside the tolerance")
    expected = [sign(secret, msg_id, timestamp, body).encode() for secret in secrets]
    if not any(hmac.compare_digest(e, o.encode()) for e in expected for o in offered):
        raise WebhookVerificationError("no matching signature")
    return json.loads(body)


def create_receiver(secrets: list[str], clock=time.time) -> FastAPI:
    app = FastAPI()
    app.state.processed = {}  # webhook-id -> (first seen, event)

    @app.post("/webhooks")
    async def receive(request: Request):
        body = (
            await request.body()
        )  # the raw bytes: re-serialised JSON would not verify
        now = clock()
        try:
            event = verify(secrets, request.headers, body, now)
        except WebhookVerificationError as error:
            return JSONResponse({"error": str(error)}, 400)
        seen, msg_id = app.state.processed, request.headers["webhook-id"]
        for old in [
            i for i, (t, _) in seen.items() if now - t > ID_RETENTION_HOURS * 3600
        ]:
            del seen[old]
        if msg_id not in seen:  # a redelivery is acknowledged, never processed twice
            seen[msg_id] = (now, event)
        return {"received": msg_id}

    return app


def retry_delays(rng: random.Random) -> list[float]:
    """Full jitter: retry n waits uniform(0, min(cap, base * 2**n)) seconds."""
    ceilings = [RETRY_BASE_SECONDS * 2**n for n in range(MAX_ATTEMPTS - 1)]
    return [rng.uniform(0, min(RETRY_CAP_SECONDS, c)) for c in ceilings]


class Sender:
    """`wait` is a job queue's scheduled run time in production, a fake clock here."""

    def __init__(self, secrets: list[str], post, rng: random.Random, clock, wait):
        self.secrets, self.post, self.rng = secrets, post, rng
        self.clock, self.wait = clock, wait
        self.dead_letters: dict[str, bytes] = {}

    async def attempt(self, msg_id: str, body: bytes) -> bool:
        timestamp = int(self.clock())  # signed afresh: a late retry is never stale
        signatures = " ".join(sign(s, msg_id, timestamp, body) for s in self.secrets)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
        status = await self.post({**headers, "webhook-signature": signatures}, body)
        return 200 <= status < 300

    async def deliver(self, msg_id: str, body: bytes) -> list[float]:
        """Returns the delay before each attempt made; dead-letters after the last."""
        delays = [0.0, *retry_delays(self.rng)]
        for n, delay in enumerate(delays):
            self.wait(delay)
            if await self.attempt(msg_id, body):
                return delays[: n + 1]
        self.dead_letters[msg_id] = body
        return delays

    async def replay(self, msg_id: str) -> bool:
        """Manual replay from the dead-letter queue, once the receiver is fixed."""
        if delivered := await self.attempt(msg_id, self.dead_letters[msg_id]):
            del self.dead_letters[msg_id]
        return delivered


async def main():
    # The example published with the Standard Webhooks spec:
    spec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    spec_body = b'{"test": 2432232314}'
    print(sign(spec_secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, spec_body))
    #> v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=

    old, new = spec_secret, "whsec_dGVzdC1vbmx5LXJvdGF0ZWQtc2VjcmV0LTMyYnl0ZXM="
    now, down = [1_764_000_000.0], [True]
    receiver = create_receiver([new, old], clock=lambda: now[0])  # mid-rotation
    transport = httpx.ASGITransport(app=receiver)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:

        async def post(headers, body):
            if down[0]:  # the receiver is broken for the first few days
                return 503
            response = await client.post("/webhooks", content=body, headers=headers)
            return response.status_code

        def wait(seconds):
            now[0] += seconds

        sender = Sender([old], post, random.Random(7), lambda: now[0], wait)
        delays = await sender.deliver("msg_1", b'{"type": "charge.succeeded"}')
        span = f"over {sum(delays) / 3600:.1f} h"
        print(len(delays), "attempts", span, "dead letters:", list(sender.dead_letters))
        #> 15 attempts over 22.3 h dead letters: ['msg_1']
        down[0] = False
        print(await sender.replay("msg_1"), sender.dead_letters)
        #> True {}
        sender.secrets = [new, old]  # the sender rotates: both signatures for a while
        print(await sender.attempt("msg_1", b'{"type": "charge.succeeded"}'))
        #> True
        print(list(receiver.state.processed))  # delivered twice, processed once
        #> ['msg_1']
        stamp = int(now[0])
        headers = {"webhook-id": "msg_2", "webhook-timestamp": str(stamp)}
        headers["webhook-signature"] = sign(new, "msg_2", stamp, b'{"amount": 100}')
        body = b'{"amount": 1}'  # tampered in transit
        forged = await client.post("/webhooks", content=body, headers=headers)
        print(forged.status_code, forged.json())
        #> 400 {'error': 'no matching signature'}


if __name__ == "__main__":
    asyncio.run(main())
