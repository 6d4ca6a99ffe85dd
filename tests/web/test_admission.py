"""Admission control: a bounded number of requests inside, in arrival order, bodies read first."""

import asyncio

import anyio
import pytest

from app.db import POSTGRES_REQUEST_SLOTS, request_slots
from app.web.admission import (
    BUFFERED_BODY_BYTES,
    AdmissionMiddleware,
    Slots,
    leave_admission,
    urgent_requests,
)
from tests.support.aio import run


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


def test_urgent_requests_pass_before_the_others_waiting():
    app = Recorder()
    gate = AdmissionMiddleware(app, slots=1, urgent=lambda scope: scope["path"].startswith("/u"))
    paths = ["/first", "/o1", "/u1", "/o2", "/u2"]

    async def main():
        async with anyio.create_task_group() as group:
            for path in paths:
                scope, receive, send, _ = request(path, [b"x"])
                group.start_soon(gate, scope, receive, send)
                await anyio.sleep(0)

    run(main)
    # "/first" was inside when the others arrived: the urgent ones go next, in their order.
    assert app.order == ["/first", "/u1", "/u2", "/o1", "/o2"]
    assert app.most_inside == 1


def test_a_waiter_cancelled_as_it_is_handed_the_slot_passes_it_on():
    slots = Slots(1)
    served: list[str] = []

    async def waiter(name: str) -> None:
        await slots.acquire(urgent=False)
        served.append(name)
        slots.release()

    async def main():
        await slots.acquire(urgent=False)
        a = asyncio.create_task(waiter("a"))
        b = asyncio.create_task(waiter("b"))
        await asyncio.sleep(0)  # both wait
        slots.release()  # hands the slot to "a"…
        a.cancel()  # …whose task is cancelled before it runs (a server closing it)
        with anyio.fail_after(5):  # a lost slot would leave "b" waiting for ever
            await asyncio.gather(a, b, return_exceptions=True)
        assert served == ["b"]  # the slot went on instead of being lost
        assert slots.free == 1

    run(main)


def test_the_application_marks_the_answer_saves_urgent():
    from app.main import create_app

    is_urgent = urgent_requests(create_app(sweeper=False))
    assert is_urgent({"method": "PUT", "path": "/api/v1/attempts/3/answers/FISC-001"})
    assert is_urgent({"method": "POST", "path": "/tentatives/3/questions/2"})
    assert not is_urgent({"method": "GET", "path": "/tentatives/3/questions/2"})
    assert not is_urgent({"method": "POST", "path": "/api/v1/attempts/3/submit"})
    assert not is_urgent({"method": "POST", "path": "/api/v1/questionnaires/1/attempts"})


def test_a_request_that_leaves_admission_lets_the_next_one_in():
    order: list[str] = []
    resume = anyio.Event()

    async def app(scope, receive, send) -> None:
        order.append(f"in {scope['path']}")
        if scope["path"] == "/waits":
            leave_admission(scope)
            leave_admission(scope)  # twice: its slot is given back once
            await resume.wait()  # e.g. for the commit that carries its write
        order.append(f"out {scope['path']}")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    gate = AdmissionMiddleware(app, slots=1)

    async def main():
        async with anyio.create_task_group() as group:
            for path in ("/waits", "/next", "/third"):
                scope, receive, send, _ = request(path, [b"x"])
                group.start_soon(gate, scope, receive, send)
                await anyio.sleep(0)
            await anyio.sleep(0.05)
            resume.set()

    run(main)
    assert order == ["in /waits", "in /next", "out /next", "in /third", "out /third", "out /waits"]
    assert gate.slots.free == 1
