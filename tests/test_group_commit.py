"""Group commit on a real SQLite file: shared commits, each caller answered after its own."""

import asyncio
import threading

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

import app.db
from app.db import build_engine
from app.group_commit import write_in_group
from tests.support.aio import run


@pytest.fixture
def sqlite(tmp_path, monkeypatch):
    """A SQLite file with a table ``t``, the commits counted, and the writer's sessions on it."""
    engine = build_engine(f"sqlite:///{tmp_path / 'group.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
        connection.execute(
            text(
                "CREATE TABLE child (k INTEGER PRIMARY KEY, parent INTEGER "
                "REFERENCES t (k) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    commits: list[int] = []

    @event.listens_for(engine, "commit")
    def _count(connection) -> None:
        commits.append(1)

    commits.clear()
    monkeypatch.setattr(
        app.db, "get_sessionmaker", lambda: sessionmaker(bind=engine, expire_on_commit=False)
    )
    yield engine, commits
    engine.dispose()


def insert(k: int, *, table: str = "t", gate: threading.Event | None = None):
    """A write that inserts ``k`` and gives it back (after ``gate`` opens, if any)."""

    def write(connection):
        if gate is not None:
            gate.wait(5)
        column = "v" if table == "t" else "parent"
        value = str(k) if table == "t" else k
        connection.execute(
            text(f"INSERT INTO {table} (k, {column}) VALUES (:k, :v)"), {"k": k, "v": value}
        )
        return k

    return write


def rows(engine, table: str = "t") -> list[int]:
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT k FROM {table} ORDER BY k")).scalars().all()


def test_writes_that_arrive_during_a_commit_share_the_next_one(sqlite):
    engine, commits = sqlite
    gate = threading.Event()
    seen_after_answer: dict[int, list[int]] = {}

    async def one(k: int, write) -> int:
        value = await write_in_group(write)
        seen_after_answer[k] = rows(engine)  # answered only once its write is on disk
        return value

    async def main():
        first = asyncio.create_task(one(1, insert(1, gate=gate)))
        await asyncio.sleep(0.05)  # the writer is busy with the first
        others = [asyncio.create_task(one(k, insert(k))) for k in range(2, 7)]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(first, *others)

    assert run(main) == [1, 2, 3, 4, 5, 6]
    assert len(commits) == 2  # the first alone, the five others together
    assert rows(engine) == [1, 2, 3, 4, 5, 6]
    for k, seen in seen_after_answer.items():
        assert k in seen


def test_a_write_that_fails_fails_alone(sqlite):
    engine, commits = sqlite
    gate = threading.Event()

    async def main():
        first = asyncio.create_task(write_in_group(insert(1, gate=gate)))
        await asyncio.sleep(0.05)
        batch = [
            asyncio.create_task(write_in_group(insert(k)))
            for k in (2, 1, 3)  # 1 again: its primary key is taken
        ]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(first, *batch, return_exceptions=True)

    first, two, again, three = run(main)
    assert (first, two, three) == (1, 2, 3)
    assert isinstance(again, IntegrityError)
    assert rows(engine) == [1, 2, 3]
    # The first; the batch of three, rolled back; then 2 and 3 each in its own.
    assert len(commits) == 3


def test_a_commit_that_fails_acknowledges_nothing_it_carried(sqlite):
    engine, commits = sqlite
    gate = threading.Event()

    async def main():
        first = asyncio.create_task(write_in_group(insert(1, gate=gate)))
        await asyncio.sleep(0.05)
        batch = [
            asyncio.create_task(write_in_group(insert(10, table="child"))),  # parent 10: none
            asyncio.create_task(write_in_group(insert(2))),
        ]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(first, *batch, return_exceptions=True)

    first, orphan, two = run(main)
    assert (first, two) == (1, 2)
    # The foreign key is checked at the commit: the write ran, its commit failed.
    assert isinstance(orphan, IntegrityError)
    assert "FOREIGN KEY" in str(orphan)
    assert rows(engine) == [1, 2]
    assert rows(engine, "child") == []


def test_a_caller_that_leaves_leaves_the_others_their_answer(sqlite):
    engine, _ = sqlite
    gate = threading.Event()

    async def main():
        first = asyncio.create_task(write_in_group(insert(1, gate=gate)))
        await asyncio.sleep(0.05)
        leaving = asyncio.create_task(write_in_group(insert(2)))
        staying = asyncio.create_task(write_in_group(insert(3)))
        await asyncio.sleep(0.05)
        leaving.cancel()  # its client disconnected
        gate.set()
        return await asyncio.gather(first, staying)

    assert run(main) == [1, 3]
    # Its write was already under way: it is committed, only unacknowledged.
    assert rows(engine) == [1, 2, 3]
