"""A WebSocket channel: each client keeps one connection open and the server pushes
every accepted edit to all connected clients, in one order."""

import asyncio
import json

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

ALLOWED_ORIGINS = ["https://app.example.com", None]  # None: non-browser clients
MAX_MESSAGE_BYTES = 65536  # larger frames close the connection with 1009
PING_INTERVAL = 20  # seconds; see the heartbeats pattern
PING_TIMEOUT = 10


class Room:
    """The open connections of one document; the server is the single sequencer."""

    def __init__(self) -> None:
        self.clients: set[ServerConnection] = set()
        self.version = 0

    async def handler(self, ws: ServerConnection) -> None:
        self.clients.add(ws)
        try:
            async for message in ws:
                edit = json.loads(message)
                self.version += 1
                update = {
                    "version": self.version,
                    "by": edit["by"],
                    "text": edit["text"],
                }
                # Synchronous write to every open connection: one slow or dead client
                # never delays the others, and all clients see the same order.
                broadcast(self.clients, json.dumps(update))
        finally:
            self.clients.discard(ws)


def start(room: Room, **timing: float):
    """Serve the room on 127.0.0.1 and a free port (use it with `async with`)."""
    timing = {"ping_interval": PING_INTERVAL, "ping_timeout": PING_TIMEOUT} | timing
    return serve(
        room.handler,
        "127.0.0.1",
        0,
        origins=ALLOWED_ORIGINS,
        max_size=MAX_MESSAGE_BYTES,
        **timing,
    )


def url_of(server) -> str:
    port = server.sockets[0].getsockname()[1]
    return f"ws://127.0.0.1:{port}/documents/d_1"


async def demo() -> None:
    room = Room()
    async with start(room) as server:
        origin = "https://app.example.com"
        names = ["alice", "bob", "carol"]
        clients = [await connect(url_of(server), origin=origin) for _ in names]
        await clients[0].send(json.dumps({"by": "alice", "text": "Agenda"}))
        for name, client in zip(names, clients, strict=True):
            print(name, "received", json.loads(await client.recv()))
            #> alice received {'version': 1, 'by': 'alice', 'text': 'Agenda'}
            #> bob received {'version': 1, 'by': 'alice', 'text': 'Agenda'}
            #> carol received {'version': 1, 'by': 'alice', 'text': 'Agenda'}

        await clients[1].close()  # bob leaves
        await clients[2].send(json.dumps({"by": "carol", "text": "Agenda v2"}))
        print("alice received", json.loads(await clients[0].recv()))
        #> alice received {'version': 2, 'by': 'carol', 'text': 'Agenda v2'}
        print("connections in the room:", len(room.clients))
        #> connections in the room: 2
        for client in clients:
            await client.close()


if __name__ == "__main__":
    asyncio.run(demo())
