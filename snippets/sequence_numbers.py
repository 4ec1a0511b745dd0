"""Sequence numbers: every event carries its stream's epoch and a number, so a
reconnecting client asks for exactly what it missed, or is told to reload when that
can't be done."""

import asyncio
import json
import re
import secrets
from collections import deque
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

HISTORY_SIZE = 1000  # events kept for catch-up; older gaps need the snapshot
RELOAD = 4000  # close code (RFC 6455 §7.4.2 private range): reload the snapshot
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_JSON = "application/problem+json"
TYPES = {  # status -> registered problem type (data/problem-types.yml): slug, title
    400: ("invalid-request", "Invalid request"),
    401: ("unauthorized", "Unauthorized"),
    405: ("method-not-allowed", "Method not allowed"),
    426: ("upgrade-required", "Upgrade required"),
}
SESSIONS = {"sess_test_alice": "alice"}  # server-side session store


def refuse(status: int, detail: str, *extra: tuple[str, str]) -> Response:
    """An HTTP answer before the upgrade, as problem details."""
    slug, title = TYPES[status]
    body = json.dumps({"type": PROBLEMS + slug, "title": title, "status": status,
                       "detail": detail, "retryable": False}).encode()  # fmt: skip
    headers = [("Content-Type", PROBLEM_JSON), ("Content-Length", str(len(body)))]
    phrase = HTTPStatus(status).phrase
    return Response(status, phrase, Headers([*headers, *extra]), body)


def as_problem(ws: ServerConnection, request: Request, response: Response):
    """process_response: the library's own refusals become problem details too."""
    status, content_type = response.status_code, response.headers.get("Content-Type")
    if status in TYPES and content_type != PROBLEM_JSON:
        kept = [h for h in response.headers.raw_items() if h[0] in ("Allow", "Upgrade")]
        return refuse(status, response.body.decode().split("\n")[0], *kept)
    return None


class EventLog:
    def __init__(self, history_size: int = HISTORY_SIZE, epoch: str = "") -> None:
        self.epoch = epoch or secrets.token_hex(4)  # a new history gets a new epoch
        self.seq = 0
        self.history: deque[tuple[int, str]] = deque(maxlen=history_size)
        self.subscribers: set[ServerConnection] = set()

    def publish(self, data: dict) -> None:
        self.seq += 1
        event = {"type": "event", "epoch": self.epoch, "seq": self.seq, "data": data}
        self.history.append((self.seq, json.dumps(event)))
        broadcast(self.subscribers, self.history[-1][1])

    def missed_since(self, epoch: str | None, after: int) -> list[str] | None:
        """Events after `after`, or None if this history can't continue the client's."""
        if after and epoch != self.epoch:  # another history: other events, same numbers
            return None
        oldest = self.history[0][0] if self.history else self.seq + 1
        if after > self.seq or after + 1 < oldest:  # ahead of us, or too old
            return None
        return [event for seq, event in self.history if seq > after]

    def admit(self, ws: ServerConnection, request: Request) -> Response | None:
        """process_request: authenticate, and refuse a malformed position with a 400."""
        auth = request.headers.get_all("Authorization")
        if len(auth) > 1:
            return refuse(400, "Send one Authorization header.")
        scheme, _, token = auth[0].partition(" ") if auth else ("", "", "")
        if scheme.lower() != "bearer" or token not in SESSIONS:
            error = ', error="invalid_token"' if auth else ""
            challenge = ("WWW-Authenticate", f'Bearer realm="api"{error}')
            return refuse(401, "Sign in first.", challenge)
        query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
        after, epoch = query.get("after", ["0"]), query.get("epoch", [None])
        if (
            len(after) > 1
            or len(epoch) > 1
            or not re.fullmatch(r"[0-9]{1,18}", after[0])
        ):
            return refuse(400, "after must be one integer >= 0, epoch at most once.")
        ws.epoch, ws.after = epoch[0], int(after[0])
        return None

    async def handler(self, ws: ServerConnection) -> None:
        missed = self.missed_since(ws.epoch, ws.after)
        if missed is None:
            reload = {"type": "reload", "epoch": self.epoch, "seq": self.seq}
            broadcast([ws], json.dumps(reload))  # never raises if the client has gone
            return await ws.close(RELOAD, "reload the snapshot")
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
    """Client side: remembers the epoch and the last number it applied, and checks
    every event."""

    def __init__(self) -> None:
        self.epoch, self.last_seq = "", 0
        self.seen: list[int] = []

    async def follow(self, url: str, count: int) -> str:
        position = f"{url}?epoch={self.epoch}&after={self.last_seq}"
        auth = {"Authorization": "Bearer sess_test_alice"}
        async with connect(position, additional_headers=auth) as ws:
            while count:
                message = json.loads(await ws.recv())
                if message["type"] == "reload":
                    return "reload the snapshot"
                if self.epoch and message["epoch"] != self.epoch:
                    return "reload the snapshot"  # another history: our state is stale
                if message["seq"] <= self.last_seq:
                    continue  # a duplicate: already applied
                if message["seq"] != self.last_seq + 1:
                    return "gap"  # reconnect with ?after=last_seq
                self.epoch, self.last_seq = message["epoch"], message["seq"]
                self.seen.append(self.last_seq)
                count -= 1
        return "ok"

    async def keep_following(
        self, url: str, count: int, rng, sleep=asyncio.sleep
    ) -> str:
        """Follow through drops and gaps: reconnect from `last_seq` after a
        random wait of up to 0.5, 1, 2 ... s (capped at 30), from 0.5 s again
        once events flow."""
        failures = 0
        while True:
            before = len(self.seen)
            try:
                outcome = await self.follow(url, count)
            except (OSError, ConnectionClosed):
                outcome = "dropped"
            count -= len(self.seen) - before
            if outcome not in ("dropped", "gap"):
                return outcome
            failures = 0 if len(self.seen) > before else failures + 1
            await sleep(rng.uniform(0, min(30.0, 0.5 * 2**failures)))


def start(log: EventLog):
    """Serve the stream on 127.0.0.1 and a free port (use it with `async with`)."""
    return serve(log.handler, "127.0.0.1", 0, process_request=log.admit,
                 process_response=as_problem)  # fmt: skip


def events_url(server) -> str:
    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/events"


async def demo() -> None:
    log = EventLog(history_size=4, epoch="e1")
    async with start(log) as server:
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

    restarted = EventLog(epoch="e2")  # the server restarts and loses its history
    async with start(restarted) as server:
        for n in range(8):  # ... and publishes past the phone's position
            restarted.publish({"cell": "B1", "value": n})
        print("phone", await phone.follow(events_url(server), count=1), phone.seen[-1])
        #> phone reload the snapshot 6


if __name__ == "__main__":
    asyncio.run(demo())
