"""Behaviour of the OAuth 2.0 authorization code + PKCE reference implementation.

The token and revocation endpoints are held to RFC 6749 section 5.2 (their recorded protocol
exception); the resource server to RFC 6750 section 3 and the site's problem details."""

import asyncio
import base64
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import oauth_delegated_access as snippet
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

REDIRECT = "https://crm.example/callback"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
CLIENT_AUTH = ("crm_app", snippet.CLIENT_SECRET)
RFC6749_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
}
ERROR_CHARS = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 section 5.2 ABNF


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
    return await c.get("/authorize", params={k: v for k, v in params.items() if v is not None})


def query_of(response) -> dict:
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def code_of(response) -> str:
    return snippet.callback_code(response.headers["location"], "st-1")


async def exchange(c, code, verifier=VERIFIER, auth=CLIENT_AUTH, **overrides):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **overrides,
    }
    form = {k: v for k, v in form.items() if v is not None}
    return await c.post("/token", data=form, auth=auth)


async def token_for(c, scope="contacts.read", user="alice") -> dict:
    response = await exchange(c, code_of(await authorize(c, scope, user)))
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def run(coro_fn, clock=None, notify=None):
    async def go():
        app = snippet.create_app(clock or Clock(), **({"notify": notify} if notify else {}))
        async with client_for(app) as c:
            await coro_fn(c)

    asyncio.run(go())


def assert_oauth_error(response: httpx.Response, error: str, status: int = 400) -> None:
    """RFC 6749 section 5.2: status, JSON media type, members, characters, challenge."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) <= {"error", "error_description", "error_uri"}
    assert body["error"] == error and error in RFC6749_ERRORS
    assert ERROR_CHARS.fullmatch(body["error"])
    if status == 401:  # section 5.2: invalid_client over HTTP authentication
        assert response.headers["www-authenticate"].lower().startswith("basic ")


def assert_problem(response: httpx.Response, slug: str, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://api.example.com/problems/{slug}"
    assert body["status"] == status and body["retryable"] is False
    assert {"title", "detail"} <= set(body)
    return body


# --- PKCE and the code flow --------------------------------------------------------------


def test_rfc7636_appendix_b_vector():
    assert snippet.s256(VERIFIER) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_authorization_code_with_pkce_issues_token_with_granted_scope():
    async def scenario(c):
        response = await authorize(c)
        location = urlsplit(response.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
        query = query_of(response)
        assert query["state"] == "st-1"
        assert query["iss"] == snippet.ISSUER  # RFC 9207
        response = await exchange(c, query["code"])
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["scope"] == "contacts.read"
        assert body["expires_in"] == 3600
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"

    run(scenario)


def test_wrong_verifier_is_refused_and_burns_the_code():
    async def scenario(c):
        code = code_of(await authorize(c))
        assert_oauth_error(await exchange(c, code, verifier="x" * 43), "invalid_grant")
        # An attacker who stole the code cannot keep guessing, and the real client
        # must start over: the code was single-use even though the exchange failed.
        assert_oauth_error(await exchange(c, code), "invalid_grant")

    run(scenario)


def test_missing_verifier_is_refused():
    async def scenario(c):
        code = code_of(await authorize(c))
        assert_oauth_error(await exchange(c, code, verifier=None), "invalid_grant")

    run(scenario)


def test_code_is_single_use():
    async def scenario(c):
        code = code_of(await authorize(c))
        assert (await exchange(c, code)).status_code == 200
        assert_oauth_error(await exchange(c, code), "invalid_grant")

    run(scenario)


def test_a_replayed_code_revokes_the_tokens_it_issued():
    """F-OAU-4: RFC 6749 section 4.1.2, deny the reuse and revoke what the code gave."""

    async def scenario(c):
        code = code_of(await authorize(c))
        first = await exchange(c, code)
        bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
        other = await token_for(c)  # a token from another code of the same grant
        assert (await c.get("/contacts", headers=bearer)).status_code == 200
        assert_oauth_error(await exchange(c, code), "invalid_grant")  # the interceptor
        assert (await c.get("/contacts", headers=bearer)).status_code == 401
        assert (await c.get("/contacts", headers=other)).status_code == 200

    run(scenario)


def test_code_expires_after_60_seconds():
    clock = Clock()

    async def scenario(c):
        code = code_of(await authorize(c))
        clock.now += 60
        assert_oauth_error(await exchange(c, code), "invalid_grant")
        fresh = code_of(await authorize(c))
        clock.now += 59
        assert (await exchange(c, fresh)).status_code == 200

    run(scenario, clock)


def test_code_bound_to_redirect_uri_and_client():
    async def scenario(c):
        code = code_of(await authorize(c))
        other = await exchange(c, code, redirect_uri="https://evil.example/callback")
        assert_oauth_error(other, "invalid_grant")
        code = code_of(await authorize(c))
        snippet.CLIENTS["other_app"] = {**snippet.CLIENTS["crm_app"]}
        try:
            stolen = await exchange(c, code, auth=("other_app", snippet.CLIENT_SECRET))
        finally:
            del snippet.CLIENTS["other_app"]
        assert_oauth_error(stolen, "invalid_grant")

    run(scenario)


def test_unregistered_redirect_uri_or_client_is_not_redirected_to():
    async def scenario(c):
        for uri in ("https://evil.example/cb", REDIRECT + "/../../evil", REDIRECT + "x"):
            response = await authorize(c, redirect_uri=uri)
            assert_problem(response, "invalid-request", 400)
            assert "location" not in response.headers
        unknown = await authorize(c, client_id="nobody")
        assert_problem(unknown, "invalid-request", 400)
        repeated = await c.get(
            "/authorize", params=[("client_id", "crm_app"), ("client_id", "evil")]
        )
        assert_problem(repeated, "invalid-request", 400)

    run(scenario)


# --- authorization errors are redirects (F-OAU-3) ----------------------------------------


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "unsupported_response_type"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": VERIFIER, "code_challenge_method": "plain"}, "invalid_request"),
        ({"scope": "contacts.delete"}, "invalid_scope"),
        ({"scope": "contacts.read admin"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
    ],
)
def test_authorization_errors_redirect_with_an_rfc6749_error(overrides, error):
    async def scenario(c):
        query = query_of(await authorize(c, **overrides))
        assert query == {"error": error, "state": "st-1", "iss": snippet.ISSUER}

    run(scenario)


def test_missing_state_is_accepted_and_not_invented():
    async def scenario(c):
        query = query_of(await authorize(c, state=None))
        assert "state" not in query and "code" in query

    run(scenario)


# --- the client's checks on the redirect (F-OAU-6, F-OAU-7) -------------------------------


def test_client_accepts_only_its_own_state_and_the_expected_issuer():
    location = f"{REDIRECT}?code=abc&state=st-1&iss={snippet.ISSUER}"
    assert snippet.callback_code(location, "st-1") == "abc"
    with pytest.raises(PermissionError, match="state does not match"):
        snippet.callback_code(location, "st-2")  # an attacker's code in our callback
    with pytest.raises(PermissionError, match="state does not match"):
        snippet.callback_code(f"{REDIRECT}?code=abc&iss={snippet.ISSUER}", "st-1")
    mixed_up = f"{REDIRECT}?code=abc&state=st-1&iss=https://evil.example"
    with pytest.raises(PermissionError, match="expected issuer"):
        snippet.callback_code(mixed_up, "st-1")
    with pytest.raises(PermissionError, match="expected issuer"):
        snippet.callback_code(f"{REDIRECT}?code=abc&state=st-1", "st-1")
    with pytest.raises(PermissionError, match="access_denied"):
        snippet.callback_code(
            f"{REDIRECT}?error=access_denied&state=st-1&iss={snippet.ISSUER}", "st-1"
        )


def test_client_check_works_on_a_real_redirect():
    async def scenario(c):
        response = await authorize(c)
        assert snippet.callback_code(response.headers["location"], "st-1")
        with pytest.raises(PermissionError):
            snippet.callback_code(response.headers["location"], "st-other")

    run(scenario)


# --- the token endpoint: client authentication and RFC 6749 section 5.2 (F-OAU-1, -5) -------


def test_token_endpoint_requires_client_authentication():
    async def scenario(c):
        for auth in (None, ("crm_app", "wrong"), ("nobody", snippet.CLIENT_SECRET)):
            code = code_of(await authorize(c))
            assert_oauth_error(await exchange(c, code, auth=auth), "invalid_client", 401)
            # The failed attempt did not burn the code: the real client can still use it.
            assert (await exchange(c, code)).status_code == 200

    run(scenario)


def test_client_id_in_the_body_alone_is_not_authentication():
    async def scenario(c):
        code = code_of(await authorize(c))
        response = await exchange(c, code, auth=None, client_id="crm_app")
        assert_oauth_error(response, "invalid_client", 401)
        assert response.headers["www-authenticate"] == 'Basic realm="token"'

    run(scenario)


def test_basic_credentials_are_form_decoded_and_the_scheme_is_case_insensitive():
    async def scenario(c):
        code = code_of(await authorize(c))
        pair = base64.b64encode(f"crm_app:{snippet.CLIENT_SECRET}".encode()).decode()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                "code_verifier": VERIFIER}  # fmt: skip
        response = await c.post("/token", data=form, headers={"Authorization": f"bAsIc {pair}"})
        assert response.status_code == 200
        for junk in ("Basic !!!", "Basic " + base64.b64encode(b"\xff\xfe").decode(), "Bearer x"):
            response = await c.post("/token", data=form, headers={"Authorization": junk})
            assert_oauth_error(response, "invalid_client", 401)

    run(scenario)


def test_a_different_client_id_in_the_body_is_refused():
    async def scenario(c):
        code = code_of(await authorize(c))
        assert_oauth_error(await exchange(c, code, client_id="other_app"), "invalid_request")

    run(scenario)


def test_grant_type_is_checked():
    async def scenario(c):
        code = code_of(await authorize(c))
        response = await exchange(c, code, grant_type="password")
        assert_oauth_error(response, "unsupported_grant_type")
        assert_oauth_error(await exchange(c, code, grant_type=None), "invalid_request")
        assert (await exchange(c, code)).status_code == 200  # not burnt by either

    run(scenario)


def test_malformed_token_requests_are_invalid_request():
    async def scenario(c):
        code = code_of(await authorize(c))
        base = f"grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}"
        bodies = [
            (base + "&code=other", "application/x-www-form-urlencoded"),  # repeated
            (base.encode() + b"&code_verifier=\xff", "application/x-www-form-urlencoded"),
            ('{"grant_type": "authorization_code"}', "application/json"),
            ("grant_type=authorization_code", "application/x-www-form-urlencoded"),
        ]
        for body, media_type in bodies:
            response = await c.post(
                "/token", content=body, auth=CLIENT_AUTH, headers={"content-type": media_type}
            )
            assert_oauth_error(response, "invalid_request")
        wrong_method = await c.get("/token")
        assert wrong_method.status_code == 405 and wrong_method.json() == {
            "error": "invalid_request"
        }

    run(scenario)


# --- the resource server: RFC 6750 section 3 (F-OAU-2) ------------------------------------


def test_scopes_are_enforced_by_the_resource_server():
    async def scenario(c):
        read_only = await token_for(c, "contacts.read")
        assert (await c.get("/contacts", headers=read_only)).status_code == 200
        response = await c.post("/contacts", headers=read_only)
        body = assert_problem(response, "forbidden", 403)
        assert body["scope"] == "contacts.write"
        assert response.headers["www-authenticate"] == (
            'Bearer realm="api", error="insufficient_scope", scope="contacts.write"'
        )
        write_only = await token_for(c, "contacts.write", user="bob")
        assert (await c.post("/contacts", headers=write_only)).json() == {"owner": "bob"}
        assert (await c.get("/contacts", headers=write_only)).status_code == 403

    run(scenario)


def test_a_request_without_credentials_gets_a_challenge_without_an_error_code():
    async def scenario(c):
        response = await c.get("/contacts")
        assert_problem(response, "unauthorized", 401)
        assert response.headers["www-authenticate"] == 'Bearer realm="api"'

    run(scenario)


def test_a_refused_token_is_invalid_token():
    async def scenario(c):
        headers = await token_for(c)
        raw = headers["Authorization"].removeprefix("Bearer ")
        for value in (raw, f"Basic {raw}", "Bearer nope", "Bearer "):
            response = await c.get("/contacts", headers={"Authorization": value})
            assert_problem(response, "unauthorized", 401)
            assert response.headers["www-authenticate"] == (
                'Bearer realm="api", error="invalid_token"'
            )

    run(scenario)


def test_bearer_scheme_is_case_insensitive_and_repeated_authorization_is_refused():
    async def scenario(c):
        raw = (await token_for(c))["Authorization"].removeprefix("Bearer ")
        for scheme in ("bearer", "BEARER", "BeArEr"):
            response = await c.get("/contacts", headers={"Authorization": f"{scheme} {raw}"})
            assert response.status_code == 200
        twice = [("Authorization", f"Bearer {raw}"), ("Authorization", "Bearer nope")]
        response = await c.get("/contacts", headers=twice)
        assert_problem(response, "invalid-request", 400)
        assert 'error="invalid_request"' in response.headers["www-authenticate"]

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


def test_framework_errors_are_problems():
    async def scenario(c):
        assert_problem(await c.get("/nope"), "not-found", 404)
        wrong = await c.put("/contacts")
        assert_problem(wrong, "method-not-allowed", 405)
        assert "GET" in wrong.headers["allow"]
        missing = await c.delete("/account/connected-apps/crm_app")  # no `user`
        body = assert_problem(missing, "invalid-request", 400)
        assert body["errors"][0]["parameter"] == "user"

    run(scenario)


# --- revocation from either side (F-OAU-11) ----------------------------------------------


def test_user_revokes_at_provider_takes_effect_on_next_call_and_notifies_the_client():
    events = []

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

    run(scenario, notify=events.append)
    assert events == [{"type": "grant.revoked", "client_id": "crm_app", "user": "alice"}]


def test_a_code_issued_before_the_user_revoked_cannot_be_redeemed_after():
    async def scenario(c):
        code = code_of(await authorize(c))
        await c.delete("/account/connected-apps/crm_app", params={"user": "alice"})
        assert_oauth_error(await exchange(c, code), "invalid_grant")

    run(scenario)


def test_client_revokes_its_token_rfc7009_takes_effect_on_next_call():
    async def scenario(c):
        headers = await token_for(c)
        sibling = await token_for(c)
        bob = await token_for(c, user="bob")
        token = headers["Authorization"].removeprefix("Bearer ")
        response = await c.post("/revoke", data={"token": token}, auth=CLIENT_AUTH)
        assert (response.status_code, response.json()) == (200, {})
        assert (await c.get("/contacts", headers=headers)).status_code == 401
        assert (await c.get("/contacts", headers=sibling)).status_code == 401
        assert (await c.get("/contacts", headers=bob)).status_code == 200
        # Revoking again, or an unknown token, is still 200 (RFC 7009 section 2.2).
        again = await c.post("/revoke", data={"token": token}, auth=CLIENT_AUTH)
        assert again.status_code == 200
        unknown = await c.post("/revoke", data={"token": "nope"}, auth=CLIENT_AUTH)
        assert unknown.status_code == 200

    run(scenario)


def test_revocation_requires_client_authentication_and_the_owning_client():
    async def scenario(c):
        headers = await token_for(c)
        token = headers["Authorization"].removeprefix("Bearer ")
        anonymous = await c.post("/revoke", data={"token": token, "client_id": "crm_app"})
        assert_oauth_error(anonymous, "invalid_client", 401)
        snippet.CLIENTS["other_app"] = {**snippet.CLIENTS["crm_app"]}
        try:
            other = await c.post(
                "/revoke", data={"token": token}, auth=("other_app", snippet.CLIENT_SECRET)
            )
        finally:
            del snippet.CLIENTS["other_app"]
        assert_oauth_error(other, "invalid_request")
        assert (await c.get("/contacts", headers=headers)).status_code == 200
        no_token = await c.post("/revoke", data={}, auth=CLIENT_AUTH)
        assert_oauth_error(no_token, "invalid_request")

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


# --- a real server, many connections ------------------------------------------------------


@pytest.fixture
def live_server():
    """The provider in uvicorn on 127.0.0.1, port 0, in a background thread."""
    import threading
    import time

    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(snippet.create_app(), host="127.0.0.1", port=0, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_one_code_raced_over_twenty_connections_yields_one_token(live_server):
    async def go():
        async with httpx.AsyncClient(base_url=live_server) as c:
            code = code_of(await authorize(c))
            clients = [httpx.AsyncClient(base_url=live_server) for _ in range(20)]
            try:  # one connection per racer: the server sees twenty parallel requests
                return await asyncio.gather(*(exchange(each, code) for each in clients))
            finally:
                await asyncio.gather(*(each.aclose() for each in clients))

    responses = asyncio.run(go())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * 19
    for response in responses:
        if response.status_code == 400:
            assert response.json() == {"error": "invalid_grant"}
