"""Database engine, declarative base and the request-scoped transaction."""

import asyncio
import fcntl
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import IO, Annotated
from weakref import WeakKeyDictionary

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from app.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The server's clock, the only clock."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


IntPK = Annotated[int, mapped_column(primary_key=True)]
CreatedAt = Annotated[datetime, mapped_column(default=utcnow)]


_SQLITE_BEGIN: ContextVar[str] = ContextVar("sqlite_begin", default="IMMEDIATE")


def reads_then_writes(endpoint):
    """Mark an endpoint that commits its reads before it writes, each write conditional.

    On SQLite its reads then take no lock, and its writes begin a transaction of their own
    under ``sqlite_write_lock_first``: the write lock is held for the writes alone, and
    they see the latest data. Other engines are unaffected.
    """
    endpoint.sqlite_begin = "DEFERRED"
    return endpoint


def end_reads(session: Session) -> None:
    """Where an endpoint that reads then writes (``reads_then_writes``) ends its reads.

    On SQLite, commits them, so that the writes begin under the write lock. Elsewhere the
    session goes on as it is (on PostgreSQL the hot path's statements run alone, see
    ``statements_alone``): the writes carry their own conditions.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.commit()


def statements_alone(session: Session) -> None:
    """From here to the session's next commit, each statement commits by itself (PostgreSQL).

    For a hot path whose reads need no common snapshot and whose write is one statement
    carrying its own conditions: no BEGIN and no COMMIT, two round trips less. Work that
    must be atomic commits first (``session.commit()`` ends this mode). SQLite keeps its
    transactions (its writes hold the write lock in one, see ``reads_then_writes``), and so
    does a session joined to an outer transaction, or already in one (who calls was looked
    up for the CSRF check): its commit ends it.
    """
    bind = session.get_bind()
    if (
        isinstance(bind, Engine)
        and bind.dialect.name == "postgresql"
        and not session.in_transaction()
    ):
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@contextmanager
def sqlite_write_lock_first() -> Iterator[None]:
    """Transactions begun inside take SQLite's write lock before their first read."""
    token = _SQLITE_BEGIN.set("IMMEDIATE")
    try:
        yield
    finally:
        _SQLITE_BEGIN.reset(token)


class _SQLiteConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions also hold a lock file's kernel lock.

    SQLite makes a writer that finds its write lock taken sleep and retry (1, 2, 5 … up
    to 100 ms): between processes a writer sleeps on long after the lock is free, and the
    first to wake wins, not the first to ask. Waiting on a kernel lock (flock) beside the
    database wakes the next writer at once. A dead process's lock is freed by the kernel.
    """

    writer_lock: IO[bytes] | None = None  # opened on connect (not for :memory:)
    holds_writer_lock = False

    def take_writer_lock(self) -> None:
        if self.writer_lock is not None and not self.holds_writer_lock:
            fcntl.flock(self.writer_lock, fcntl.LOCK_EX)
            self.holds_writer_lock = True

    def _free_writer_lock(self) -> None:
        if self.holds_writer_lock:
            self.holds_writer_lock = False
            fcntl.flock(self.writer_lock, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._free_writer_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._free_writer_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._free_writer_lock()
            if self.writer_lock is not None:
                self.writer_lock.close()


def _configure_sqlite(engine: Engine, database: str | None) -> None:
    lock_path = Path(f"{database}.writer-lock") if database and database != ":memory:" else None

    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN
    # (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL").
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        if lock_path is not None:
            dbapi_connection.writer_lock = lock_path.open("ab")
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")  # writers queue rather than fail
        # Switching the journal mode needs a lock: only the first connection ever does it.
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # IMMEDIATE takes the write lock up front: two processes that read then write would
        # otherwise fail at once with "database is locked" instead of waiting their turn.
        # DEFERRED only where the code ends its reads before it writes (see reads_then_writes).
        mode = _SQLITE_BEGIN.get()
        if mode == "IMMEDIATE":
            connection.connection.dbapi_connection.take_writer_lock()
        connection.exec_driver_sql(f"BEGIN {mode}")


def build_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and real transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"factory": _SQLiteConnection})
        _configure_sqlite(engine, parsed.database)
        return engine
    # Enough connections for the worker's thread pool (40 threads): a request never waits
    # for a connection while the database itself is idle. No ping at each checkout (one
    # more round trip per transaction): a connection the server dropped fails its request
    # once, and SQLAlchemy then replaces the pool's connections.
    return create_engine(url, pool_size=20, max_overflow=20)


# Well below the PostgreSQL pool (20) and the thread pool (40): an admitted request
# always finds both (see app/web/admission.py). A process computes on one core at a time;
# four requests are enough to keep it busy while others wait on the database, and more
# only make them queue on the interpreter (measured: a burst of starts had a p99 of 870 ms
# with 16, 100 ms with 4, at the same throughput).
POSTGRES_REQUEST_SLOTS = 4


def request_slots(url: str, configured: int | None = None) -> int:
    """How many requests of one process may use the database at once."""
    if configured is not None:
        return configured
    return 1 if make_url(url).get_backend_name() == "sqlite" else POSTGRES_REQUEST_SLOTS


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return build_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@asynccontextmanager
async def request_session(request: Request) -> AsyncIterator[Session]:
    """One request, one transaction: commit at the end, roll back on error.

    Opening costs no thread hop (the session connects lazily, in the handler's thread);
    the commit or rollback and the close take one hop together, and none when the handler
    committed its own writes.
    """
    # Set in the request's own context, which its thread-pool calls inherit.
    _SQLITE_BEGIN.set(getattr(request.scope.get("endpoint"), "sqlite_begin", "IMMEDIATE"))
    session = get_sessionmaker()()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, commit=False)
        raise
    if session.in_transaction():
        await run_in_threadpool(_end, session, commit=True)
    else:
        session.close()


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's session (``request_session``) as a FastAPI dependency."""
    async with request_session(request) as session:
        yield session


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


# The asyncio engines of each event loop (a connection belongs to the loop that opened it),
# by database: a server's worker has one loop and one database.
_loop_engines: "WeakKeyDictionary[asyncio.AbstractEventLoop, dict[URL, AsyncEngine]]" = (
    WeakKeyDictionary()
)


@asynccontextmanager
async def loop_session() -> AsyncIterator[AsyncSession | None]:
    """A session whose statements run on the event loop, through psycopg's asyncio mode: for
    a hot path on PostgreSQL, which then takes no thread hop (measured in process: a save
    costs the worker about a tenth less processor time). Its code stays synchronous: the
    caller runs it with ``AsyncSession.run_sync``, lazy loads included.

    None on SQLite (it reads in the process, and writes through app/group_commit.py), and
    for a session bound to a connection rather than an engine (tests, in their rolled-back
    transaction): the caller then takes the thread-pool path.
    """
    bind = get_sessionmaker().kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        yield None
        return
    engines = _loop_engines.setdefault(asyncio.get_running_loop(), {})
    engine = engines.get(bind.url)
    if engine is None:
        # A hot path's requests use it within their process's slots (app/web/admission.py).
        slots = request_slots(str(bind.url), get_settings().db_concurrency)
        engine = engines[bind.url] = create_async_engine(
            bind.url, pool_size=slots, max_overflow=slots
        )
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session


async def close_loop_engines() -> None:
    """Close the running loop's asyncio connections (``loop_session``): before it ends."""
    for engine in _loop_engines.pop(asyncio.get_running_loop(), {}).values():
        await engine.dispose()
