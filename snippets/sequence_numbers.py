"""Sequence numbers: every event carries one, so a reconnecting client asks for exactly
what it missed, or is told to reload the snapshot when the server can't fill the gap."""

import asyncio
import json
from collections import deque
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

HISTORY_SIZE = 1000  # events kept for catch-up; older gaps need the snapshot


class EventLog:
    def __init__(self, history_size: int = HISTORY_SIZE) -> None:
        self.seq = 0
        self.history: deque[tuple[int, str]] = deque(maxlen=history_size)
        self.subscribers: set[ServerConnection] = set()

    def publish(self, data: dict) -> None:
        self.seq += 1
        event = json.dumps({"type": "event", "seq": self.seq, "data": data})
        self.history.append((self.seq, event))
        broadcast(self.subscribers, event)

    def missed_since(self, after: int) -> list[str] | None:
        """Events after `after`, or None if the history no longer reaches back."""
        oldest = self.history[0][0] if self.history else self.seq + 1
        if after > self.seq or after + 1 < oldest:  # server restarted, or too old
            return None
        return [event for seq, event in self.history if seq > after]

    async def handler(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        try:
            missed = self.missed_since(int(query.get("after", ["0"])[0]))
        except ValueError:
            return await ws.close(1008, "after must be an integer")
        if missed is None:
            await ws.send(json.dumps({"type": "reload", "seq": self.seq}))
            return await ws.close(1000, "reload the snapshot")
        # Replay and subscribe with no await in between: an event published now
        # can neither slip between the backlog and the live stream nor come twice.
        for event in missed:
            broadcast([ws], event)
        self.subscribers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            self.subscribers.discard(ws)


class Follower:
    """Client side: remembers the last sequence number and checks every event."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.seen: list[int] = []

    async def follow(self, url: str, count: int) -> str:
        async with connect(f"{url}?after={self.last_seq}") as ws:
            while count:
                message = json.loads(await ws.recv())
                if message["type"] == "reload":
                    return "reload the snapshot"
                if message["seq"] <= self.last_seq:
                    continue  # a duplicate: already applied
                if message["seq"] != self.last_seq + 1:
                    return "gap"  # reconnect with ?after=last_seq
                self.last_seq = message["seq"]
                self.seen.append(self.last_seq)
                count -= 1
        return "ok"


def events_url(server) -> str:
    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/events"


async def demo() -> None:
    log = EventLog(history_size=4)
    async with serve(log.handler, "127.0.0.1", 0) as server:
        url = events_url(server)
        laptop, phone = Follower(), Follower()
        log.publish({"cell": "A1", "value": "draft"})
        print("laptop", await laptop.follow(url, count=1), laptop.seen)
        #> laptop ok [1]
        for value in ["v2", "v3"]:
            log.publish({"cell": "A1", "value": value})
        print("phone", await phone.follow(url, count=3), phone.seen)
        #> phone ok [1, 2, 3]

        for value in ["v4", "v5", "v6"]:  # both devices are offline now
            log.publish({"cell": "A1", "value": value})
        print("phone", await phone.follow(url, count=3), phone.seen)
        #> phone ok [1, 2, 3, 4, 5, 6]
        # The laptop missed 2..6 but the server keeps only the last 4 events (3..6).
        print("laptop", await laptop.follow(url, count=5), laptop.seen)
        #> laptop reload the snapshot [1]


if __name__ == "__main__":
    asyncio.run(demo())
