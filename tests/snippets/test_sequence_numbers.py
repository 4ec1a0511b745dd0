"""Sequence numbers: exact catch-up on reconnect, reload when the gap can't be filled."""

import asyncio
import json
import random

import pytest
import sequence_numbers as snippet
from websockets.asyncio.client import connect
from websockets.asyncio.server import broadcast, serve


def run(scenario):
    """Run one scenario; a lost message fails it within 5 s instead of hanging."""
    return asyncio.run(asyncio.wait_for(scenario, 5))


async def read_events(ws, count):
    async with asyncio.timeout(3):  # a lost event fails the test instead of hanging
        return [json.loads(await ws.recv()) for _ in range(count)]


async def wait_subscribed(log, count):
    async with asyncio.timeout(2):
        while len(log.subscribers) < count:
            await asyncio.sleep(0.001)


@pytest.mark.parametrize("before,missed", [(0, 1), (3, 4), (10, 25), (7, 0)])
def test_reconnect_receives_exactly_the_missed_events_in_order(before, missed):
    async def scenario():
        log = snippet.EventLog(history_size=50)
        async with serve(log.handler, "127.0.0.1", 0) as server:
            url = snippet.events_url(server)
            for n in range(before):
                log.publish({"n": n})
            async with connect(f"{url}?after=0") as ws:
                first = await read_events(ws, before)
            last_seq = first[-1]["seq"] if first else 0
            for n in range(before, before + missed):
                log.publish({"n": n})  # nobody is listening
            async with connect(f"{url}?after={last_seq}") as ws:
                caught_up = await read_events(ws, missed)
                await wait_subscribed(log, 1)
                log.publish({"n": "live"})
                live = json.loads(await ws.recv())
            return first, caught_up, live

    first, caught_up, live = run(scenario())
    assert [e["seq"] for e in first] == list(range(1, before + 1))
    assert caught_up == [
        {"type": "event", "seq": before + 1 + i, "data": {"n": before + i}} for i in range(missed)
    ]
    assert live == {"type": "event", "seq": before + missed + 1, "data": {"n": "live"}}


def test_catch_up_racing_live_publishing_has_no_gap_and_no_duplicate():
    rng = random.Random(6455)
    total = 300

    async def scenario():
        log = snippet.EventLog(history_size=total)
        async with serve(log.handler, "127.0.0.1", 0) as server:
            url = snippet.events_url(server)

            async def publisher():
                for n in range(total):
                    log.publish({"n": n})
                    if n % 3 == 0:
                        await asyncio.sleep(0)

            async def reconnecting_client(delay_turns):
                for _ in range(delay_turns):
                    await asyncio.sleep(0)
                after = rng.randint(0, log.seq)
                async with connect(f"{url}?after={after}") as ws:
                    events = await read_events(ws, total - after)
                return after, [e["seq"] for e in events]

            results = await asyncio.gather(
                *(reconnecting_client(rng.randint(0, 120)) for _ in range(20)),
                publisher(),
            )
            return results[:20]

    results = run(scenario())
    assert len({after for after, _ in results}) > 5  # they really joined at many points
    for after, seqs in results:
        assert seqs == list(range(after + 1, total + 1))


def test_gap_older_than_the_history_is_answered_with_reload():
    async def scenario():
        log = snippet.EventLog(history_size=5)  # keeps 8..12 after 12 events
        async with serve(log.handler, "127.0.0.1", 0) as server:
            for n in range(12):
                log.publish({"n": n})
            url = snippet.events_url(server)
            async with connect(f"{url}?after=6") as ws:  # needs 7: gone
                reload = json.loads(await ws.recv())
                await ws.wait_closed()
                closed = (ws.close_code, ws.close_reason)
            async with connect(f"{url}?after=7") as ws:  # needs 8: still there
                fillable = [e["seq"] for e in await read_events(ws, 5)]
            return reload, closed, fillable

    reload, closed, fillable = run(scenario())
    assert reload == {"type": "reload", "seq": 12}
    assert closed == (1000, "reload the snapshot")
    assert fillable == [8, 9, 10, 11, 12]


def test_client_ahead_of_a_restarted_server_is_told_to_reload():
    async def scenario():
        log = snippet.EventLog()
        async with serve(log.handler, "127.0.0.1", 0) as server:
            log.publish({"n": 0})
            async with connect(f"{snippet.events_url(server)}?after=4096") as ws:
                return json.loads(await ws.recv())

    assert run(scenario()) == {"type": "reload", "seq": 1}


def test_follower_detects_a_lost_event_and_fills_it_on_reconnect():
    async def scenario():
        log = snippet.EventLog()
        async with serve(log.handler, "127.0.0.1", 0) as server:
            url = snippet.events_url(server)
            follower = snippet.Follower()
            log.publish({"n": 1})
            task = asyncio.create_task(follower.follow(url, count=3))
            await wait_subscribed(log, 1)
            (ws,) = log.subscribers
            log.subscribers.discard(ws)  # a lossy hop drops event 2 for this client
            log.publish({"n": 2})
            log.subscribers.add(ws)
            log.publish({"n": 3})
            first = await task
            seen_before = list(follower.seen)
            second = await follower.follow(url, count=2)
            return first, seen_before, second, follower.seen

    first, seen_before, second, seen = run(scenario())
    assert (first, seen_before) == ("gap", [1])
    assert (second, seen) == ("ok", [1, 2, 3])


def test_follower_skips_duplicated_events():
    async def scenario():
        log = snippet.EventLog()
        async with serve(log.handler, "127.0.0.1", 0) as server:
            follower = snippet.Follower()
            task = asyncio.create_task(follower.follow(snippet.events_url(server), count=3))
            await wait_subscribed(log, 1)
            for n in range(3):
                log.publish({"n": n})
                broadcast(log.subscribers, log.history[-1][1])  # delivered twice
            return await task, follower.seen

    assert run(scenario()) == ("ok", [1, 2, 3])


def test_malformed_position_is_refused_with_1008():
    async def scenario():
        log = snippet.EventLog()
        async with serve(log.handler, "127.0.0.1", 0) as server:
            async with connect(f"{snippet.events_url(server)}?after=abc") as ws:
                await ws.wait_closed()
                return ws.close_code, ws.close_reason

    assert run(scenario()) == (1008, "after must be an integer")
