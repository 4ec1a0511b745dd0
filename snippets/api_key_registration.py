"""API keys issued only after email verification, stored as SHA-256 digests, shown once,
revocable; registrations limited per address and per IP; operators ban an abuser."""

import asyncio
import hashlib
import itertools
import secrets
import time

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
REGISTRY = {  # slug -> (status, title, retryable), as in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "unauthorized": (401, "Unauthorized", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "rate-limited": (429, "Too many requests", True),
}
TOKEN_TTL_SECONDS = 1800  # a verification link works once, for 30 minutes
MAX_REGISTRATIONS_PER_EMAIL = 3  # per 24 hours
MAX_REGISTRATIONS_PER_IP = 10  # per 24 hours
DAY = 86_400
ANSWER = "If the address is valid, a confirmation link is on its way."  # for everyone
OPERATOR_KEY = hashlib.sha256(b"sk_test_operator_console").hexdigest()
OPERATORS = {OPERATOR_KEY: {"id": "op_1", "revoked": False}}  # not API customers


class Registration(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)


class Verification(BaseModel):
    token: str = Field(max_length=100)


class Ban(BaseModel):
    key_id: str = Field(max_length=40)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mailbox(email: str) -> str:
    """The mailbox an address delivers to: one quota and one ban per person."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+")[0]  # dev+1@ and dev+2@ reach dev@
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"  # dots are ignored there
    return f"{local}@{domain}"


def problem(slug: str, detail: str, headers=None, **extra) -> JSONResponse:
    status, title, retryable = REGISTRY[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status,
            "detail": detail, "retryable": retryable, **extra}  # fmt: skip
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_JSON)


def create_app(outbox: list, clock=time.time, mail=None) -> FastAPI:
    app = FastAPI()
    pending = {}  # digest(token) -> {"email", "expires"}
    keys = {}  # digest(api key) -> {"id", "email", "revoked"}
    sent = {}  # ("email" | "ip", value) -> [times a link was sent]
    banned: set[str] = set()  # mailboxes an operator banned
    key_ids = itertools.count(1)  # never reused, whatever runs concurrently

    async def send(message: dict) -> None:  # a real app hands this to its mail service
        outbox.append(message)

    mail = mail or send

    @app.exception_handler(HTTPException)
    def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code)
        return problem(slug or "invalid-request", str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"pointer": "".join(f"/{p}" for p in e["loc"][1:]),
                   "detail": e["msg"]}
                  for e in exc.errors() if e["loc"][0] == "body"]  # fmt: skip
        return problem("invalid-request", "The body is not valid.", errors=errors)

    def caller(request: Request, table: dict = keys) -> dict | JSONResponse:
        fields = request.headers.getlist("authorization")
        if len(fields) > 1:
            return problem("invalid-request", "Send one Authorization field.",
                           header="authorization")  # fmt: skip
        scheme, _, key = (fields or [""])[0].partition(" ")
        record = table.get(digest(key.strip())) if scheme.lower() == "bearer" else None
        if record is None or record["revoked"]:
            challenge = 'Bearer realm="api"'
            if key:
                challenge += ', error="invalid_token"'
            return problem("unauthorized", "Unknown or revoked API key.",
                           {"WWW-Authenticate": challenge})  # fmt: skip
        return record

    @app.post("/registrations", status_code=202)
    async def register(body: Registration, request: Request):
        email, now = body.email.strip().lower(), clock()
        scopes = [(("ip", request.client.host), MAX_REGISTRATIONS_PER_IP),
                  (("email", mailbox(email)), MAX_REGISTRATIONS_PER_EMAIL)]  # fmt: skip
        for scope, limit in scopes:
            sent[scope] = [t for t in sent.get(scope, []) if t > now - DAY]
            if len(sent[scope]) >= limit:  # refused attempts are not recorded
                wait = str(int(sent[scope][0] + DAY - now) + 1)
                return problem("rate-limited", "Too many registrations; try later.",
                               {"Retry-After": wait})  # fmt: skip
        answer = {"detail": ANSWER}
        if mailbox(email) in banned:
            return answer  # the same answer: a ban is not announced
        for scope, _ in scopes:
            sent[scope].append(now)
        token = secrets.token_urlsafe(32)
        pending[digest(token)] = {"email": email, "expires": now + TOKEN_TTL_SECONDS}
        link = f"https://api.example.com/verify?token={token}"
        await mail({"to": email, "subject": "Confirm your API key", "link": link})
        return answer

    @app.post("/registrations/verify", status_code=201)
    async def verify(body: Verification):
        entry = pending.pop(digest(body.token), None)  # first, before any await
        expired = entry is None or clock() >= entry["expires"]
        if expired or mailbox(entry["email"]) in banned:
            detail = "The link is invalid, used or expired."
            invalid = [{"pointer": "/token", "detail": "Not valid."}]
            return problem("invalid-request", detail, errors=invalid)
        key = "sk_test_" + secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG
        key_id = f"key_{next(key_ids)}"
        keys[digest(key)] = {"id": key_id, "email": entry["email"], "revoked": False}
        await mail({"to": entry["email"], "subject": f"API key {key_id} was created"})
        return {"id": key_id, "api_key": key, "detail": "Shown once: store it now."}

    @app.get("/v1/me")
    def me(request: Request):
        record = caller(request)
        if isinstance(record, JSONResponse):
            return record
        return {"id": record["id"], "email": record["email"]}

    @app.delete("/v1/keys/{key_id}", status_code=204)
    def revoke(key_id: str, request: Request):
        record = caller(request)
        if isinstance(record, JSONResponse):
            return record
        if record["id"] != key_id:  # another account's key looks like no key at all
            return problem("not-found", "No such key for this caller.")
        record["revoked"] = True

    @app.post("/operator/bans", status_code=201)
    def ban(body: Ban, request: Request):
        """An operator bans the person behind an abusive key id seen in the logs."""
        operator = caller(request, OPERATORS)
        if isinstance(operator, JSONResponse):
            return operator  # a customer's key is not an operator's: 401 here
        owner = next((k["email"] for k in keys.values() if k["id"] == body.key_id), "")
        if not owner:
            return problem("not-found", "No such key.")
        banned.add(mailbox(owner))
        for record in keys.values():  # every key of that person, at once
            if mailbox(record["email"]) == mailbox(owner):
                record["revoked"] = True
        return {"banned": mailbox(owner)}

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
        print(again.status_code, again.json()["errors"])
        #> 400 [{'pointer': '/token', 'detail': 'Not valid.'}]
        stored = next(iter(app.state.keys))
        print(key in str(app.state.keys), stored == digest(key))
        #> False True
        auth = {"Authorization": f"Bearer {key}"}
        print((await client.get("/v1/me", headers=auth)).json())
        #> {'id': 'key_1', 'email': 'dev@example.com'}
        operator = {"Authorization": "Bearer sk_test_operator_console"}
        ban = {"key_id": "key_1"}
        r = await client.post("/operator/bans", json=ban, headers=operator)
        print(r.status_code, r.json())
        #> 201 {'banned': 'dev@example.com'}
        r = await client.get("/v1/me", headers=auth)
        print(r.status_code, r.headers["www-authenticate"])
        #> 401 Bearer realm="api", error="invalid_token"
        await client.post("/registrations", json={"email": "dev+again@example.com"})
        print(len(outbox), outbox[-1]["subject"])  # no new link for a banned person
        #> 2 API key key_1 was created


if __name__ == "__main__":
    asyncio.run(main())
