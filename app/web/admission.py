"""Admission control: a bounded number of requests use the database at once per process.

A synchronized crowd (every candidate starting at the same minute) would otherwise let
each request take a pooled connection or a lock, then wait for a thread-pool slot that
the requests queued behind it hold while they wait for that connection or lock: the
process stalls until the pool times out. Requests wait here instead, in arrival order,
holding nothing; a request's body is read before it is admitted (up to a bound), so a
slow client never holds a slot.

Urgent requests (a candidate's answer being saved) pass before the others: at a deadline
the last saves must not wait behind thousands of submissions and arrive too late.
"""

import re
from collections import deque
from collections.abc import Callable

import anyio
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Static files never touch the database.
UNGATED_PREFIXES = ("/static/",)
# Bodies up to this size are read before admission; a larger one (a bank upload) streams
# on to the application, which applies its own limits.
BUFFERED_BODY_BYTES = 256 * 1024


def urgent(endpoint):
    """Mark an endpoint whose requests pass before the others (a candidate's save)."""
    endpoint.urgent_admission = True
    return endpoint


# Where a request finds how to give its slot back before it ends (``leave_admission``).
_RELEASE = "ccpq.admission.release"


def leave_admission(scope: Scope) -> None:
    """Give the request's slot back now, for the time it waits on something the slots do
    not bound (the commit that carries its write, app/group_commit.py)."""
    release = scope.get(_RELEASE)
    if release is not None:
        release()


def urgent_requests(app: FastAPI) -> Callable[[Scope], bool]:
    """Whether a request goes to an endpoint marked ``urgent`` among the app's routes."""
    marked: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def is_urgent(scope: Scope) -> bool:
        nonlocal marked
        if marked is None:  # the routes are all declared by the first request
            marked = [
                (compile_path(route.path)[0], frozenset(route.methods or ()))
                for route in iter_route_contexts(app.routes)
                if getattr(route.endpoint, "urgent_admission", False)
            ]
        return any(
            scope["method"] in methods and regex.match(scope["path"]) for regex, methods in marked
        )

    return is_urgent


class Slots:
    """A bounded number of slots, granted in arrival order, urgent requests first.

    Lives in one event loop: no lock is needed between its methods.
    """

    def __init__(self, count: int) -> None:
        self.free = count
        self._urgent: deque[anyio.Event] = deque()
        self._others: deque[anyio.Event] = deque()

    async def acquire(self, *, urgent: bool) -> bool:
        """Take a slot; says whether the request had to wait for it."""
        if self.free and not self._urgent and not self._others:
            self.free -= 1
            return False
        turn = anyio.Event()
        queue = self._urgent if urgent else self._others
        queue.append(turn)
        try:
            await turn.wait()  # release() hands its slot over directly
        except BaseException:
            if turn.is_set():
                self.release()  # handed over just as this request was cancelled
            else:
                queue.remove(turn)
            raise
        return True

    def release(self) -> None:
        for queue in (self._urgent, self._others):
            if queue:
                queue.popleft().set()
                return
        self.free += 1


class AdmissionMiddleware:
    def __init__(
        self, app: ASGIApp, *, slots: int, urgent: Callable[[Scope], bool] = lambda scope: False
    ) -> None:
        self.app = app
        self.slots = Slots(slots)
        self.urgent = urgent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGATED_PREFIXES):
            await self.app(scope, receive, send)
            return
        replay, whole = await _buffered_body(receive)
        slots = self.slots
        waited = await slots.acquire(urgent=self.urgent(scope))
        if waited and whole and _client_left(receive):
            # Gave up while waiting (an overloaded server): its work would be thrown away.
            slots.release()
            return
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                slots.release()

        async def send_and_release(message: Message) -> None:
            # The transaction is committed before the response starts (function-scoped
            # database dependency): the slot is free while the response is sent.
            if message["type"] == "http.response.start":
                release()
            await send(message)

        scope[_RELEASE] = release
        try:
            await self.app(scope, replay, send_and_release)
        finally:
            release()


async def _buffered_body(receive: Receive) -> tuple[Receive, bool]:
    """Read the request body now (up to the bound), and give it back to the application.

    Also says whether the whole body was read: then the server's next message can only be
    the client's disconnection.
    """
    messages: list[Message] = []
    size = 0
    whole = False
    while size <= BUFFERED_BODY_BYTES:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            whole = message["type"] == "http.request"
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay, whole


def _client_left(receive: Receive) -> bool:
    """Whether the client has already disconnected, without waiting for it to.

    ``receive`` is run up to its first wait and no further: a server that knows of a
    disconnection answers at once. A cancel scope (``anyio.move_on_after(0)``) did the
    same for about a tenth of a save's processor time more (measured in process), paid by
    every request that waited for its slot: at full load, nearly all of them.
    """
    poll = receive()
    try:
        poll.send(None)
    except StopIteration as answered:
        return answered.value["type"] == "http.disconnect"
    poll.close()  # it waits for the client: nothing was taken from the connection
    return False
