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
        "type": "https://api.example.com/problems/invalid-request",
        "title": "Invalid request",
        "status": 400,
        "detail": "The link is invalid, used or expired.",
        "retryable": False,
        "errors": [{"pointer": "/token", "detail": "Not valid."}],
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


def test_oversized_token_and_bad_email_are_400_problems_with_pointers(env):
    r = env.verify("A" * 101)
    assert r.status_code == 400
    assert r.json()["errors"][0]["pointer"] == "/token"
    r = env.register("not-an-email")
    assert r.status_code == 400 and r.json()["retryable"] is False
    assert [e["pointer"] for e in r.json()["errors"]] == ["/email"]
    assert env.outbox == []


@pytest.mark.parametrize(
    "body", [b"not json", b"\xff\xfe", b"[]", b"{}", b'{"email": 42}', b'{"email": null}']
)
def test_malformed_bodies_are_400_problems_never_500(env, body):
    r = env.send(
        "POST", "/registrations", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "https://api.example.com/problems/invalid-request"


def test_unknown_paths_and_methods_are_problems(env):
    assert env.send("GET", "/nowhere").json()["type"].endswith("/not-found")
    r = env.send("GET", "/registrations")
    assert r.status_code == 405 and r.json()["type"].endswith("/method-not-allowed")


def test_revocation_takes_effect_on_the_next_call(env):
    env.register()
    key = env.verify(env.token()).json()["api_key"]
    auth = {"Authorization": f"Bearer {key}"}
    assert env.send("DELETE", "/v1/keys/key_1", headers=auth).status_code == 204
    r = env.me(key)
    assert r.status_code == 401
    assert r.json()["type"] == "https://api.example.com/problems/unauthorized"
    assert env.send("DELETE", "/v1/keys/key_1", headers=auth).status_code == 401


def test_a_key_cannot_revoke_someone_elses_key(env):
    env.register("a@example.com")
    key_a = env.verify(env.token()).json()["api_key"]
    env.register("b@example.com")
    key_b = env.verify(env.token()).json()["api_key"]
    r = env.send("DELETE", "/v1/keys/key_1", headers={"Authorization": f"Bearer {key_b}"})
    assert r.status_code == 404
    assert env.me(key_a).status_code == 200


def test_unknown_key_is_401_with_a_bearer_challenge(env):
    r = env.me("sk_test_" + "A" * 43)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'
    assert r.json()["retryable"] is False
    r = env.send("GET", "/v1/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'


def test_delete_without_a_valid_key_is_401_not_404(env):
    env.register()
    env.verify(env.token())
    r = env.send("DELETE", "/v1/keys/key_1")
    assert r.status_code == 401 and "www-authenticate" in r.headers
    r = env.send("DELETE", "/v1/keys/key_1", headers={"Authorization": "Bearer sk_test_x"})
    assert r.status_code == 401
    assert env.app.state.keys[next(iter(env.app.state.keys))]["revoked"] is False


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_auth_scheme_is_case_insensitive(env, scheme):
    env.register()
    key = env.verify(env.token()).json()["api_key"]
    r = env.send("GET", "/v1/me", headers={"Authorization": f"{scheme} {key}"})
    assert r.status_code == 200


def test_two_authorization_fields_are_refused(env):
    env.register()
    key = env.verify(env.token()).json()["api_key"]
    headers = [("Authorization", f"Bearer {key}"), ("Authorization", "Bearer sk_test_x")]
    r = env.send("GET", "/v1/me", headers=headers)
    assert r.status_code == 400 and r.json()["header"] == "authorization"


def test_per_email_limit_applies_across_ips_and_case_and_resets_after_a_day(env):
    for i in range(snippet.MAX_REGISTRATIONS_PER_EMAIL):
        assert env.register("dev@example.com", ip=f"192.0.2.{i}").status_code == 202
    r = env.register("DEV@example.com", ip="192.0.2.99")
    assert r.status_code == 429
    assert r.json()["type"] == "https://api.example.com/problems/rate-limited"
    assert r.json()["retryable"] is True
    assert r.headers["retry-after"] == str(snippet.DAY + 1)
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


def test_refused_registrations_do_not_extend_a_lockout(env):
    """Three links to the victim's own inbox use up the day; refused attempts after
    that are not recorded, so nobody can keep the address locked by repeating them."""
    for i in range(snippet.MAX_REGISTRATIONS_PER_EMAIL):
        assert env.register("victim@example.com", ip=f"192.0.2.{i}").status_code == 202
    for hour in range(1, 24):
        env.now += 3600 if hour > 1 else 3599
        assert env.register("victim@example.com", ip=f"198.51.100.{hour}").status_code == 429
    env.now = 1_000.0 + snippet.DAY + 1
    assert env.register("victim@example.com").status_code == 202
    assert all(m["to"] == "victim@example.com" for m in env.outbox)


def test_plus_and_dot_aliases_share_the_per_email_cap(env):
    for i, alias in enumerate(["dev+1@gmail.com", "d.e.v@gmail.com", "DEV+x@googlemail.com"]):
        assert env.register(alias, ip=f"192.0.2.{i}").status_code == 202
    assert env.register("dev@gmail.com", ip="192.0.2.50").status_code == 429
    assert env.register("d.e.v@example.com", ip="192.0.2.51").status_code == 202  # dots count
    assert snippet.mailbox("D.E.V+promo@GoogleMail.com") == "dev@gmail.com"


def test_a_second_click_while_the_first_is_mid_flight_is_refused(env):
    """The gate holds the first verification inside its await (the notice mail); a
    token still in `pending` at that point would let the second click mint a key."""
    gate, inside = asyncio.Event(), asyncio.Event()

    async def mail(message):
        env.outbox.append(message)
        if "was created" in message["subject"] and not inside.is_set():
            inside.set()
            await gate.wait()

    async def go():
        env.app = snippet.create_app(env.outbox, clock=lambda: env.now, mail=mail)
        transport = httpx.ASGITransport(app=env.app, client=(env.ip, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            await c.post("/registrations", json={"email": "dev@example.com"})
            body = {"token": env.token()}
            first = asyncio.create_task(c.post("/registrations/verify", json=body))
            await inside.wait()
            second = await c.post("/registrations/verify", json=body)
            gate.set()
            return await first, second

    first, second = asyncio.run(go())
    assert first.status_code == 201
    assert second.status_code == 400
    assert len(env.app.state.keys) == 1


def test_concurrent_verifications_get_distinct_key_ids(env):
    for i in range(20):
        env.register(f"user{i}@example.com", ip=f"192.0.2.{i}")
    tokens = [env.token(i) for i in range(20)]

    async def go():
        transport = httpx.ASGITransport(app=env.app, client=(env.ip, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await asyncio.gather(
                *(c.post("/registrations/verify", json={"token": t}) for t in tokens)
            )

    ids = [r.json()["id"] for r in asyncio.run(go())]
    assert len(set(ids)) == 20
    assert {r["id"] for r in env.app.state.keys.values()} == set(ids)


# ---- banning an abuser: the operator's lever ------------------------------------

OPERATOR = {"Authorization": "Bearer sk_test_operator_console"}


def issue(env, email, ip=None):
    env.register(email, ip=ip)
    return env.verify(env.token()).json()["api_key"]


def test_an_operator_ban_revokes_every_key_of_the_person_at_once(env):
    first = issue(env, "abuser@gmail.com", ip="192.0.2.1")
    second = issue(env, "a.buser+2@gmail.com", ip="192.0.2.2")
    bystander = issue(env, "dev@example.com", ip="192.0.2.3")
    r = env.send("POST", "/operator/bans", json={"key_id": "key_2"}, headers=OPERATOR)
    assert r.status_code == 201 and r.json() == {"banned": "abuser@gmail.com"}
    assert env.me(first).status_code == 401
    assert env.me(second).status_code == 401
    assert env.me(bystander).status_code == 200


def test_a_banned_person_gets_no_new_link_and_pending_links_stop_working(env):
    issue(env, "abuser@example.com", ip="192.0.2.1")
    env.register("abuser+later@example.com", ip="192.0.2.2")
    pending_link = env.token()
    env.send("POST", "/operator/bans", json={"key_id": "key_1"}, headers=OPERATOR)
    assert env.verify(pending_link).status_code == 400
    sent = len(env.outbox)
    r = env.register("ABUSER+new@example.com", ip="192.0.2.3")
    assert r.status_code == 202  # the same answer as for anyone
    assert r.json() == {"detail": "If the address is valid, a confirmation link is on its way."}
    assert len(env.outbox) == sent
    assert len(env.app.state.keys) == 1


def test_only_operators_can_ban(env):
    key = issue(env, "dev@example.com")
    customer = {"Authorization": f"Bearer {key}"}
    for headers in ({}, customer, {"Authorization": "Bearer sk_test_operator_guess"}):
        r = env.send("POST", "/operator/bans", json={"key_id": "key_1"}, headers=headers)
        assert r.status_code == 401 and "www-authenticate" in r.headers
    assert env.me(key).status_code == 200
    r = env.send("POST", "/operator/bans", json={"key_id": "key_9"}, headers=OPERATOR)
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")
