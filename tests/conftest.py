"""Test database built by the real migrations; each test in a transaction rolled back.

``CCPQ_TEST_DATABASE_URL`` selects the engine (default: a fresh SQLite file). When it
names PostgreSQL and the server cannot be reached, the run stops with an error: it never
skips.
"""

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

os.environ["CCPQ_ENV"] = "test"
os.environ.setdefault("CCPQ_DATABASE_URL", "sqlite:///var/unused-by-tests.sqlite3")

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import app.cli
import app.db
from app.config import Settings
from app.db import build_engine, get_db
from app.dependencies import app_settings
from app.main import create_app
from tests.support.server import migrate

PROJECT_ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.exam_fixtures"]


def _test_database_url(tmp_dir: Path) -> str:
    return os.environ.get("CCPQ_TEST_DATABASE_URL") or f"sqlite:///{tmp_dir / 'test.sqlite3'}"


def _reset_postgresql(engine: Engine) -> None:
    database = engine.url.database or ""
    if "test" not in database:  # never wipe a database that is not meant for tests
        pytest.exit(f"refus de vider la base « {database} » : son nom doit contenir « test »", 2)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def engine(tmp_path_factory) -> Iterator[Engine]:
    url = _test_database_url(tmp_path_factory.mktemp("db"))
    engine = build_engine(url)
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        pytest.exit(f"base de test injoignable ({make_url(url).render_as_string()}) : {error}", 3)
    if engine.dialect.name == "postgresql":
        _reset_postgresql(engine)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine, monkeypatch) -> Iterator[Session]:
    """A session whose commits are savepoints inside a transaction rolled back at the end."""
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    # Code that opens its own sessions (the CLI) joins the same transaction.
    monkeypatch.setattr(app.db, "get_sessionmaker", lambda: factory)
    session = factory()
    yield session
    session.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def settings() -> Settings:
    return Settings(env="test")


@pytest.fixture
def web_app(db: Session, settings: Settings):
    application = create_app(sweeper=False)

    def _db() -> Iterator[Session]:
        db.expire_all()  # each request starts afresh, as with its own session in production
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise

    application.dependency_overrides[get_db] = _db
    application.dependency_overrides[app_settings] = lambda: settings
    return application


@pytest.fixture
def client(web_app) -> Iterator[TestClient]:
    with TestClient(web_app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def make_user(db: Session):
    from app.auth import service as auth_service
    from app.auth.roles import Role

    def _make(login: str = "alice", role: str = "candidat", password: str = "secret-pass"):
        user = auth_service.create_user(
            session=db, login=login, password=password, role=Role(role), display_name=login.title()
        )
        db.commit()  # a request that fails rolls back to here, as a real request would
        return user

    return _make


@pytest.fixture
def run(db, monkeypatch, capsys):
    """Run ``ccpq ARGS…`` in the test's transaction: (exit code, stdout, stderr)."""

    def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["ccpq", *args])
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        with pytest.raises(SystemExit) as exit_info:
            app.cli.main()
        captured = capsys.readouterr()
        return exit_info.value.code or 0, captured.out, captured.err

    return _run
