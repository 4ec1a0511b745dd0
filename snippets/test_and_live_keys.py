"""API keys whose prefix names their kind and mode, one API host that takes the mode
from the stored key record, and a leaked-key scanner that checks a CRC32 suffix."""

import asyncio
import hashlib
import re
import secrets
import string
import time
import zlib
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

KEY_PREFIXES = [
    {"prefix": "sk_test_", "mode": "test", "secret": True},
    {"prefix": "sk_live_", "mode": "live", "secret": True},
    {"prefix": "pk_test_", "mode": "test", "secret": False},
    {"prefix": "pk_live_", "mode": "live", "secret": False},
]
ALPHABET = string.digits + string.ascii_letters  # base62: no separators to break on
BODY_LENGTH = 30  # 30 random base62 characters: about 178 bits
CHECKSUM_LENGTH = 6  # CRC32 of prefix and body, base62, zero-padded
KEY_PATTERN = re.compile(
    r"(?<![0-9A-Za-z])([sp]k_(?:test|live)_)"  # a prefix not inside a longer word
    r"([0-9A-Za-z]{30})([0-9A-Za-z]{6})(?![0-9A-Za-z])"  # random body, checksum
)
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
TYPES = {  # slug: (status, title, retryable), as registered in data/problem-types.yml
    "forbidden": (403, "Forbidden", False),
    "invalid-request": (400, "Invalid request", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "not-found": (404, "Not found", False),
    "unauthorized": (401, "Unauthorized", False),
}


def problem(slug: str, detail: str, headers=None, **extensions) -> JSONResponse:
    status, title, retryable = TYPES[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    body |= {"retryable": retryable, **extensions}
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_JSON)


class Problem(Exception):
    def __init__(self, slug: str, detail: str, headers=None, **extensions):
        self.response = problem(slug, detail, headers, **extensions)


def checksum(text: str) -> str:
    n, digits = zlib.crc32(text.encode()), ""
    for _ in range(CHECKSUM_LENGTH):
        n, digit = divmod(n, 62)
        digits = ALPHABET[digit] + digits
    return digits


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()  # stored instead of the key


def find_leaked_keys(text: str) -> list[str]:
    """Every well-formed key in the text: the checksum rules out look-alikes offline."""
    return [
        "".join(match.groups())
        for match in KEY_PATTERN.finditer(text)
        if checksum(match[1] + match[2]) == match[3]
    ]


@dataclass
class KeyRecord:  # what the server trusts; the prefix is only a label for people
    account: str
    prefix: str
    expires: float | None = None  # set when the key is rolled: the overlap ends here
    last_used: float | None = None


def create_app(processors: dict, clock=time.time) -> FastAPI:
    """One host for both modes: the key record picks the mode, data and processor."""
    app = FastAPI()
    keys: dict[str, KeyRecord] = {}  # sha256(key) -> record
    charges = {"test": [], "live": []}  # partitioned by mode; no query crosses over
    app.state.keys, app.state.charges = keys, charges

    def issue(account: str, prefix: str, expires: float | None = None) -> str:
        body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
        key = prefix + body + checksum(prefix + body)
        keys[key_hash(key)] = KeyRecord(account, prefix, expires)
        return key

    def roll(old: str, overlap_seconds: float) -> str:
        """A new key now; the old one works for the overlap, then never again."""
        record = keys[key_hash(old)]
        record.expires = clock() + overlap_seconds
        return issue(record.account, record.prefix)

    app.state.issue, app.state.roll = issue, roll
    app.state.revoke = lambda key: keys.pop(key_hash(key), None)  # after a leak report

    @app.exception_handler(Problem)
    async def send_problem(request: Request, error: Problem):
        return error.response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
        return problem(slug or "invalid-request", str(error.detail), error.headers)

    def authenticate(request: Request) -> tuple[KeyRecord, dict]:
        values = request.headers.getlist("authorization")
        if len(values) > 1:
            raise Problem("invalid-request", "Send exactly one Authorization header.")
        scheme, _, key = (values or [""])[0].partition(" ")
        key = key.strip()
        record = keys.get(key_hash(key)) if scheme.lower() == "bearer" else None
        if record and record.expires is not None and record.expires <= clock():
            record = None  # rolled, and the overlap is over
        if record is None or not key.startswith(record.prefix):  # must agree
            error = ', error="invalid_token"' if values else ""  # RFC 6750 §3.1
            challenge = {"WWW-Authenticate": f'Bearer realm="api"{error}'}
            raise Problem("unauthorized", "Send a valid secret key.", challenge)
        record.last_used = clock()  # shown in the dashboard, so unused keys can go
        return record, next(k for k in KEY_PREFIXES if k["prefix"] == record.prefix)

    def secret_key(request: Request) -> tuple[str, str]:
        record, kind = authenticate(request)  # authenticate first, then authorise
        if not kind["secret"]:
            challenge = 'Bearer realm="api", error="insufficient_scope"'
            detail = "Publishable keys only create card tokens; send a secret key."
            raise Problem("forbidden", detail, {"WWW-Authenticate": challenge})
        return record.account, kind["mode"]

    @app.post("/v1/charges", status_code=201)
    async def create_charge(request: Request):
        account, mode = secret_key(request)
        outcome = await processors[mode](500)  # test mode reaches only the simulator
        charge = {"id": f"ch_{mode}_{len(charges[mode]) + 1}", "status": outcome}
        charges[mode].append(charge | {"account": account})
        return charge | {"livemode": mode == "live"}

    @app.get("/v1/charges")
    async def list_charges(request: Request):
        account, mode = secret_key(request)
        mine = [c["id"] for c in charges[mode] if c["account"] == account]
        return {"data": mine, "livemode": mode == "live"}

    return app


async def simulator(amount: int) -> str:
    return "succeeded"  # never leaves the process: no card network, no money


async def main():
    now = [1000.0]
    app = create_app({"test": simulator, "live": simulator}, clock=lambda: now[0])
    test_key = app.state.issue("acct_1", "sk_test_")
    live_key = app.state.issue("acct_1", "sk_live_")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api") as api:

        def as_key(key):
            return {"Authorization": f"Bearer {key}"}

        made = await api.post("/v1/charges", headers=as_key(test_key))
        print(made.status_code, made.json())
        #> 201 {'id': 'ch_test_1', 'status': 'succeeded', 'livemode': False}
        live = await api.get("/v1/charges", headers=as_key(live_key))
        print(live.json())
        #> {'data': [], 'livemode': True}
        forged = "sk_live_" + test_key.removeprefix("sk_test_")  # edited prefix
        print((await api.get("/v1/charges", headers=as_key(forged))).status_code)
        #> 401
        rolled = app.state.roll(live_key, overlap_seconds=3600)
        now[0] += 3600
        for key in (live_key, rolled):
            print((await api.get("/v1/charges", headers=as_key(key))).status_code)
            #> 401
            #> 200
    log = f"DEBUG auth={rolled} retry=sk_live_{'x' * 36} id=sk_test_notarealkey"
    leaked = find_leaked_keys(log)
    print([key[:8] for key in leaked], app.state.revoke(leaked[0]) is not None)
    #> ['sk_live_'] True


if __name__ == "__main__":
    asyncio.run(main())
