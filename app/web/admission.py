"""Admission control: a bounded number of requests use the database at once per process.

A synchronized crowd (every candidate starting at the same minute) would otherwise let
each request take a pooled connection or a lock, then wait for a thread-pool slot that
the requests queued behind it hold while they wait for that connection or lock: the
process stalls until the pool times out. Requests wait here instead, in arrival order,
holding nothing; a request's body is read before it is admitted (up to a bound), so a
slow client never holds a slot.
"""

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Static files never touch the database.
UNGATED_PREFIXES = ("/static/",)
# Bodies up to this size are read before admission; a larger one (a bank upload) streams
# on to the application, which applies its own limits.
BUFFERED_BODY_BYTES = 256 * 1024


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, slots: int) -> None:
        self.app = app
        self.slots = slots
        self._semaphore: anyio.Semaphore | None = None  # created in the worker's event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGATED_PREFIXES):
            await self.app(scope, receive, send)
            return
        replay, whole = await _buffered_body(receive)
        if self._semaphore is None:
            self._semaphore = anyio.Semaphore(self.slots)  # FIFO: first come, first served
        semaphore = self._semaphore
        await semaphore.acquire()
        if whole and await _client_left(receive):
            # Gave up while waiting (an overloaded server): its work would be thrown away.
            semaphore.release()
            return
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                semaphore.release()

        async def send_and_release(message: Message) -> None:
            # The transaction is committed before the response starts (function-scoped
            # database dependency): the slot is free while the response is sent.
            if message["type"] == "http.response.start":
                release()
            await send(message)

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


async def _client_left(receive: Receive) -> bool:
    """Whether the client has already disconnected, without waiting for it to."""
    with anyio.move_on_after(0):
        return (await receive())["type"] == "http.disconnect"
    return False
