"""Behaviour of snippets/refresh_tokens.py: short-lived access, rotation, reuse detection."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest
import refresh_tokens as snippet
from hypothesis import given, settings
from hypothesis import strategies as st

T0 = 1_780_000_000.0
EXPIRED = 'Bearer realm="api", error="invalid_token", error_description="token expired"'
INVALID = 'Bearer realm="api", error="invalid_token", error_description="token invalid"'


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
        snippet.SIGNING_KEY,
        algorithms=["HS256"],
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
    other_payload = jwt.encode({"sub": "usr_eve", "exp": T0 + 60}, "k" * 32).split(".")[1]
    forged = jwt.encode({"sub": "usr_eve", "exp": T0 + 60}, "wrong-key-" * 4, algorithm="HS256")
    unsigned = jwt.encode({"sub": "usr_eve", "exp": T0 + 60}, None, algorithm="none")
    for token in (f"{header}.{other_payload}.{signature}", forged, unsigned, "garbage"):
        response = h.me(token)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == INVALID


def test_refresh_rotates_and_invalidates_the_old_refresh_token(h):
    first = h.service.issue("usr_ada", snippet.CLIENT_ID)
    h.now = T0 + 3600
    response = h.refresh(first["refresh_token"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
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
