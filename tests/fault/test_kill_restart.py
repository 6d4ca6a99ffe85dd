"""Kill the real server mid-questionnaire (SIGKILL), restart it: nothing acknowledged is lost."""

import os
import subprocess
import sys
import time
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.attempts.models import Answer, Attempt, AttemptItem
from app.auth import service as auth_service
from app.auth.roles import Role
from app.db import build_engine, utcnow
from app.sessions import service as sessions_service
from tests.exam_fixtures import import_bank, timeless_bank
from tests.support.server import PROJECT_ROOT, Server, fresh_database, migrate

CANDIDATES = 5
PASSWORD = "mot-de-passe"


def seed(url: str) -> int:
    """An open session with the exam questionnaire and CANDIDATES enrolled candidates."""
    engine = build_engine(url)
    migrate(engine)
    with Session(engine) as session, session.begin():
        version = import_bank(session, timeless_bank())
        now = utcnow()
        exam = sessions_service.create_session(
            session=session,
            name="Session de reprise",
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(hours=2),
        )
        questionnaire = sessions_service.add_questionnaire(
            session=session, exam=exam, bank_version=version
        )
        for index in range(CANDIDATES):
            user = auth_service.create_user(
                session=session, login=f"c{index}", password=PASSWORD, role=Role.CANDIDAT
            )
            sessions_service.enrol(
                session=session, exam=exam, user=user, candidate_number=f"R-{index}"
            )
        questionnaire_id = questionnaire.id
    engine.dispose()
    return questionnaire_id


def test_sigkill_loses_no_acknowledged_save(tmp_path):
    url = fresh_database(os.environ.get("CCPQ_TEST_DATABASE_URL"), name="fault", tmp_dir=tmp_path)
    questionnaire_id = seed(url)
    server = Server(url, env={"CCPQ_DEADLINE_GRACE_SECONDS": "1"}).start()
    acknowledged: dict[tuple[int, str], int] = {}
    attempts: dict[str, dict] = {}
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            tokens = {}
            for index in range(CANDIDATES):
                login = http.post(
                    "/api/v1/auth/login", json={"login": f"c{index}", "password": PASSWORD}
                )
                assert login.status_code == 200, login.text
                http.cookies.clear()  # an API client authenticates with its bearer token only
                tokens[index] = {"Authorization": f"Bearer {login.json()['token']}"}
                attempts[index] = http.post(
                    f"/api/v1/questionnaires/{questionnaire_id}/attempts", headers=tokens[index]
                ).json()
            for seq in (1, 2):  # each candidate answers, then changes their mind
                for index, attempt in attempts.items():
                    for question in attempt["questions"]:
                        options = question["options"]
                        body = (
                            {"value": seq}
                            if options is None
                            else {"selected": [options[seq % len(options)]["id"]]}
                        )
                        response = http.put(
                            f"/api/v1/attempts/{attempt['id']}/answers/{question['question_id']}",
                            json={"seq": seq, **body},
                            headers=tokens[index],
                        )
                        assert response.status_code == 200 and response.json()["stored"]
                        acknowledged[(attempt["id"], question["question_id"])] = seq
        engine = build_engine(url)
        with Session(engine) as session, session.begin():
            # The last candidate's time runs out while the server is down.
            session.execute(
                update(Attempt)
                .where(Attempt.id == attempts[CANDIDATES - 1]["id"])
                .values(deadline_at=utcnow() + timedelta(seconds=1))
            )
            deadlines = dict(session.execute(select(Attempt.id, Attempt.deadline_at)).all())
        server.kill()
        time.sleep(2.5)  # deadline + grace pass while nothing runs
        server.start()
        with Session(engine) as session:
            stored = dict(
                session.execute(
                    select(AttemptItem.attempt_id, AttemptItem.question_id, Answer.seq).join(
                        Answer, Answer.attempt_item_id == AttemptItem.id
                    )
                ).all()
                and {
                    (a, q): s
                    for a, q, s in session.execute(
                        select(AttemptItem.attempt_id, AttemptItem.question_id, Answer.seq).join(
                            Answer, Answer.attempt_item_id == AttemptItem.id
                        )
                    )
                }
            )
            assert stored == acknowledged  # every acknowledged save, at its newest seq
            assert dict(session.execute(select(Attempt.id, Attempt.deadline_at)).all()) == deadlines
        sweep = subprocess.run(
            [sys.executable, "-m", "app.cli", "attempts", "sweep"],
            cwd=PROJECT_ROOT,
            env={**server.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sweep.stdout == "1 passation(s) expirée(s) remise(s).\n", sweep.stderr
        with Session(engine) as session:
            statuses = dict(session.execute(select(Attempt.id, Attempt.status)).all())
            expired = session.get(Attempt, attempts[CANDIDATES - 1]["id"])
            assert statuses == {
                a["id"]: ("expired" if i == CANDIDATES - 1 else "running")
                for i, a in attempts.items()
            }
            assert expired.max_points == 3 and expired.points is not None
        engine.dispose()
    finally:
        server.stop()
