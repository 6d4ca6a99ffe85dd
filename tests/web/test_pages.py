"""Pages, headers, static files and the OpenAPI document."""

import hashlib
from html import unescape

from app.banks import service as banks_service
from app.banks.format import ThemeCatalog, parse_bank_bytes
from app.db import utcnow
from app.referential.model import default_referential
from app.web.security import CONTENT_SECURITY_POLICY
from app.web.templating import STATIC_DIR, render_markdown
from tests.banks.samples import VALID_BANK

HTMX_VERSION = "2.0.11"
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def login(client, make_user, role: str) -> None:
    make_user("alice", role)
    response = client.post("/api/v1/auth/login", json={"login": "alice", "password": "secret-pass"})
    assert response.status_code == 200


class TestSecurityHeaders:
    def test_every_response_carries_them(self, client):
        for url in ("/connexion", "/api/v1/health", "/static/ccpq.css", "/nulle-part"):
            headers = client.get(url).headers
            assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"
            assert headers["x-frame-options"] == "DENY"

    def test_policy_forbids_inline_scripts_and_framing(self):
        assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY

    def test_pages_have_no_inline_script(self, client, make_user):
        login(client, make_user, "admin")
        for url in ("/", "/banques", "/referentiel"):
            html = client.get(url).text
            assert html.count("<script") == html.count("<script src=") == 1


class TestStatic:
    def test_htmx_is_the_vendored_pinned_file(self, client):
        body = (STATIC_DIR / "htmx.min.js").read_bytes()
        assert hashlib.sha256(body).hexdigest() == HTMX_SHA256
        assert f'version:"{HTMX_VERSION}"' in body.decode()
        assert client.get("/static/htmx.min.js").status_code == 200


class TestApi:
    def test_health(self, client):
        assert client.get("/api/v1/health").json() == {"status": "ok", "database": "ok"}

    def test_openapi_lists_the_api(self, client):
        spec = client.get("/openapi.json").json()
        assert sorted(spec["paths"]) == [
            "/api/v1/attempts/{attempt_id}",
            "/api/v1/attempts/{attempt_id}/answers/{question_id}",
            "/api/v1/attempts/{attempt_id}/submit",
            "/api/v1/auth/login",
            "/api/v1/auth/logout",
            "/api/v1/banks",
            "/api/v1/candidates/{user_id}/record",
            "/api/v1/exam-sessions/{exam_session_id}/export",
            "/api/v1/health",
            "/api/v1/me",
            "/api/v1/me/questionnaires",
            "/api/v1/questionnaires/{questionnaire_id}/attempts",
            "/api/v1/referential",
        ]

    def test_unknown_api_route_is_french_json(self, client):
        response = client.get("/api/v1/nulle-part")
        assert (response.status_code, response.json()) == (404, {"detail": "Page introuvable."})

    def test_referential_for_logged_in_users(self, client, make_user):
        assert client.get("/api/v1/referential").status_code == 401
        login(client, make_user, "candidat")
        data = client.get("/api/v1/referential").json()
        assert [q["id"] for q in data["questionnaires"]] == [
            "fiscalite",
            "risques",
            "reglementation",
            "rgpd",
        ]

    def test_bank_list(self, client, make_user, db):
        catalog = ThemeCatalog.from_referential(default_referential())
        document = parse_bank_bytes(
            VALID_BANK.encode(), filename="b", catalog=catalog, max_bytes=10**6
        )
        banks_service.import_document(session=db, document=document, source="b", now=utcnow())
        db.commit()
        login(client, make_user, "formateur")
        [bank] = client.get("/api/v1/banks").json()
        assert (bank["id"], bank["theme"]) == ("essai", "fiscalite")
        assert [(v["version"], v["question_count"]) for v in bank["versions"]] == [("2026.1", 4)]
        page = client.get("/banques").text
        assert (
            '<th scope="row"><a href="/banques/essai">Banque d&#39;essai</a> '
            '<span class="muted">(essai)</span></th>' in page
        )


class TestPages:
    def test_root_sends_anonymous_users_to_login(self, client):
        response = client.get("/", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/connexion?suivant=/")

    def test_login_page_is_french_and_labelled(self, client):
        html = client.get("/connexion").text
        assert '<html lang="fr">' in html
        assert "<title>Connexion – ccpq</title>" in html
        assert '<label for="login">Identifiant</label>' in html
        assert '<label for="password">Mot de passe</label>' in html
        assert '<a class="skip-link" href="#contenu">Aller au contenu</a>' in html

    def test_htmx_redirect_after_login(self, client, make_user):
        make_user("alice")
        page = client.get("/connexion").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        response = client.post(
            "/connexion",
            data={"login": "alice", "password": "secret-pass", "csrf_token": token},
            headers={"HX-Request": "true"},
        )
        assert (response.status_code, response.headers["HX-Redirect"]) == (204, "/")

    def test_not_found_page_is_french(self, client):
        response = client.get("/nulle-part")
        assert response.status_code == 404
        assert '<p role="alert">Page introuvable.</p>' in response.text

    def test_referential_page(self, client, make_user):
        login(client, make_user, "jury")
        html = unescape(client.get("/referentiel").text)
        assert "<h4>C21 (B3.5)</h4>" in html
        assert "E3 – Questionnaire thématique portant sur les directives AMF" in html


class TestMarkdown:
    def test_markdown_is_rendered_and_sanitised(self):
        html = render_markdown(
            "**Gras** <script>alert(1)</script> [lien](javascript:alert(1)) "
            "[CGI](https://www.legifrance.gouv.fr/)"
        )
        assert "<strong>Gras</strong>" in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, inert
        assert "<script" not in html
        assert "[lien](javascript:alert(1))" in html  # the link is refused, left as text
        assert (
            '<a href="https://www.legifrance.gouv.fr/" rel="noopener noreferrer nofollow">CGI</a>'
            in html
        )
