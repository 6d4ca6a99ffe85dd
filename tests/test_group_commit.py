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


def behind_a_busy_writer(writes, *, meanwhile=None) -> list:
    """What each caller hears when ``writes`` arrive while the writer commits a first
    write (inserting 1): the first's answer, then theirs in order, errors included.
    ``meanwhile`` gets their tasks before that first commit ends."""
    gate = threading.Event()

    async def main():
        first = asyncio.create_task(write_in_group(insert(1, gate=gate)))
        await asyncio.sleep(0.05)  # the writer is busy with the first
        tasks = [asyncio.create_task(write_in_group(write)) for write in writes]
        await asyncio.sleep(0.05)
        if meanwhile is not None:
            meanwhile(tasks)
        gate.set()
        return await asyncio.gather(first, *tasks, return_exceptions=True)

    return run(main)


def test_writes_that_arrive_during_a_commit_share_the_next_one(sqlite):
    engine, commits = sqlite
    assert behind_a_busy_writer([insert(k) for k in range(2, 7)]) == [1, 2, 3, 4, 5, 6]
    assert len(commits) == 2  # the first alone, the five others together
    assert rows(engine) == [1, 2, 3, 4, 5, 6]


def test_a_caller_hears_its_answer_once_its_write_is_on_disk(sqlite):
    engine, _ = sqlite
    seen: dict[int, list[int]] = {}

    async def main():
        async def one(k: int) -> None:
            await write_in_group(insert(k))
            seen[k] = rows(engine)  # read by another connection

        await asyncio.gather(*(one(k) for k in range(1, 6)))

    run(main)
    assert all(k in seen[k] for k in range(1, 6))


def test_a_write_that_fails_fails_alone(sqlite):
    engine, commits = sqlite
    # 1 again: its primary key is taken.
    first, two, again, three = behind_a_busy_writer([insert(2), insert(1), insert(3)])
    assert (first, two, three) == (1, 2, 3)
    assert isinstance(again, IntegrityError)
    assert rows(engine) == [1, 2, 3]
    # The first; the batch of three, rolled back; then 2 and 3 each in its own.
    assert len(commits) == 3


def test_a_commit_that_fails_acknowledges_nothing_it_carried(sqlite):
    engine, _ = sqlite
    # A child of 10, which does not exist: its foreign key is checked at the commit.
    first, orphan, two = behind_a_busy_writer([insert(10, table="child"), insert(2)])
    assert (first, two) == (1, 2)
    assert isinstance(orphan, IntegrityError)
    assert "FOREIGN KEY" in str(orphan)
    assert rows(engine) == [1, 2]
    assert rows(engine, "child") == []


def test_a_caller_that_leaves_leaves_the_others_their_answer(sqlite):
    engine, _ = sqlite

    def leave(tasks) -> None:
        tasks[0].cancel()  # its client disconnected

    first, left, three = behind_a_busy_writer([insert(2), insert(3)], meanwhile=leave)
    assert (first, three) == (1, 3)
    assert isinstance(left, asyncio.CancelledError)
    # Its write was already queued: it is committed, only unacknowledged.
    assert rows(engine) == [1, 2, 3]
