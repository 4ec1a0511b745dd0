"""Refresh tokens: 5-minute JWT access tokens, rotating refresh tokens, reuse detection."""

import asyncio
import hashlib
import secrets
import threading
from urllib.parse import parse_qsl

import httpx
import jwt
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

SIGNING_KEY = "test-only-hs256-key-not-for-production-0001"
ACCESS_TTL = 300  # seconds a leaked access token stays useful
REFRESH_TTL = 1_209_600  # 14 days without use, then the user signs in again
CLIENT_ID = "mobile-app"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()  # store hashes, never tokens


class TokenService:
    def __init__(self, clock):
        self.clock, self.lock = clock, threading.Lock()
        self.refresh: dict[str, dict] = {}  # sha256(token) -> record
        self.revoked_families: set[str] = set()

    def issue(self, sub: str, client_id: str, family: str | None = None) -> dict:
        now, family = int(self.clock()), family or secrets.token_hex(8)
        claims = {"sub": sub, "iat": now, "exp": now + ACCESS_TTL}
        refresh_token = secrets.token_urlsafe(32)
        record = dict(family=family, sub=sub, client_id=client_id, used=False)
        self.refresh[digest(refresh_token)] = record | {"expires": now + REFRESH_TTL}
        return {
            "access_token": jwt.encode(claims, SIGNING_KEY, algorithm="HS256"),
            "token_type": "Bearer",
            "expires_in": ACCESS_TTL,
            "refresh_token": refresh_token,
        }

    def rotate(self, refresh_token: str, client_id: str) -> dict | None:
        with self.lock:  # check-and-mark must be atomic, or two racers both win
            record = self.refresh.get(digest(refresh_token))
            if record is None or record["client_id"] != client_id:
                return None
            if record["used"]:  # a rotated token came back: someone copied it
                self.revoked_families.add(record["family"])
                return None
            if (
                record["family"] in self.revoked_families
                or self.clock() >= record["expires"]
            ):
                return None
            record["used"] = True
            return self.issue(record["sub"], client_id, record["family"])

    def verify_access(self, token: str) -> dict:
        # PyJWT checks exp against the wall clock; we check it against the injected one
        options = {"verify_exp": False, "verify_iat": False, "require": ["exp"]}
        claims = jwt.decode(token, SIGNING_KEY, algorithms=["HS256"], options=options)
        if self.clock() >= claims["exp"]:
            raise jwt.ExpiredSignatureError("expired")
        return claims


def create_app(service: TokenService) -> FastAPI:
    app = FastAPI()

    @app.post("/token")  # RFC 6749 section 6, form-encoded
    async def token(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        pair = service.rotate(form.get("refresh_token", ""), form.get("client_id", ""))
        if pair is None:
            return JSONResponse({"error": "invalid_grant"}, 400)
        return JSONResponse(pair, headers={"Cache-Control": "no-store"})

    @app.get("/me")
    def me(authorization: str = Header("")) -> JSONResponse:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return challenge("")  # no credentials: no error code (RFC 6750 section 3.1)
        try:
            return JSONResponse({"sub": service.verify_access(token)["sub"]})
        except jwt.ExpiredSignatureError:
            return challenge("token expired")
        except jwt.InvalidTokenError:
            return challenge("token invalid")

    return app


def challenge(description: str) -> JSONResponse:
    value = 'Bearer realm="api"'
    if description:
        value += f', error="invalid_token", error_description="{description}"'
    return JSONResponse({}, 401, headers={"WWW-Authenticate": value})


async def main() -> None:
    now = [1_780_000_000.0]
    service = TokenService(clock=lambda: now[0])
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:

        def refresh(token: str):
            form = {"grant_type": "refresh_token", "client_id": CLIENT_ID}
            return client.post("/token", data=form | {"refresh_token": token})

        def me(pair: dict):
            auth = {"Authorization": f"Bearer {pair['access_token']}"}
            return client.get("/me", headers=auth)

        first = service.issue("usr_ada", CLIENT_ID)  # as returned by sign-in
        print((await me(first)).json())
        #> {'sub': 'usr_ada'}
        now[0] += ACCESS_TTL
        expired = await me(first)
        print(expired.status_code)
        #> 401
        print(expired.headers["www-authenticate"])
        #> Bearer realm="api", error="invalid_token", error_description="token expired"
        second = (await refresh(first["refresh_token"])).json()
        print(second["refresh_token"] != first["refresh_token"])
        #> True
        print((await me(second)).json())
        #> {'sub': 'usr_ada'}
        replay = await refresh(first["refresh_token"])  # a stolen copy of the old one
        print("replay:", replay.status_code, replay.json())
        #> replay: 400 {'error': 'invalid_grant'}
        current = await refresh(second["refresh_token"])  # the whole family is revoked
        print("current:", current.status_code, current.json())
        #> current: 400 {'error': 'invalid_grant'}


if __name__ == "__main__":
    asyncio.run(main())
