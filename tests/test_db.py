"""The database layer: migrations match the models, stable names, SQLite pragmas, UTC."""

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
