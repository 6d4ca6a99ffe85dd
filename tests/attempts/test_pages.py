"""The candidate's pages: questions as accessible forms, saving without JavaScript, review,
submission with confirmation, result."""

import re
from html import unescape

from tests.auth.test_auth import form_login
from tests.exam_fixtures import CLOSES


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def start(client, exam) -> str:
    home = client.get("/")
    response = client.post(
        f"/questionnaires/{exam.questionnaire_id}/demarrer",
        data={"csrf_token": csrf(home.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return response.headers["location"]


def browser(client, exam, clock):
    form_login(client)
    return client


class TestQuestionPage:
    def test_start_from_home_and_see_question_one(self, client, exam, clock):
        form_login(client)
        home = unescape(client.get("/").text)
        assert "<h3>Questionnaire d'essai</h3>" in home
        assert "Commencer" in home
        location = start(client, exam)
        assert re.fullmatch(r"/tentatives/\d+/questions/1", location)
        page = client.get(location).text
        assert "<legend><h1>Question 1 sur 3</h1></legend>" in page
        assert '<fieldset aria-describedby="enonce">' in page
        assert 'data-remaining="1200"' in page
        assert "20 min 00 s" in page
        assert 'aria-live="polite"' in page
        assert "Pas encore de réponse enregistrée" in page
        assert '<script src="http://testserver/static/attempt.js" defer></script>' in page
        for tag in re.findall(r"<input[^>]+type=\"(?:radio|checkbox)\"[^>]*>", page):
            option_id = re.search(r'id="([^"]+)"', tag).group(1)
            assert f'<label for="{option_id}">' in page  # every option is labelled

    def test_save_without_javascript_then_review_and_submit(self, client, exam, clock):
        form_login(client)
        location = start(client, exam)
        attempt_id = location.split("/")[2]
        for position in (1, 2, 3):
            page = client.get(f"/tentatives/{attempt_id}/questions/{position}").text
            first_option = re.search(r'name="selected" value="([^"]+)"', page).group(1)
            response = client.post(
                f"/tentatives/{attempt_id}/questions/{position}",
                data={"csrf_token": csrf(page), "selected": first_option, "go": "suivante"},
                follow_redirects=False,
            )
            assert response.status_code == 303
        page = client.get(f"/tentatives/{attempt_id}/questions/3").text
        assert "Enregistré à 10:00:00" in page  # 09:00 UTC is 10:00 in Paris
        review = unescape(client.get(f"/tentatives/{attempt_id}/relecture").text)
        assert "3 question(s) répondue(s) sur 3." in review
        assert "Toutes les questions ont une réponse." in review
        unconfirmed = client.post(
            f"/tentatives/{attempt_id}/remettre",
            data={"csrf_token": csrf(review)},
            follow_redirects=False,
        )
        assert unconfirmed.headers["location"] == f"/tentatives/{attempt_id}/relecture"
        confirmed = client.post(
            f"/tentatives/{attempt_id}/remettre",
            data={"csrf_token": csrf(review), "confirm": "oui"},
            follow_redirects=False,
        )
        assert confirmed.headers["location"] == f"/tentatives/{attempt_id}/resultat"
        result = unescape(client.get(confirmed.headers["location"]).text)
        assert (
            "Votre questionnaire est remis. Le résultat sera disponible à partir du "
            "01/12/2026 à 13:00." in result
        )
        clock.now = CLOSES
        result = unescape(client.get(confirmed.headers["location"]).text)
        assert "seuil de réussite : 60 %" in result
        assert '<h2 id="titre-correction">Correction</h2>' in result

    def test_flag_and_review_lists_unanswered(self, client, exam, clock):
        form_login(client)
        attempt_id = start(client, exam).split("/")[2]
        page = client.get(f"/tentatives/{attempt_id}/questions/2").text
        client.post(f"/tentatives/{attempt_id}/questions/2/marque", data={"csrf_token": csrf(page)})
        page = client.get(f"/tentatives/{attempt_id}/questions/2").text
        assert 'aria-pressed="true"' in page
        assert "Retirer la marque de relecture" in page
        assert '2<span class="visually-hidden"> : vue, sans réponse, marquée pour relecture' in page
        review = unescape(client.get(f"/tentatives/{attempt_id}/relecture").text)
        assert "<h2>Questions sans réponse (3)</h2>" in review
        assert "<h2>Questions marquées pour relecture (1)</h2>" in review

    def test_expired_attempt_goes_to_the_result(self, client, exam, clock):
        form_login(client)
        location = start(client, exam)
        clock.advance(minutes=21)
        response = client.get(location, follow_redirects=False)
        assert response.headers["location"].endswith("/resultat")
        page = unescape(client.get(response.headers["location"]).text)
        assert "Le temps imparti est écoulé : le questionnaire a été remis automatiquement" in page

    def test_other_candidate_gets_404(self, client, exam, clock, make_user, db):
        form_login(client)
        location = start(client, exam)
        client.post("/deconnexion", data={"csrf_token": csrf(client.get("/").text)})
        make_user("bob", "candidat")
        form_login(client, login="bob")
        assert client.get(location).status_code == 404
