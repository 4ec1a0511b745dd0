"""Refresh tokens: 5-minute JWT access tokens, rotating refresh tokens and reuse
detection."""

import asyncio
import hashlib
import secrets
import threading
from urllib.parse import parse_qsl

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

ISSUER, AUDIENCE = "https://auth.example.com", "https://api.example.com"
SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())  # test key, made at start-up
JWKS = {"keys": [jwt.algorithms.ECAlgorithm.to_jwk(SIGNING_KEY.public_key(), True)]}
ACCESS_TTL = 300  # seconds a leaked access token stays useful
REFRESH_TTL = 1_209_600  # 14 days without use, then the user signs in again
FAMILY_TTL = 7_776_000  # 90 days after sign-in, however active the session
CLIENT_ID = "mobile-app"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 5.1
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_JSON = "application/problem+json"
ROUTING = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()  # store hashes, never tokens


class TokenService:
    def __init__(self, clock):
        self.clock, self.lock = clock, threading.Lock()
        self.refresh: dict[str, dict] = {}  # sha256(token) -> record
        self.revoked_families: set[str] = set()

    def issue(self, sub: str, client_id: str, family: dict | None = None) -> dict:
        now = int(self.clock())
        family = family or {"family": secrets.token_hex(8), "started": now}
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "client_id": client_id}
        claims |= {"iat": now, "exp": now + ACCESS_TTL, "jti": secrets.token_hex(8)}
        refresh_token = secrets.token_urlsafe(32)
        record = family | dict(sub=sub, client_id=client_id, used=False)
        self.refresh[digest(refresh_token)] = record | {"expires": now + REFRESH_TTL}
        access = jwt.encode(claims, SIGNING_KEY, "ES256", headers={"typ": "at+jwt"})
        return {
            "access_token": access,
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
            now = self.clock()
            if (
                record["family"] in self.revoked_families
                or now >= record["expires"]
                or now >= record["started"] + FAMILY_TTL
            ):
                return None
            record["used"] = True
            family = {"family": record["family"], "started": record["started"]}
            return self.issue(record["sub"], client_id, family)

    def verify_access(self, token: str) -> dict:
        """RFC 9068 section 4: type, issuer, audience, pinned algorithm, expiry."""
        if jwt.get_unverified_header(token).get("typ", "").lower() != "at+jwt":
            raise jwt.InvalidTokenError("not an access token")
        key = jwt.PyJWK(JWKS["keys"][0])  # a resource server fetches the issuer's JWKS
        options = {"verify_exp": False, "require": ["exp", "iss", "aud", "sub"]}
        claims = jwt.decode(
            token, key, ["ES256"], audience=AUDIENCE, issuer=ISSUER, options=options
        )  # PyJWT checks exp on the wall clock; we check it on the injected one
        if self.clock() >= claims["exp"]:
            raise jwt.ExpiredSignatureError("expired")
        return claims


def create_app(service: TokenService) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(HTTPException)  # the framework's own 404 and 405
    async def refused(request: Request, exc: HTTPException) -> JSONResponse:
        headers = exc.headers or {}
        if request.url.path == "/token":  # the token endpoint answers as OAuth does
            body = {"error": "invalid_request"}
            return JSONResponse(body, exc.status_code, headers=NO_STORE | headers)
        status = exc.status_code if exc.status_code in ROUTING else 404
        return problem(status, *ROUTING[status], str(exc.detail), headers)

    @app.post("/token")  # RFC 6749 section 6, form-encoded
    async def token(request: Request) -> JSONResponse:
        form_type = request.headers.get("content-type", "").split(";")[0].strip()
        try:
            pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            pairs = [("", "")] * 2
        form = dict(pairs)
        if form_type != "application/x-www-form-urlencoded" or len(form) < len(pairs):
            return oauth_error("invalid_request")  # section 3.1: no repeats
        if form.get("grant_type") != "refresh_token":
            return oauth_error("unsupported_grant_type")
        pair = service.rotate(form.get("refresh_token", ""), form.get("client_id", ""))
        if pair is None:
            return oauth_error("invalid_grant")
        return JSONResponse(pair, headers=NO_STORE)

    @app.get("/me")
    def me(request: Request) -> JSONResponse:
        fields = request.headers.getlist("authorization")
        if len(fields) > 1:
            return problem(
                400, "invalid-request", "Invalid request", "Two credentials."
            )
        scheme, _, token = (fields or [""])[0].partition(" ")
        if scheme.lower() != "bearer" or not token:
            return challenge("")  # no credentials: no error code (RFC 6750 section 3.1)
        try:
            return JSONResponse({"sub": service.verify_access(token.strip())["sub"]})
        except jwt.ExpiredSignatureError:
            return challenge("token expired")
        except jwt.InvalidTokenError:
            return challenge("token invalid")

    return app


def oauth_error(code: str) -> JSONResponse:
    return JSONResponse({"error": code}, 400, headers=NO_STORE)  # RFC 6749 5.2


def problem(status, slug, title, detail, headers=None) -> JSONResponse:
    body = {"type": PROBLEMS + slug, "title": title, "status": status}
    body |= {"detail": detail, "retryable": False}
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_JSON)


def challenge(description: str) -> JSONResponse:
    value = 'Bearer realm="api"'
    if description:
        value += f', error="invalid_token", error_description="{description}"'
    detail = f"The access token is refused: {description or 'none was sent'}."
    headers = {"WWW-Authenticate": value}
    return problem(401, "unauthorized", "Unauthorized", detail, headers)


class TokenClient:
    """The app's side: refresh once when the access token is refused, never in
    parallel."""

    def __init__(self, client: httpx.AsyncClient, pair: dict):
        self.client, self.pair, self.lock = client, pair, asyncio.Lock()

    async def get(self, url: str) -> httpx.Response:
        sent = self.pair
        response = await self.client.get(url, headers=self.auth(sent))
        if response.status_code != 401:
            return response
        async with self.lock:  # single flight: one refresh, everyone else waits
            if self.pair is sent:  # nobody refreshed while we waited for the lock
                form = {"grant_type": "refresh_token", "client_id": CLIENT_ID}
                form["refresh_token"] = sent["refresh_token"]
                refreshed = await self.client.post("/token", data=form)
                if refreshed.status_code != 200:
                    return refreshed  # invalid_grant: the user must sign in again
                self.pair = refreshed.json()  # persist it before using it
        return await self.client.get(url, headers=self.auth(self.pair))

    @staticmethod
    def auth(pair: dict) -> dict:
        return {"Authorization": f"Bearer {pair['access_token']}"}


async def main() -> None:
    now = [1_780_000_000.0]
    service = TokenService(clock=lambda: now[0])
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        first = service.issue("usr_ada", CLIENT_ID)  # as returned by sign-in
        print((await client.get("/me", headers=TokenClient.auth(first))).json())
        #> {'sub': 'usr_ada'}
        now[0] += ACCESS_TTL
        expired = await client.get("/me", headers=TokenClient.auth(first))
        print(expired.status_code, expired.headers["www-authenticate"])
        """
        401
        Bearer realm="api", error="invalid_token", error_description="token expired"
        """
        app = TokenClient(client, first)
        screens = await asyncio.gather(*(app.get("/me") for _ in range(5)))
        print([r.status_code for r in screens], len(service.refresh))
        #> [200, 200, 200, 200, 200] 2
        form = {"grant_type": "refresh_token", "client_id": CLIENT_ID}
        stolen = form | {"refresh_token": first["refresh_token"]}  # rotated already
        replay = await client.post("/token", data=stolen)
        print("replay:", replay.status_code, replay.json())
        #> replay: 400 {'error': 'invalid_grant'}
        newest = form | {"refresh_token": app.pair["refresh_token"]}
        current = await client.post("/token", data=newest)  # the family is revoked
        print("current:", current.status_code, current.json())
        #> current: 400 {'error': 'invalid_grant'}


if __name__ == "__main__":
    asyncio.run(main())
