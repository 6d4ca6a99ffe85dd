"""Personal data: retention purge, right-of-access export, privacy notice."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

import app.cli
from app.attempts import service as attempts_service
from app.attempts.models import Answer, AttemptItem
from app.audit import service as audit_service
from app.audit.models import AuditEntry
from app.auth.models import LoginAttempt, UserAccount, UserSession
from app.auth.passwords import verify_password
from app.config import Settings
from app.gdpr import service as gdpr_service
from app.records import service as records_service
from app.records.models import CompetenceOutcome
from app.sessions import service as sessions_service
from app.sessions.models import Enrolment
from tests.exam_fixtures import login

ALL_RIGHT = {"q-choix": ["a"], "q-multiple": ["a", "b"], "q-vrai-faux": ["true"]}
ARRANGEMENTS = "Salle accessible en fauteuil roulant, pauses autorisées"
DECIDED = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
LATER_OPENS = datetime(2029, 6, 1, 8, 0, tzinfo=UTC)
LATER_CLOSES = datetime(2029, 6, 30, 16, 0, tzinfo=UTC)
PURGED_2032 = "1 candidat(s) anonymisé(s) (dernière session close avant le 01/01/2027).\n"


@dataclass
class History:
    alice_id: int
    bob_id: int
    jules_id: int
    session_id: int
    alice_enrolment_id: int
    bob_enrolment_ids: tuple[int, int]
    attempt_id: int


def take(client, questionnaire_id: int, answers: dict[str, list[str]]) -> int:
    """Alice takes the questionnaire with these answers and submits it; the attempt id."""
    login(client)
    attempt = client.post(f"/api/v1/questionnaires/{questionnaire_id}/attempts").json()
    for question_id, selected in answers.items():
        response = client.put(
            f"/api/v1/attempts/{attempt['id']}/answers/{question_id}",
            json={"seq": 1, "selected": selected},
        )
        assert response.status_code == 200
    assert client.post(f"/api/v1/attempts/{attempt['id']}/submit").status_code == 200
    client.headers.pop("Authorization")
    return attempt["id"]


@pytest.fixture
def history(db, client, exam, clock, make_user) -> History:
    """Alice (session closed on 01/12/2026): accommodations, a passed questionnaire, a failed
    login, a jury decision. Bob: the same session and a later one (closed on 30/06/2029)."""
    sessions_service.set_accommodation(
        session=db, enrolment_id=exam.enrolment_id, extra_time_percent=33, arrangements=ARRANGEMENTS
    )
    db.commit()
    attempt_id = take(client, exam.questionnaire_id, ALL_RIGHT)
    failed = client.post("/api/v1/auth/login", json={"login": "alice", "password": "faux"})
    assert failed.status_code == 401
    alice = db.scalar(select(UserAccount).where(UserAccount.login == "alice"))
    jules = make_user("jules", "jury")
    records_service.record_jury_decision(
        session=db,
        user_id=alice.id,
        exam_session_id=exam.session_id,
        competence="C9",
        modality="soutenance",
        passed=True,
        decided_at=DECIDED,
        jury_member_id=jules.id,
        jury_member_login="jules",
        comment="Argumentation solide",
        now=DECIDED,
    )
    bob = make_user("bob", "candidat")
    first = sessions_service.get_session(session=db, exam_session_id=exam.session_id)
    later = sessions_service.create_session(
        session=db, name="Session de juin 2029", opens_at=LATER_OPENS, closes_at=LATER_CLOSES
    )
    bob_first = sessions_service.enrol(session=db, exam=first, user=bob, candidate_number="C-002")
    bob_later = sessions_service.enrol(
        session=db, exam=later, user=bob, candidate_number="C-101", arrangements="Tiers-temps"
    )
    db.commit()
    return History(
        alice_id=alice.id,
        bob_id=bob.id,
        jules_id=jules.id,
        session_id=exam.session_id,
        alice_enrolment_id=exam.enrolment_id,
        bob_enrolment_ids=(bob_first.id, bob_later.id),
        attempt_id=attempt_id,
    )


def outcomes(db, user_id: int) -> list[tuple]:
    rows = db.scalars(
        select(CompetenceOutcome)
        .where(CompetenceOutcome.user_id == user_id)
        .order_by(CompetenceOutcome.id)
    )
    return [(r.competence, r.modality, r.passed, r.source, r.decided_at, r.detail) for r in rows]


def purge_entries(db) -> list[AuditEntry]:
    return list(
        db.scalars(
            select(AuditEntry).where(AuditEntry.action == "gdpr.purge").order_by(AuditEntry.id)
        )
    )


def account(db, user_id: int) -> tuple:
    user = db.get(UserAccount, user_id)
    return (user.login, user.display_name, user.email, user.is_active)


class TestPurge:
    def test_pseudonymises_past_retention_and_keeps_decisions(self, run, db, history, client):
        alice_outcomes = outcomes(db, history.alice_id)
        record_before = records_service.candidate_record(session=db, user_id=history.alice_id)
        assert alice_outcomes == [
            (
                "C9",
                "questionnaire:fiscalite",
                True,
                "questionnaire",
                datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
                "100 %",
            ),
            ("C9", "soutenance", True, "jury", DECIDED, "Argumentation solide"),
        ]

        assert run("gdpr", "purge", "--now", "2032-01-01") == (0, PURGED_2032, "")

        db.expire_all()
        alice = db.get(UserAccount, history.alice_id)
        assert account(db, history.alice_id) == (
            f"anonyme-{history.alice_id}",
            "Candidat anonymisé",
            None,
            False,
        )
        assert verify_password(alice.password_hash, "secret-pass") is False
        revoked = db.scalars(
            select(UserSession.revoked_at).where(UserSession.user_id == history.alice_id)
        ).all()
        assert len(revoked) == 1 and revoked[0] is not None
        failed_logins = select(func.count()).where(LoginAttempt.login == "alice")
        assert db.scalar(failed_logins) == 0
        enrolment = db.get(Enrolment, history.alice_enrolment_id)
        assert (
            enrolment.candidate_number,
            enrolment.extra_time_percent,
            enrolment.arrangements,
        ) == (
            "C-001",
            0,
            None,
        )
        # The certification evidence is untouched and the record still computes the same.
        assert outcomes(db, history.alice_id) == alice_outcomes
        assert records_service.candidate_record(session=db, user_id=history.alice_id) == (
            record_before
        )
        attempt = attempts_service.load_attempt(session=db, attempt_id=history.attempt_id)
        assert {i.question_id: i.answer.response for i in attempt.items} == {
            question_id: {"selected": selected} for question_id, selected in ALL_RIGHT.items()
        }
        assert (attempt.points, attempt.max_points, attempt.passed) == (3, 3, True)
        # Bob's last session closed on 30/06/2029: within retention, nothing changes.
        assert account(db, history.bob_id) == ("bob", "Bob", None, True)
        assert [db.get(Enrolment, i).arrangements for i in history.bob_enrolment_ids] == [
            None,
            "Tiers-temps",
        ]
        # The jury still opens the record, under the candidate number.
        login(client, "jules")
        page = client.get(f"/sessions/{history.session_id}/candidats/{history.alice_enrolment_id}")
        assert page.status_code == 200
        assert "<h1>Dossier de Candidat anonymisé (C-001)</h1>" in page.text
        record = client.get(f"/api/v1/candidates/{history.alice_id}/record").json()
        assert record["certification"] == "non validé"

    def test_purged_candidate_can_no_longer_log_in(self, run, db, history, client):
        run("gdpr", "purge", "--now", "2032-01-01")
        response = client.post(
            "/api/v1/auth/login", json={"login": "alice", "password": "secret-pass"}
        )
        assert response.status_code == 401

    def test_regrade_after_purge_gives_the_same_score(self, run, db, history):
        run("gdpr", "purge", "--now", "2032-01-01")
        db.expire_all()
        attempt = attempts_service.load_attempt(session=db, attempt_id=history.attempt_id)
        attempts_service.rescore(session=db, attempt=attempt)
        assert (attempt.points, attempt.max_points, attempt.percent, attempt.passed) == (
            3,
            3,
            100,
            True,
        )

    def test_response_keeps_only_what_the_scoring_reads(self, run, db, history):
        answer = db.scalars(
            select(Answer)
            .join(AttemptItem)
            .where(
                AttemptItem.attempt_id == history.attempt_id, AttemptItem.question_id == "q-choix"
            )
        ).one()
        answer.response = {"selected": ["a"], "note": "texte libre du candidat"}
        db.commit()
        run("gdpr", "purge", "--now", "2032-01-01")
        db.expire_all()
        assert db.get(Answer, answer.id).response == {"selected": ["a"]}
        assert gdpr_service.scored_response({"value": "17.2", "brouillon": "x"}) == {
            "value": "17.2"
        }

    def test_one_audit_entry_per_candidate_with_ids_only(self, run, db, history):
        run("gdpr", "purge", "--now", "2032-01-01")
        entries = purge_entries(db)
        assert [(e.actor, e.target, e.details) for e in entries] == [
            (
                "cli",
                f"user:{history.alice_id}",
                {
                    "user_id": history.alice_id,
                    "enrolment_ids": [history.alice_enrolment_id],
                    "retention_years": 5,
                    "cutoff": "2026-12-31T23:00:00+00:00",
                },
            )
        ]
        assert "alice" not in json.dumps(entries[0].details).lower()
        assert audit_service.verify(session=db)[1] == []

    def test_idempotent(self, run, db, history):
        assert run("gdpr", "purge", "--now", "2032-01-01") == (0, PURGED_2032, "")
        db.expire_all()
        password_hash = db.get(UserAccount, history.alice_id).password_hash
        code, out, _ = run("gdpr", "purge", "--now", "2032-01-01")
        assert (code, out) == (
            0,
            "0 candidat(s) anonymisé(s) (dernière session close avant le 01/01/2027).\n",
        )
        db.expire_all()
        assert db.get(UserAccount, history.alice_id).password_hash == password_hash
        assert len(purge_entries(db)) == 1

    def test_dry_run_lists_and_changes_nothing(self, run, db, history):
        code, out, err = run("gdpr", "purge", "--dry-run", "--now", "2032-01-01")
        assert (code, err) == (0, "")
        assert out.splitlines() == [
            f"Compte n° {history.alice_id} « alice » (n° de candidat C-001) : "
            "dernière session close le 01/12/2026",
            "1 candidat(s) à anonymiser (dernière session close avant le 01/01/2027) : "
            "simulation, rien n'a été modifié.",
        ]
        db.expire_all()
        assert account(db, history.alice_id) == ("alice", "Alice", None, True)
        assert db.get(Enrolment, history.alice_enrolment_id).arrangements == ARRANGEMENTS
        assert purge_entries(db) == []

    def test_retention_is_counted_from_the_last_session_close(self, run, db, history):
        # Closed on 01/12/2026 at 13:00 in Paris: still kept on 01/12/2031, purged the next day.
        out = run("gdpr", "purge", "--dry-run", "--now", "2031-12-01")[1]
        assert out.splitlines()[-1].startswith("0 candidat(s) à anonymiser")
        out = run("gdpr", "purge", "--dry-run", "--now", "2031-12-02")[1]
        assert out.splitlines()[-1].startswith("1 candidat(s) à anonymiser")
        # Bob's later session closed on 30/06/2029: both are purged in 2035.
        code, out, _ = run("gdpr", "purge", "--now", "2035-01-01")
        assert (code, out) == (
            0,
            "2 candidat(s) anonymisé(s) (dernière session close avant le 01/01/2030).\n",
        )
        db.expire_all()
        assert account(db, history.bob_id)[:2] == (
            f"anonyme-{history.bob_id}",
            "Candidat anonymisé",
        )
        assert [db.get(Enrolment, i).arrangements for i in history.bob_enrolment_ids] == [
            None,
            None,
        ]

    def test_retention_comes_from_the_settings(self, run, db, history, monkeypatch):
        monkeypatch.setattr(app.cli, "_settings", lambda: Settings(env="test", retention_years=10))
        code, out, _ = run("gdpr", "purge", "--now", "2032-01-01")
        assert (code, out) == (
            0,
            "0 candidat(s) anonymisé(s) (dernière session close avant le 01/01/2022).\n",
        )

    def test_invalid_date(self, run, history):
        assert run("gdpr", "purge", "--now", "01/01/2032") == (
            1,
            "",
            "Erreur : date invalide « 01/01/2032 » : attendu AAAA-MM-JJ\n",
        )


class TestExport:
    def expected(self, db, history) -> dict:
        alice = db.get(UserAccount, history.alice_id)
        return {
            "format": "ccpq-donnees-personnelles/1",
            "account": {
                "id": history.alice_id,
                "login": "alice",
                "name": "Alice",
                "email": None,
                "role": "candidat",
                "active": True,
                "created_at": alice.created_at.isoformat(),
            },
            "enrolments": [
                {
                    "exam_session_id": history.session_id,
                    "session_name": "Session de test",
                    "opens_at": "2026-12-01T08:00:00+00:00",
                    "closes_at": "2026-12-01T12:00:00+00:00",
                    "candidate_number": "C-001",
                    "extra_time_percent": 33,
                    "arrangements": ARRANGEMENTS,
                }
            ],
            "attempt": {
                "id": history.attempt_id,
                "session_name": "Session de test",
                "questionnaire": "Questionnaire d'essai",
                "theme": "fiscalite",
                "number": 1,
                "status": "remis",
                "started_at": "2026-12-01T09:00:00+00:00",
                "deadline_at": "2026-12-01T09:26:36+00:00",
                "finished_at": "2026-12-01T09:00:00+00:00",
                "points": "3.0000",
                "max_points": "3.0000",
                "percent": "100.0000",
                "passed": True,
            },
            "answers": {
                question_id: {"selected": selected} for question_id, selected in ALL_RIGHT.items()
            },
        }

    def test_everything_about_the_candidate(self, run, db, history):
        code, out, err = run("gdpr", "export", "alice")
        assert (code, err) == (0, "")
        data = json.loads(out)
        expected = self.expected(db, history)
        assert list(data) == [
            "format",
            "notice",
            "generated_at",
            "account",
            "login_sessions",
            "enrolments",
            "attempts",
            "competence_outcomes",
            "jury_decisions",
            "certification",
        ]
        assert data["format"] == expected["format"]
        assert data["account"] == expected["account"]
        assert data["enrolments"] == expected["enrolments"]
        assert len(data["login_sessions"]) == 1
        assert data["login_sessions"][0]["revoked_at"] is None
        [attempt] = data["attempts"]
        answers = attempt.pop("answers")
        assert attempt == expected["attempt"]
        assert sorted(a["position"] for a in answers) == [1, 2, 3]
        assert {a["question_id"]: a["response"] for a in answers} == expected["answers"]
        assert {a["saved_at"] for a in answers} == {"2026-12-01T09:00:00+00:00"}
        assert data["competence_outcomes"] == [
            {
                "competence": "C9",
                "modality": "questionnaire:fiscalite",
                "modality_label": "Questionnaire thématique portant sur la réglementation fiscale",
                "source": "questionnaire",
                "passed": True,
                "decided_at": "2026-12-01T09:00:00+00:00",
                "session_name": "Session de test",
                "attempt_id": history.attempt_id,
                "detail": "100 %",
            },
            {
                "competence": "C9",
                "modality": "soutenance",
                "modality_label": "Soutenance orale devant jury",
                "source": "jury",
                "passed": True,
                "decided_at": "2026-12-02T08:00:00+00:00",
                "session_name": "Session de test",
                "attempt_id": None,
                "detail": "Argumentation solide",
            },
        ]
        assert data["jury_decisions"] == [
            {
                "competence": "C9",
                "modality": "soutenance",
                "modality_label": "Soutenance orale devant jury",
                "passed": True,
                "decided_at": "2026-12-02T08:00:00+00:00",
                "session_name": "Session de test",
                "comment": "Argumentation solide",
            }
        ]
        assert data["certification"] == {"state": "non validé", "validated_blocs": []}
        assert "é" in out  # UTF-8, not ASCII-escaped
        assert out.startswith('{\n  "format"')  # indented

    def test_by_candidate_number_to_a_file_and_audited(self, run, db, history, tmp_path):
        target = tmp_path / "alice.json"
        code, out, err = run("gdpr", "export", "C-001", "-o", str(target))
        assert (code, err) == (0, "")
        assert (
            out == f"Données personnelles du compte n° {history.alice_id} écrites dans {target}.\n"
        )
        data = json.loads(target.read_text(encoding="utf-8"))
        assert data["account"]["login"] == "alice"
        assert [e["arrangements"] for e in data["enrolments"]] == [ARRANGEMENTS]
        entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "gdpr.export")).all()
        assert [(e.actor, e.target, e.details) for e in entries] == [
            ("cli", f"user:{history.alice_id}", {"user_id": history.alice_id})
        ]

    def test_after_purge_the_export_shows_what_is_kept(self, run, db, history):
        run("gdpr", "purge", "--now", "2032-01-01")
        data = json.loads(run("gdpr", "export", "C-001")[1])
        assert data["account"]["login"] == f"anonyme-{history.alice_id}"
        assert data["account"]["name"] == "Candidat anonymisé"
        assert data["enrolments"][0]["candidate_number"] == "C-001"
        assert data["enrolments"][0]["arrangements"] is None
        assert [d["comment"] for d in data["jury_decisions"]] == ["Argumentation solide"]

    def test_unknown_candidate(self, run, db, history):
        assert run("gdpr", "export", "inconnu") == (
            1,
            "",
            "Erreur : candidat inconnu : « inconnu » n'est ni un identifiant ni un numéro de "
            "candidat\n",
        )
        assert db.scalar(select(func.count()).where(AuditEntry.action == "gdpr.export")) == 0

    def test_ambiguous_key(self, run, db, history, make_user):
        make_user("C-101", "candidat")  # a login equal to Bob's candidate number
        code, _, err = run("gdpr", "export", "C-101")
        ids = sorted(
            [history.bob_id, db.scalar(select(UserAccount.id).where(UserAccount.login == "C-101"))]
        )
        assert (code, err) == (
            1,
            f"Erreur : « C-101 » désigne plusieurs comptes (n° {ids[0]}, {ids[1]}) : "
            "précisez l'identifiant\n",
        )


class TestPrivacyPage:
    def test_public_french_page_with_the_retention(self, client):
        response = client.get("/confidentialite")
        assert response.status_code == 200
        html = response.text
        assert '<html lang="fr">' in html
        assert "<title>Données personnelles – ccpq</title>" in html
        assert "<h1>Données personnelles</h1>" in html
        assert (
            "<strong>5 ans après la clôture de votre dernière\n  session d'examen</strong>" in html
        )
        assert "numéro de candidat" in html
        assert "adressez votre demande à l'organisme certificateur" in html
        assert html.count("<script") == html.count("<script src=") == 1

    def test_retention_read_from_the_settings(self, client, settings):
        settings.retention_years = 7
        assert "<strong>7 ans après la clôture" in client.get("/confidentialite").text

    def test_footer_links_every_page(self, client, make_user):
        link = '<a href="/confidentialite">Données personnelles</a>'
        assert link in client.get("/connexion").text
        make_user("alice", "candidat")
        login(client)
        assert link in client.get("/").text
        current = client.get("/confidentialite").text
        assert '<a href="/confidentialite" aria-current="page">Données personnelles</a>' in current
        assert "Se déconnecter" in current  # the logged-in header
