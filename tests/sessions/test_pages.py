"""Jury and admin pages: sessions, questionnaires, enrolments (form and CSV), proctoring."""

import re
from html import unescape

from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.sessions.models import Enrolment, ExamSession
from tests.auth.test_auth import form_login
from tests.exam_fixtures import import_bank


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def create_session(client) -> str:
    page = client.get("/sessions").text
    response = client.post(
        "/sessions",
        data={
            "csrf_token": csrf(page),
            "name": "Session de décembre",
            "opens_at": "2026-12-01T09:00",
            "closes_at": "2026-12-01T12:00",
            "accommodated_beyond_close": "true",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    return response.headers["location"]


class TestSessionPages:
    def test_create_add_questionnaire_enrol(self, client, make_user, db):
        import_bank(db)
        db.commit()
        make_user("jules", "jury")
        form_login(client, "jules")
        location = create_session(client)
        exam = db.scalar(select(ExamSession))
        assert exam.opens_at.isoformat() == "2026-12-01T08:00:00+00:00"  # Paris is UTC+1
        page = client.get(location).text
        version_id = re.search(r'<option value="(\d+)">', page).group(1)
        refused = client.post(
            f"{location}/questionnaires",
            data={"csrf_token": csrf(page), "bank_version_id": version_id},
        )
        assert refused.status_code == 400
        assert (
            "La banque « essai » 2026.1 contient 1 question(s) échue(s) avant la fin de la "
            "session (q-nombre) : publiez une version à jour, ou indiquez le motif pour passer "
            "outre." in unescape(refused.text)
        )
        client.post(
            f"{location}/questionnaires",
            data={
                "csrf_token": csrf(page),
                "bank_version_id": version_id,
                "override_reason": "Question échue exclue du tirage",
            },
        )
        override = db.scalar(
            select(AuditEntry).where(AuditEntry.action == "session.questionnaire.expired_override")
        )
        assert (override.actor, override.details["expired"], override.details["reason"]) == (
            "jules",
            ["q-nombre"],
            "Question échue exclue du tirage",
        )
        client.post(
            f"{location}/inscriptions",
            data={
                "csrf_token": csrf(page),
                "last_name": "Dupont",
                "first_name": "Marie",
                "email": "marie@example.fr",
                "candidate_number": "C-001",
            },
        )
        page = unescape(client.get(location).text)
        assert (
            '<tr><th scope="row">Questionnaire d\'essai</th><td>essai 2026.1</td><td>3</td>' in page
        )
        assert '<th scope="row">C-001</th>' in page
        assert "Marie Dupont" in page

    def test_bad_csv_imports_nothing(self, client, make_user, db):
        make_user("admin1", "admin")
        form_login(client, "admin1")
        location = create_session(client)
        page = client.get(location).text
        content = (
            "nom;prénom;email;numéro de candidat\n"
            "Dupont;Marie;marie@example.fr;C-001\n"
            "Durand;Jean;pas-un-email;C-002\n"
        )
        response = client.post(
            f"{location}/inscriptions/csv",
            data={"csrf_token": csrf(page)},
            files={"file": ("inscrits.csv", content.encode(), "text/csv")},
        )
        assert response.status_code == 400
        assert "inscrits.csv:3: email invalide « pas-un-email »" in unescape(response.text)
        assert db.scalar(select(func.count()).select_from(Enrolment)) == 0

    def test_good_csv_and_accommodation(self, client, make_user, db):
        make_user("admin1", "admin")
        form_login(client, "admin1")
        location = create_session(client)
        page = client.get(location).text
        content = "nom;prénom;email;numéro de candidat\nDupont;Marie;marie@example.fr;C-001\n"
        client.post(
            f"{location}/inscriptions/csv",
            data={"csrf_token": csrf(page)},
            files={"file": ("inscrits.csv", content.encode(), "text/csv")},
        )
        enrolment = db.scalar(select(Enrolment))
        assert enrolment.candidate_number == "C-001"
        client.post(
            f"{location}/inscriptions/{enrolment.id}/amenagement",
            data={
                "csrf_token": csrf(page),
                "extra_time_percent": "33",
                "arrangements": "Lecteur d'écran",
            },
        )
        db.refresh(enrolment)
        assert (enrolment.extra_time_percent, enrolment.arrangements) == (33, "Lecteur d'écran")
        refused = client.post(
            f"{location}/inscriptions/{enrolment.id}/amenagement",
            data={"csrf_token": csrf(page), "extra_time_percent": "500"},
        )
        assert refused.status_code == 400
        assert "Temps supplémentaire invalide : entre 0 et 200 %." in unescape(refused.text)

    def test_candidates_cannot_manage_sessions(self, client, make_user):
        make_user("alice", "candidat")
        form_login(client)
        assert client.get("/sessions").status_code == 403


class TestLiveView:
    def test_proctor_sees_progress(self, client, exam, clock, make_user):
        from tests.exam_fixtures import login

        login(client)
        attempt = client.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts").json()
        client.put(
            f"/api/v1/attempts/{attempt['id']}/answers/q-choix", json={"seq": 1, "selected": ["a"]}
        )
        client.headers.pop("Authorization")
        make_user("jules", "jury")
        form_login(client, "jules")
        page = unescape(client.get(f"/sessions/{exam.session_id}/suivi").text)
        assert "C-001 – Alice" in page
        assert "en cours" in page and "1 / 3 réponses" in page
        assert "dernier enregistrement : 10:00:00" in page
        assert "reste 20 min 00 s" in page
        fragment = client.get(f"/sessions/{exam.session_id}/suivi", headers={"HX-Request": "true"})
        assert fragment.text.lstrip().startswith("<tr>")
