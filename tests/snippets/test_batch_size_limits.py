"""Behaviour of the batch caps: enforced at the documented constant, named in the problem."""

import asyncio
import json
import re
from pathlib import Path

import batch_size_limits as snippet
import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

CAP = snippet.MAX_BATCH_ITEMS


def items(n: int) -> list[dict]:
    return [{"email": f"user{i}@example.com"} for i in range(n)]


def post(app, **kwargs) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            return await c.post("/contacts/batch", **kwargs)

    return asyncio.run(go())


def test_documented_cap_is_1000():
    assert CAP == 1000  # the seed's contract: "up to 1000 items per batch"


def test_exactly_at_the_cap_is_accepted_and_processed():
    app = snippet.create_app()
    response = post(app, json={"items": items(CAP)})
    assert response.status_code == 200
    assert response.json() == {"accepted": CAP}
    assert app.state.contacts == items(CAP)


def test_one_over_the_cap_is_a_422_problem_that_names_the_cap():
    app = snippet.create_app()
    response = post(app, json={"items": items(CAP + 1)})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://api.example.com/problems/batch-too-large",
        "title": "Batch too large",
        "status": 422,
        "detail": f"{CAP + 1} items is over the limit of {CAP} per batch",
        "retryable": False,
        "max_items": CAP,
        "received_items": CAP + 1,
    }
    assert app.state.contacts == []  # nothing partially applied


def test_enforcement_reads_the_same_constant_the_page_renders(monkeypatch):
    monkeypatch.setattr(snippet, "MAX_BATCH_ITEMS", 7)
    app = snippet.create_app()
    assert post(app, json={"items": items(7)}).status_code == 200
    over = post(app, json={"items": items(8)})
    assert over.status_code == 422
    assert over.json()["max_items"] == 7
    assert "limit of 7 per batch" in over.json()["detail"]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 40), st.integers(1, 20))
def test_accepted_if_and_only_if_within_the_cap(n, cap):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(snippet, "MAX_BATCH_ITEMS", cap)
        app = snippet.create_app()
        response = post(app, json={"items": items(n)})
        assert response.status_code == (200 if n <= cap else 422)
        assert len(app.state.contacts) == (n if n <= cap else 0)


def test_declared_body_over_the_byte_cap_is_413_without_reading_it():
    consumed = []

    async def body():
        for _ in range(64):
            chunk = b" " * 32768
            consumed.append(len(chunk))
            yield chunk

    app = snippet.create_app()
    size = snippet.MAX_BATCH_BYTES + 1
    response = post(app, content=body(), headers={"Content-Length": str(size)})
    assert response.status_code == 413
    assert response.json() == {
        "type": "https://api.example.com/problems/content-too-large",
        "title": "Content too large",
        "status": 413,
        "detail": f"Request bodies are limited to {snippet.MAX_BATCH_BYTES} bytes.",
        "retryable": False,
        "max_bytes": snippet.MAX_BATCH_BYTES,
    }
    assert sum(consumed) <= 32768  # the app never pulled the body


def test_chunked_body_over_the_byte_cap_is_413_after_reading_at_most_the_cap():
    consumed = []

    async def body():
        for _ in range(100):  # 3.2 MB offered, no Content-Length
            consumed.append(32768)
            yield b" " * 32768

    app = snippet.create_app()
    response = post(app, content=body())
    assert response.status_code == 413
    assert response.json()["max_bytes"] == snippet.MAX_BATCH_BYTES
    assert sum(consumed) <= snippet.MAX_BATCH_BYTES + 2 * 32768


def test_a_full_batch_fits_the_byte_cap():
    # The two caps must agree: 1000 realistic items are well under the byte limit.
    payload = json.dumps({"items": [{"email": "x" * 200 + "@example.com"}] * CAP})
    assert len(payload.encode()) < snippet.MAX_BATCH_BYTES


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"items": {"a": 1}}', b'{"other": []}', b"\xff\xfe",
     b'{"items": null}', b"[" * 100_000 + b"]" * 100_000],
)  # fmt: skip
def test_malformed_batch_is_a_400_problem_never_500(body):
    app = snippet.create_app()
    response = post(app, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, body[:20]
    assert response.json()["type"] == "https://api.example.com/problems/invalid-request"
    assert response.json()["errors"] == [{"pointer": "/items", "detail": "A list of items."}]


@pytest.mark.parametrize("length", ["12abc", "-1", "1, 2", "\u00b2", "", " 5"])
def test_a_malformed_content_length_is_a_400_problem_not_a_500(length):
    app = snippet.create_app()

    async def go():
        async def body():
            yield b'{"items": []}'

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            request = c.build_request("POST", "/contacts/batch", content=body())
            request.headers["Content-Length"] = length
            return await c.send(request)

    response = asyncio.run(go())
    assert response.status_code == 400
    assert response.json()["type"] == "https://api.example.com/problems/invalid-request"
    assert response.json()["header"] == "content-length"
    assert app.state.contacts == []


def test_oversized_or_deeply_nested_items_are_refused_all_at_once():
    app = snippet.create_app()
    batch = items(10)
    batch[2] = {"email": "big@example.com", "note": "x" * snippet.MAX_ITEM_BYTES}
    batch[7] = {"email": "deep@example.com", "a": {"b": {"c": {"d": {"e": 1}}}}}
    batch[8] = {"email": "ok@example.com", "a": {"b": {"c": 1}}}  # within the depth cap
    response = post(app, json={"items": batch})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"pointer": "/items/2", "detail": "Item too large."},
        {"pointer": "/items/7", "detail": "Item too deep."},
    ]
    assert app.state.contacts == []  # nothing applied, the good items included


def test_unknown_paths_and_methods_are_problems():
    async def go():
        transport = httpx.ASGITransport(app=snippet.create_app())
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            return await c.get("/nowhere"), await c.get("/contacts/batch")

    missing, wrong = asyncio.run(go())
    assert missing.status_code == 404 and missing.json()["type"].endswith("/not-found")
    assert wrong.status_code == 405 and wrong.json()["type"].endswith("/method-not-allowed")


# ---- the client half: splitting to the cap the server names ------------------------


def test_the_client_splits_to_max_items_and_sends_nothing_twice():
    app = snippet.create_app()
    sent = []

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:

            async def record(request):
                sent.append(len(json.loads(request.content)["items"]))

            c.event_hooks["request"] = [record]
            return await snippet.submit_all(c, items(2345))

    assert asyncio.run(go()) == [1000, 1000, 345]
    assert sent == [2345, 1000, 1000, 345]  # one refused try, then batches at the cap
    assert app.state.contacts == items(2345)  # every item once, in order


def test_the_client_adapts_when_the_cap_changes(monkeypatch):
    monkeypatch.setattr(snippet, "MAX_BATCH_ITEMS", 7)
    app = snippet.create_app()

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            return await snippet.submit_all(c, items(20), size=10)

    assert asyncio.run(go()) == [7, 7, 6]
    assert app.state.contacts == items(20)


def test_the_wire_example_on_the_page_matches_the_enforced_cap():
    # The table on the page is generated from MAX_BATCH_ITEMS; the JSON in the HTTP example
    # is literal (the renderer formats numbers for prose), so check that it is not stale.
    entry = Path(__file__).parents[2] / "data" / "patterns" / "batch-size-limits.yml"
    solution = yaml.safe_load(entry.read_text())["solution"]
    assert re.findall(r'"max_items": (\d+)', solution) == [str(CAP)]
    assert re.findall(r"over the limit of (\d+) per batch", solution) == [str(CAP)]
    received = re.findall(r'"received_items": (\d+)', solution)
    assert received == [str(CAP + 1)]
    assert f"{CAP + 1} items is over the limit of {CAP} per batch" in solution
    response = post(snippet.create_app(), json={"items": items(CAP + 1)})
    assert f'"detail": "{response.json()["detail"]}"' in solution
