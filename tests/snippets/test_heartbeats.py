"""Heartbeats: a silent peer is dropped within the window, a live one is kept."""

import asyncio
import time

import heartbeats as snippet
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError


def run(scenario):
    """Run one scenario; a lost message fails it within 5 s instead of hanging."""
    return asyncio.run(asyncio.wait_for(scenario, 5))


SCALE = 0.005  # 20 s -> 0.1 s, 10 s -> 0.05 s, 5 s -> 0.025 s
INTERVAL = snippet.PING_INTERVAL * SCALE
TIMEOUT = snippet.PING_TIMEOUT * SCALE
WINDOW = (snippet.PING_INTERVAL + snippet.PING_TIMEOUT + snippet.CLOSE_TIMEOUT) * SCALE
SLACK = 0.5  # scheduling jitter on a busy machine


async def wait_online(presence, count):
    async with asyncio.timeout(2):
        while len(presence.online) < count:
            await asyncio.sleep(0.001)


def test_production_interval_fits_under_idle_timeouts():
    assert 20 <= snippet.PING_INTERVAL <= 30
    assert snippet.PING_INTERVAL + snippet.PING_TIMEOUT < 60


def test_silent_client_is_dropped_within_the_window():
    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence, SCALE) as server:
            client = await connect(snippet.user_url(server, "bob"), ping_interval=None)
            await wait_online(presence, 1)
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
            users = [f"u{i}" for i in range(10)]
            clients = [await connect(snippet.user_url(server, u)) for u in users]
            await wait_online(presence, 10)
            await asyncio.sleep(8 * INTERVAL)  # eight ping rounds, no recv() anywhere
            online = sorted(presence.online)
            states = {c.state.name for c in clients}
            for c in clients:
                await c.close()
            return online, states, presence.dropped.qsize()

    online, states, dropped = run(scenario())
    assert online == sorted(f"u{i}" for i in range(10))
    assert states == {"OPEN"}
    assert dropped == 0


def test_only_the_frozen_clients_are_dropped():
    frozen_users = {"u2", "u5", "u6", "u11", "u17"}

    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence, SCALE) as server:
            clients = {}
            for i in range(20):
                user = f"u{i}"
                clients[user] = await connect(snippet.user_url(server, user), ping_interval=None)
            await wait_online(presence, 20)
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
    assert online == {f"u{i}" for i in range(20)} - frozen_users
    assert extra == 0


def test_client_detects_a_server_that_went_silent():
    async def scenario():
        presence = snippet.Presence()
        async with snippet.start(presence, scale=1.0) as server:  # server never pings
            client = await connect(
                snippet.user_url(server, "carol"),
                ping_interval=INTERVAL,
                ping_timeout=TIMEOUT,
                close_timeout=TIMEOUT,
            )
            await wait_online(presence, 1)
            presence.online["carol"].transport.pause_reading()
            started = time.monotonic()
            with pytest.raises(ConnectionClosedError) as caught:
                async with asyncio.timeout(WINDOW + SLACK):
                    await client.recv()
            elapsed = time.monotonic() - started
            presence.online["carol"].transport.abort()
            return caught.value.sent.reason, elapsed

    reason, elapsed = run(scenario())
    assert reason == "keepalive ping timeout"
    assert elapsed <= INTERVAL + 2 * TIMEOUT + SLACK
