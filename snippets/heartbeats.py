"""Heartbeats: ping every connection on a fixed interval, drop the ones that stop
answering, and keep presence ("who is online") true to the network."""

import asyncio

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosedError

PING_INTERVAL = 20  # seconds: below the 60 s idle timeout of common proxies and NATs
PING_TIMEOUT = 10  # seconds to wait for the pong before the connection is failed
CLOSE_TIMEOUT = 5  # seconds to wait for the TCP close of a peer that went silent


class Presence:
    """Users with an open, answering connection; dropped ones are logged with why."""

    def __init__(self) -> None:
        self.online: dict[str, ServerConnection] = {}
        self.dropped: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def handler(self, ws: ServerConnection) -> None:
        user = ws.request.path.rsplit("/", 1)[-1]
        self.online[user] = ws
        try:
            async for _ in ws:
                pass  # application messages; the library answers pings by itself
        except ConnectionClosedError as exc:
            why = exc.sent.reason if exc.sent else "connection lost"
            await self.dropped.put((user, why))
        finally:
            del self.online[user]


def start(presence: Presence, scale: float = 1.0):
    """Serve on 127.0.0.1 and a free port; `scale` shrinks every timer (for tests)."""
    return serve(
        presence.handler,
        "127.0.0.1",
        0,
        ping_interval=PING_INTERVAL * scale,
        ping_timeout=PING_TIMEOUT * scale,
        close_timeout=CLOSE_TIMEOUT * scale,
    )


def user_url(server, user: str) -> str:
    port = server.sockets[0].getsockname()[1]
    return f"ws://127.0.0.1:{port}/presence/{user}"


async def demo() -> None:
    presence = Presence()
    scale = 0.0025  # 20 s becomes 50 ms so the demo runs in a blink
    async with start(presence, scale) as server:
        alice = await connect(user_url(server, "alice"))
        bob = await connect(user_url(server, "bob"), ping_interval=None)
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
