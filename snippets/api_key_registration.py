"""API keys issued only after email verification, stored as SHA-256 digests, shown once,
revocable; registration attempts limited per email address and per client IP."""

import asyncio
import hashlib
import secrets
import time

import httpx
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

TOKEN_TTL_SECONDS = 1800  # a verification link works once, for 30 minutes
MAX_REGISTRATIONS_PER_EMAIL = 3  # per 24 hours
MAX_REGISTRATIONS_PER_IP = 10  # per 24 hours
DAY = 86_400


class Registration(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)


class Verification(BaseModel):
    token: str = Field(max_length=100)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def problem(status: int, slug: str, title: str) -> JSONResponse:
    body = {"type": f"https://api.example.com/problems/{slug}", "title": title}
    return JSONResponse(
        body | {"status": status}, status, media_type="application/problem+json"
    )


def create_app(outbox: list, clock=time.time) -> FastAPI:
    app = FastAPI()
    pending = {}  # digest(token) -> {"email", "expires"}
    keys = {}  # digest(api key) -> {"id", "email", "revoked"}
    attempts = {}  # ("email" | "ip", value) -> [timestamps]

    def over_limit(scope: tuple, limit: int) -> bool:
        recent = [t for t in attempts.get(scope, []) if t > clock() - DAY]
        attempts[scope] = recent + [clock()]
        return len(recent) >= limit

    @app.post("/registrations", status_code=202)
    def register(body: Registration, request: Request):
        email = body.email.strip().lower()
        if over_limit(
            ("ip", request.client.host), MAX_REGISTRATIONS_PER_IP
        ) or over_limit(("email", email), MAX_REGISTRATIONS_PER_EMAIL):
            return problem(429, "too-many-registrations", "Too many registrations")
        token = secrets.token_urlsafe(32)
        pending[digest(token)] = {
            "email": email,
            "expires": clock() + TOKEN_TTL_SECONDS,
        }
        link = f"https://api.example.com/verify?token={token}"
        outbox.append({"to": email, "subject": "Confirm your API key", "link": link})
        return {"detail": "If the address is valid, a confirmation link is on its way."}

    @app.post("/registrations/verify", status_code=201)
    def verify(body: Verification):
        entry = pending.pop(digest(body.token), None)  # pop: a token works only once
        if entry is None or clock() >= entry["expires"]:
            return problem(400, "invalid-token", "Verification link invalid or expired")
        key = "sk_test_" + secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG
        key_id = f"key_{len(keys) + 1}"
        keys[digest(key)] = {"id": key_id, "email": entry["email"], "revoked": False}
        return {"id": key_id, "api_key": key, "detail": "Shown once: store it now."}

    def caller(authorization: str | None) -> dict | None:
        key = (authorization or "").removeprefix("Bearer ")
        record = keys.get(digest(key))
        return None if record is None or record["revoked"] else record

    @app.get("/v1/me")
    def me(authorization: str | None = Header(None)):
        record = caller(authorization)
        if record is None:
            return problem(401, "invalid-key", "Unknown or revoked API key")
        return {"id": record["id"], "email": record["email"]}

    @app.delete("/v1/keys/{key_id}", status_code=204)
    def revoke(key_id: str, authorization: str | None = Header(None)):
        record = caller(authorization)
        if record is None or record["id"] != key_id:
            return problem(404, "no-such-key", "No such key for this caller")
        record["revoked"] = True

    app.state.keys = keys  # exposed for the tests: digests only, never a key
    return app


async def main() -> None:
    outbox, now = [], [0.0]
    app = create_app(outbox, clock=lambda: now[0])
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        r = await client.post("/registrations", json={"email": "Dev@Example.com"})
        print(r.status_code, outbox[0]["to"], outbox[0]["subject"])
        #> 202 dev@example.com Confirm your API key
        token = outbox[0]["link"].split("token=")[1]
        now[0] = 600.0  # ten minutes later the developer clicks the link
        r = await client.post("/registrations/verify", json={"token": token})
        key = r.json()["api_key"]
        print(r.status_code, r.json()["id"], key[:8], len(key), r.json()["detail"])
        #> 201 key_1 sk_test_ 51 Shown once: store it now.
        again = await client.post("/registrations/verify", json={"token": token})
        print(again.status_code, again.json()["title"])
        #> 400 Verification link invalid or expired
        stored = next(iter(app.state.keys))
        print(
            key in str(app.state.keys),
            stored == hashlib.sha256(key.encode()).hexdigest(),
        )
        #> False True
        auth = {"Authorization": f"Bearer {key}"}
        print((await client.get("/v1/me", headers=auth)).json())
        #> {'id': 'key_1', 'email': 'dev@example.com'}
        print((await client.delete("/v1/keys/key_1", headers=auth)).status_code)
        #> 204
        print((await client.get("/v1/me", headers=auth)).status_code)
        #> 401


if __name__ == "__main__":
    asyncio.run(main())
