"""Behaviour of snippets/refresh_tokens.py: short-lived access, rotation, reuse detection."""

import asyncio
import base64
import hashlib
import hmac
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest
import refresh_tokens as snippet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

T0 = 1_780_000_000.0
EXPIRED = 'Bearer realm="api", error="invalid_token", error_description="token expired"'
INVALID = 'Bearer realm="api", error="invalid_token", error_description="token invalid"'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_jwt(claims: dict, secret: bytes, header=None) -> str:
    header = header or {"alg": "HS256", "typ": "at+jwt"}
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


def sign(claims: dict, typ="at+jwt") -> str:
    return jwt.encode(claims, snippet.SIGNING_KEY, "ES256", headers={"typ": typ})


class Harness:
    def __init__(self):
        self.now = T0
        self.service = snippet.TokenService(clock=lambda: self.now)
        self.app = snippet.create_app(self.service)

    def call(self, method, url, **kwargs) -> httpx.Response:
        async def go():
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                return await c.request(method, url, **kwargs)

        return asyncio.run(go())

    def refresh(self, token, client_id=snippet.CLIENT_ID, grant="refresh_token"):
        form = {"grant_type": grant, "refresh_token": token, "client_id": client_id}
        return self.call("POST", "/token", data=form)

    def me(self, access_token):
        return self.call("GET", "/me", headers={"Authorization": f"Bearer {access_token}"})


@pytest.fixture
def h():
    return Harness()


def test_access_token_lives_exactly_access_ttl(h):
    pair = h.service.issue("usr_ada", snippet.CLIENT_ID)
    claims = jwt.decode(
        pair["access_token"],
        snippet.SIGNING_KEY.public_key(),
        algorithms=["ES256"],
        audience=snippet.AUDIENCE,
        options={"verify_exp": False},
    )
    assert claims["exp"] - claims["iat"] == snippet.ACCESS_TTL == 300
    h.now = T0 + snippet.ACCESS_TTL - 1
    assert (h.me(pair["access_token"]).status_code, h.me(pair["access_token"]).json()) == (
        200,
        {"sub": "usr_ada"},
    )
    h.now = T0 + snippet.ACCESS_TTL
    response = h.me(pair["access_token"])
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == EXPIRED
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://api.example.com/problems/unauthorized",
        "title": "Unauthorized",
        "status": 401,
        "detail": "The access token is refused: token expired.",
        "retryable": False,
    }


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic dXNyOnB3"}, {"Authorization": "Bearer"}]
)
def test_missing_bearer_token_gets_a_challenge_without_error_code(h, headers):
    response = h.call("GET", "/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


def test_tampered_forged_and_unsigned_access_tokens_are_invalid(h):
    good = h.service.issue("usr_ada", snippet.CLIENT_ID)["access_token"]
    header, payload, signature = good.split(".")
    claims = {"iss": snippet.ISSUER, "aud": snippet.AUDIENCE, "sub": "usr_eve", "exp": T0 + 60}
    other_payload = jwt.encode(claims, "k" * 32).split(".")[1]
    typ = {"typ": "at+jwt"}
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", typ)
    unsigned = jwt.encode(claims, None, algorithm="none", headers=typ)
    # HS256 signed with the public key as the secret: the classic key-confusion attack
    pem = snippet.SIGNING_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = hmac_jwt(claims | {"typ": "at+jwt"}, pem)
    for token in (f"{header}.{other_payload}.{signature}", forged, unsigned, confused, "x"):
        response = h.me(token)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == INVALID


def test_refresh_rotates_and_invalidates_the_old_refresh_token(h):
    first = h.service.issue("usr_ada", snippet.CLIENT_ID)
    h.now = T0 + 3600
    response = h.refresh(first["refresh_token"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    second = response.json()
    assert set(second) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert (second["token_type"], second["expires_in"]) == ("Bearer", 300)
    assert second["refresh_token"] != first["refresh_token"]
    assert h.me(second["access_token"]).json() == {"sub": "usr_ada"}
    assert (h.refresh(first["refresh_token"]).status_code) == 400


def test_reuse_of_any_rotated_token_revokes_every_token_of_the_family(h):
    chain = [h.service.issue("usr_ada", snippet.CLIENT_ID)["refresh_token"]]
    for _ in range(4):
        chain.append(h.refresh(chain[-1]).json()["refresh_token"])
    other_device = h.service.issue("usr_ada", snippet.CLIENT_ID)["refresh_token"]

    replay = h.refresh(chain[1])
    assert (replay.status_code, replay.json()) == (400, {"error": "invalid_grant"})
    for token in chain:  # the latest, never-used token is dead too
        assert h.refresh(token).json() == {"error": "invalid_grant"}
    assert len(h.service.revoked_families) == 1
    assert h.refresh(other_device).status_code == 200  # another session is untouched


def test_refresh_token_is_bound_to_its_client_and_a_mismatch_does_not_burn_it(h):
    token = h.service.issue("usr_ada", snippet.CLIENT_ID)["refresh_token"]
    assert h.refresh(token, client_id="other-app").json() == {"error": "invalid_grant"}
    assert h.refresh(token).status_code == 200


def test_unknown_token_and_unsupported_grant(h):
    assert h.refresh("not-a-token").json() == {"error": "invalid_grant"}
    token = h.service.issue("usr_ada", snippet.CLIENT_ID)["refresh_token"]
    response = h.refresh(token, grant="password")
    assert (response.status_code, response.json()) == (400, {"error": "unsupported_grant_type"})


def test_refresh_token_expires_after_refresh_ttl_of_inactivity(h):
    a = h.service.issue("usr_ada", snippet.CLIENT_ID)["refresh_token"]
    b = h.service.issue("usr_bo", snippet.CLIENT_ID)["refresh_token"]
    h.now = T0 + snippet.REFRESH_TTL - 1
    a2 = h.refresh(a).json()["refresh_token"]  # each rotation restarts the idle window
    h.now = T0 + snippet.REFRESH_TTL
    assert h.refresh(b).json() == {"error": "invalid_grant"}
    h.now = T0 + 2 * snippet.REFRESH_TTL - 2
    assert h.refresh(a2).status_code == 200


def test_refresh_tokens_are_stored_only_as_hashes(h):
    token = h.service.issue("usr_ada", snippet.CLIENT_ID)["refresh_token"]
    assert token not in repr(h.service.refresh)
    assert snippet.digest(token) in h.service.refresh


def test_twenty_threads_racing_one_refresh_token_get_exactly_one_new_pair(h):
    token = h.service.issue("usr_ada", snippet.CLIENT_ID)["refresh_token"]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: h.service.rotate(token, snippet.CLIENT_ID), range(20)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    # the 19 losers look exactly like a replay: the family is revoked, winner included,
    # which is why a mobile client must serialise its refreshes
    assert h.service.rotate(winners[0]["refresh_token"], snippet.CLIENT_ID) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-1, max_value=6), max_size=12))
def test_any_sequence_of_rotations_and_replays_matches_the_model(steps):
    """-1 rotates the newest token; k >= 0 replays the k-th token issued (if it exists)."""
    service = snippet.TokenService(clock=lambda: T0)
    tokens = [service.issue("usr_ada", snippet.CLIENT_ID)["refresh_token"]]
    revoked = False
    for step in steps:
        index = len(tokens) - 1 if step == -1 else step
        if index >= len(tokens):
            continue
        pair = service.rotate(tokens[index], snippet.CLIENT_ID)
        is_newest = index == len(tokens) - 1
        if revoked or not is_newest:
            assert pair is None
            revoked = True
        else:
            assert pair is not None
            tokens.append(pair["refresh_token"])
    assert bool(service.revoked_families) == revoked


def good_claims(**changes):
    claims = {"iss": snippet.ISSUER, "aud": snippet.AUDIENCE, "sub": "usr_ada"}
    claims |= {"client_id": snippet.CLIENT_ID, "iat": int(T0), "exp": int(T0) + 60}
    return claims | changes


def test_a_correctly_signed_token_with_every_claim_right_is_accepted(h):
    assert h.me(sign(good_claims())).json() == {"sub": "usr_ada"}


@pytest.mark.parametrize(
    ("claims", "typ"),
    [
        (good_claims(aud="https://other-api.example.com"), "at+jwt"),
        (good_claims(iss="https://evil.example.com"), "at+jwt"),
        (good_claims(), "JWT"),  # an ID token or another JWT is not an access token
        ({k: v for k, v in good_claims().items() if k != "aud"}, "at+jwt"),
    ],
)
def test_tokens_for_another_audience_issuer_or_type_are_refused(h, claims, typ):
    response = h.me(sign(claims, typ))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID


def test_issued_access_tokens_follow_rfc_9068(h):
    token = h.service.issue("usr_ada", snippet.CLIENT_ID)["access_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (header["alg"], header["typ"]) == ("ES256", "at+jwt")
    assert {"iss", "aud", "sub", "client_id", "iat", "exp", "jti"} <= set(claims)
    assert snippet.JWKS["keys"][0]["kty"] == "EC" and "d" not in snippet.JWKS["keys"][0]


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_bearer_scheme_is_case_insensitive(h, scheme):
    token = h.service.issue("usr_ada", snippet.CLIENT_ID)["access_token"]
    response = h.call("GET", "/me", headers={"Authorization": f"{scheme} {token}"})
    assert response.json() == {"sub": "usr_ada"}


def test_two_authorization_fields_are_refused(h):
    token = h.service.issue("usr_ada", snippet.CLIENT_ID)["access_token"]
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer x")]
    response = h.call("GET", "/me", headers=headers)
    assert response.status_code == 400
    assert response.json()["type"] == "https://api.example.com/problems/invalid-request"


def test_every_token_endpoint_error_is_no_store(h):
    for response in (h.refresh("not-a-token"), h.refresh("x", grant="password")):
        assert response.status_code == 400
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("grant_type=refresh_token&refresh_token={t}&refresh_token=x&client_id=mobile-app", FORM),
        (
            "grant_type=refresh_token&grant_type=refresh_token&refresh_token={t}&client_id=mobile-app",
            FORM,
        ),
        (b"grant_type=refresh_token&refresh_token={t}&client_id=\xff\xfe", FORM),
        ('{{"grant_type": "refresh_token", "refresh_token": "{t}"}}', "application/json"),
    ],
)
def test_repeated_parameters_bad_bytes_and_json_are_invalid_request(h, body, content_type):
    token = h.service.issue("usr_ada", snippet.CLIENT_ID)["refresh_token"]
    raw = body.replace(b"{t}", token.encode()) if isinstance(body, bytes) else body.format(t=token)
    response = h.call("POST", "/token", content=raw, headers={"Content-Type": content_type})
    assert (response.status_code, response.json()) == (400, {"error": "invalid_request"})
    assert h.refresh(token).status_code == 200  # the refused request did not burn it


def test_a_family_ends_at_its_absolute_lifetime_however_active(h):
    token = h.service.issue("usr_ada", snippet.CLIENT_ID)["refresh_token"]
    step = snippet.REFRESH_TTL - 1
    while h.now + step < T0 + snippet.FAMILY_TTL:
        h.now += step
        response = h.refresh(token)
        assert response.status_code == 200, h.now - T0
        token = response.json()["refresh_token"]
    h.now = T0 + snippet.FAMILY_TTL
    assert h.refresh(token).json() == {"error": "invalid_grant"}


def client_harness(h, pair):
    """A TokenClient over the app, and a log of the paths it requests."""
    log = []

    async def hook(request):
        log.append(request.url.path)

    transport = httpx.ASGITransport(app=h.app)
    client = httpx.AsyncClient(
        transport=transport, base_url="http://api", event_hooks={"request": [hook]}
    )
    return client, snippet.TokenClient(client, pair), log


def test_client_refreshes_once_for_twenty_concurrent_401s_and_stays_signed_in(h):
    pair = h.service.issue("usr_ada", snippet.CLIENT_ID)
    h.now = T0 + snippet.ACCESS_TTL

    async def go():
        client, app, log = client_harness(h, pair)
        async with client:
            responses = await asyncio.gather(*(app.get("/me") for _ in range(20)))
            later = await app.get("/me")
            return responses, later, log

    responses, later, log = asyncio.run(go())
    assert [r.status_code for r in responses] == [200] * 20
    assert log.count("/token") == 1
    assert later.status_code == 200 and not h.service.revoked_families


def test_client_returns_invalid_grant_when_the_family_is_revoked(h):
    pair = h.service.issue("usr_ada", snippet.CLIENT_ID)
    h.refresh(pair["refresh_token"])  # another copy rotated it: the app's is now a replay
    h.now = T0 + snippet.ACCESS_TTL

    async def go():
        client, app, log = client_harness(h, pair)
        async with client:
            return await app.get("/me"), log

    response, log = asyncio.run(go())
    assert (response.status_code, response.json()) == (400, {"error": "invalid_grant"})
    assert log == ["/me", "/token"]  # no retry loop against a dead session


def test_unknown_paths_and_wrong_methods_are_problems_and_oauth_errors_on_token(h):
    missing, wrong = h.call("GET", "/nope"), h.call("POST", "/me")
    assert (missing.status_code, wrong.status_code) == (404, 405)
    for response in (missing, wrong):
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["retryable"] is False
    assert wrong.headers["allow"] == "GET"
    token = h.call("GET", "/token")  # RFC 6749 section 3.2: the token endpoint is POST only
    assert (token.status_code, token.json()) == (405, {"error": "invalid_request"})
    assert (token.headers["allow"], token.headers["cache-control"]) == ("POST", "no-store")
