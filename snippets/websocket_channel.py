"""A WebSocket channel: each client keeps one authenticated connection open, and the
server orders every accepted edit and pushes it to every connected client."""

import asyncio
import json
import secrets
from http import HTTPStatus
from http.cookies import SimpleCookie

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response

PROBLEMS = "https://api.example.com/problems/"
PROBLEM_JSON = "application/problem+json"
TYPES = {  # status -> registered problem type (data/problem-types.yml): slug, title
    400: ("invalid-request", "Invalid request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    405: ("method-not-allowed", "Method not allowed"),
    426: ("upgrade-required", "Upgrade required"),
}
ALLOWED_ORIGINS = ["https://app.example.com", None]  # None: non-browser clients
MAX_MESSAGE_BYTES = 65536  # larger frames close the connection with 1009
MAX_BUFFER_BYTES = 1_048_576  # a client with more unsent bytes than this is dropped
PING_INTERVAL = 20  # seconds; see the heartbeats pattern
PING_TIMEOUT = 10
SESSIONS = {"sess_test_alice": "alice", "sess_test_bob": "bob"}  # server-side store


def problem(status: int, detail: str) -> dict:
    slug, title = TYPES[status]
    return {"type": PROBLEMS + slug, "title": title, "status": status,
            "detail": detail, "retryable": False}  # fmt: skip


def refuse(status: int, detail: str, *extra: tuple[str, str]) -> Response:
    """An HTTP answer before the upgrade, as problem details."""
    body = json.dumps(problem(status, detail)).encode()
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


class Room:
    """The open connections of one document; the server is the single sequencer."""

    def __init__(self, members: set[str], epoch: str = "", max_buffer=MAX_BUFFER_BYTES):
        self.members, self.max_buffer = members, max_buffer
        self.epoch = epoch or secrets.token_hex(4)  # new history, new epoch
        self.clients: set[ServerConnection] = set()
        self.seq = 0

    def admit(self, ws: ServerConnection, request: Request) -> Response | None:
        """process_request: who is this, and may they join this room? Before the 101."""
        origins = request.headers.get_all("Origin") or [None]
        if len(origins) > 1 or origins[0] not in ALLOWED_ORIGINS:
            return refuse(403, "This Origin may not open the channel.")
        if len(request.headers.get_all("Authorization")) > 1:
            return refuse(400, "Send one Authorization header.")
        ws.token = credential(request)
        ws.user = SESSIONS.get(ws.token or "")  # identity from the server's store
        if ws.user is None:
            error = "" if ws.token is None else ', error="invalid_token"'
            challenge = ("WWW-Authenticate", f'Bearer realm="api"{error}')
            return refuse(401, "Sign in to join.", challenge)
        if ws.user not in self.members:
            return refuse(403, "You are not a member of this document.")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        self.clients.add(ws)
        try:
            async for message in ws:
                if SESSIONS.get(ws.token) != ws.user:  # re-checked on every message
                    return await ws.close(1008, "session ended")
                if isinstance(message, bytes):
                    return await ws.close(1003, "text frames only")  # RFC 6455 §7.4.1
                text = read_edit(message)
                if text is None:
                    error = problem(400, 'Expected {"type": "edit", "text": "..."}.')
                    await ws.send(json.dumps({"type": "error", "problem": error}))
                else:  # the author is the session's user, never a field of the message
                    self.publish({"by": ws.user, "text": text})
        except ConnectionClosed:
            pass  # the client left, or broke a limit (1009): not a server failure
        finally:
            self.clients.discard(ws)

    def publish(self, data: dict) -> None:
        self.seq += 1
        event = {"type": "event", "epoch": self.epoch, "seq": self.seq, "data": data}
        for ws in list(self.clients):
            if ws.transport.get_write_buffer_size() > self.max_buffer:
                self.clients.discard(ws)  # too far behind: drop it, it reconnects
                ws.transport.abort()  # and catches up (see sequence numbers)
        # Synchronous write to every open connection: one slow client never delays
        # the others, and all clients see the same order.
        broadcast(self.clients, json.dumps(event))


def credential(request: Request) -> str | None:
    """The bearer token, or a browser's session cookie (it cannot set Authorization)."""
    if auth := request.headers.get_all("Authorization"):
        scheme, _, token = auth[0].partition(" ")
        return token if scheme.lower() == "bearer" else ""
    cookie = SimpleCookie("; ".join(request.headers.get_all("Cookie")))
    return cookie["session"].value if "session" in cookie else None


def read_edit(message: str) -> str | None:
    """The text of a well-formed edit, or None for anything else."""
    try:
        edit = json.loads(message)
        text = edit["text"] if edit["type"] == "edit" else None
    except (ValueError, TypeError, KeyError, RecursionError):  # not JSON, not an object
        return None
    return text if isinstance(text, str) else None


def start(room: Room, **timing: float):
    """Serve the room on 127.0.0.1 and a free port (use it with `async with`)."""
    timing = {"ping_interval": PING_INTERVAL, "ping_timeout": PING_TIMEOUT} | timing
    return serve(room.handler, "127.0.0.1", 0, process_request=room.admit,
                 process_response=as_problem, max_size=MAX_MESSAGE_BYTES,
                 **timing)  # fmt: skip


def url_of(server) -> str:
    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/documents/d_1"


async def demo() -> None:
    room = Room(members={"alice", "bob"}, epoch="e1")
    async with start(room) as server:
        url, app = url_of(server), "https://app.example.com"
        token = {"Authorization": "Bearer sess_test_alice"}  # a non-browser client
        alice = await connect(url, additional_headers=token)
        cookie = {"Cookie": "session=sess_test_bob"}  # what a signed-in browser sends
        bob = await connect(url, origin=app, additional_headers=cookie)
        edit = {"type": "edit", "text": "Agenda", "by": "mallory"}  # "by" is ignored
        await alice.send(json.dumps(edit))
        for name, client in [("alice", alice), ("bob", bob)]:
            event = json.loads(await client.recv())
            print(name, "received", event["seq"], event["data"])
            #> alice received 1 {'by': 'alice', 'text': 'Agenda'}
            #> bob received 1 {'by': 'alice', 'text': 'Agenda'}
        await bob.send("not json")
        print(json.loads(await bob.recv())["problem"]["title"])
        #> Invalid request
        try:
            await connect(url, origin=app)  # no session
        except InvalidStatus as refused:
            answer = refused.response
            print(answer.status_code, answer.headers["WWW-Authenticate"])
            #> 401 Bearer realm="api"
        await alice.close()
        await bob.close()


if __name__ == "__main__":
    asyncio.run(demo())
