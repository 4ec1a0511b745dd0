"""REST carries the snapshot, the WebSocket carries the deltas: a client subscribes,
loads GET /board at (epoch, seq) and then applies only the deltas numbered above it."""

import asyncio
import json
import re
import secrets
from http import HTTPStatus

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.http11 import Response as Handshake

PROBLEMS = "https://api.example.com/problems/"
PROBLEM_JSON = "application/problem+json"
TYPES = {  # status -> registered problem type (data/problem-types.yml): slug, title
    400: ("invalid-request", "Invalid request"),
    401: ("unauthorized", "Unauthorized"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    426: ("upgrade-required", "Upgrade required"),
}
SESSIONS = {"sess_test_alice": "alice", "sess_test_bob": "bob"}  # server-side store
Cards = dict[str, str]  # card id -> text; a delta with value None deletes the card


def problem(status: int, detail: str, headers=None) -> tuple[dict, dict]:
    slug, title = TYPES[status]
    body = {"type": PROBLEMS + slug, "title": title, "status": status,
            "detail": detail, "retryable": False}  # fmt: skip
    return body, {"Content-Type": PROBLEM_JSON, **(headers or {})}


def refusal(auth: list[str]) -> tuple[dict, dict] | None:
    """Problem details for the Authorization fields of a request, or None if signed
    in."""
    if len(auth) > 1:
        return problem(400, "Send one Authorization header.")
    scheme, _, token = auth[0].partition(" ") if auth else ("", "", "")
    if scheme.lower() == "bearer" and token in SESSIONS:
        return None
    error = ', error="invalid_token"' if auth else ""
    return problem(
        401, "Sign in first.", {"WWW-Authenticate": f'Bearer realm="api"{error}'}
    )


def handshake_answer(refused: tuple[dict, dict]) -> Handshake:
    """A problem as the HTTP answer to a WebSocket handshake, in place of the 101."""
    body, headers = refused
    text = json.dumps(body).encode()
    headers["Content-Length"] = str(len(text))
    phrase = HTTPStatus(body["status"]).phrase
    return Handshake(body["status"], phrase, Headers(headers), text)


def as_problem(ws: ServerConnection, request, response: Handshake):
    """process_response: the library's own refusals become problem details too."""
    status, content_type = response.status_code, response.headers.get("Content-Type")
    if status in TYPES and content_type != PROBLEM_JSON:
        kept = {
            k: v for k, v in response.headers.raw_items() if k in ("Allow", "Upgrade")
        }
        return handshake_answer(
            problem(status, response.body.decode().split("\n")[0], kept)
        )
    return None


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison over the list, and `*` (RFC 9110 §13.1.2)."""
    tags = re.findall(r'\*|(?:W/)?"[^"]*"', if_none_match)
    return "*" in tags or etag in [t.removeprefix("W/") for t in tags]


def apply(cards: Cards, delta: dict) -> None:
    if delta["value"] is None:
        cards.pop(delta["key"], None)
    else:
        cards[delta["key"]] = delta["value"]


class Board:
    def __init__(self, epoch: str = "") -> None:
        self.epoch = epoch or secrets.token_hex(4)  # a new history gets a new epoch
        self.seq, self.cards = 0, {}
        self.watchers: set[ServerConnection] = set()

    def edit(self, key: str, value: str | None) -> int:
        self.seq += 1
        data = {"key": key, "value": value}
        apply(self.cards, data)
        event = {"type": "event", "epoch": self.epoch, "seq": self.seq, "data": data}
        broadcast(self.watchers, json.dumps(event))
        return self.seq

    def admit(self, ws: ServerConnection, request) -> Handshake | None:
        """process_request: only signed-in users watch; refusals are problem details."""
        refused = refusal(request.headers.get_all("Authorization"))
        return handshake_answer(refused) if refused else None

    async def watch(self, ws: ServerConnection) -> None:
        self.watchers.add(ws)  # subscribed first, then told so: no delta falls between
        hello = {"type": "subscribed", "epoch": self.epoch, "seq": self.seq}
        broadcast([ws], json.dumps(hello))
        try:
            await ws.wait_closed()
        finally:
            self.watchers.discard(ws)


def create_api(board: Board) -> FastAPI:
    api = FastAPI()

    @api.exception_handler(HTTPException)  # unknown paths and methods: problems too
    async def http_problem(request: Request, exc: HTTPException):
        body, headers = problem(exc.status_code, str(exc.detail), exc.headers)
        return JSONResponse(body, exc.status_code, headers)

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        body, headers = problem(400, "The request is not valid.")
        return JSONResponse(body, 400, headers)

    @api.get("/board")
    async def snapshot(request: Request):
        if refused := refusal(request.headers.getlist("authorization")):
            body, headers = refused
            return JSONResponse(body, body["status"], headers)
        # async def: runs on the event loop, so epoch, seq and cards are read together.
        etag = f'"{board.epoch}.{board.seq}"'
        if etag_matches(", ".join(request.headers.getlist("if-none-match")), etag):
            return Response(status_code=304, headers={"ETag": etag})
        state = {"epoch": board.epoch, "seq": board.seq, "cards": dict(board.cards)}
        return JSONResponse(state, headers={"ETag": etag})

    return api


def start(board: Board):
    """Serve the deltas on 127.0.0.1 and a free port (use it with `async with`)."""
    return serve(board.watch, "127.0.0.1", 0, process_request=board.admit,
                 process_response=as_problem)  # fmt: skip


class Client:
    """A reader of the board: knows only what the socket and GET /board told it."""

    def __init__(self) -> None:
        self.epoch, self.seq, self.cards, self.skipped = "", 0, {}, 0

    async def subscribe(self, ws: ClientConnection) -> int:
        hello = json.loads(await ws.recv())  # from now on, deltas queue up for us
        return hello["seq"]

    async def load(self, http: httpx.AsyncClient) -> None:
        body = (await http.get("/board")).raise_for_status().json()
        self.epoch, self.seq, self.cards = body["epoch"], body["seq"], body["cards"]

    async def catch_up(self, ws: ClientConnection, until) -> None:
        """Apply deltas in order until `until(cards)` holds for what we now have."""
        while not until(self.cards):
            delta = json.loads(await ws.recv())
            if delta["epoch"] != self.epoch:
                raise RuntimeError("another history: load the snapshot again")
            if delta["seq"] <= self.seq:
                self.skipped += 1  # already inside the snapshot
                continue
            if delta["seq"] != self.seq + 1:
                raise RuntimeError("gap: load the snapshot again")
            apply(self.cards, delta["data"])
            self.seq = delta["seq"]


async def demo() -> None:
    board = Board(epoch="e1")
    transport = httpx.ASGITransport(app=create_api(board))
    auth = {"Authorization": "Bearer sess_test_alice"}
    http = httpx.AsyncClient(transport=transport, base_url="http://board", headers=auth)
    async with start(board) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/board"
        board.edit("c1", "Write spec")
        board.edit("c2", "Review PR")
        alice, bob = Client(), Client()
        async with connect(url, additional_headers=auth) as ws_alice, http:
            await alice.subscribe(ws_alice)
            await alice.load(http)
            print("alice loaded", alice.seq, alice.cards)
            #> alice loaded 2 {'c1': 'Write spec', 'c2': 'Review PR'}
            board.edit("c1", "Write spec v2")

            ws_bob = await connect(url, additional_headers=auth)  # bob joins mid-way
            subscribed = await bob.subscribe(ws_bob)
            board.edit("c3", "Ship it")  # ... and this edit lands before his GET
            await bob.load(http)
            loaded = bob.seq
            board.edit("c2", None)
            for client, ws in [(alice, ws_alice), (bob, ws_bob)]:
                await client.catch_up(ws, until=lambda cards: "c2" not in cards)
            print(
                "bob subscribed", subscribed, "loaded", loaded, "skipped", bob.skipped
            )
            #> bob subscribed 3 loaded 4 skipped 1
            print(alice.cards == bob.cards == board.cards, bob.cards)
            #> True {'c1': 'Write spec v2', 'c3': 'Ship it'}
            await ws_bob.close()
            etag = (await http.get("/board")).headers["etag"]
            unchanged = await http.get("/board", headers={"If-None-Match": f"W/{etag}"})
            print(etag, unchanged.status_code)
            #> "e1.5" 304


if __name__ == "__main__":
    asyncio.run(demo())
