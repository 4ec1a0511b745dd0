"""API keys whose prefix names their kind and environment, a deployment that refuses
keys from the other environment, and a leaked-key scanner that checks a CRC32 suffix."""

import asyncio
import hashlib
import re
import secrets
import string
import zlib

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

KEY_PREFIXES = [
    {"prefix": "sk_test_", "environment": "test", "secret": True},
    {"prefix": "sk_live_", "environment": "live", "secret": True},
    {"prefix": "pk_test_", "environment": "test", "secret": False},
    {"prefix": "pk_live_", "environment": "live", "secret": False},
]
ALPHABET = string.digits + string.ascii_letters  # base62: no separators to break on
BODY_LENGTH = 30  # 30 random base62 characters: about 178 bits
CHECKSUM_LENGTH = 6  # CRC32 of prefix and body, base62, zero-padded
KEY_PATTERN = re.compile(
    r"(?<![0-9A-Za-z])([sp]k_(?:test|live)_)"  # a prefix not inside a longer word
    r"([0-9A-Za-z]{30})([0-9A-Za-z]{6})(?![0-9A-Za-z])"  # random body, checksum
)
PROBLEMS = "https://api.example.com/problems/"


def checksum(text: str) -> str:
    n, digits = zlib.crc32(text.encode()), ""
    for _ in range(CHECKSUM_LENGTH):
        n, digit = divmod(n, 62)
        digits = ALPHABET[digit] + digits
    return digits


def issue_key(prefix: str) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return prefix + body + checksum(prefix + body)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()  # stored instead of the key


def find_leaked_keys(text: str) -> list[str]:
    """Every well-formed key in the text: the checksum rules out look-alikes offline."""
    return [
        "".join(match.groups())
        for match in KEY_PATTERN.finditer(text)
        if checksum(match[1] + match[2]) == match[3]
    ]


def problem(status: int, slug: str, title: str, detail: str, **extra) -> JSONResponse:
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    response = JSONResponse(body | extra, status, media_type="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def create_deployment(environment: str, key_hashes: set[str]) -> FastAPI:
    """One deployment per environment, each with its own keys and its own data."""
    app = FastAPI()
    app.state.charges = []
    other = {"test": "live", "live": "test"}[environment]
    hosts = {"test": "sandbox.api.example.com", "live": "api.example.com"}

    @app.middleware("http")
    async def authenticate(request: Request, call_next):
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        kind = next((k for k in KEY_PREFIXES if key.startswith(k["prefix"])), None)
        if kind and kind["environment"] != environment:  # before any lookup or log
            return problem(
                401,
                "wrong-environment",
                f"{other.capitalize()} key sent to the {environment} environment",
                f"Keys starting {kind['prefix']} work only at https://{hosts[other]}.",
                key_environment=other,
                environment=environment,
            )
        if kind and not kind["secret"]:
            detail = "Publishable keys only create card tokens; send a secret key."
            return problem(403, "publishable-key", "Secret key required", detail)
        if not kind or key_hash(key) not in key_hashes:
            detail = "Send a secret key from your dashboard as a Bearer token."
            return problem(401, "invalid-api-key", "Invalid API key", detail)
        return await call_next(request)

    @app.post("/v1/charges", status_code=201)
    async def create_charge(charge: dict):
        app.state.charges.append(charge)
        return {"id": f"ch_{len(app.state.charges)}", "livemode": environment == "live"}

    @app.get("/v1/charges")
    async def list_charges():
        return {"data": app.state.charges}

    return app


async def main():
    test_key, live_key = issue_key("sk_test_"), issue_key("sk_live_")
    sandbox = create_deployment("test", {key_hash(test_key)})
    production = create_deployment("live", {key_hash(live_key)})
    transport = httpx.ASGITransport(app=sandbox)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as api:
        as_test = {"Authorization": f"Bearer {test_key}"}
        ok = await api.post("/v1/charges", json={"amount": 500}, headers=as_test)
        print(ok.status_code, ok.json())
        #> 201 {'id': 'ch_1', 'livemode': False}
        as_live = {"Authorization": f"Bearer {live_key}"}
        wrong = await api.get("/v1/charges", headers=as_live)
        print(wrong.status_code, wrong.headers["content-type"])
        #> 401 application/problem+json
        print(wrong.json()["title"])
        #> Live key sent to the test environment
    print(len(sandbox.state.charges), len(production.state.charges))
    #> 1 0
    log = f"DEBUG auth={live_key} retry=sk_live_{'x' * 36} id=sk_test_notarealkey"
    print([key[:8] for key in find_leaked_keys(log)])
    #> ['sk_live_']


if __name__ == "__main__":
    asyncio.run(main())
