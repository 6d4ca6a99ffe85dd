"""Admission control: a bounded number of requests inside, in arrival order, bodies read first."""

from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

from app.db import POSTGRES_REQUEST_SLOTS, request_slots
from app.web.admission import BUFFERED_BODY_BYTES, AdmissionMiddleware


def run(func, *args) -> None:
    """anyio.run in a thread of its own (the browser tests keep an event loop in this one)."""
    with ThreadPoolExecutor(1) as executor:
        executor.submit(anyio.run, func, *args).result()


class Recorder:
    """An application that records how many requests are inside it at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0
        self.order: list[str] = []
        self.bodies: dict[str, bytes] = {}

    async def __call__(self, scope, receive, send) -> None:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.order.append(scope["path"])
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies[scope["path"]] = body
        await anyio.sleep(0.01)
        self.inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def request(path: str, chunks: list[bytes], left: anyio.Event | None = None):
    """A request as a server hands it over; after its body, ``receive`` waits for the
    client to leave (``left``), as uvicorn's does."""
    scope = {"type": "http", "path": path, "method": "PUT", "headers": []}
    queue = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive():
        if queue:
            return queue.pop(0)
        if left is not None and left.is_set():
            return {"type": "http.disconnect"}  # known at once, as uvicorn knows it
        await (left.wait() if left is not None else anyio.sleep_forever())
        return {"type": "http.disconnect"}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    return scope, receive, send, sent


@pytest.mark.parametrize("slots", [1, 3])
def test_never_more_than_the_slots_inside_and_first_come_first_served(slots):
    app = Recorder()
    gate = AdmissionMiddleware(app, slots=slots)
    paths = [f"/r{i}" for i in range(12)]

    async def main():
        async with anyio.create_task_group() as group:
            for path in paths:
                scope, receive, send, _ = request(path, [b"x"])
                group.start_soon(gate, scope, receive, send)
                await anyio.sleep(0)  # arrival order

    run(main)
    assert app.most_inside == slots
    assert app.order == paths


def test_the_body_reaches_the_application_whole():
    app = Recorder()
    gate = AdmissionMiddleware(app, slots=1)
    big = b"y" * (BUFFERED_BODY_BYTES + 10)
    scope, receive, send, sent = request("/upload", [b'{"seq": ', b"1}", big])
    run(gate, scope, receive, send)
    assert app.bodies["/upload"] == b'{"seq": 1}' + big
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_a_client_that_left_while_waiting_is_not_served():
    app = Recorder()
    gate = AdmissionMiddleware(app, slots=1)
    outcomes: dict[str, list] = {}

    async def main():
        left = anyio.Event()
        async with anyio.create_task_group() as group:
            for path, gone in (("/first", None), ("/gone", left), ("/third", None)):
                scope, receive, send, sent = request(path, [b"x"], gone)
                outcomes[path] = sent
                group.start_soon(gate, scope, receive, send)
                await anyio.sleep(0)
            left.set()  # "/gone" gives up while "/first" holds the slot

    run(main)
    assert app.order == ["/first", "/third"]
    assert outcomes["/gone"] == []
    assert [m["type"] for m in outcomes["/third"]] == ["http.response.start", "http.response.body"]


def test_static_files_are_not_gated():
    app = Recorder()
    gate = AdmissionMiddleware(app, slots=1)

    async def main():
        async with anyio.create_task_group() as group:
            for i in range(3):
                scope, receive, send, _ = request(f"/static/f{i}.css", [b""])
                group.start_soon(gate, scope, receive, send)

    run(main)
    assert app.most_inside == 3


def test_the_slots_follow_the_engine():
    assert request_slots("sqlite:///var/ccpq.sqlite3") == 1
    assert request_slots("postgresql+psycopg://u@h/db") == POSTGRES_REQUEST_SLOTS
    assert request_slots("postgresql+psycopg://u@h/db", configured=4) == 4
