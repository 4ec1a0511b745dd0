"""Standard Webhooks: a receiver that verifies v1 (HMAC) or v1a (Ed25519) signatures and
drops redeliveries; a sender that posts only to public https endpoints, retries with
full jitter, honours Retry-After and 410 Gone, then dead-letters."""

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import random
import socket
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

TOLERANCE_SECONDS = 300  # reject timestamps more than 5 minutes from our clock
MAX_BODY_BYTES = 65_536  # events are thin: a larger body is refused, not read on
RETRY_BASE_SECONDS = 60  # ceiling of the first retry delay; doubles on each retry
RETRY_CAP_SECONDS = 43_200  # no delay ceiling above 12 hours
MAX_ATTEMPTS = 15  # the first attempt and 14 retries, then the dead-letter queue
TIMEOUT_SECONDS = 15  # an attempt with no answer by then has failed
REPLAY_DAYS = 30  # a dead letter can be replayed up to 30 days after its first attempt
ID_RETENTION_DAYS = 31  # longer than the replay horizon, so a replay is a duplicate
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_TYPES = {  # slug: (status, title, retryable), as in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "webhook-unverified": (400, "Webhook not verified", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "payload-too-large": (413, "Payload too large", False),
}


def problem(slug: str, detail: str, headers=None) -> JSONResponse:
    status, title, retryable = PROBLEM_TYPES[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status}
    body |= {"detail": detail, "retryable": retryable}
    return JSONResponse(body, status, headers, media_type=PROBLEM_JSON)


class WebhookVerificationError(Exception):
    pass


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    if secret.startswith("whsk_"):  # v1a: receivers hold only the public key
        private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret[5:]))
        return "v1a," + base64.b64encode(private.sign(content)).decode()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return "v1," + base64.b64encode(hmac.digest(key, content, hashlib.sha256)).decode()


def matches(key: str, msg_id: str, timestamp: int, body: bytes, offered: str) -> bool:
    if not key.startswith("whpk_"):  # v1: recompute, compare in constant time
        expected = sign(key, msg_id, timestamp, body).encode()
        return hmac.compare_digest(expected, offered.encode())
    version, _, value = offered.partition(",")
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key[5:]))
        signature = base64.b64decode(value, validate=True)
        public.verify(signature, f"{msg_id}.{timestamp}.".encode() + body)
    except (InvalidSignature, ValueError):
        return False
    return version == "v1a"


def verify(keys: list[str], headers, body: bytes, now: float) -> None:
    """Accept if any offered signature matches any trusted key (new, then old)."""
    try:
        msg_id, stamp = headers["webhook-id"], headers["webhook-timestamp"]
        offered = headers["webhook-signature"].split(" ")
    except KeyError as error:
        raise WebhookVerificationError("missing headers") from error
    if not (stamp.isascii() and stamp.isdigit()):
        raise WebhookVerificationError("malformed timestamp")
    if abs(now - int(stamp)) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("timestamp outside the tolerance")
    if not any(matches(k, msg_id, int(stamp), body, o) for k in keys for o in offered):
        raise WebhookVerificationError("no matching signature")


def create_receiver(keys: list[str], clock=time.time) -> FastAPI:
    app = FastAPI()
    app.state.processed = {}  # webhook-id -> (first seen, event)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
        return problem(slug or "invalid-request", str(error.detail), error.headers)

    @app.post("/webhooks")
    async def receive(request: Request):
        body = b""  # the raw bytes: re-serialised JSON would not verify
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return problem("payload-too-large", f"At most {MAX_BODY_BYTES} bytes.")
        now = clock()
        try:
            verify(keys, request.headers, body, now)
            event = json.loads(body)
        except WebhookVerificationError:  # one answer: the attacker learns nothing
            return problem("webhook-unverified", "The webhook could not be verified.")
        except ValueError:  # signed, but not JSON or not UTF-8
            return problem("invalid-request", "The body is not valid JSON.")
        seen, msg_id = app.state.processed, request.headers["webhook-id"]
        horizon = now - ID_RETENTION_DAYS * 86_400
        for old in [i for i, (t, _) in seen.items() if t < horizon]:
            del seen[old]
        if msg_id not in seen:  # a redelivery is acknowledged, never processed twice
            seen[msg_id] = (now, event)
        return {"received": msg_id}

    return app


def retry_delays(rng: random.Random) -> list[float]:
    """Full jitter: retry n waits uniform(0, min(cap, base * 2**n)) seconds."""
    ceilings = [RETRY_BASE_SECONDS * 2**n for n in range(MAX_ATTEMPTS - 1)]
    return [rng.uniform(0, min(RETRY_CAP_SECONDS, c)) for c in ceilings]


def retry_after(response: httpx.Response | None, now: float) -> float:
    """The wait the receiver asked for: delta-seconds or an HTTP-date (RFC 9110)."""
    value = response.headers.get("retry-after", "") if response is not None else ""
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return 0.0


def public_address(url: str, resolve) -> str:
    """The address to connect to: https only, and never an internal one (SSRF)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.username is not None:
        raise ValueError("endpoint must be an https:// URL")
    addresses = [ipaddress.ip_address(a) for a in resolve(parts.hostname)]
    if not addresses or not all(a.is_global for a in addresses):
        raise ValueError("endpoint resolves to a private or reserved address")
    return str(addresses[0])


def dns(host: str) -> list[str]:
    return [ai[4][0] for ai in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)]


class Sender:
    """One customer endpoint. `wait` is a job queue's scheduled run time in
    production."""

    def __init__(self, url, secrets, client, rng, clock, wait, resolve=dns):
        public_address(url, resolve)  # at registration, and again on every attempt
        self.url, self.secrets, self.client, self.rng = url, secrets, client, rng
        self.clock, self.wait, self.resolve = clock, wait, resolve
        self.disabled = False  # set by 410 Gone; the customer re-enables it
        self.dead_letters: dict[str, tuple[float, bytes]] = {}  # id: (first try, body)

    async def attempt(self, msg_id: str, body: bytes) -> httpx.Response | None:
        timestamp = int(self.clock())  # signed afresh: a late retry is never stale
        signatures = " ".join(sign(s, msg_id, timestamp, body) for s in self.secrets)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
        headers |= {"webhook-signature": signatures, "content-type": "application/json"}
        parts = urlsplit(self.url)
        try:  # connect to the address just checked, so DNS cannot rebind in between
            address = public_address(self.url, self.resolve)
            host = f"[{address}]" if ":" in address else address
            pinned = parts._replace(netloc=f"{host}:{parts.port or 443}").geturl()
            return await self.client.post(
                pinned, content=body, headers=headers | {"host": parts.netloc},
                extensions={"sni_hostname": parts.hostname}, timeout=TIMEOUT_SECONDS,
            )  # fmt: skip
        except (httpx.HTTPError, OSError, ValueError):  # no answer is a failure too
            return None

    async def deliver(self, msg_id: str, body: bytes) -> list[float]:
        """Returns the delay before each attempt made; dead-letters after the last."""
        waited, asked, first = [], 0.0, self.clock()
        for delay in [0.0, *retry_delays(self.rng)]:
            if self.disabled:
                break
            waited.append(min(RETRY_CAP_SECONDS, max(delay, asked)))
            self.wait(waited[-1])
            response = await self.attempt(msg_id, body)
            if response is not None and response.is_success:
                return waited
            self.disabled = response is not None and response.status_code == 410
            asked = retry_after(response, self.clock())
        self.dead_letters[msg_id] = (first, body)
        return waited

    async def replay(self, msg_id: str) -> bool:
        """Manual replay, with the original webhook-id, once the receiver is fixed."""
        first, body = self.dead_letters[msg_id]
        if self.clock() - first > REPLAY_DAYS * 86_400:  # past the receivers' memory
            del self.dead_letters[msg_id]
            return False
        response = await self.attempt(msg_id, body)
        if delivered := response is not None and response.is_success:
            del self.dead_letters[msg_id]
        return delivered


async def main():
    # The example published with the Standard Webhooks spec:
    spec_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    spec_body = b'{"test": 2432232314}'
    print(sign(spec_secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, spec_body))
    #> v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
    seed = hashlib.sha256(b"test-only ed25519 seed").digest()  # never a real key
    private = "whsk_" + base64.b64encode(seed).decode()
    raw = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    public = "whpk_" + base64.b64encode(raw).decode()  # all the receiver holds
    now, down = [1_764_000_000.0], [True]
    receiver = create_receiver([public], clock=lambda: now[0])
    asgi = httpx.ASGITransport(app=receiver)

    async def network(request: httpx.Request) -> httpx.Response:
        if down[0]:  # the receiver is broken for the first few days
            return httpx.Response(503)
        return await asgi.handle_async_request(request)

    def wait(seconds):
        now[0] += seconds

    url, resolve = "https://shop.example/webhooks", lambda host: ["93.184.215.14"]
    async with httpx.AsyncClient(transport=httpx.MockTransport(network)) as client:
        sender = Sender(url, [private], client, random.Random(7), lambda: now[0], wait,
                        resolve)  # fmt: skip
        delays = await sender.deliver("msg_1", b'{"type": "charge.succeeded"}')
        span = f"over {sum(delays) / 3600:.1f} h"
        print(len(delays), "attempts", span, "dead letters:", list(sender.dead_letters))
        #> 15 attempts over 22.3 h dead letters: ['msg_1']
        down[0] = False
        print(await sender.replay("msg_1"), list(sender.dead_letters))
        #> True []
        again = await sender.attempt("msg_1", b'{"type": "charge.succeeded"}')
        print(again.status_code, list(receiver.state.processed))  # processed once
        #> 200 ['msg_1']
        stamp = int(now[0])
        headers = {"webhook-id": "msg_2", "webhook-timestamp": str(stamp)}
        headers["webhook-signature"] = sign(private, "msg_2", stamp, b'{"amount": 100}')
        forged = await client.post(url, content=b'{"amount": 1}', headers=headers)
        print(forged.status_code, forged.json()["type"])  # tampered in transit
        #> 400 https://api.example.com/problems/webhook-unverified
    for unsafe in ("http://shop.example/webhooks", "https://169.254.169.254/latest"):
        try:
            Sender(unsafe, [private], None, None, None, None, resolve=lambda h: [h])
        except ValueError as error:
            print(error)
            #> endpoint must be an https:// URL
            #> endpoint resolves to a private or reserved address


if __name__ == "__main__":
    asyncio.run(main())
