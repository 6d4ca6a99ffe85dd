"""On a real SQLite file, a start takes the write lock for its writes alone."""

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker

import app.db
from app.attempts import service as attempts_service
from app.audit import service as audit_service
from app.db import build_engine
from app.main import create_app
from tests.bench.run import seed
from tests.test_db import writer_lock_free


def test_a_start_checks_and_draws_before_it_takes_the_write_lock(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'start.sqlite3'}"
    questionnaire_id, tokens = seed(url, 1)
    engine = build_engine(url)
    monkeypatch.setattr(
        app.db, "get_sessionmaker", lambda: sessionmaker(bind=engine, expire_on_commit=False)
    )
    begins: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args) -> None:
        if statement.startswith("BEGIN"):
            begins.append(statement)

    lock_free_at: dict[str, bool] = {}

    def spy(name: str, real):
        def call(**arguments):
            lock_free_at[name] = writer_lock_free(engine)
            return real(**arguments)

        return call

    monkeypatch.setattr(attempts_service, "draw", spy("draw", attempts_service.draw))
    monkeypatch.setattr(audit_service, "record", spy("audit", audit_service.record))

    response = TestClient(create_app(sweeper=False)).post(
        f"/api/v1/questionnaires/{questionnaire_id}/attempts",
        headers={"Authorization": f"Bearer {tokens[0]}"},
    )

    assert response.status_code == 200, response.text
    assert (response.json()["status"], len(response.json()["questions"])) == ("running", 40)
    # Who calls, the questionnaire, the enrolment and the draw: no lock. The inserts and
    # the audit entry: under the lock, which the commit frees.
    assert lock_free_at == {"draw": True, "audit": False}
    assert begins == ["BEGIN DEFERRED", "BEGIN IMMEDIATE"]
    assert writer_lock_free(engine)
    engine.dispose()
