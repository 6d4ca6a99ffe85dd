"""Group commit on SQLite: the writes that wait for a process's writer share one commit.

SQLite syncs its journal to disk at each commit, under its write lock, and every writer
of every process waits for that lock. A process here writes through one writer at a
time: the writes that arrive while it commits go together into its next transaction, so
that one disk sync serves them all. Each caller waits for the commit that carries its
write: nothing is acknowledged before it is on disk.

A write is a function of the transaction's connection that only executes statements:
it must not commit, and what it returns is handed back to its caller after the commit.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from app import db

Write = Callable[[Connection], Any]

# A transaction never grows past this many writes; those beyond wait for the next one.
MOST_WRITES_PER_COMMIT = 64


@dataclass(frozen=True)
class _Done:
    value: Any = None
    error: BaseException | None = None


def commit_together(writes: list[Write]) -> list[_Done]:
    """Run ``writes`` in one transaction and commit it once.

    A write that raises must not cost the others theirs: the transaction is then rolled
    back and each write runs again in a transaction of its own.
    """
    with db.get_sessionmaker()() as session, db.sqlite_write_lock_first():
        try:
            connection = session.connection()
            values = [write(connection) for write in writes]
            session.commit()
            return [_Done(value) for value in values]
        except Exception as error:
            session.rollback()
            if len(writes) == 1:
                return [_Done(error=error)]
    return [commit_together([write])[0] for write in writes]


class GroupCommit:
    """One event loop's writer: runs the pending writes, then those that came meanwhile."""

    def __init__(self) -> None:
        self._pending: list[tuple[Write, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def write(self, write: Write) -> Any:
        """``write``'s value once the transaction that carries it is committed."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((write, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_pending())
        return await done

    async def _write_pending(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:MOST_WRITES_PER_COMMIT]
                del self._pending[:MOST_WRITES_PER_COMMIT]
                try:
                    outcomes = await run_in_threadpool(
                        commit_together, [write for write, _ in batch]
                    )
                except Exception as error:  # not even a transaction: every caller hears it
                    outcomes = [_Done(error=error)] * len(batch)
                except BaseException:  # the loop is closing: so are its callers
                    for _, done in batch:
                        done.cancel()
                    raise
                _settle(batch, outcomes)
        finally:
            self._writer = None


def _settle(batch: list[tuple[Write, asyncio.Future]], outcomes: list[_Done]) -> None:
    for (_, done), outcome in zip(batch, outcomes, strict=True):
        if done.done():  # its caller left (a client that disconnected)
            continue
        if outcome.error is None:
            done.set_result(outcome.value)
        else:
            done.set_exception(outcome.error)


_writers: "WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit]" = WeakKeyDictionary()


async def write_in_group(write: Write) -> Any:
    """``write`` in the running loop's next group commit; its value once committed."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = GroupCommit()
    return await writer.write(write)
