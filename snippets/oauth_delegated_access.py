"""OAuth 2.0 authorization code + PKCE for a confidential client that checks `iss` and
`state`, scope checks on every call, and revocation from either side."""

import asyncio
import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException

ISSUER = "https://id.example"  # sent as `iss` with every authorization response
CLIENT_SECRET = "cs_test_4eC39HqLyjWDarjtT1zdp7dc"  # test-only; stored only as a hash
CLIENTS = {  # client_id: exact redirect URI, secret hash, scopes it may ask for
    "crm_app": {
        "redirect_uri": "https://crm.example/callback",
        "secret_sha256": hashlib.sha256(CLIENT_SECRET.encode()).hexdigest(),
        "scopes": {"contacts.read", "contacts.write"},
    }
}
CODE_TTL = 60  # seconds an authorization code lives
TOKEN_TTL = 3600  # seconds an access token lives
BASIC = {"WWW-Authenticate": 'Basic realm="token"'}  # with every 401 invalid_client
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_TYPES = {  # slug: (status, title, retryable), as in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "unauthorized": (401, "Unauthorized", False),
    "forbidden": (403, "Forbidden", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
}


def problem(slug: str, detail: str, headers=None, **extensions) -> JSONResponse:
    status, title, retryable = PROBLEM_TYPES[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status}
    body |= {"detail": detail, "retryable": retryable, **extensions}
    return JSONResponse(body, status, headers, media_type=PROBLEM_JSON)


def oauth_error(error: str, status: int = 400, headers=None) -> JSONResponse:
    """The token and revocation endpoints answer in RFC 6749 section 5.2's format."""
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return JSONResponse({"error": error}, status, headers)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def single(pairs: list[tuple[str, str]]) -> dict | None:
    """Parameters as a dict, or None if one is repeated (RFC 6749 section 3.1)."""
    params = dict(pairs)
    return params if len(params) == len(pairs) else None


def client_of(request: Request) -> str | None:
    """client_secret_basic (RFC 6749 section 2.3.1): the authenticated client's id."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    try:
        pair = base64.b64decode(value, validate=True).decode()
    except ValueError:
        return None
    client_id, _, password = (unquote_plus(part) for part in pair.partition(":"))
    client = CLIENTS.get(client_id)
    if scheme.lower() != "basic" or client is None:
        return None
    digest = hashlib.sha256(password.encode()).hexdigest()
    known = secrets.compare_digest(digest, client["secret_sha256"])
    return client_id if known else None


async def read_form(request: Request) -> dict | None:
    """A form body (RFC 6749 section 4.1.3), or None if it is not one."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    try:
        pairs = parse_qsl((await request.body()).decode())
    except UnicodeDecodeError:
        return None
    return single(pairs) if media_type == "application/x-www-form-urlencoded" else None


def callback_code(location: str, state: str) -> str:
    """The client's side of the redirect: check `iss` and `state`, then use the code."""
    query = dict(parse_qsl(urlsplit(location).query))
    if query.get("iss") != ISSUER:  # RFC 9207: a mix-up with another provider
        raise PermissionError("the response is not from the expected issuer")
    if not secrets.compare_digest(query.get("state", "").encode(), state.encode()):
        raise PermissionError("state does not match this browser's login")  # CSRF
    if "code" not in query:
        raise PermissionError(query.get("error", "no code"))
    return query["code"]


def create_app(clock=time.time, notify=lambda event: None) -> FastAPI:
    app = FastAPI()
    codes, tokens, grants = {}, {}, {}  # grants: (user, client_id) -> its tokens

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        if request.url.path in ("/token", "/revoke"):
            return oauth_error("invalid_request", error.status_code, error.headers)
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
        return problem(slug or "invalid-request", str(error.detail), error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        errors = [
            {"parameter": e["loc"][-1], "detail": e["msg"]} for e in error.errors()
        ]
        return problem("invalid-request", "See errors.", errors=errors)

    @app.get("/authorize")  # `user` stands in for the provider's login + consent page
    def authorize(request: Request):
        q = single(request.query_params.multi_items()) or {}
        client = CLIENTS.get(q.get("client_id", ""))
        if client is None or client["redirect_uri"] != q.get("redirect_uri"):
            return problem("invalid-request", "Unknown client or redirect URI.")
        scopes = set(q.get("scope", "").split())
        if q.get("response_type") != "code":
            error = "unsupported_response_type"
        elif not scopes or not scopes <= client["scopes"]:
            error = "invalid_scope"
        elif q.get("code_challenge_method") != "S256" or "code_challenge" not in q:
            error = "invalid_request"  # PKCE with S256 is required; `plain` is refused
        else:
            code, error = secrets.token_urlsafe(32), None
            codes[code] = dict(
                client_id=q["client_id"], user=q.get("user", ""), scope=scopes,
                challenge=q["code_challenge"], expires=clock() + CODE_TTL,
                used=False, issued=set(),
            )  # fmt: skip
        answer = {"error": error} if error else {"code": code}
        answer |= {"state": q["state"]} if "state" in q else {}
        query = urlencode(answer | {"iss": ISSUER})
        return RedirectResponse(f"{client['redirect_uri']}?{query}", 302)

    @app.post("/token")
    async def token(request: Request):
        client_id = client_of(request)
        if client_id is None:  # RFC 6749 section 5.2: 401 with a challenge
            return oauth_error("invalid_client", 401, BASIC)
        form = await read_form(request)
        if form is None or "code" not in form or "grant_type" not in form:
            return oauth_error("invalid_request")
        if form.get("client_id", client_id) != client_id:
            return oauth_error("invalid_request")
        if form["grant_type"] != "authorization_code":
            return oauth_error("unsupported_grant_type")
        entry = codes.get(form["code"])
        if entry is not None and entry["used"]:  # a replay: deny, revoke what it got
            end_tokens(entry["issued"])  # RFC 6749 section 4.1.2
            return oauth_error("invalid_grant")
        if entry is not None:
            entry["used"] = True  # single use, even when this attempt fails
        verifier = form.get("code_verifier", "")
        if (
            entry is None
            or entry["client_id"] != client_id
            or CLIENTS[client_id]["redirect_uri"] != form.get("redirect_uri")
            or entry["expires"] <= clock()
            or not secrets.compare_digest(s256(verifier), entry["challenge"])
        ):
            return oauth_error("invalid_grant")
        access_token = secrets.token_urlsafe(32)
        expires_at = clock() + TOKEN_TTL
        tokens[access_token] = (entry["user"], client_id, entry["scope"], expires_at)
        grants.setdefault((entry["user"], client_id), set()).add(access_token)
        entry["issued"].add(access_token)
        scope = " ".join(sorted(entry["scope"]))
        body = {"access_token": access_token, "token_type": "Bearer",
                "expires_in": TOKEN_TTL, "scope": scope}  # fmt: skip
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # section 5.1
        return JSONResponse(body, headers=headers)

    def end_tokens(access_tokens: set) -> None:
        for access_token in access_tokens:
            tokens.pop(access_token, None)

    def end_grant(user: str, client_id: str) -> None:
        for entry in codes.values():  # codes not yet redeemed die with the grant
            entry["used"] |= (entry["user"], entry["client_id"]) == (user, client_id)
        if (user, client_id) in grants:
            end_tokens(grants.pop((user, client_id)))
            notify({"type": "grant.revoked", "client_id": client_id, "user": user})

    @app.post("/revoke")  # RFC 7009, called by the client app's "Disconnect" button
    async def revoke(request: Request):
        client_id = client_of(request)
        if client_id is None:
            return oauth_error("invalid_client", 401, BASIC)
        form = await read_form(request)
        if form is None or "token" not in form:
            return oauth_error("invalid_request")
        entry = tokens.get(form["token"])
        if entry and entry[1] != client_id:  # another client's token: refused
            return oauth_error("invalid_request")
        if entry:
            end_grant(entry[0], client_id)
        return JSONResponse({}, 200)  # 200 for unknown tokens too (section 2.2)

    @app.delete("/account/connected-apps/{client_id}", status_code=204)
    def user_revokes(client_id: str, user: str):  # the provider's settings page
        end_grant(user, client_id)

    def require(request: Request, scope: str) -> tuple[str | None, JSONResponse | None]:
        values = request.headers.getlist("authorization")
        scheme, _, value = (values[0] if values else "").partition(" ")
        entry = tokens.get(value) if scheme.lower() == "bearer" else None
        challenge = 'Bearer realm="api"'
        if len(values) > 1:
            headers = {"WWW-Authenticate": challenge + ', error="invalid_request"'}
            return None, problem("invalid-request", "Send one Authorization.", headers)
        if not values:  # RFC 6750 section 3.1: no error code without credentials
            return None, problem("unauthorized", "Send a bearer token.", {
                "WWW-Authenticate": challenge})  # fmt: skip
        if entry is None or entry[3] <= clock():
            headers = {"WWW-Authenticate": challenge + ', error="invalid_token"'}
            return None, problem("unauthorized", "The token is not valid.", headers)
        if scope not in entry[2]:
            headers = {"WWW-Authenticate": f'{challenge}, error="insufficient_scope", '
                       f'scope="{scope}"'}  # fmt: skip
            return None, problem("forbidden", f"Needs {scope}.", headers, scope=scope)
        return entry[0], None

    @app.get("/contacts")
    def list_contacts(request: Request):
        user, error = require(request, "contacts.read")
        return error or {"owner": user, "contacts": ["Ada", "Grace"]}

    @app.post("/contacts")
    def add_contact(request: Request):
        user, error = require(request, "contacts.write")
        return error or JSONResponse({"owner": user}, 201)

    return app


async def main() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
    print(s256(verifier))
    #> E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
    events = []  # in production, a signed webhook to the client's endpoint
    transport = httpx.ASGITransport(app=create_app(notify=events.append))
    async with httpx.AsyncClient(transport=transport, base_url="https://id.test") as c:
        redirect, state = "https://crm.example/callback", "xyz"  # random per login
        response = await c.get("/authorize", params={
            "response_type": "code", "client_id": "crm_app", "redirect_uri": redirect,
            "scope": "contacts.read", "state": state, "code_challenge": s256(verifier),
            "code_challenge_method": "S256", "user": "alice"})  # fmt: skip
        code = callback_code(response.headers["location"], state)
        try:
            callback_code(response.headers["location"], "a-forged-login")
        except PermissionError as error:
            print(response.status_code, error)
            #> 302 state does not match this browser's login
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect, "code_verifier": verifier}  # fmt: skip
        response = await c.post("/token", data=form, auth=("crm_app", CLIENT_SECRET))
        bearer = {"Authorization": f"Bearer {response.json()['access_token']}"}
        print(response.status_code, response.json()["scope"])
        #> 200 contacts.read
        print((await c.get("/contacts", headers=bearer)).json())
        #> {'owner': 'alice', 'contacts': ['Ada', 'Grace']}
        response = await c.post("/contacts", headers=bearer)
        print(response.status_code, response.headers["www-authenticate"])
        #> 403 Bearer realm="api", error="insufficient_scope", scope="contacts.write"
        await c.delete("/account/connected-apps/crm_app", params={"user": "alice"})
        print(events)
        #> [{'type': 'grant.revoked', 'client_id': 'crm_app', 'user': 'alice'}]
        response = await c.get("/contacts", headers=bearer)
        print(response.status_code, response.headers["www-authenticate"])
        #> 401 Bearer realm="api", error="invalid_token"


if __name__ == "__main__":
    asyncio.run(main())
