"""Behaviour of the WebSocket channel: fan-out to every client, one order, hostile inputs."""

import asyncio
import json

import pytest
import websocket_channel as snippet
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus


def run(scenario):
    """Run one scenario; a lost message fails it within 5 s instead of hanging."""
    return asyncio.run(asyncio.wait_for(scenario, 5))


ORIGIN = "https://app.example.com"


def test_update_pushed_to_every_connected_client():
    async def scenario():
        room = snippet.Room()
        async with snippet.start(room) as server:
            url = snippet.url_of(server)
            clients = await asyncio.gather(*(connect(url, origin=ORIGIN) for _ in range(30)))
            while len(room.clients) < 30:
                await asyncio.sleep(0.001)
            await clients[7].send(json.dumps({"by": "u7", "text": "hello"}))
            received = await asyncio.gather(*(c.recv() for c in clients))
            for c in clients:
                await c.close()
            return [json.loads(m) for m in received]

    received = run(scenario())
    assert received == [{"version": 1, "by": "u7", "text": "hello"}] * 30


def test_concurrent_edits_reach_everyone_in_one_order():
    async def scenario():
        room = snippet.Room()
        async with snippet.start(room) as server:
            url = snippet.url_of(server)
            clients = [await connect(url, origin=ORIGIN) for _ in range(8)]
            while len(room.clients) < 8:
                await asyncio.sleep(0.001)

            async def write(i, client):
                for j in range(5):
                    await client.send(json.dumps({"by": f"u{i}", "text": f"{i}.{j}"}))

            async def read(client):
                return [json.loads(await client.recv()) for _ in range(40)]

            streams = await asyncio.gather(
                *(read(c) for c in clients),
                *(write(i, c) for i, c in enumerate(clients)),
            )
            for c in clients:
                await c.close()
            return streams[:8]

    streams = run(scenario())
    first = streams[0]
    assert [u["version"] for u in first] == list(range(1, 41))
    assert sorted(u["text"] for u in first) == sorted(
        f"{i}.{j}" for i in range(8) for j in range(5)
    )
    assert all(stream == first for stream in streams)


def test_departed_client_leaves_the_room():
    async def scenario():
        room = snippet.Room()
        async with snippet.start(room) as server:
            a = await connect(snippet.url_of(server), origin=ORIGIN)
            b = await connect(snippet.url_of(server), origin=ORIGIN)
            while len(room.clients) < 2:
                await asyncio.sleep(0.001)
            await b.close()
            while len(room.clients) > 1:
                await asyncio.sleep(0.001)
            await a.send(json.dumps({"by": "a", "text": "x"}))
            update = json.loads(await a.recv())
            await a.close()
            async with asyncio.timeout(1):
                while room.clients:
                    await asyncio.sleep(0.001)
            return update, len(room.clients)

    assert run(scenario()) == ({"version": 1, "by": "a", "text": "x"}, 0)


def test_frozen_client_neither_blocks_others_nor_stays_connected():
    async def scenario():
        room = snippet.Room()
        timing = {"ping_interval": 0.05, "ping_timeout": 0.05, "close_timeout": 0.05}
        async with snippet.start(room, **timing) as server:
            url = snippet.url_of(server)
            live = await connect(url, origin=ORIGIN)
            frozen = await connect(url, origin=ORIGIN, ping_interval=None)
            while len(room.clients) < 2:
                await asyncio.sleep(0.001)
            frozen.transport.pause_reading()  # stops reading: pings go unanswered
            for n in range(3):
                await live.send(json.dumps({"by": "live", "text": str(n)}))
                assert json.loads(await live.recv())["version"] == n + 1
            await asyncio.sleep(0.4)
            remaining = len(room.clients)
            frozen.transport.abort()
            await live.close()
            return remaining

    assert run(scenario()) == 1


def test_foreign_origin_is_rejected_with_403():
    async def scenario():
        async with snippet.start(snippet.Room()) as server:
            with pytest.raises(InvalidStatus) as caught:
                await connect(snippet.url_of(server), origin="https://evil.example")
            return caught.value.response.status_code

    assert run(scenario()) == 403


def test_oversized_message_closes_with_1009():
    async def scenario():
        room = snippet.Room()
        async with snippet.start(room) as server:
            client = await connect(snippet.url_of(server), origin=ORIGIN, max_size=None)
            text = "x" * snippet.MAX_MESSAGE_BYTES
            await client.send(json.dumps({"by": "mallory", "text": text}))
            with pytest.raises(ConnectionClosedError) as caught:
                await client.recv()
            return caught.value.rcvd.code, room.version

    assert run(scenario()) == (1009, 0)
