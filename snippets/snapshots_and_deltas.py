"""REST carries the snapshot, the WebSocket carries the deltas: a client joins at
version N from GET /board and then applies only the deltas numbered above N."""

import asyncio
import json

import httpx
from fastapi import FastAPI, Request, Response
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve

Cards = dict[str, str]  # card id -> text; a delta with value None deletes the card


def apply(cards: Cards, delta: dict) -> None:
    if delta["value"] is None:
        cards.pop(delta["key"], None)
    else:
        cards[delta["key"]] = delta["value"]


class Board:
    def __init__(self) -> None:
        self.version = 0
        self.cards: Cards = {}
        self.watchers: set[ServerConnection] = set()

    def edit(self, key: str, value: str | None) -> None:
        self.version += 1
        delta = {"version": self.version, "key": key, "value": value}
        apply(self.cards, delta)
        broadcast(self.watchers, json.dumps(delta))

    async def watch(self, ws: ServerConnection) -> None:
        self.watchers.add(ws)  # subscribed first, then told so: no delta falls between
        broadcast([ws], json.dumps({"subscribed_at": self.version}))
        try:
            await ws.wait_closed()
        finally:
            self.watchers.discard(ws)


def create_api(board: Board) -> FastAPI:
    api = FastAPI()

    @api.get("/board")
    async def snapshot(request: Request, response: Response):
        # async def: runs on the event loop, so version and cards are read together.
        etag = f'"v{board.version}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        response.headers["ETag"] = etag
        return {"version": board.version, "cards": dict(board.cards)}

    return api


class Client:
    def __init__(self) -> None:
        self.version, self.cards, self.skipped = 0, {}, 0

    async def subscribe(self, ws: ClientConnection) -> int:
        return json.loads(await ws.recv())["subscribed_at"]  # deltas now queue up

    async def load(self, http: httpx.AsyncClient) -> None:
        body = (await http.get("/board")).raise_for_status().json()
        self.version, self.cards = body["version"], body["cards"]

    async def catch_up(self, ws: ClientConnection, version: int) -> None:
        while self.version < version:
            delta = json.loads(await ws.recv())
            if delta["version"] <= self.version:
                self.skipped += 1  # already inside the snapshot
                continue
            if delta["version"] != self.version + 1:
                raise RuntimeError("gap: load the snapshot again")
            apply(self.cards, delta)
            self.version = delta["version"]


async def demo() -> None:
    board = Board()
    transport = httpx.ASGITransport(app=create_api(board))
    http = httpx.AsyncClient(transport=transport, base_url="http://board.test")
    async with serve(board.watch, "127.0.0.1", 0) as server, http:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/board"
        board.edit("c1", "Write spec")
        board.edit("c2", "Review PR")
        alice, bob = Client(), Client()
        async with connect(url) as ws_alice:
            await alice.subscribe(ws_alice)
            await alice.load(http)
            print("alice loaded version", alice.version, alice.cards)
            #> alice loaded version 2 {'c1': 'Write spec', 'c2': 'Review PR'}
            board.edit("c1", "Write spec v2")

            ws_bob = await connect(url)  # bob joins mid-way ...
            subscribed = await bob.subscribe(ws_bob)
            board.edit("c3", "Ship it")  # ... and this edit lands before his GET
            await bob.load(http)
            loaded = bob.version
            board.edit("c2", None)
            for client, ws in [(alice, ws_alice), (bob, ws_bob)]:
                await client.catch_up(ws, board.version)
            print(
                "bob subscribed", subscribed, "loaded", loaded, "skipped", bob.skipped
            )
            #> bob subscribed 3 loaded 4 skipped 1
            print(board.version, alice.cards == bob.cards == board.cards, bob.cards)
            #> 5 True {'c1': 'Write spec v2', 'c3': 'Ship it'}
            await ws_bob.close()
        etag = (await http.get("/board")).headers["etag"]
        unchanged = await http.get("/board", headers={"If-None-Match": etag})
        print(etag, unchanged.status_code)
        #> "v5" 304


if __name__ == "__main__":
    asyncio.run(demo())
