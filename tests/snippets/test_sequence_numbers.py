"""Sequence numbers: exact catch-up on reconnect, reload when the gap can't be filled."""

import asyncio
import json
import random

import pytest
import sequence_numbers as snippet
from websockets.asyncio.client import connect
from websockets.asyncio.server import broadcast
from websockets.exceptions import InvalidStatus

AUTH = {"Authorization": "Bearer sess_test_alice"}


def at(url, after, epoch="e1", **kwargs):
    """Connect as a signed-in client that has applied everything up to `after`."""
    return connect(f"{url}?epoch={epoch}&after={after}", additional_headers=AUTH, **kwargs)


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
        log = snippet.EventLog(history_size=50, epoch="e1")
        async with snippet.start(log) as server:
            url = snippet.events_url(server)
            for n in range(before):
                log.publish({"n": n})
            async with at(url, 0) as ws:
                first = await read_events(ws, before)
            last_seq = first[-1]["seq"] if first else 0
            for n in range(before, before + missed):
                log.publish({"n": n})  # nobody is listening
            async with at(url, last_seq) as ws:
                caught_up = await read_events(ws, missed)
                await wait_subscribed(log, 1)
                log.publish({"n": "live"})
                live = json.loads(await ws.recv())
            return first, caught_up, live

    first, caught_up, live = run(scenario())
    assert [e["seq"] for e in first] == list(range(1, before + 1))
    assert caught_up == [
        {"type": "event", "epoch": "e1", "seq": before + 1 + i, "data": {"n": before + i}}
        for i in range(missed)
    ]
    assert live == {
        "type": "event",
        "epoch": "e1",
        "seq": before + missed + 1,
        "data": {"n": "live"},
    }


def test_catch_up_racing_live_publishing_has_no_gap_and_no_duplicate():
    rng = random.Random(6455)
    total = 300

    async def scenario():
        log = snippet.EventLog(history_size=total, epoch="e1")
        async with snippet.start(log) as server:
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
                async with at(url, after) as ws:
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
        log = snippet.EventLog(history_size=5, epoch="e1")  # keeps 8..12 after 12 events
        async with snippet.start(log) as server:
            for n in range(12):
                log.publish({"n": n})
            url = snippet.events_url(server)
            async with at(url, 6) as ws:  # needs 7: gone
                reload = json.loads(await ws.recv())
                await ws.wait_closed()
                closed = (ws.close_code, ws.close_reason)
            async with at(url, 7) as ws:  # needs 8: still there
                fillable = [e["seq"] for e in await read_events(ws, 5)]
            return reload, closed, fillable

    reload, closed, fillable = run(scenario())
    assert reload == {"type": "reload", "epoch": "e1", "seq": 12}
    assert closed == (snippet.RELOAD, "reload the snapshot")
    assert 4000 <= snippet.RELOAD <= 4999  # an application code a client can act on
    assert fillable == [8, 9, 10, 11, 12]


def test_client_ahead_of_a_restarted_server_is_told_to_reload():
    async def scenario():
        log = snippet.EventLog(epoch="e1")
        async with snippet.start(log) as server:
            log.publish({"n": 0})
            async with at(snippet.events_url(server), 4096) as ws:
                return json.loads(await ws.recv())

    assert run(scenario()) == {"type": "reload", "epoch": "e1", "seq": 1}


def test_follower_detects_a_lost_event_and_fills_it_on_reconnect():
    async def scenario():
        log = snippet.EventLog(epoch="e1")
        async with snippet.start(log) as server:
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
        log = snippet.EventLog(epoch="e1")
        async with snippet.start(log) as server:
            follower = snippet.Follower()
            task = asyncio.create_task(follower.follow(snippet.events_url(server), count=3))
            await wait_subscribed(log, 1)
            for n in range(3):
                log.publish({"n": n})
                broadcast(log.subscribers, log.history[-1][1])  # delivered twice
            return await task, follower.seen

    assert run(scenario()) == ("ok", [1, 2, 3])


@pytest.mark.parametrize(
    "query",
    [
        "after=abc",
        "after=-1",
        "after=%2B5",
        "after=1.5",
        "after=",
        "after=%D9%A3",
        "after=" + "9" * 40,
        "after=1&after=2",
        "epoch=e1&epoch=e2&after=1",
    ],
)
def test_a_malformed_position_is_refused_with_a_400_problem_before_the_upgrade(query):
    async def scenario():
        log = snippet.EventLog(epoch="e1")
        async with snippet.start(log) as server:
            url = f"{snippet.events_url(server)}?{query}"
            with pytest.raises(InvalidStatus) as caught:
                await connect(url, additional_headers=AUTH)
            return caught.value.response

    response = run(scenario())
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    body = json.loads(response.body)
    assert body["type"] == snippet.PROBLEMS + "invalid-request"
    assert (body["status"], body["retryable"]) == (400, False)


def test_a_restarted_server_that_caught_up_still_tells_the_client_to_reload():
    """Without an epoch, `after=5` looks fine to a new server that has published 8 events
    of a different history, and the client would silently skip its events 1 to 5."""

    async def scenario():
        old = snippet.EventLog(epoch="e1")
        async with snippet.start(old) as server:
            for n in range(5):
                old.publish({"n": n})
            follower = snippet.Follower()
            await follower.follow(snippet.events_url(server), count=5)
        new = snippet.EventLog()  # restart: history lost, a fresh random epoch
        async with snippet.start(new) as server:
            for n in range(8):
                new.publish({"n": f"new {n}"})
            async with at(snippet.events_url(server), 5, epoch=follower.epoch) as ws:
                reload = json.loads(await ws.recv())
                await ws.wait_closed()
                code = ws.close_code
            outcome = await follower.follow(snippet.events_url(server), count=1)
            return new.epoch, reload, code, outcome, follower.seen

    epoch, reload, code, outcome, seen = run(scenario())
    assert epoch != "e1"
    assert reload == {"type": "reload", "epoch": epoch, "seq": 8}
    assert code == snippet.RELOAD
    assert (outcome, seen) == ("reload the snapshot", [1, 2, 3, 4, 5])


def test_a_fresh_client_joins_any_epoch_from_zero():
    async def scenario():
        log = snippet.EventLog()
        async with snippet.start(log) as server:
            log.publish({"n": 0})
            follower = snippet.Follower()
            outcome = await follower.follow(snippet.events_url(server), count=1)
            return outcome, follower.epoch == log.epoch, follower.seen

    assert run(scenario()) == ("ok", True, [1])


def test_the_follower_refuses_events_of_another_epoch():
    async def scenario():
        log = snippet.EventLog(epoch="e2")
        async with snippet.start(log) as server:
            follower = snippet.Follower()
            follower.epoch, follower.last_seq = "e1", 0  # knows e1, position 0
            task = asyncio.create_task(follower.follow(snippet.events_url(server), count=1))
            await wait_subscribed(log, 1)
            log.publish({"n": 0})
            return await task

    assert run(scenario()) == "reload the snapshot"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sess_forged"}])
def test_an_unauthenticated_handshake_gets_a_401_problem(headers):
    async def scenario():
        async with snippet.start(snippet.EventLog()) as server:
            with pytest.raises(InvalidStatus) as caught:
                await connect(snippet.events_url(server), additional_headers=headers)
            return caught.value.response

    response = run(scenario())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api"')
    assert json.loads(response.body)["type"] == snippet.PROBLEMS + "unauthorized"


def test_the_bearer_scheme_is_case_insensitive_and_two_credentials_are_refused():
    async def scenario():
        async with snippet.start(snippet.EventLog()) as server:
            url = snippet.events_url(server)
            async with connect(url, additional_headers={"Authorization": "bEaReR sess_test_alice"}):
                pass
            two = [("Authorization", "Bearer sess_test_alice")] * 2
            with pytest.raises(InvalidStatus) as caught:
                await connect(url, additional_headers=two)
            return caught.value.response.status_code

    assert run(scenario()) == 400


def test_the_follower_rides_out_a_drop_with_a_jittered_wait_and_misses_nothing():
    async def scenario():
        log = snippet.EventLog(history_size=50, epoch="e1")
        follower, waits = snippet.Follower(), []

        async def sleep(seconds):  # while the client waits, the stream moves on without it
            waits.append(seconds)
            log.publish({"n": 2})
            log.publish({"n": 3})

        async with snippet.start(log) as server:
            url = snippet.events_url(server)
            task = asyncio.create_task(follower.keep_following(url, 3, random.Random(7), sleep))
            await wait_subscribed(log, 1)
            log.publish({"n": 1})
            async with asyncio.timeout(2):
                while follower.seen != [1]:
                    await asyncio.sleep(0.001)
            for ws in list(log.subscribers):
                await ws.close(1012, "service restart")  # the server drops every connection
            return await task, follower.seen, waits

    outcome, seen, waits = run(scenario())
    assert (outcome, seen) == ("ok", [1, 2, 3])
    assert len(waits) == 1 and 0 <= waits[0] <= 0.5


def test_reconnect_waits_are_random_and_grow_to_a_cap_while_the_server_is_down():
    class Stop(Exception):
        pass

    async def scenario():
        async with snippet.start(snippet.EventLog(epoch="e1")) as server:
            url = snippet.events_url(server)  # the port is free again once the server stops
        waits = []

        async def sleep(seconds):
            waits.append(seconds)
            if len(waits) == 9:
                raise Stop

        with pytest.raises(Stop):
            await snippet.Follower().keep_following(url, 1, random.Random(3), sleep)
        return waits

    waits = run(scenario())
    caps = [min(30.0, 0.5 * 2**n) for n in range(1, 10)]
    assert all(0 <= wait <= cap for wait, cap in zip(waits, caps, strict=True))
    assert len(set(waits)) == len(waits)  # jittered: no two clients wait in step
    assert max(waits[5:]) > 4  # the waits grow: not a fixed short delay
