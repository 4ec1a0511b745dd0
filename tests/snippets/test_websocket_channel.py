"""Behaviour of the WebSocket channel over real sockets on 127.0.0.1: authenticated fan-out
in one order, the author taken from the session, hostile handshakes and frames."""

import asyncio
import json
import socket

import httpx
import pytest
import websocket_channel as snippet
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

ORIGIN = "https://app.example.com"
USERS = [f"u{i}" for i in range(30)]
PROBLEM_KEYS = {"type", "title", "status", "detail", "retryable"}


@pytest.fixture(autouse=True)
def sessions(monkeypatch):
    """Thirty more signed-in users in the server-side session store."""
    for user in USERS:
        monkeypatch.setitem(snippet.SESSIONS, f"sess_test_{user}", user)


def run(scenario):
    """Run one scenario; a lost message fails it within 10 s instead of hanging."""
    return asyncio.run(asyncio.wait_for(scenario, 10))


def room(**kwargs):
    return snippet.Room(members={"alice", "bob", *USERS}, epoch="e1", **kwargs)


def as_user(url, user, **kwargs):
    headers = {"Authorization": f"Bearer sess_test_{user}"}
    return connect(url, origin=ORIGIN, additional_headers=headers, **kwargs)


async def wait_until(condition, seconds=3):
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.001)


async def refusal(url, **kwargs):
    """The HTTP answer to a handshake the server refuses."""
    with pytest.raises(InvalidStatus) as caught:
        await connect(url, **kwargs)
    return caught.value.response


def assert_problem(response, status, slug):
    body = json.loads(response.body)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert PROBLEM_KEYS <= body.keys()
    assert (response.status_code, body["status"]) == (status, status)
    assert body["type"] == snippet.PROBLEMS + slug
    assert body["retryable"] is False


def test_update_pushed_to_every_connected_client():
    async def scenario():
        r = room()
        async with snippet.start(r) as server:
            url = snippet.url_of(server)
            clients = await asyncio.gather(*(as_user(url, u) for u in USERS))
            await wait_until(lambda: len(r.clients) == 30)
            await clients[7].send(json.dumps({"type": "edit", "text": "hello"}))
            received = await asyncio.gather(*(c.recv() for c in clients))
            for c in clients:
                await c.close()
            return [json.loads(m) for m in received]

    event = {"type": "event", "epoch": "e1", "seq": 1, "data": {"by": "u7", "text": "hello"}}
    assert run(scenario()) == [event] * 30


def test_concurrent_edits_reach_everyone_in_one_order():
    async def scenario():
        r = room()
        async with snippet.start(r) as server:
            url = snippet.url_of(server)
            clients = [await as_user(url, u) for u in USERS[:8]]
            await wait_until(lambda: len(r.clients) == 8)

            async def write(i, client):
                for j in range(5):
                    await client.send(json.dumps({"type": "edit", "text": f"{i}.{j}"}))

            async def read(client):
                return [json.loads(await client.recv()) for _ in range(40)]

            streams = await asyncio.gather(
                *(read(c) for c in clients), *(write(i, c) for i, c in enumerate(clients))
            )
            for c in clients:
                await c.close()
            return streams[:8]

    streams = run(scenario())
    first = streams[0]
    assert [(e["type"], e["epoch"], e["seq"]) for e in first] == [
        ("event", "e1", n) for n in range(1, 41)
    ]
    assert sorted(e["data"]["text"] for e in first) == sorted(
        f"{i}.{j}" for i in range(8) for j in range(5)
    )
    assert all(stream == first for stream in streams)


def test_the_author_is_the_session_user_whatever_the_message_claims():
    async def scenario():
        async with snippet.start(room()) as server:
            async with as_user(snippet.url_of(server), "bob") as bob:
                forged = {"type": "edit", "text": "pay mallory", "by": "alice"}
                await bob.send(json.dumps(forged))
                return json.loads(await bob.recv())["data"]

    assert run(scenario()) == {"by": "bob", "text": "pay mallory"}


def test_a_browser_authenticates_with_its_session_cookie():
    async def scenario():
        async with snippet.start(room()) as server:
            cookie = {"Cookie": "theme=dark; session=sess_test_alice"}
            url = snippet.url_of(server)
            async with connect(url, origin=ORIGIN, additional_headers=cookie) as alice:
                await alice.send(json.dumps({"type": "edit", "text": "hi"}))
                return json.loads(await alice.recv())["data"]

    assert run(scenario()) == {"by": "alice", "text": "hi"}


def test_a_handshake_without_a_session_is_refused_with_401_before_the_upgrade():
    async def scenario():
        async with snippet.start(room()) as server:
            url = snippet.url_of(server)
            missing = await refusal(url, origin=ORIGIN)
            wrong = await refusal(url, additional_headers={"Authorization": "Bearer nope"})
            cookie = await refusal(url, additional_headers={"Cookie": "session=sess_forged"})
            basic = await refusal(url, additional_headers={"Authorization": "Basic YTpi"})
            return missing, wrong, cookie, basic

    missing, wrong, cookie, basic = run(scenario())
    for response in (missing, wrong, cookie, basic):
        assert_problem(response, 401, "unauthorized")
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    for response in (wrong, cookie, basic):
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_bearer_scheme_is_case_insensitive(scheme):
    async def scenario():
        async with snippet.start(room()) as server:
            headers = {"Authorization": f"{scheme} sess_test_alice"}
            async with connect(snippet.url_of(server), additional_headers=headers) as ws:
                await ws.send(json.dumps({"type": "edit", "text": "x"}))
                return json.loads(await ws.recv())["data"]["by"]

    assert run(scenario()) == "alice"


def test_two_authorization_headers_are_refused_with_400():
    async def scenario():
        async with snippet.start(room()) as server:
            headers = [
                ("Authorization", "Bearer sess_test_alice"),
                ("Authorization", "Bearer sess_test_bob"),
            ]
            return await refusal(snippet.url_of(server), additional_headers=headers)

    assert_problem(run(scenario()), 400, "invalid-request")


def test_a_signed_in_user_who_is_not_a_member_gets_403():
    async def scenario():
        r = snippet.Room(members={"alice"}, epoch="e1")
        async with snippet.start(r) as server:
            headers = {"Authorization": "Bearer sess_test_bob"}
            return await refusal(snippet.url_of(server), additional_headers=headers)

    assert_problem(run(scenario()), 403, "forbidden")


def test_a_foreign_origin_is_refused_even_with_a_valid_cookie():
    """Cross-site WebSocket hijacking: the attacker's page makes the browser send the
    victim's cookie; the Origin check is what refuses it."""

    async def scenario():
        async with snippet.start(room()) as server:
            cookie = {"Cookie": "session=sess_test_alice"}
            url = snippet.url_of(server)
            evil = await refusal(url, origin="https://evil.example", additional_headers=cookie)
            two = [("Origin", ORIGIN), ("Origin", "https://evil.example"), *cookie.items()]
            doubled = await refusal(url, additional_headers=two)
            return evil, doubled

    evil, doubled = run(scenario())
    assert_problem(evil, 403, "forbidden")
    assert_problem(doubled, 403, "forbidden")


def test_the_librarys_own_refusals_are_problem_details_too():
    async def scenario():
        async with snippet.start(room()) as server:
            base = snippet.url_of(server).replace("ws://", "http://")
            auth = {"Authorization": "Bearer sess_test_alice"}
            async with httpx.AsyncClient(headers=auth) as http:
                plain = await http.get(base)  # a browser tab opening the URL
                post = await http.post(base, headers={"Upgrade": "websocket"})
                handshake = {"Upgrade": "websocket", "Connection": "Upgrade"}
                handshake |= {"Sec-WebSocket-Key": "short", "Sec-WebSocket-Version": "13"}
                bad_key = await http.get(base, headers=handshake)
            return plain, post, bad_key

    plain, post, bad_key = run(scenario())
    for response, status, slug in [
        (plain, 426, "upgrade-required"),
        (bad_key, 400, "invalid-request"),
    ]:
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert (response.status_code, body["status"]) == (status, status)
        assert body["type"] == snippet.PROBLEMS + slug
        assert PROBLEM_KEYS <= body.keys()
    assert plain.headers["upgrade"] == "websocket"
    assert post.status_code in (400, 405)  # never a 500, never plain text
    assert post.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '"edit"',
        "null",
        '{"type": "edit"}',
        '{"type": "edit", "text": 5}',
        '{"type": "delete", "text": "x"}',
        '{"text": "x"}',
        "[" * 60000,  # deep nesting: RecursionError in json.loads
        '{"type": "edit", "text": "\\ud800"}',
    ],
)
def test_a_malformed_frame_gets_an_error_message_and_the_connection_stays_open(frame):
    async def scenario():
        r = room()
        async with snippet.start(r) as server:
            async with as_user(snippet.url_of(server), "alice") as ws:
                await ws.send(frame)
                error = json.loads(await ws.recv())
                await ws.send(json.dumps({"type": "edit", "text": "still here"}))
                after = json.loads(await ws.recv())
            return error, after, r.seq

    error, after, seq = run(scenario())
    if frame.endswith('\\ud800"}'):  # a lone surrogate is valid JSON: accepted as text
        assert error["type"] == "event"
        return
    assert error["type"] == "error"
    assert error["problem"]["type"] == snippet.PROBLEMS + "invalid-request"
    assert PROBLEM_KEYS <= error["problem"].keys()
    assert (after["type"], after["seq"], after["data"]["text"]) == ("event", 1, "still here")
    assert seq == 1


def test_a_binary_frame_closes_with_1003():
    async def scenario():
        async with snippet.start(room()) as server:
            async with as_user(snippet.url_of(server), "alice") as ws:
                await ws.send(b'{"type": "edit", "text": "x"}')
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                return ws.close_code

    assert run(scenario()) == 1003


def test_oversized_message_closes_with_1009():
    async def scenario():
        r = room()
        async with snippet.start(r) as server:
            client = await as_user(snippet.url_of(server), "alice", max_size=None)
            text = "x" * snippet.MAX_MESSAGE_BYTES
            await client.send(json.dumps({"type": "edit", "text": text}))
            with pytest.raises(ConnectionClosedError) as caught:
                await client.recv()
            return caught.value.rcvd.code, r.seq

    assert run(scenario()) == (1009, 0)


def test_a_revoked_session_is_closed_with_1008_at_its_next_message(monkeypatch):
    async def scenario():
        r = room()
        async with snippet.start(r) as server:
            async with as_user(snippet.url_of(server), "alice") as ws:
                await ws.send(json.dumps({"type": "edit", "text": "before"}))
                await ws.recv()
                monkeypatch.delitem(snippet.SESSIONS, "sess_test_alice")  # signed out
                await ws.send(json.dumps({"type": "edit", "text": "after"}))
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                return ws.close_code, r.seq

    assert run(scenario()) == (1008, 1)


def test_a_client_that_stops_reading_is_evicted_and_the_others_keep_up():
    limit = 64 * 1024
    chunk = "x" * 60_000

    async def scenario():
        r = room(max_buffer=limit)
        async with snippet.start(r, ping_interval=None) as server:
            url = snippet.url_of(server)
            live = await as_user(url, "alice", max_size=None, compression=None)
            small = socket.create_connection(server.sockets[0].getsockname())
            small.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)  # a slow phone
            frozen = await as_user(url, "bob", max_size=None, compression=None, sock=small)
            await wait_until(lambda: len(r.clients) == 2)
            (frozen_server_side,) = [ws for ws in r.clients if ws.user == "bob"]
            frozen.transport.pause_reading()
            received, peak = [], 0
            for _ in range(500):  # up to 30 MB; the kernel buffers hold about 4
                r.publish({"by": "alice", "text": chunk})
                received.append(json.loads(await live.recv())["seq"])
                peak = max(peak, frozen_server_side.transport.get_write_buffer_size())
                if frozen_server_side not in r.clients:
                    break
            evicted = frozen_server_side not in r.clients
            frozen.transport.resume_reading()
            with pytest.raises(ConnectionClosed):
                while True:
                    await frozen.recv()
            await live.close()
            return evicted, received, peak

    evicted, received, peak = run(scenario())
    assert evicted
    assert received == list(range(1, len(received) + 1))
    assert peak <= limit + 2 * 60_100  # bounded: the limit plus the frame in flight


def test_departed_client_leaves_the_room():
    async def scenario():
        r = room()
        async with snippet.start(r) as server:
            a = await as_user(snippet.url_of(server), "alice")
            b = await as_user(snippet.url_of(server), "bob")
            await wait_until(lambda: len(r.clients) == 2)
            await b.close()
            await wait_until(lambda: len(r.clients) == 1)
            await a.send(json.dumps({"type": "edit", "text": "x"}))
            update = json.loads(await a.recv())
            await a.close()
            await wait_until(lambda: not r.clients)
            return update["data"], len(r.clients)

    assert run(scenario()) == ({"by": "alice", "text": "x"}, 0)


def test_frozen_client_neither_blocks_others_nor_stays_connected():
    async def scenario():
        r = room()
        timing = {"ping_interval": 0.05, "ping_timeout": 0.05, "close_timeout": 0.05}
        async with snippet.start(r, **timing) as server:
            url = snippet.url_of(server)
            live = await as_user(url, "alice")
            frozen = await as_user(url, "bob", ping_interval=None)
            await wait_until(lambda: len(r.clients) == 2)
            frozen.transport.pause_reading()  # stops reading: pings go unanswered
            for n in range(3):
                await live.send(json.dumps({"type": "edit", "text": str(n)}))
                assert json.loads(await live.recv())["seq"] == n + 1
            await wait_until(lambda: len(r.clients) == 1, seconds=5)
            remaining = {ws.user for ws in r.clients}
            frozen.transport.abort()
            await live.close()
            return remaining

    assert run(scenario()) == {"alice"}


def test_a_new_room_has_a_new_epoch():
    assert snippet.Room(members=set()).epoch != snippet.Room(members=set()).epoch


def test_a_client_that_vanishes_mid_conversation_is_not_a_handler_crash(caplog):
    """An abrupt disconnect, an oversized frame or a reply to a client that already left
    end the handler quietly: nothing is logged as a failed connection handler."""

    async def scenario():
        r = room()
        async with snippet.start(r) as server:
            url = snippet.url_of(server)
            rude = await as_user(url, "alice")
            await rude.send("not json")  # the server answers to a socket about to vanish
            rude.transport.abort()
            big = await as_user(url, "bob", max_size=None)
            await big.send("x" * (snippet.MAX_MESSAGE_BYTES + 1))
            with pytest.raises(ConnectionClosed):
                await big.recv()
            await wait_until(lambda: not r.clients)
            await asyncio.sleep(0.05)

    with caplog.at_level("ERROR", logger="websockets"):
        run(scenario())
    assert [r.getMessage() for r in caplog.records] == []


def test_a_text_frame_that_is_not_utf8_closes_with_1007():
    async def scenario():
        r = room()
        async with snippet.start(r) as server:
            async with as_user(snippet.url_of(server), "alice") as ws:
                await ws.send(b'{"type": "edit", "text": "\xff"}', text=True)
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                return ws.close_code, r.seq

    assert run(scenario()) == (1007, 0)
