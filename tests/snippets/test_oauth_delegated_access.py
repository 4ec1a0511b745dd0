"""Behaviour of the OAuth 2.0 authorization code + PKCE reference implementation."""

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import oauth_delegated_access as snippet
from hypothesis import given, settings
from hypothesis import strategies as st

REDIRECT = "https://crm.example/callback"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


class Clock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://id.test")


async def authorize(c, scope="contacts.read", user="alice", verifier=VERIFIER, **overrides):
    params = {
        "response_type": "code",
        "client_id": "crm_app",
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "st-1",
        "user": user,
        "code_challenge": snippet.s256(verifier),
        "code_challenge_method": "S256",
        **overrides,
    }
    return await c.get("/authorize", params=params)


def code_of(response) -> str:
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


async def exchange(c, code, verifier=VERIFIER, **overrides):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": "crm_app",
        "code_verifier": verifier,
        **overrides,
    }
    return await c.post("/token", data=form)


async def token_for(c, scope="contacts.read", user="alice") -> dict:
    response = await exchange(c, code_of(await authorize(c, scope, user)))
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def run(coro_fn, clock=None):
    async def go():
        async with client_for(snippet.create_app(clock or Clock())) as c:
            await coro_fn(c)

    asyncio.run(go())


def test_rfc7636_appendix_b_vector():
    assert snippet.s256(VERIFIER) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_authorization_code_with_pkce_issues_token_with_granted_scope():
    async def scenario(c):
        response = await authorize(c)
        assert response.status_code == 302
        location = urlsplit(response.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
        assert parse_qs(location.query)["state"] == ["st-1"]
        response = await exchange(c, code_of(response))
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["scope"] == "contacts.read"
        assert body["expires_in"] == 3600
        assert response.headers["cache-control"] == "no-store"

    run(scenario)


def test_wrong_verifier_is_refused_and_burns_the_code():
    async def scenario(c):
        code = code_of(await authorize(c))
        wrong = await exchange(c, code, verifier="x" * 43)
        assert wrong.status_code == 400
        assert wrong.json() == {"error": "invalid_grant"}
        # An attacker who stole the code cannot keep guessing, and the real client
        # must start over: the code was single-use even though the exchange failed.
        assert (await exchange(c, code)).json() == {"error": "invalid_grant"}

    run(scenario)


def test_code_is_single_use():
    async def scenario(c):
        code = code_of(await authorize(c))
        assert (await exchange(c, code)).status_code == 200
        assert (await exchange(c, code)).status_code == 400

    run(scenario)


def test_code_expires_after_60_seconds():
    clock = Clock()

    async def scenario(c):
        code = code_of(await authorize(c))
        clock.now += 60
        assert (await exchange(c, code)).json() == {"error": "invalid_grant"}
        fresh = code_of(await authorize(c))
        clock.now += 59
        assert (await exchange(c, fresh)).status_code == 200

    run(scenario, clock)


def test_code_bound_to_client_and_redirect_uri():
    async def scenario(c):
        code = code_of(await authorize(c))
        other = await exchange(c, code, redirect_uri="https://evil.example/callback")
        assert other.status_code == 400
        code = code_of(await authorize(c))
        assert (await exchange(c, code, client_id="other_app")).status_code == 400

    run(scenario)


def test_unregistered_redirect_uri_is_not_redirected_to():
    async def scenario(c):
        for uri in ("https://evil.example/cb", REDIRECT + "/../../evil", REDIRECT + "x"):
            response = await authorize(c, redirect_uri=uri)
            assert response.status_code == 400
            assert "location" not in response.headers

    run(scenario)


def test_only_response_type_code_is_accepted():
    async def scenario(c):
        assert (await authorize(c, response_type="token")).status_code == 422

    run(scenario)


def test_plain_pkce_method_is_refused():
    async def scenario(c):
        response = await authorize(c, code_challenge=VERIFIER, code_challenge_method="plain")
        assert response.status_code == 302
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert query == {"error": ["invalid_request"], "state": ["st-1"]}

    run(scenario)


def test_scopes_are_enforced_by_the_resource_server():
    async def scenario(c):
        read_only = await token_for(c, "contacts.read")
        assert (await c.get("/contacts", headers=read_only)).status_code == 200
        response = await c.post("/contacts", headers=read_only)
        assert response.status_code == 403
        assert response.headers["www-authenticate"] == (
            'Bearer error="insufficient_scope", scope="contacts.write"'
        )
        write_only = await token_for(c, "contacts.write", user="bob")
        assert (await c.post("/contacts", headers=write_only)).json() == {"owner": "bob"}
        assert (await c.get("/contacts", headers=write_only)).status_code == 403

    run(scenario)


def test_missing_or_malformed_bearer_is_401():
    async def scenario(c):
        headers = await token_for(c)
        raw = headers["Authorization"].removeprefix("Bearer ")
        for value in (None, raw, f"Basic {raw}", "Bearer nope"):
            response = await c.get("/contacts", headers={"Authorization": value} if value else {})
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'

    run(scenario)


def test_access_token_expires():
    clock = Clock()

    async def scenario(c):
        headers = await token_for(c)
        clock.now += 3599
        assert (await c.get("/contacts", headers=headers)).status_code == 200
        clock.now += 1
        assert (await c.get("/contacts", headers=headers)).status_code == 401

    run(scenario, clock)


def test_user_revokes_at_provider_takes_effect_on_next_call():
    async def scenario(c):
        first = await token_for(c, "contacts.read contacts.write")
        second = await token_for(c, "contacts.read")
        bob = await token_for(c, user="bob")
        assert (await c.get("/contacts", headers=first)).status_code == 200
        response = await c.delete("/account/connected-apps/crm_app", params={"user": "alice"})
        assert response.status_code == 204
        for headers in (first, second):
            assert (await c.get("/contacts", headers=headers)).status_code == 401
            assert (await c.post("/contacts", headers=headers)).status_code == 401
        # Bob's grant to the same app is untouched.
        assert (await c.get("/contacts", headers=bob)).json()["owner"] == "bob"

    run(scenario)


def test_client_revokes_its_token_rfc7009_takes_effect_on_next_call():
    async def scenario(c):
        headers = await token_for(c)
        sibling = await token_for(c)
        bob = await token_for(c, user="bob")
        token = headers["Authorization"].removeprefix("Bearer ")
        # Another client cannot revoke this client's token.
        await c.post("/revoke", data={"token": token, "client_id": "other_app"})
        assert (await c.get("/contacts", headers=headers)).status_code == 200
        response = await c.post("/revoke", data={"token": token, "client_id": "crm_app"})
        assert (response.status_code, response.json()) == (200, {})
        assert (await c.get("/contacts", headers=headers)).status_code == 401
        assert (await c.get("/contacts", headers=sibling)).status_code == 401
        assert (await c.get("/contacts", headers=bob)).status_code == 200
        # Revoking again, or an unknown token, is still 200 (RFC 7009 section 2.2).
        again = await c.post("/revoke", data={"token": token, "client_id": "crm_app"})
        assert again.status_code == 200
        unknown = await c.post("/revoke", data={"token": "nope", "client_id": "crm_app"})
        assert unknown.status_code == 200

    run(scenario)


def test_user_can_reconnect_after_revocation():
    async def scenario(c):
        old = await token_for(c)
        await c.delete("/account/connected-apps/crm_app", params={"user": "alice"})
        new = await token_for(c)
        assert (await c.get("/contacts", headers=old)).status_code == 401
        assert (await c.get("/contacts", headers=new)).status_code == 200

    run(scenario)


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=UNRESERVED, min_size=43, max_size=128))
def test_only_the_matching_verifier_redeems_a_code(verifier):
    challenge = snippet.s256(verifier)
    assert len(challenge) == 43 and "=" not in challenge

    async def scenario(c):
        code = code_of(await authorize(c, verifier=verifier))
        assert (await exchange(c, code, verifier=verifier + "a")).status_code == 400
        code = code_of(await authorize(c, verifier=verifier))
        assert (await exchange(c, code, verifier=verifier)).status_code == 200

    run(scenario)
