"""Item analysis of real attempts, on the web and as CSV."""

import csv
import io
from html import unescape

from app.sessions import service as sessions_service
from tests.auth.test_auth import form_login
from tests.exam_fixtures import login


def take(client, login_name, answers):
    login(client, login_name)
    attempt = client.post(f"/api/v1/questionnaires/{client.exam.questionnaire_id}/attempts").json()
    for question_id, selected in answers.items():
        client.put(
            f"/api/v1/attempts/{attempt['id']}/answers/{question_id}",
            json={"seq": 1, "selected": selected},
        )
    client.post(f"/api/v1/attempts/{attempt['id']}/submit")
    client.headers.pop("Authorization")


def two_candidates(client, exam, db, make_user):
    bob = make_user("bob", "candidat")
    exam_session = sessions_service.get_session(session=db, exam_session_id=exam.session_id)
    sessions_service.enrol(session=db, exam=exam_session, user=bob, candidate_number="C-002")
    db.commit()
    client.exam = exam
    take(client, "alice", {"q-choix": ["a"], "q-multiple": ["a", "b"], "q-vrai-faux": ["true"]})
    take(client, "bob", {"q-choix": ["b"], "q-multiple": ["a"], "q-vrai-faux": ["true"]})


class TestAnalysisPages:
    def test_questionnaire_analysis(self, client, exam, clock, db, make_user):
        two_candidates(client, exam, db, make_user)
        make_user("fanny", "formateur")
        form_login(client, "fanny")
        url = f"/sessions/{exam.session_id}/questionnaires/{exam.questionnaire_id}/analyse"
        page = unescape(client.get(url).text)
        assert "2 copie(s), 3 question(s)" in page
        assert '<a href="/banques/essai/questions/q-choix/statistiques">q-choix</a>' in page
        assert "trop facile (p > 0,95)" in page  # everyone got q-vrai-faux
        assert 'role="img"' in page
        rows = list(
            csv.reader(
                io.StringIO(client.get(url + ".csv").content.decode("utf-8-sig")), delimiter=";"
            )
        )
        by_id = {row[0]: row for row in rows[1:] if row}
        assert by_id["q-choix"][2] == "0,500"  # facility: one of two
        assert by_id["q-vrai-faux"][2] == "1,000"

    def test_item_history(self, client, exam, clock, db, make_user):
        two_candidates(client, exam, db, make_user)
        make_user("fanny", "formateur")
        form_login(client, "fanny")
        page = unescape(client.get("/banques/essai/questions/q-multiple/statistiques").text)
        assert '<th scope="row">Session de test</th><td>2026.1</td><td>2</td><td>0,50</td>' in page

    def test_candidates_cannot_see_it(self, client, exam, clock):
        login(client)
        url = f"/sessions/{exam.session_id}/questionnaires/{exam.questionnaire_id}/analyse"
        assert client.get(url).status_code == 403
