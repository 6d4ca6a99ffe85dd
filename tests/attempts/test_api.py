"""Taking a questionnaire through the JSON API, with a controlled clock."""

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, inspect, select, update

from app.attempts import router as attempts_router
from app.attempts import service as attempts_service
from app.attempts.draw import DrawnItem
from app.attempts.models import Answer, Attempt, AttemptItem
from app.audit.models import AuditEntry
from app.auth.models import UserAccount, UserSession
from app.auth.service import token_digest
from app.banks.models import QuestionVersion
from app.db import utcnow
from app.sessions import service as sessions_service
from app.sessions.models import Enrolment, SessionQuestionnaire
from tests.exam_fixtures import CLOSES, login
from tests.support.hops import count_hops

GRACE = 10  # the default CCPQ_DEADLINE_GRACE_SECONDS


def start(client, exam):
    response = client.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts")
    assert response.status_code == 200, response.text
    return response.json()


def save(client, attempt_id, question_id, seq, **body):
    return client.put(
        f"/api/v1/attempts/{attempt_id}/answers/{question_id}", json={"seq": seq, **body}
    )


def by_type(attempt: dict, kind: str) -> dict:
    return next(q for q in attempt["questions"] if q["type"] == kind)


class TestStart:
    def test_draw_follows_the_blueprint_and_hides_the_keys(self, candidate, exam, clock):
        attempt = start(candidate, exam)
        assert attempt["status"] == "running" and attempt["total"] == 3
        assert sorted(q["question_id"] for q in attempt["questions"]) == [
            "q-choix",
            "q-multiple",
            "q-vrai-faux",
        ]  # q-nombre is no longer valid on the exam day
        assert attempt["remaining_seconds"] == 20 * 60
        assert attempt["deadline"] == "2026-12-01T09:20:00Z"
        assert attempt["result"] is None
        body = candidate.get(f"/api/v1/attempts/{attempt['id']}").text
        for secret in ('"correct"', '"answer"', '"explanation"', "Le taux croît par tranches"):
            assert secret not in body
        assert by_type(attempt, "true_false")["options"] == [
            {"id": "true", "text": "Vrai"},
            {"id": "false", "text": "Faux"},
        ] or by_type(attempt, "true_false")["options"] == [
            {"id": "false", "text": "Faux"},
            {"id": "true", "text": "Vrai"},
        ]

    def test_second_start_resumes(self, candidate, exam, clock):
        first = start(candidate, exam)
        clock.advance(minutes=3)
        second = start(candidate, exam)
        assert second["id"] == first["id"]
        assert second["questions"] == first["questions"]  # same draw, same option order
        assert second["remaining_seconds"] == 17 * 60

    def test_the_attempt_freezes_what_was_shown(self, candidate, exam, db):
        attempt = start(candidate, exam)
        stored = db.scalar(select(Attempt).where(Attempt.id == attempt["id"]))
        items = attempts_service.load_attempt(session=db, attempt_id=stored.id).items
        assert [i.question_id for i in items] == [q["question_id"] for q in attempt["questions"]]
        choice = next(i for i in items if i.question_id == "q-multiple")
        shown = next(q for q in attempt["questions"] if q["question_id"] == "q-multiple")
        assert choice.option_order == [o["id"] for o in shown["options"]]
        assert sorted(choice.option_order) == ["a", "b", "c"]

    def test_a_new_attempt_stores_its_draw_as_drawn(self, exam, db, clock, monkeypatch):
        """The drawn items go in as one JSON parameter; what is stored, and the loaded
        objects the start answers with, are exactly the draw (no options: NULL)."""
        drawn = [
            DrawnItem("q-multiple", ("c", "a", "b")),
            DrawnItem("q-nombre", None),
            DrawnItem("q-vrai-faux", ("true", "false")),
        ]
        monkeypatch.setattr(attempts_service, "draw", lambda **_: drawn)
        questionnaire = attempts_service.get_questionnaire(
            session=db, questionnaire_id=exam.questionnaire_id
        )
        attempt = attempts_service._new_attempt(
            session=db,
            questionnaire=questionnaire,
            enrolment=db.get(Enrolment, exam.enrolment_id),
            number=1,
            now=clock.now,
        )
        db.commit()
        expected = [
            (1, "q-multiple", ["c", "a", "b"], False, False, None),
            (2, "q-nombre", None, False, False, None),
            (3, "q-vrai-faux", ["true", "false"], False, False, None),
        ]
        columns = ("position", "question_id", "option_order", "flagged", "seen", "first_seen_at")
        assert [tuple(getattr(i, c) for c in columns) for i in attempt.items] == expected
        stored = db.execute(
            select(AttemptItem.id, *(getattr(AttemptItem, c) for c in columns))
            .where(AttemptItem.attempt_id == attempt.id)
            .order_by(AttemptItem.position)
        ).all()
        assert [tuple(row[1:]) for row in stored] == expected
        assert [i.id for i in attempt.items] == [row.id for row in stored]
        assert all(inspect(i).persistent for i in attempt.items)
        versions = db.execute(
            select(QuestionVersion.question_id, QuestionVersion.bank_version_id)
            .join(AttemptItem, AttemptItem.question_version_id == QuestionVersion.id)
            .where(AttemptItem.attempt_id == attempt.id)
            .order_by(AttemptItem.position)
        ).all()
        assert [tuple(v) for v in versions] == [
            (question_id, questionnaire.bank_version_id)
            for question_id in ("q-multiple", "q-nombre", "q-vrai-faux")
        ]

    def test_one_attempt_only(self, candidate, exam):
        attempt = start(candidate, exam)
        candidate.post(f"/api/v1/attempts/{attempt['id']}/submit")
        again = candidate.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts")
        assert (again.status_code, again.json()) == (
            409,
            {"detail": "Vous avez déjà passé ce questionnaire."},
        )

    def test_a_second_attempt_where_two_are_allowed(self, candidate, exam, db):
        db.execute(
            update(SessionQuestionnaire)
            .where(SessionQuestionnaire.id == exam.questionnaire_id)
            .values(max_attempts=2)
        )
        db.commit()
        first = start(candidate, exam)
        candidate.post(f"/api/v1/attempts/{first['id']}/submit")
        second = start(candidate, exam)
        assert second["id"] != first["id"] and second["status"] == "running"
        assert db.scalars(
            select(Attempt.number).where(Attempt.id.in_([first["id"], second["id"]]))
        ).all() == [1, 2]
        assert start(candidate, exam)["id"] == second["id"]  # resumed
        candidate.post(f"/api/v1/attempts/{second['id']}/submit")
        third = candidate.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts")
        assert (third.status_code, third.json()) == (
            409,
            {"detail": "Vous avez déjà passé ce questionnaire."},
        )

    def test_unknown_questionnaire(self, candidate, exam):
        response = candidate.post(f"/api/v1/questionnaires/{exam.questionnaire_id + 1}/attempts")
        assert (response.status_code, response.json()) == (
            404,
            {"detail": "Tentative introuvable."},
        )

    def test_outside_the_window(self, candidate, exam, clock):
        clock.now = CLOSES
        response = candidate.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts")
        assert (response.status_code, response.json()) == (
            409,
            {"detail": "La session « Session de test » est fermée."},
        )
        clock.now = CLOSES - timedelta(days=1)
        response = candidate.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts")
        assert response.json() == {
            "detail": "La session « Session de test » n'est pas encore ouverte : elle ouvre le "
            "01/12/2026 à 09:00."
        }

    def test_only_enrolled_candidates(self, client, exam, clock, make_user):
        make_user("bob", "candidat")
        login(client, "bob")
        response = client.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts")
        assert (response.status_code, response.json()) == (
            409,
            {"detail": "Vous n'êtes pas inscrit à la session de ce questionnaire."},
        )

    def test_staff_cannot_take_it(self, client, exam, make_user):
        make_user("jules", "jury")
        login(client, "jules")
        response = client.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts")
        assert response.status_code == 403


class TestDeadline:
    def test_save_inside_the_grace_is_accepted_after_is_refused(self, candidate, exam, clock):
        attempt = start(candidate, exam)
        deadline = clock.now + timedelta(minutes=20)
        clock.now = deadline + timedelta(seconds=GRACE - 1)
        accepted = save(candidate, attempt["id"], "q-choix", 1, selected=["a"])
        assert accepted.status_code == 200 and accepted.json()["stored"] is True
        assert accepted.json()["remaining_seconds"] == 0
        clock.now = deadline + timedelta(seconds=GRACE + 1)
        refused = save(candidate, attempt["id"], "q-choix", 2, selected=["b"])
        assert (refused.status_code, refused.json()) == (
            409,
            {"detail": attempts_service.DEADLINE_PASSED},
        )
        after = candidate.get(f"/api/v1/attempts/{attempt['id']}").json()
        assert after["status"] == "expired"  # finalised with what was saved
        assert by_id(after, "q-choix")["response"] == {"selected": ["a"]}

    def test_expired_attempt_is_finalised_lazily(self, candidate, exam, clock):
        attempt = start(candidate, exam)
        save(candidate, attempt["id"], "q-vrai-faux", 1, selected=["true"])
        clock.advance(minutes=20, seconds=GRACE + 1)
        after = candidate.get(f"/api/v1/attempts/{attempt['id']}").json()
        assert after["status"] == "expired"
        assert after["remaining_seconds"] == 0

    def test_sweeper_finalises_without_the_candidate(self, candidate, exam, clock, db):
        attempt = start(candidate, exam)
        save(candidate, attempt["id"], "q-vrai-faux", 1, selected=["true"])
        save(candidate, attempt["id"], "q-choix", 1, selected=["a"])
        just_before = clock.now + timedelta(minutes=20, seconds=GRACE)
        assert attempts_service.sweep_expired(session=db, now=just_before, grace=GRACE) == 0
        later = just_before + timedelta(seconds=1)
        assert attempts_service.sweep_expired(session=db, now=later, grace=GRACE) == 1
        assert attempts_service.sweep_expired(session=db, now=later, grace=GRACE) == 0
        stored = db.get(Attempt, attempt["id"])
        db.refresh(stored)
        assert (stored.status, stored.points, stored.max_points, stored.passed) == (
            "expired",
            2,
            3,
            True,
        )
        assert stored.finished_at == clock.now + timedelta(minutes=20)

    def test_extra_time_extends_the_deadline(self, candidate, exam, db):
        sessions_service.set_accommodation(
            session=db, enrolment_id=exam.enrolment_id, extra_time_percent=33, arrangements=None
        )
        db.commit()
        attempt = start(candidate, exam)
        assert attempt["remaining_seconds"] == 20 * 60 * 133 // 100  # 1 596 s

    def test_extra_time_granted_during_the_attempt(self, candidate, exam, db, clock):
        attempt = start(candidate, exam)
        clock.advance(minutes=5)
        sessions_service.set_accommodation(
            session=db,
            enrolment_id=exam.enrolment_id,
            extra_time_percent=50,
            arrangements="Salle isolée",
        )
        db.commit()
        after = candidate.get(f"/api/v1/attempts/{attempt['id']}").json()
        assert after["remaining_seconds"] == 30 * 60 - 5 * 60

    def test_closing_time_cuts_unless_accommodated(self, candidate, exam, clock, db):
        clock.now = CLOSES - timedelta(minutes=10)
        attempt = start(candidate, exam)
        assert attempt["deadline"] == "2026-12-01T12:00:00Z"
        sessions_service.set_accommodation(
            session=db, enrolment_id=exam.enrolment_id, extra_time_percent=33, arrangements=None
        )
        db.commit()
        after = candidate.get(f"/api/v1/attempts/{attempt['id']}").json()
        assert after["deadline"] == "2026-12-01T12:16:36Z"  # 11:50 + 26 min 36 s


def by_id(attempt: dict, question_id: str) -> dict:
    return next(q for q in attempt["questions"] if q["question_id"] == question_id)


class TestSaves:
    def test_newest_save_wins_whatever_the_arrival_order(self, candidate, exam):
        attempt = start(candidate, exam)
        newer = save(candidate, attempt["id"], "q-multiple", 2, selected=["a", "b"])
        older = save(candidate, attempt["id"], "q-multiple", 1, selected=["c"])
        assert newer.json()["stored"] is True
        assert older.status_code == 200
        assert older.json()["stored"] is False
        assert older.json()["response"] == {"selected": ["a", "b"]}
        assert older.json()["seq"] == 2
        stored = candidate.get(f"/api/v1/attempts/{attempt['id']}").json()
        assert by_id(stored, "q-multiple")["response"] == {"selected": ["a", "b"]}

    def test_replaying_a_save_is_harmless(self, candidate, exam):
        attempt = start(candidate, exam)
        first = save(candidate, attempt["id"], "q-choix", 5, selected=["b"])
        replay = save(candidate, attempt["id"], "q-choix", 5, selected=["b"])
        assert (first.json()["stored"], replay.json()["stored"]) == (True, False)
        assert replay.json()["saved_at"] == first.json()["saved_at"]

    @pytest.mark.parametrize(
        ("question_id", "body", "message"),
        [
            ("q-choix", {"selected": ["z"]}, "Option inconnue : z."),
            (
                "q-choix",
                {"selected": ["a", "b"]},
                "Une seule réponse est possible pour cette question.",
            ),
            ("q-vrai-faux", {"selected": ["a"]}, "Option inconnue : a."),
        ],
    )
    def test_invalid_response(self, candidate, exam, question_id, body, message):
        attempt = start(candidate, exam)
        response = save(candidate, attempt["id"], question_id, 1, **body)
        assert (response.status_code, response.json()) == (422, {"detail": message})

    def test_unknown_question(self, candidate, exam):
        attempt = start(candidate, exam)
        response = save(candidate, attempt["id"], "q-nombre", 1, value=17.2)
        assert (response.status_code, response.json()) == (
            404,
            {"detail": "Tentative introuvable."},
        )

    def test_no_save_after_submit(self, candidate, exam):
        attempt = start(candidate, exam)
        candidate.post(f"/api/v1/attempts/{attempt['id']}/submit")
        response = save(candidate, attempt["id"], "q-choix", 1, selected=["a"])
        assert (response.status_code, response.json()) == (
            409,
            {"detail": "Ce questionnaire est déjà remis : les réponses ne changent plus."},
        )


class TestSaveBodyRefusals:
    """The save reads its own body (app/web/bodies.py): refusals keep FastAPI's shape."""

    @pytest.mark.parametrize(
        ("content", "content_type", "detail"),
        [
            (
                b'{"selected": ["a"]}',
                "application/json",
                [{"loc": ["body", "seq"], "msg": "Field required", "type": "missing"}],
            ),
            (
                b'{"seq": 0, "selected": "a"}',
                "application/json",
                [
                    {
                        "loc": ["body", "selected"],
                        "msg": "Input should be a valid list",
                        "type": "list_type",
                    },
                    {
                        "loc": ["body", "seq"],
                        "msg": "Input should be greater than or equal to 1",
                        "type": "greater_than_equal",
                    },
                ],
            ),
            (
                b'{"seq": 1,',
                "application/json",
                [{"loc": ["body", 10], "msg": "JSON decode error", "type": "json_invalid"}],
            ),
            (
                b"",
                "application/json",
                [{"loc": ["body"], "msg": "Field required", "type": "missing"}],
            ),
            (
                b'{"seq": 1, "selected": ["a"]}',
                "text/plain",
                [
                    {
                        "loc": ["body"],
                        "msg": "Input should be a valid dictionary or object to extract fields "
                        "from",
                        "type": "model_attributes_type",
                    }
                ],
            ),
        ],
    )
    def test_refused_with_where_and_why(self, candidate, exam, db, content, content_type, detail):
        attempt = start(candidate, exam)
        response = candidate.put(
            f"/api/v1/attempts/{attempt['id']}/answers/q-choix",
            content=content,
            headers={"Content-Type": content_type},
        )
        assert (response.status_code, response.json()) == (422, {"detail": detail})
        assert db.scalar(select(func.count()).select_from(Answer)) == 0

    def test_json_with_a_suffix_is_json(self, candidate, exam):
        attempt = start(candidate, exam)
        response = candidate.put(
            f"/api/v1/attempts/{attempt['id']}/answers/q-choix",
            content=b'{"seq": 1, "selected": ["a"]}',
            headers={"Content-Type": "application/merge-patch+json; charset=utf-8"},
        )
        assert (response.status_code, response.json()["response"]) == (200, {"selected": ["a"]})

    @pytest.mark.parametrize(
        ("attempt_id", "detail"),
        [
            (
                "abc",
                [
                    {
                        "loc": ["path", "attempt_id"],
                        "msg": "Input should be a valid integer, unable to parse string as an "
                        "integer",
                        "type": "int_parsing",
                    }
                ],
            ),
            (
                "1.5",
                [
                    {
                        "loc": ["path", "attempt_id"],
                        "msg": "Input should be a valid integer, unable to parse string as an "
                        "integer",
                        "type": "int_parsing",
                    }
                ],
            ),
        ],
    )
    def test_path_refused_before_the_body(self, candidate, exam, db, attempt_id, detail):
        """The save's route resolves its path as FastAPI does (app/web/direct.py)."""
        start(candidate, exam)
        response = candidate.put(
            f"/api/v1/attempts/{attempt_id}/answers/q-choix", content=b"not even JSON"
        )
        assert (response.status_code, response.json()) == (422, {"detail": detail})
        assert db.scalar(select(func.count()).select_from(Answer)) == 0

    def test_an_identifier_beyond_the_database_names_nothing(self, candidate, exam, db):
        """Beyond the engine's integers: a French 404, as on the app's other routes."""
        start(candidate, exam)
        response = save(candidate, 2**63, "q-choix", 1, selected=["a"])
        assert (response.status_code, response.json()) == (404, {"detail": "Page introuvable."})
        assert db.scalar(select(func.count()).select_from(Answer)) == 0


class TestPrivacy:
    def test_another_candidate_cannot_read_or_write(self, candidate, exam, client, make_user, db):
        attempt = start(candidate, exam)
        bob = make_user("bob", "candidat")
        exam_session = sessions_service.get_session(session=db, exam_session_id=exam.session_id)
        sessions_service.enrol(session=db, exam=exam_session, user=bob, candidate_number="C-002")
        db.commit()
        login(client, "bob")
        assert client.get(f"/api/v1/attempts/{attempt['id']}").status_code == 404
        assert save(client, attempt["id"], "q-choix", 9, selected=["b"]).status_code == 404
        assert client.post(f"/api/v1/attempts/{attempt['id']}/submit").status_code == 404

    @pytest.mark.parametrize("how", ["logged_out", "expired", "deactivated"])
    def test_a_save_with_a_session_no_longer_live_is_refused(self, candidate, exam, db, how):
        """The save learns who calls in its own read: a dead session writes nothing."""
        attempt = start(candidate, exam)
        token = candidate.headers["Authorization"].removeprefix("Bearer ")
        record = db.scalar(
            select(UserSession).where(UserSession.token_sha256 == token_digest(token))
        )
        if how == "logged_out":
            assert candidate.post("/api/v1/auth/logout").status_code == 204
        elif how == "expired":
            record.expires_at = utcnow() - timedelta(seconds=1)
        else:
            db.get(UserAccount, record.user_id).is_active = False
        db.commit()
        refused = save(candidate, attempt["id"], "q-choix", 1, selected=["a"])
        assert (refused.status_code, refused.json()["detail"]) == (401, "Connexion requise.")
        assert db.scalars(select(Answer.id)).all() == []

    def test_staff_cannot_save_into_a_candidates_attempt(self, candidate, exam, client, make_user):
        attempt = start(candidate, exam)
        make_user("jules", "jury")
        login(client, "jules")
        refused = save(client, attempt["id"], "q-choix", 1, selected=["a"])
        assert refused.status_code == 403


class TestSubmitAndResult:
    def answer_all(self, client, attempt, right: bool):
        save(client, attempt["id"], "q-choix", 1, selected=["a" if right else "b"])
        save(client, attempt["id"], "q-multiple", 1, selected=["a", "b"] if right else ["a"])
        save(client, attempt["id"], "q-vrai-faux", 1, selected=["true"])

    def test_result_waits_for_the_session_to_close(self, candidate, exam, clock):
        attempt = start(candidate, exam)
        self.answer_all(candidate, attempt, right=True)
        submitted = candidate.post(f"/api/v1/attempts/{attempt['id']}/submit").json()
        assert submitted["status"] == "submitted"
        assert submitted["result"] == {
            "available": False,
            "message": "Votre questionnaire est remis. Le résultat sera disponible à partir du "
            "01/12/2026 à 13:00.",
            "points": None,
            "max_points": None,
            "percent": None,
            "threshold_percent": None,
            "passed": None,
            "topics": None,
            "corrections": None,
        }
        clock.now = CLOSES
        result = candidate.get(f"/api/v1/attempts/{attempt['id']}").json()["result"]
        assert result["available"] is True
        assert (result["points"], result["max_points"], result["percent"]) == ("3", 3, "100.00")
        assert (result["threshold_percent"], result["passed"]) == ("60", True)
        assert [(t["topic"], t["points"], t["max_points"]) for t in result["topics"]] == [
            ("bareme", "2", 2),
            ("epargne", "1", 1),
        ]
        correction = next(c for c in result["corrections"] if c["question_id"] == "q-multiple")
        assert correction["expected"] == {"selected": ["a", "b"]}
        assert correction["explanation"] == "Le compte courant n'est pas un livret."

    def test_failing_score(self, candidate, exam, clock):
        attempt = start(candidate, exam)
        self.answer_all(candidate, attempt, right=False)
        candidate.post(f"/api/v1/attempts/{attempt['id']}/submit")
        clock.now = CLOSES
        result = candidate.get(f"/api/v1/attempts/{attempt['id']}").json()["result"]
        assert (result["points"], result["percent"], result["passed"]) == ("1", "33.33", False)

    def test_double_submit_is_harmless(self, candidate, exam, clock):
        attempt = start(candidate, exam)
        first = candidate.post(f"/api/v1/attempts/{attempt['id']}/submit").json()
        clock.advance(minutes=1)
        second = candidate.post(f"/api/v1/attempts/{attempt['id']}/submit").json()
        assert first["status"] == second["status"] == "submitted"
        assert first["result"] == second["result"]


class TestMyQuestionnaires:
    def test_statuses(self, candidate, exam, clock):
        listed = candidate.get("/api/v1/me/questionnaires").json()
        assert listed == [
            {
                "id": exam.questionnaire_id,
                "title": "Questionnaire d'essai",
                "theme": "fiscalite",
                "session": "Session de test",
                "opens_at": "2026-12-01T08:00:00Z",
                "closes_at": "2026-12-01T12:00:00Z",
                "duration_minutes": 20,
                "item_count": 3,
                "status": "ouvert",
                "attempt_id": None,
            }
        ]
        attempt = start(candidate, exam)
        assert candidate.get("/api/v1/me/questionnaires").json()[0]["status"] == "en_cours"
        candidate.post(f"/api/v1/attempts/{attempt['id']}/submit")
        mine = candidate.get("/api/v1/me/questionnaires").json()[0]
        assert (mine["status"], mine["attempt_id"]) == ("termine", attempt["id"])


class TestStartRace:
    def test_a_start_that_finds_the_attempt_taken_gives_way(self, candidate, exam, db, clock):
        """Two tabs start at once: both read "no attempt yet", one writes attempt 1 first;
        the other inserts nothing (no error, no second audit entry) and resumes it."""
        first = start(candidate, exam)
        questionnaire = attempts_service.get_questionnaire(
            session=db, questionnaire_id=exam.questionnaire_id
        )
        enrolment = db.scalar(select(Enrolment).where(Enrolment.candidate_number == "C-001"))
        late = attempts_service._new_attempt(
            session=db, questionnaire=questionnaire, enrolment=enrolment, number=1, now=clock.now
        )
        db.commit()
        assert late is None
        assert db.scalars(select(Attempt.id)).all() == [first["id"]]
        starts = db.scalars(select(AuditEntry.target).where(AuditEntry.action == "attempt.start"))
        assert starts.all() == [f"attempt:{first['id']}"]
        assert start(candidate, exam)["id"] == first["id"]


class TestAutosaveBetweenReadAndWrite:
    """The autosave reads, ends its reads, then writes: what happens in between counts.

    The usual way: on PostgreSQL, an attempt the process knows saves in one statement
    (TestKnownAttempt), so that none is known here.
    """

    @pytest.fixture(autouse=True)
    def usual_way(self, monkeypatch):
        monkeypatch.setattr(attempts_service, "_KNOWN_ITEMS", {})
        monkeypatch.setattr(attempts_service, "_know", lambda *arguments: None)

    def _read(self, db, candidate, attempt, question_id, seq, clock, **body):
        save = attempts_service.Autosave(
            attempt_id=attempt["id"],
            question_id=question_id,
            selected=body.get("selected"),
            value=body.get("value"),
            seq=seq,
        )
        target = attempts_service.autosave_target(
            session=db,
            save=save,
            caller_token=candidate.headers["Authorization"].removeprefix("Bearer "),
            now=clock.now,
            grace=GRACE,
        )
        return save, target

    def test_a_submission_in_between_refuses_the_write(self, candidate, exam, db, clock):
        attempt = start(candidate, exam)
        save_call, target = self._read(db, candidate, attempt, "q-choix", 1, clock, selected=["a"])
        assert target.user_id == db.scalar(
            select(UserAccount.id).where(UserAccount.login == "alice")
        )
        candidate.post(f"/api/v1/attempts/{attempt['id']}/submit")
        with pytest.raises(attempts_service.AttemptError, match="déjà remis"):
            attempts_service.autosave(
                session=db, save=save_call, target=target, now=clock.now, grace=GRACE
            )
        held = candidate.get(f"/api/v1/attempts/{attempt['id']}").json()
        assert by_id(held, "q-choix")["response"] is None

    def test_through_the_api_a_submission_in_between_gets_its_refusal(
        self, candidate, exam, db, clock, monkeypatch
    ):
        attempt = start(candidate, exam)
        read_then = attempts_service.held_already  # between the save's reads and its writes

        def submitted_meanwhile(**arguments):
            db.execute(
                update(Attempt).where(Attempt.id == attempt["id"]).values(status="submitted")
            )
            db.commit()
            return read_then(**arguments)

        monkeypatch.setattr(attempts_service, "held_already", submitted_meanwhile)
        response = save(candidate, attempt["id"], "q-choix", 1, selected=["a"])
        assert response.status_code == 409
        assert response.json() == {
            "detail": "Ce questionnaire est déjà remis : les réponses ne changent plus."
        }
        assert db.scalar(select(func.count()).select_from(Answer)) == 0

    def test_a_newer_save_in_between_is_kept(self, candidate, exam, db, clock):
        attempt = start(candidate, exam)
        save_call, target = self._read(db, candidate, attempt, "q-choix", 1, clock, selected=["a"])
        assert save(candidate, attempt["id"], "q-choix", 2, selected=["b"]).json()["stored"]
        saved = attempts_service.autosave(
            session=db, save=save_call, target=target, now=clock.now, grace=GRACE
        )
        assert (saved.stored, saved.seq, saved.response) == (False, 2, {"selected": ["b"]})


class TestThreadHops:
    """A hop to the thread pool costs a save more than its statements: they are counted."""

    @pytest.fixture
    def hops(self, monkeypatch) -> list[str]:
        return count_hops(monkeypatch)

    def test_a_save_reads_on_the_event_loop_on_sqlite(self, candidate, exam, db, hops):
        attempt = start(candidate, exam)
        hops.clear()
        assert save(candidate, attempt["id"], "q-choix", 1, selected=["a"]).json()["stored"]
        # SQLite: only the write hops, in its group commit; elsewhere, one hop for all (a
        # session bound to the suite's transaction: a served worker's takes none, see
        # test_loop_session.py).
        on_sqlite = db.get_bind().dialect.name == "sqlite"
        assert hops == (["commit_together"] if on_sqlite else ["_save_answer"])

    def test_a_save_too_late_finalises_in_a_thread(self, candidate, exam, db, clock, hops):
        attempt = start(candidate, exam)
        clock.advance(minutes=20, seconds=GRACE + 1)
        hops.clear()
        response = save(candidate, attempt["id"], "q-choix", 1, selected=["a"])
        assert (response.status_code, response.json()) == (
            409,
            {"detail": attempts_service.DEADLINE_PASSED},
        )
        on_sqlite = db.get_bind().dialect.name == "sqlite"
        assert hops == (["_save_the_long_way"] if on_sqlite else ["_save_answer"])
        assert db.scalar(select(Attempt.status).where(Attempt.id == attempt["id"])) == "expired"


class TestSubmitBetweenReadAndWrite:
    """The submission reads the attempt, ends its reads, then scores under the write lock
    (the row lock on PostgreSQL): what was saved or submitted in between counts."""

    def _meanwhile(self, monkeypatch, change) -> None:
        read_then = attempts_router.end_reads

        def changed_meanwhile(session):
            read_then(session)
            change(session)  # past the ORM: the objects already read do not see it

        monkeypatch.setattr(attempts_router, "end_reads", changed_meanwhile)

    def _item_id(self, db, attempt, question_id) -> int:
        return db.scalar(
            select(AttemptItem.id).where(
                AttemptItem.attempt_id == attempt["id"], AttemptItem.question_id == question_id
            )
        )

    def test_a_save_in_between_is_scored(self, candidate, exam, db, clock, monkeypatch):
        attempt = start(candidate, exam)
        item_id = self._item_id(db, attempt, "q-choix")

        def saved(session):
            session.execute(
                insert(Answer).values(
                    attempt_item_id=item_id, response={"selected": ["a"]}, seq=1, saved_at=clock.now
                )
            )

        self._meanwhile(monkeypatch, saved)
        submitted = candidate.post(f"/api/v1/attempts/{attempt['id']}/submit").json()
        assert (submitted["status"], submitted["answered"]) == ("submitted", 1)
        assert by_id(submitted, "q-choix")["response"] == {"selected": ["a"]}
        scored = db.execute(
            select(Attempt.points, Attempt.max_points).where(Attempt.id == attempt["id"])
        ).one()
        assert scored == (1, 3)

    def test_a_submission_in_between_is_not_redone(self, candidate, exam, db, clock, monkeypatch):
        attempt = start(candidate, exam)
        elsewhere = clock.now - timedelta(seconds=30)

        def submitted_elsewhere(session):
            session.execute(
                update(Attempt)
                .where(Attempt.id == attempt["id"])
                .values(
                    status="submitted",
                    finished_at=elsewhere,
                    points=0,
                    max_points=3,
                    percent=0,
                    passed=False,
                )
                .execution_options(synchronize_session=False)
            )

        self._meanwhile(monkeypatch, submitted_elsewhere)
        clock.advance(minutes=1)
        submitted = candidate.post(f"/api/v1/attempts/{attempt['id']}/submit").json()
        assert submitted["status"] == "submitted"
        assert (
            db.scalar(select(Attempt.finished_at).where(Attempt.id == attempt["id"])) == elsewhere
        )
        submissions = db.scalar(select(func.count()).where(AuditEntry.action == "attempt.submit"))
        assert submissions == 0


class TestQuestionVersions:
    def test_an_item_shows_the_version_it_names(self, candidate, exam, db):
        """Items take their question from the bank version's catalogue; one that names
        another version (none does today) is shown with that version, read from the table."""
        attempt = start(candidate, exam)
        numeric = db.scalar(
            select(QuestionVersion.id).where(QuestionVersion.question_id == "q-nombre")
        )
        db.execute(
            update(AttemptItem)
            .where(AttemptItem.attempt_id == attempt["id"], AttemptItem.question_id == "q-choix")
            .values(question_version_id=numeric)
        )
        db.commit()
        shown = candidate.get(f"/api/v1/attempts/{attempt['id']}").json()
        assert [
            (q["question_id"], q["type"])
            for q in shown["questions"]
            if q["question_id"] == "q-choix"
        ] == [("q-choix", "numeric")]
        assert {q["type"] for q in shown["questions"] if q["question_id"] != "q-choix"} == {
            "multiple_choice",
            "true_false",
        }


class TestKnownAttempt:
    """On PostgreSQL a save to an attempt the process knows (started here, or saved to once
    already) is one statement, which checks what the read checks otherwise; whatever it
    does not write goes the usual way, which tells why. SQLite reads first, always."""

    @pytest.fixture
    def reads(self, monkeypatch) -> list[str]:
        read = attempts_service.autosave_target
        seen = []

        def counted(**arguments):
            seen.append(arguments["save"].question_id)
            return read(**arguments)

        monkeypatch.setattr(attempts_service, "autosave_target", counted)
        return seen

    def test_a_started_attempt_saves_without_reading(self, candidate, exam, db, reads):
        attempt = start(candidate, exam)
        reply = save(candidate, attempt["id"], "q-choix", 1, selected=["a"]).json()
        assert (reply["stored"], reply["seq"], reply["response"]) == (True, 1, {"selected": ["a"]})
        assert reply["remaining_seconds"] == 20 * 60
        on_sqlite = db.get_bind().dialect.name == "sqlite"
        assert reads == (["q-choix"] if on_sqlite else [])
        held = candidate.get(f"/api/v1/attempts/{attempt['id']}").json()
        assert by_id(held, "q-choix")["response"] == {"selected": ["a"]}
        assert by_id(held, "q-choix")["seq"] == 1

    def test_an_attempt_started_elsewhere_is_learnt_at_its_first_save(
        self, candidate, exam, db, reads, monkeypatch
    ):
        attempt = start(candidate, exam)
        monkeypatch.setattr(attempts_service, "_KNOWN_ITEMS", {})  # another process started it
        assert save(candidate, attempt["id"], "q-choix", 1, selected=["a"]).json()["stored"]
        assert save(candidate, attempt["id"], "q-multiple", 1, selected=["b"]).json()["stored"]
        on_sqlite = db.get_bind().dialect.name == "sqlite"
        assert reads == (["q-choix", "q-multiple"] if on_sqlite else ["q-choix"])

    def test_what_it_does_not_write_goes_the_usual_way(self, candidate, exam, db, clock, reads):
        attempt = start(candidate, exam)
        assert save(candidate, attempt["id"], "q-choix", 2, selected=["b"]).json()["stored"]
        older = save(candidate, attempt["id"], "q-choix", 1, selected=["a"]).json()
        assert (older["stored"], older["seq"], older["response"]) == (
            False,
            2,
            {"selected": ["b"]},
        )
        wrong = save(candidate, attempt["id"], "q-choix", 3, selected=["z"])
        assert wrong.status_code == 422
        clock.advance(minutes=20, seconds=GRACE + 1)
        late = save(candidate, attempt["id"], "q-multiple", 1, selected=["a"])
        assert (late.status_code, late.json()) == (
            409,
            {"detail": attempts_service.DEADLINE_PASSED},
        )
        assert (
            reads
            == ["q-choix", "q-choix", "q-choix", "q-multiple"][
                (0 if db.get_bind().dialect.name == "sqlite" else 1) :
            ]
        )
        assert db.scalar(select(Attempt.status).where(Attempt.id == attempt["id"])) == "expired"

    def test_an_item_of_another_attempt_is_never_written(self, candidate, exam, make_user, db):
        """What the process knows is checked by the statement: an item that is not the
        attempt's (a process that knew another database, say) is not written to."""
        mine = start(candidate, exam)
        alice = candidate.headers["Authorization"]
        bob = make_user("bob", "candidat")
        exam_session = sessions_service.get_session(session=db, exam_session_id=exam.session_id)
        sessions_service.enrol(session=db, exam=exam_session, user=bob, candidate_number="C-002")
        db.commit()
        del candidate.headers["Authorization"]  # a login with it would end alice's session
        login(candidate, "bob")
        theirs = start(candidate, exam)
        known = attempts_service._KNOWN_ITEMS
        url = db.get_bind().engine.url
        if db.get_bind().dialect.name == "postgresql":  # alice's q-choix: bob's item
            known[(url, mine["id"])] = {
                **known[(url, mine["id"])],
                "q-choix": known[(url, theirs["id"])]["q-choix"],
            }
        candidate.headers["Authorization"] = alice
        reply = save(candidate, mine["id"], "q-choix", 1, selected=["a"])
        assert reply.status_code == 200, reply.text
        assert reply.json()["stored"]
        held = candidate.get(f"/api/v1/attempts/{mine['id']}").json()
        assert by_id(held, "q-choix")["response"] == {"selected": ["a"]}
        answered = db.scalars(
            select(AttemptItem.attempt_id).join(Answer, Answer.attempt_item_id == AttemptItem.id)
        )
        assert answered.all() == [mine["id"]]
