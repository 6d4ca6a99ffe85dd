"""Running a coroutine from a synchronous test."""

from concurrent.futures import ThreadPoolExecutor

import anyio


def run(func, *args):
    """anyio.run in a thread of its own (the browser tests keep an event loop in this one)."""
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(anyio.run, func, *args).result()
