"""OAuth 2.0 authorization code + PKCE, scope checks and revocation from either side."""

import asyncio
import base64
import hashlib
import secrets
import time
from typing import Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

CLIENTS = {"crm_app": "https://crm.example/callback"}  # client_id -> redirect URI
CODE_TTL, TOKEN_TTL = 60, 3600  # seconds


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def read_form(request: Request) -> dict:
    return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}


def create_app(clock=time.time) -> FastAPI:
    app = FastAPI()
    codes, tokens, grants = {}, {}, {}  # grants: (user, client_id) -> its tokens

    @app.get("/authorize")  # `user` stands in for the provider's login + consent page
    def authorize(response_type: Literal["code"], client_id: str, redirect_uri: str,
                  scope: str, state: str, code_challenge: str,
                  code_challenge_method: str, user: str):  # fmt: skip
        if CLIENTS.get(client_id) != redirect_uri:  # exact match, never a prefix
            return JSONResponse({"error": "invalid_request"}, 400)
        if code_challenge_method != "S256":
            query = urlencode({"error": "invalid_request", "state": state})
            return RedirectResponse(f"{redirect_uri}?{query}", 302)
        code = secrets.token_urlsafe(32)
        codes[code] = (client_id, user, scope, code_challenge, clock() + CODE_TTL)
        query = urlencode({"code": code, "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", 302)

    @app.post("/token")
    async def token(request: Request):
        form = await read_form(request)
        entry = codes.pop(form.get("code", ""), None)  # single use, even on failure
        if (
            entry is None
            or entry[0] != form.get("client_id")
            or CLIENTS[entry[0]] != form.get("redirect_uri")
            or entry[4] <= clock()
            or not secrets.compare_digest(s256(form.get("code_verifier", "")), entry[3])
        ):
            return JSONResponse({"error": "invalid_grant"}, 400)
        client_id, user, scope = entry[:3]
        access_token = secrets.token_urlsafe(32)
        expires_at = clock() + TOKEN_TTL
        tokens[access_token] = (user, client_id, set(scope.split()), expires_at)
        grants.setdefault((user, client_id), set()).add(access_token)
        body = {"access_token": access_token, "token_type": "Bearer",
                "expires_in": TOKEN_TTL, "scope": scope}  # fmt: skip
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    def end_grant(user: str, client_id: str) -> None:
        for access_token in grants.pop((user, client_id), set()):
            tokens.pop(access_token, None)

    @app.post("/revoke")  # RFC 7009, called by the client app's "Disconnect" button
    async def revoke(request: Request):
        form = await read_form(request)
        entry = tokens.get(form.get("token", ""))
        if entry and entry[1] == form.get("client_id"):
            end_grant(entry[0], entry[1])
        return JSONResponse({}, 200)  # 200 for unknown tokens too (section 2.2)

    @app.delete("/account/connected-apps/{client_id}", status_code=204)
    def user_revokes(client_id: str, user: str):  # the provider's settings page
        end_grant(user, client_id)

    def require(request: Request, scope: str) -> tuple[str | None, JSONResponse | None]:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        entry = tokens.get(value) if scheme.lower() == "bearer" else None
        if entry is None or entry[3] <= clock():
            error, status, challenge = "invalid_token", 401, ""
        elif scope not in entry[2]:
            error, status, challenge = "insufficient_scope", 403, f', scope="{scope}"'
        else:
            return entry[0], None
        headers = {"WWW-Authenticate": f'Bearer error="{error}"{challenge}'}
        return None, JSONResponse({"error": error}, status, headers)

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
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="https://id.test") as c:
        redirect = "https://crm.example/callback"
        response = await c.get("/authorize", params={
            "response_type": "code", "client_id": "crm_app", "redirect_uri": redirect,
            "scope": "contacts.read", "state": "xyz", "code_challenge": s256(verifier),
            "code_challenge_method": "S256", "user": "alice"})  # fmt: skip
        query = parse_qs(urlsplit(response.headers["location"]).query)
        print(response.status_code, query["state"])
        #> 302 ['xyz']
        form = {"grant_type": "authorization_code", "code": query["code"][0],
                "redirect_uri": redirect, "client_id": "crm_app",
                "code_verifier": verifier}  # fmt: skip
        response = await c.post("/token", data=form)
        bearer = {"Authorization": f"Bearer {response.json()['access_token']}"}
        print(response.status_code, response.json()["scope"])
        #> 200 contacts.read
        print((await c.get("/contacts", headers=bearer)).json())
        #> {'owner': 'alice', 'contacts': ['Ada', 'Grace']}
        response = await c.post("/contacts", headers=bearer)
        print(response.status_code, response.headers["www-authenticate"])
        #> 403 Bearer error="insufficient_scope", scope="contacts.write"
        await c.delete("/account/connected-apps/crm_app", params={"user": "alice"})
        response = await c.get("/contacts", headers=bearer)
        print(response.status_code, response.headers["www-authenticate"])
        #> 401 Bearer error="invalid_token"


if __name__ == "__main__":
    asyncio.run(main())
