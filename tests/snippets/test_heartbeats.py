"""Heartbeats over real sockets on 127.0.0.1: a silent peer is dropped within the window,
a live one is kept, and presence follows the user's last open tab."""

import asyncio
import json
import time

import heartbeats as snippet
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus


def run(scenario, seconds=10):
    """Run one scenario; a lost message fails it within `seconds` instead of hanging."""
    return asyncio.run(asyncio.wait_for(scenario, seconds))


SCALE = 0.005  # 20 s -> 0.1 s, 10 s -> 0.05 s, 5 s -> 0.025 s
INTERVAL = snippet.PING_INTERVAL * SCALE
TIMEOUT = snippet.PING_TIMEOUT * SCALE
WINDOW = (snippet.PING_INTERVAL + snippet.PING_TIMEOUT + snippet.CLOSE_TIMEOUT) * SCALE
SLACK = 0.5  # scheduling jitter on a busy machine
USERS = [f"u{i}" for i in range(20)]


@pytest.fixture(autouse=True)
def sessions(monkeypatch):
    for user in USERS:
        monkeypatch.setitem(snippet.SESSIONS, f"sess_test_{user}", user)


async def wait_until(condition, seconds=3):
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.001)


def test_production_interval_fits_under_idle_timeouts():
    assert 20 <= snippet.PING_INTERVAL <= 30
    assert snippet.PING_INTERVAL + snippet.PING_TIMEOUT < 60


def test_a_client_silent_from_the_start_is_dropped_at_interval_plus_timeout_plus_close():
    """The first ping goes out one interval after the handshake, so a client that never
    answers is failed at interval + timeout and its handler ends close_timeout later.
    Delays on a busy machine only make that later, so the lower bound is exact; the upper
    bound leaves 0.6 s of slack, less than the 0.8 s a doubled timeout would add."""
    scale = 0.08  # 20 s -> 1.6 s, 10 s -> 0.8 s, 5 s -> 0.4 s
    expected = (snippet.PING_INTERVAL + snippet.PING_TIMEOUT + snippet.CLOSE_TIMEOUT) * scale

    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence, scale) as server:
            started = time.monotonic()
            client = await snippet.signed_in(server, "bob", ping_interval=None)
            client.transport.pause_reading()
            dropped = await presence.dropped.get()
            elapsed = time.monotonic() - started
            client.transport.abort()
            return dropped, elapsed, dict(presence.online)

    dropped, elapsed, online = run(scenario())
    assert dropped == ("bob", "keepalive ping timeout")
    assert online == {}
    assert expected - 0.05 <= elapsed <= expected + 0.6


def test_silent_client_is_dropped_within_the_window():
    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence, SCALE) as server:
            client = await snippet.signed_in(server, "bob", ping_interval=None)
            await wait_until(lambda: "bob" in presence.online)
            await asyncio.sleep(INTERVAL * 1.5)  # silence starts mid-interval
            client.transport.pause_reading()
            started = time.monotonic()
            dropped = await asyncio.wait_for(presence.dropped.get(), WINDOW + SLACK)
            elapsed = time.monotonic() - started
            client.transport.abort()
            return dropped, elapsed, dict(presence.online)

    dropped, elapsed, online = run(scenario())
    assert dropped == ("bob", "keepalive ping timeout")
    assert online == {}
    assert TIMEOUT <= elapsed <= WINDOW + SLACK


def test_live_clients_are_kept_even_when_the_app_never_reads():
    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence, SCALE) as server:
            clients = [await snippet.signed_in(server, u) for u in USERS[:10]]
            await wait_until(lambda: len(presence.online) == 10)
            await asyncio.sleep(8 * INTERVAL)  # eight ping rounds, no recv() anywhere
            online = sorted(presence.online)
            states = {c.state.name for c in clients}
            for c in clients:
                await c.close()
            return online, states, presence.dropped.qsize()

    online, states, dropped = run(scenario())
    assert online == sorted(USERS[:10])
    assert states == {"OPEN"}
    assert dropped == 0


def test_only_the_frozen_clients_are_dropped():
    frozen_users = {"u2", "u5", "u6", "u11", "u17"}

    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence, SCALE) as server:
            clients = {u: await snippet.signed_in(server, u, ping_interval=None) for u in USERS}
            await wait_until(lambda: len(presence.online) == 20)
            for user in frozen_users:
                clients[user].transport.pause_reading()
            dropped = set()
            async with asyncio.timeout(WINDOW + SLACK):
                while len(dropped) < len(frozen_users):
                    dropped.add(await presence.dropped.get())
            await asyncio.sleep(2 * INTERVAL)  # nobody else goes
            online = set(presence.online)
            for user, client in clients.items():
                if user in frozen_users:
                    client.transport.abort()
                else:
                    await client.close()
            return dropped, online, presence.dropped.qsize()

    dropped, online, extra = run(scenario())
    assert dropped == {(u, "keepalive ping timeout") for u in frozen_users}
    assert online == set(USERS) - frozen_users
    assert extra == 0


def test_a_user_stays_online_until_their_last_tab_closes():
    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence) as server:
            tab1 = await snippet.signed_in(server, "alice")
            tab2 = await snippet.signed_in(server, "alice")
            await wait_until(lambda: len(presence.online.get("alice", ())) == 2)
            await tab1.close()
            await wait_until(lambda: len(presence.online["alice"]) == 1)
            after_first = sorted(presence.online)
            await tab2.close()
            await wait_until(lambda: "alice" not in presence.online)
            return after_first, dict(presence.online), presence.dropped.qsize()

    assert run(scenario()) == (["alice"], {}, 0)


def test_a_frozen_tab_does_not_take_the_users_other_tab_offline():
    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence, SCALE) as server:
            live = await snippet.signed_in(server, "alice")
            frozen = await snippet.signed_in(server, "alice", ping_interval=None)
            await wait_until(lambda: len(presence.online.get("alice", ())) == 2)
            frozen.transport.pause_reading()
            dropped = await asyncio.wait_for(presence.dropped.get(), WINDOW + SLACK)
            tabs = len(presence.online["alice"])
            frozen.transport.abort()
            await live.close()
            return dropped, tabs

    assert run(scenario()) == (("alice", "keepalive ping timeout"), 1)


def test_presence_comes_from_the_session_not_from_the_url():
    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence) as server:
            url = snippet.url_of(server) + "/bob"  # claims to be bob
            headers = {"Authorization": "Bearer sess_test_alice"}
            async with connect(url, additional_headers=headers):
                await wait_until(lambda: presence.online)
                return sorted(presence.online)

    assert run(scenario()) == ["alice"]


def test_an_unauthenticated_handshake_gets_a_401_problem():
    async def scenario():
        async with snippet.start(snippet.Presence()) as server:
            answers = []
            for headers in [{}, {"Authorization": "Bearer sess_forged"}]:
                with pytest.raises(InvalidStatus) as caught:
                    await connect(snippet.url_of(server), additional_headers=headers)
                answers.append(caught.value.response)
            two = [("Authorization", "Bearer sess_test_alice")] * 2
            with pytest.raises(InvalidStatus) as caught:
                await connect(snippet.url_of(server), additional_headers=two)
            answers.append(caught.value.response)
            return answers

    missing, forged, doubled = run(scenario())
    for response, status in [(missing, 401), (forged, 401), (doubled, 400)]:
        assert response.status_code == status
        assert response.headers["Content-Type"] == "application/problem+json"
        body = json.loads(response.body)
        assert body["status"] == status and body["retryable"] is False
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert forged.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'
    assert json.loads(doubled.body)["type"] == snippet.PROBLEMS + "invalid-request"


def test_a_plain_http_request_gets_a_426_problem():
    async def scenario():
        async with snippet.start(snippet.Presence()) as server:
            url = snippet.url_of(server).replace("ws://", "http://")
            async with httpx.AsyncClient() as http:
                auth = {"Authorization": "Bearer sess_test_alice"}
                return await http.get(url, headers=auth)

    response = run(scenario())
    assert response.status_code == 426
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == snippet.PROBLEMS + "upgrade-required"


def test_an_application_ping_gets_a_pong_and_anything_else_an_error():
    async def scenario():
        async with snippet.start(snippet.Presence()) as server:
            async with snippet.signed_in(server, "alice") as ws:
                replies = []
                for frame in ['{"type": "ping"}', "not json", "[1]", "[" * 50000]:
                    await ws.send(frame)
                    replies.append(json.loads(await ws.recv()))
                await ws.send(json.dumps({"type": "ping"}))
                replies.append(json.loads(await ws.recv()))
                return replies

    pong, *errors, pong_again = run(scenario())
    assert pong == pong_again == {"type": "pong"}
    assert [e["type"] for e in errors] == ["error"] * 3
    assert {e["problem"]["type"] for e in errors} == {snippet.PROBLEMS + "invalid-request"}


def test_client_detects_a_server_that_went_silent():
    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence, scale=1.0) as server:  # server never pings
            client = await snippet.signed_in(
                server,
                "u1",
                ping_interval=INTERVAL,
                ping_timeout=TIMEOUT,
                close_timeout=TIMEOUT,
            )
            await wait_until(lambda: presence.online)
            (server_side,) = next(iter(presence.online.values()))
            server_side.transport.pause_reading()
            started = time.monotonic()
            with pytest.raises(ConnectionClosedError) as caught:
                async with asyncio.timeout(WINDOW + SLACK):
                    await client.recv()
            elapsed = time.monotonic() - started
            server_side.transport.abort()
            return caught.value.sent.reason, elapsed

    reason, elapsed = run(scenario())
    assert reason == "keepalive ping timeout"
    assert elapsed <= INTERVAL + 2 * TIMEOUT + SLACK


def test_a_client_that_leaves_while_answered_is_not_a_handler_crash(caplog):
    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence) as server:
            for frame in ["not json", '{"type": "ping"}']:
                rude = await snippet.signed_in(server, "alice")
                await rude.send(frame)
                rude.transport.abort()  # gone before the answer
                polite = await snippet.signed_in(server, "bob")
                await polite.send(frame)
                await polite.close()  # closes while the answer is on its way
            await wait_until(lambda: not presence.online)
            await asyncio.sleep(0.05)

    with caplog.at_level("ERROR", logger="websockets"):
        run(scenario())
    assert [r.getMessage() for r in caplog.records] == []


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
def test_the_bearer_scheme_is_case_insensitive(scheme):
    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence) as server:
            headers = {"Authorization": f"{scheme} sess_test_alice"}
            async with connect(snippet.url_of(server), additional_headers=headers):
                await wait_until(lambda: presence.online)
                return sorted(presence.online)

    assert run(scenario()) == ["alice"]
