"""The database layer: migrations match the models, stable names, SQLite pragmas, UTC."""

import fcntl
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from app.auth.models import UserSession
from app.db import Base, build_engine
from app.models import load_all_models


class TestMigrations:
    def test_migrated_schema_matches_the_models(self, engine):
        load_all_models()
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []

    def test_constraint_names_follow_the_convention(self, engine):
        inspector = inspect(engine)
        assert inspector.get_pk_constraint("bank_version")["name"] == "pk_bank_version"
        assert [u["name"] for u in inspector.get_unique_constraints("bank_version")] == [
            "uq_bank_version_bank_id_version"
        ]
        assert [f["name"] for f in inspector.get_foreign_keys("user_session")] == [
            "fk_user_session_user_id_user_account"
        ]


class TestSqlite:
    def test_wal_and_foreign_keys(self, tmp_path):
        engine = build_engine(f"sqlite:///{tmp_path / 'sub' / 'x.sqlite3'}")
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        engine.dispose()

    def test_foreign_keys_are_enforced(self, db):
        now = datetime.now(UTC)
        db.add(
            UserSession(
                token_sha256="t", csrf_token="c", user_id=999_999, created_at=now, expires_at=now
            )
        )
        with pytest.raises(IntegrityError):
            db.flush()


class TestDatetimes:
    def test_round_trip_is_aware_utc(self, db, make_user):
        user = make_user("alice")
        paris = timezone(timedelta(hours=1))
        moment = datetime(2026, 11, 28, 9, 30, tzinfo=paris)
        db.add(
            UserSession(
                token_sha256="t",
                csrf_token="c",
                user_id=user.id,
                created_at=moment,
                expires_at=moment,
            )
        )
        db.commit()
        db.expire_all()
        stored = db.scalar(select(UserSession.expires_at))
        assert stored == moment and stored.tzinfo == UTC and stored.hour == 8

    def test_naive_datetime_is_refused(self, db, make_user):
        user = make_user("alice")
        db.add(
            UserSession(
                token_sha256="t",
                csrf_token="c",
                user_id=user.id,
                created_at=datetime(2026, 1, 1),
                expires_at=datetime(2026, 1, 1),
            )
        )
        with pytest.raises(StatementError, match="naive datetime refused"):
            db.flush()


class TestMigrationsWithData:
    def test_sqlite_table_rebuild_keeps_referenced_rows(self, tmp_path):
        """Upgrading a SQLite database whose rebuilt tables are referenced by other rows."""
        from alembic import command

        from app.cli import alembic_config

        url = f"sqlite:///{tmp_path / 'vieille.sqlite3'}"
        engine = build_engine(url)
        config = alembic_config()
        config.attributes["configure_logger"] = False
        config.attributes["database_url"] = url
        command.upgrade(config, "6362b1ae8523")  # before the records migration
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO user_account (id, login, display_name, role, password_hash, "
                "is_active, created_at) VALUES (1, 'a', 'A', 'candidat', 'x', 1, '2026-01-01')"
            )
            connection.exec_driver_sql(
                "INSERT INTO bank (id, title, theme, created_at) "
                "VALUES ('b', 'B', 'fiscalite', '2026-01-01')"
            )
            connection.exec_driver_sql(
                "INSERT INTO bank_version (id, bank_id, version, title, content_sha256, content, "
                "question_count, valid_from, source, imported_at) VALUES (1, 'b', '2026.1', 'B', "
                "'h', '{}', 0, '2026-01-01', 's', '2026-01-01')"
            )
            connection.exec_driver_sql(
                "INSERT INTO exam_session (id, name, opens_at, closes_at, "
                "accommodated_beyond_close, created_at) "
                "VALUES (1, 'S', '2026-01-01', '2026-01-02', 1, '2026-01-01')"
            )
            connection.exec_driver_sql(
                "INSERT INTO session_questionnaire (id, exam_session_id, bank_version_id, theme, "
                "title, item_count, duration_minutes, shuffle_questions, shuffle_options, review, "
                "review_from, quotas, max_attempts) VALUES (1, 1, 1, 'fiscalite', 'Q', 1, 10, 1, "
                "1, 'score', 'submission', '{}', 1)"
            )
            connection.exec_driver_sql(
                "INSERT INTO enrolment (id, exam_session_id, user_id, candidate_number, "
                "extra_time_percent) VALUES (1, 1, 1, 'C1', 0)"
            )
            connection.exec_driver_sql(
                "INSERT INTO attempt (id, enrolment_id, session_questionnaire_id, number, seed, "
                "status, started_at, deadline_at) VALUES (1, 1, 1, 1, 's', 'running', "
                "'2026-01-01', '2026-01-01')"
            )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
            assert connection.exec_driver_sql(
                "SELECT partial_credit, neutralised FROM session_questionnaire"
            ).fetchall() == [(0, "{}")]
        engine.dispose()


class TestRequestTransactions:
    """get_db on a real SQLite file: how each request begins, and that it commits."""

    @pytest.fixture
    def sqlite_app(self, tmp_path, monkeypatch):
        from typing import Annotated

        from fastapi import Depends, FastAPI
        from fastapi.testclient import TestClient
        from sqlalchemy import event
        from sqlalchemy.orm import Session, sessionmaker

        import app.db
        from app.db import get_db, reads_then_writes, sqlite_write_lock_first

        engine = build_engine(f"sqlite:///{tmp_path / 'begin.sqlite3'}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)"))
        begins: list[str] = []

        @event.listens_for(engine, "before_cursor_execute")
        def _record(conn, cursor, statement, *args) -> None:
            if statement.startswith("BEGIN"):
                begins.append(statement)

        factory = sessionmaker(bind=engine, expire_on_commit=False)
        monkeypatch.setattr(app.db, "get_sessionmaker", lambda: factory)
        web = FastAPI()
        Db = Annotated[Session, Depends(get_db, scope="function")]

        @web.put("/plain/{v}")
        def plain(v: int, session: Db) -> dict:
            session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": v})
            return {}

        @web.put("/split/{v}")
        @reads_then_writes
        def split(v: int, session: Db) -> dict:
            session.execute(text("SELECT count(*) FROM t")).scalar()
            lock_seen.append(writer_lock_free(engine))
            session.commit()
            with sqlite_write_lock_first():
                session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": v})
                lock_seen.append(writer_lock_free(engine))
                session.commit()
            lock_seen.append(writer_lock_free(engine))
            return {}

        lock_seen: list[bool] = []
        yield TestClient(web), begins, engine, lock_seen
        engine.dispose()

    def test_a_request_takes_the_write_lock_first_unless_it_reads_then_writes(self, sqlite_app):
        client, begins, engine, lock_seen = sqlite_app
        assert client.put("/plain/1").status_code == 200
        assert begins == ["BEGIN IMMEDIATE"]
        begins.clear()
        assert client.put("/split/2").status_code == 200
        assert begins == ["BEGIN DEFERRED", "BEGIN IMMEDIATE"]
        # The reads leave the writers' kernel lock free; the writes hold it to their commit.
        assert lock_seen == [True, False, True]
        begins.clear()
        assert client.put("/plain/3").status_code == 200  # the mark stays on its endpoint
        assert begins == ["BEGIN IMMEDIATE"]
        with engine.connect() as connection:
            assert connection.execute(text("SELECT v FROM t ORDER BY k")).scalars().all() == [
                1,
                2,
                3,
            ]


def writer_lock_free(engine) -> bool:
    """Whether another process could take the writers' lock of this SQLite database now."""
    with open(f"{engine.url.database}.writer-lock", "ab") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(other, fcntl.LOCK_UN)
        return True


class TestSQLiteWriterLock:
    """SQLite writers of every process queue on a kernel lock beside the database."""

    def test_held_from_begin_to_commit_or_rollback_and_on_close(self, tmp_path):
        engine = build_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
        with engine.connect() as connection:
            connection.execute(text("CREATE TABLE t (v INTEGER)"))
            assert not writer_lock_free(engine)
            connection.commit()
            assert writer_lock_free(engine)
            connection.execute(text("INSERT INTO t VALUES (1)"))
            assert not writer_lock_free(engine)
            connection.rollback()
            assert writer_lock_free(engine)
            connection.execute(text("INSERT INTO t VALUES (2)"))
        assert writer_lock_free(engine)  # returned to the pool: rolled back
        with engine.connect() as connection:
            assert connection.execute(text("SELECT v FROM t")).scalars().all() == []
            connection.execute(text("INSERT INTO t VALUES (3)"))
            connection.connection.dbapi_connection.close()  # a connection closed mid-write
            assert writer_lock_free(engine)
            connection.invalidate()
        engine.dispose()

    def test_a_writer_of_another_process_waits_for_the_lock(self, tmp_path):
        database = tmp_path / "w.sqlite3"
        engine = build_engine(f"sqlite:///{database}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (v INTEGER)"))
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from sqlalchemy import text; from app.db import build_engine\n"
                f"e = build_engine('sqlite:///{database}')\n"
                "with e.begin() as c:\n"
                "    c.execute(text('INSERT INTO t VALUES (2)'))\n"
                "print('written', flush=True)",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            with engine.connect() as connection:
                connection.execute(text("INSERT INTO t VALUES (1)"))
                # The child's write needs the lock this transaction holds: it cannot finish.
                with pytest.raises(subprocess.TimeoutExpired):
                    child.wait(timeout=1)
                connection.commit()
            assert child.stdout.readline() == "written\n"
            assert child.wait(timeout=30) == 0
        finally:
            child.kill()
        with engine.connect() as connection:
            values = connection.execute(text("SELECT v FROM t ORDER BY rowid")).scalars().all()
        assert values == [1, 2]  # in the order the lock was granted
        engine.dispose()


class TestStatementsAlone:
    """``statements_alone``: on PostgreSQL each statement commits by itself (no BEGIN and no
    COMMIT round trips) until the session's next commit; SQLite keeps its transactions."""

    def test_until_the_next_commit(self, engine):
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from app.db import statements_alone

        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE probe_alone (v INTEGER)"))
        # Another client, outside the application's connection setup: it sees what is committed.
        other = create_engine(engine.url)

        def committed() -> list[int]:
            with other.connect() as connection:
                query = text("SELECT v FROM probe_alone ORDER BY v")
                return connection.execute(query).scalars().all()

        try:
            with Session(engine) as session:
                statements_alone(session)
                session.execute(text("INSERT INTO probe_alone VALUES (1)"))
                seen_at_once = committed()
                session.commit()  # ends the mode: a transaction again
                session.execute(text("INSERT INTO probe_alone VALUES (2)"))
                seen_before_commit = committed()
                session.commit()
            alone = engine.dialect.name == "postgresql"
            assert (seen_at_once, seen_before_commit) == (([1], [1]) if alone else ([], [1]))
            assert committed() == [1, 2]
        finally:
            other.dispose()
            with engine.begin() as connection:
                connection.execute(text("DROP TABLE probe_alone"))

    def test_a_session_joined_to_an_outer_transaction_keeps_it(self, db):
        from app.db import statements_alone

        statements_alone(db)  # the test's session is bound to a connection in a transaction
        assert db.connection().in_transaction()
        assert db.connection().get_execution_options().get("isolation_level") is None
