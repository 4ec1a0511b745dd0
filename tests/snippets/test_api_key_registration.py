"""Behaviour of the api-key-registration reference implementation."""

import asyncio
import hashlib

import api_key_registration as snippet
import httpx
import pytest


class Env:
    def __init__(self, ip="198.51.100.1"):
        self.outbox, self.now = [], 1_000.0
        self.app = snippet.create_app(self.outbox, clock=lambda: self.now)
        self.ip = ip

    def send(self, method, path, ip=None, **kwargs):
        async def go():
            transport = httpx.ASGITransport(app=self.app, client=(ip or self.ip, 1234))
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                return await c.request(method, path, **kwargs)

        return asyncio.run(go())

    def register(self, email="dev@example.com", ip=None):
        return self.send("POST", "/registrations", ip=ip, json={"email": email})

    def token(self, n=-1):
        return self.outbox[n]["link"].split("token=")[1]

    def verify(self, token):
        return self.send("POST", "/registrations/verify", json={"token": token})

    def me(self, key):
        return self.send("GET", "/v1/me", headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def env():
    return Env()


def test_registration_sends_a_link_and_issues_no_key(env):
    r = env.register("Dev@Example.COM")
    assert r.status_code == 202
    assert r.json() == {"detail": "If the address is valid, a confirmation link is on its way."}
    assert "api_key" not in r.text
    assert len(env.outbox) == 1
    assert env.outbox[0]["to"] == "dev@example.com"
    assert env.outbox[0]["link"].startswith("https://api.example.com/verify?token=")
    assert len(env.token()) == 43  # 32 random bytes, base64url
    assert env.app.state.keys == {}


def test_verification_issues_a_working_key_shown_once(env):
    env.register()
    env.now += 600
    r = env.verify(env.token())
    assert r.status_code == 201
    body = r.json()
    assert body["id"] == "key_1" and body["detail"] == "Shown once: store it now."
    key = body["api_key"]
    assert key.startswith("sk_test_") and len(key) == 51
    assert env.me(key).json() == {"id": "key_1", "email": "dev@example.com"}
    # nothing ever returns the key again
    assert key not in env.me(key).text


def test_keys_and_tokens_are_stored_only_as_sha256_digests(env):
    env.register()
    token = env.token()
    key = env.verify(token).json()["api_key"]
    stored = env.app.state.keys
    assert list(stored) == [hashlib.sha256(key.encode()).hexdigest()]
    assert key not in repr(stored) and token not in repr(stored)
    assert key[8:] not in repr(stored)


def test_a_verification_token_works_only_once(env):
    env.register()
    token = env.token()
    assert env.verify(token).status_code == 201
    r = env.verify(token)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "https://api.example.com/problems/invalid-token",
        "title": "Verification link invalid or expired",
        "status": 400,
    }
    assert len(env.app.state.keys) == 1


def test_concurrent_clicks_on_one_link_issue_exactly_one_key(env):
    env.register()
    token = env.token()

    async def go():
        transport = httpx.ASGITransport(app=env.app, client=(env.ip, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await asyncio.gather(
                *(c.post("/registrations/verify", json={"token": token}) for _ in range(30))
            )

    codes = [r.status_code for r in asyncio.run(go())]
    assert codes.count(201) == 1 and codes.count(400) == 29
    assert len(env.app.state.keys) == 1


def test_token_expires_after_the_ttl_exactly(env):
    env.register()
    first = env.token()
    env.now += snippet.TOKEN_TTL_SECONDS - 1
    assert env.verify(first).status_code == 201
    env.register("late@example.com")
    env.now += snippet.TOKEN_TTL_SECONDS
    assert env.verify(env.token()).status_code == 400
    assert len(env.app.state.keys) == 1


@pytest.mark.parametrize("token", ["", "x" * 43, "sk_test_guess", "A" * 100])
def test_guessed_or_forged_tokens_issue_nothing(env, token):
    env.register()
    assert env.verify(token).status_code == 400
    assert env.app.state.keys == {}


def test_oversized_token_and_bad_email_are_validation_errors(env):
    assert env.verify("A" * 101).status_code == 422
    assert env.register("not-an-email").status_code == 422
    assert env.outbox == []


def test_revocation_takes_effect_on_the_next_call(env):
    env.register()
    key = env.verify(env.token()).json()["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    assert env.send("DELETE", "/v1/keys/key_1", headers=auth).status_code == 204
    r = env.me(key)
    assert r.status_code == 401
    assert r.json()["type"] == "https://api.example.com/problems/invalid-key"
    assert env.send("DELETE", "/v1/keys/key_1", headers=auth).status_code == 404


def test_a_key_cannot_revoke_someone_elses_key(env):
    env.register("a@example.com")
    key_a = env.verify(env.token()).json()["api_key"]
    env.register("b@example.com")
    key_b = env.verify(env.token()).json()["api_key"]
    r = env.send("DELETE", "/v1/keys/key_1", headers={"Authorization": f"Bearer {key_b}"})
    assert r.status_code == 404
    assert env.me(key_a).status_code == 200


def test_unknown_key_is_401(env):
    assert env.me("sk_test_" + "A" * 43).status_code == 401
    assert env.send("GET", "/v1/me").status_code == 401


def test_per_email_limit_applies_across_ips_and_case_and_resets_after_a_day(env):
    for i in range(snippet.MAX_REGISTRATIONS_PER_EMAIL):
        assert env.register("dev@example.com", ip=f"192.0.2.{i}").status_code == 202
    r = env.register("DEV@example.com", ip="192.0.2.99")
    assert r.status_code == 429
    assert r.json()["type"] == "https://api.example.com/problems/too-many-registrations"
    assert len(env.outbox) == 3
    assert env.register("other@example.com", ip="192.0.2.98").status_code == 202
    env.now += snippet.DAY
    assert env.register("dev@example.com", ip="192.0.2.97").status_code == 202


def test_per_ip_limit_applies_across_addresses(env):
    for i in range(snippet.MAX_REGISTRATIONS_PER_IP):
        assert env.register(f"user{i}@example.com").status_code == 202
    assert env.register("user99@example.com").status_code == 429
    assert len(env.outbox) == 10
    assert env.register("user99@example.com", ip="203.0.113.9").status_code == 202


def test_limits_are_the_documented_values():
    assert (snippet.TOKEN_TTL_SECONDS, snippet.MAX_REGISTRATIONS_PER_EMAIL) == (1800, 3)
    assert snippet.MAX_REGISTRATIONS_PER_IP == 10
