"""Heartbeats: ping every connection on a fixed interval, drop the ones that stop
answering, and keep presence ("who is online") true to the network."""

import asyncio
import json
from http import HTTPStatus

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.http11 import Request, Response

PING_INTERVAL = 20  # seconds: below the 60 s idle timeout of common proxies and NATs
PING_TIMEOUT = 10  # seconds to wait for the pong before the connection is failed
CLOSE_TIMEOUT = 5  # seconds to wait for the TCP close of a peer that went silent
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_JSON = "application/problem+json"
TYPES = {  # status -> registered problem type (data/problem-types.yml): slug, title
    400: ("invalid-request", "Invalid request"),
    401: ("unauthorized", "Unauthorized"),
    405: ("method-not-allowed", "Method not allowed"),
    426: ("upgrade-required", "Upgrade required"),
}
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


def authenticate(ws: ServerConnection, request: Request) -> Response | None:
    """process_request: the user comes from the server's session store, before 101."""
    auth = request.headers.get_all("Authorization")
    if len(auth) > 1:
        return refuse(400, "Send one Authorization header.")
    scheme, _, token = auth[0].partition(" ") if auth else ("", "", "")
    ws.user = SESSIONS.get(token) if scheme.lower() == "bearer" else None
    if ws.user is None:
        error = ', error="invalid_token"' if auth else ""
        return refuse(
            401, "Sign in first.", ("WWW-Authenticate", f'Bearer realm="api"{error}')
        )
    return None


def as_problem(ws: ServerConnection, request: Request, response: Response):
    """process_response: the library's own refusals become problem details too."""
    status, content_type = response.status_code, response.headers.get("Content-Type")
    if status in TYPES and content_type != PROBLEM_JSON:
        kept = [h for h in response.headers.raw_items() if h[0] in ("Allow", "Upgrade")]
        return refuse(status, response.body.decode().split("\n")[0], *kept)
    return None


def type_of(message: str | bytes) -> str | None:
    try:
        return json.loads(message).get("type")
    except (ValueError, AttributeError, RecursionError):  # not JSON, not an object
        return None


class Presence:
    """Users with at least one open, answering connection; drops are logged with why."""

    def __init__(self) -> None:
        self.online: dict[str, set[ServerConnection]] = {}  # one user, many tabs
        self.dropped: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def handler(self, ws: ServerConnection) -> None:
        self.online.setdefault(ws.user, set()).add(ws)
        try:
            async for message in ws:  # the library answers Ping frames by itself
                if type_of(message) == "ping":  # browsers cannot send Ping frames
                    await ws.send(json.dumps({"type": "pong"}))
                else:
                    error = problem(400, 'Only {"type": "ping"} is expected.')
                    await ws.send(json.dumps({"type": "error", "problem": error}))
        except ConnectionClosedError as exc:
            why = exc.sent.reason if exc.sent else "connection lost"
            await self.dropped.put((ws.user, why))
        except ConnectionClosedOK:
            pass  # closed normally while a reply was on its way
        finally:
            tabs = self.online.get(ws.user, set())
            tabs.discard(ws)
            if not tabs:  # the last tab closed: now the user is offline
                self.online.pop(ws.user, None)


def start(presence: Presence, scale: float = 1.0):
    """Serve on 127.0.0.1 and a free port; `scale` shrinks every timer (for tests)."""
    return serve(
        presence.handler,
        "127.0.0.1",
        0,
        process_request=authenticate,
        process_response=as_problem,
        ping_interval=PING_INTERVAL * scale,
        ping_timeout=PING_TIMEOUT * scale,
        close_timeout=CLOSE_TIMEOUT * scale,
    )


def url_of(server) -> str:
    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/presence"


def signed_in(server, user: str, **kwargs):
    headers = {"Authorization": f"Bearer sess_test_{user}"}
    return connect(url_of(server), additional_headers=headers, **kwargs)


async def demo() -> None:
    presence = Presence()
    scale = 0.0025  # 20 s becomes 50 ms so the demo runs in a blink
    async with start(presence, scale) as server:
        alice = await signed_in(server, "alice")
        bob = await signed_in(server, "bob", ping_interval=None)
        while len(presence.online) < 2:
            await asyncio.sleep(0.001)
        print("online:", sorted(presence.online))
        #> online: ['alice', 'bob']

        # Bob's phone enters a tunnel: nothing it sends or receives gets through,
        # and no FIN or RST ever reaches the server.
        bob.transport.pause_reading()
        window = (PING_INTERVAL + PING_TIMEOUT + CLOSE_TIMEOUT) * scale
        user, why = await asyncio.wait_for(presence.dropped.get(), 2 * window)
        print("dropped:", user, "-", why)
        #> dropped: bob - keepalive ping timeout
        print("online:", sorted(presence.online), "alice open:", alice.state.name)
        #> online: ['alice'] alice open: OPEN
        bob.transport.abort()
        await alice.close()


if __name__ == "__main__":
    asyncio.run(demo())
