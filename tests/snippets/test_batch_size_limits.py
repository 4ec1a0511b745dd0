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
        "type": "https://docs.example/limits#batch-too-large",
        "title": "Batch too large",
        "status": 422,
        "detail": f"{CAP + 1} items is over the limit of {CAP} per batch",
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
        "type": "https://docs.example/limits#body-too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"Request bodies are limited to {snippet.MAX_BATCH_BYTES} bytes.",
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


def test_malformed_batch_is_a_400_problem():
    app = snippet.create_app()
    for body in (b"not json", b"[]", b'{"items": {"a": 1}}', b'{"other": []}'):
        response = post(app, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, body
        assert response.json()["type"] == "https://docs.example/limits#malformed-batch"


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
