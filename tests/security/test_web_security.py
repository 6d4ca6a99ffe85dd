"""Browser-facing security: stored XSS, CSRF, session fixation, login throttling through the
form, security headers on every kind of response."""

import json
import re
from html import escape, unescape
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from app.auth.dependencies import CSRF_COOKIE, SESSION_COOKIE
from app.banks.format import BankFileError, ThemeCatalog, parse_bank_bytes
from app.records.models import CompetenceOutcome
from app.referential.model import default_referential
from app.sessions import service as sessions_service
from app.sessions.models import ExamSession
from tests.auth.test_auth import api_login, csrf_from, form_login
from tests.exam_fixtures import CLOSES, EXAM_BANK, OPENS, import_bank, login
from tests.security.test_authorisation_matrix import (
    MATRIX,
    PRINCIPALS,
    send,
    world,  # noqa: F401  (the fixture)
)

CSRF_MESSAGE = "Jeton de sécurité (CSRF) absent ou invalide : rechargez la page puis recommencez."

# ------------------------------------------------------------------------------ XSS

PAYLOADS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    '<a href="javascript:alert(1)">lien</a>',
    "[lien](javascript:alert(1))",
)
PAYLOAD = " ".join(PAYLOADS)
SCRIPT = PAYLOADS[0]  # what every page that shows a payload must show, as text


def _yaml(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _xss_bank() -> str:
    bank = EXAM_BANK
    for old, new in (
        ("title: Banque d'essai", f"title: {_yaml('Banque ' + PAYLOAD)}"),
        ("  bareme: Barème de l'impôt", f"  bareme: {_yaml('Barème ' + PAYLOAD)}"),
        ("  title: Questionnaire d'essai", f"  title: {_yaml('Questionnaire ' + PAYLOAD)}"),
        (
            "stem: Quel est le taux de la première tranche imposée ?",
            f"stem: {_yaml('Quel taux ? ' + PAYLOAD)}",
        ),
        ("text: 30 %", f"text: {_yaml('30 % ' + PAYLOAD)}"),
        (
            "explanation: La première tranche imposée l'est à 11 %.",
            f"explanation: {_yaml('Explication : ' + PAYLOAD)}",
        ),
        ("- label: CGI, art. 197", f"- label: {_yaml('CGI ' + PAYLOAD)}"),
        (
            "url: https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000051212954",
            'url: "https://exemple.fr/\\"onmouseover=\\"alert(1)"',
        ),
        ("{id: c, text: Compte courant}", f"{{id: c, text: {_yaml('Compte ' + PAYLOAD)}}}"),
        ("stem: Le barème est progressif.", f"stem: {_yaml('Progressif ? ' + PAYLOAD)}"),
        (
            "explanation: Le taux croît par tranches.",
            f"explanation: {_yaml('Par tranches. ' + PAYLOAD)}",
        ),
    ):
        bank = _replace(bank, old, new)
    return bank


XSS_BANK = _xss_bank()


class _Tags(HTMLParser):
    """Every element and attribute the browser would build from the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and "/static/" not in (values.get("src") or ""):
            self.problems.append(f"<script> en ligne : {attrs}")
        if tag in ("iframe", "object", "embed", "base"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name.startswith("hx-on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction", "xlink:href") and re.sub(
                r"\s", "", value or ""
            ).lower().startswith(("javascript:", "data:text/html")):
                self.problems.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


def _live_markup(html: str, needle: str) -> list[str]:
    """Occurrences of ``needle`` that the browser reads as markup: inside a tag and outside
    any quoted attribute value (escaped text, ``&lt;…``, never is)."""
    found = []
    for match in re.finditer(re.escape(needle), html):
        tag_start = html.rfind("<", 0, match.start())
        in_tag = tag_start > html.rfind(">", 0, match.start())
        if in_tag and html.count('"', tag_start, match.start()) % 2 == 0:
            found.append(html[tag_start : match.end() + 20])
    return found


def assert_inert(html: str) -> None:
    """No script, no event handler, no javascript: link came out of the data."""
    lowered = html.lower()
    legit_scripts = re.findall(r'<script src="[^"]*/static/[\w.-]+"( defer)?></script>', lowered)
    assert lowered.count("<script") == len(legit_scripts)
    for raw in ("<img src=x onerror", "<svg onload", '<a href="javascript:'):
        assert raw not in lowered
    for needle in ("onerror=", "onload=", 'href="javascript:', "href=javascript:"):
        assert _live_markup(lowered, needle) == []
    parser = _Tags()
    parser.feed(html)
    parser.close()
    assert parser.problems == []


@pytest.mark.parametrize(
    "live",
    [
        "<p><script>alert(1)</script></p>",
        '<script src="https://cdn.example/x.js"></script>',
        "<img src=x onerror=alert(1)>",
        '"><svg onload=alert(1)>',
        '<a href="javascript:alert(1)">lien</a>',
        '<a href=" JaVaScRiPt:alert(1)">lien</a>',
        '<input value="" autofocus onfocus="alert(1)">',
        '<iframe src="/"></iframe>',
    ],
)
def test_the_detector_sees_live_markup(live):
    with pytest.raises(AssertionError):
        assert_inert(f"<html><body>{live}</body></html>")


def test_the_detector_accepts_escaped_text():
    escaped = "".join(
        f'<p title="{escape(p)}">{escape(p)}</p><textarea>{escape(p)}</textarea>' for p in PAYLOADS
    )
    assert_inert(f'<script src="/static/htmx.min.js" defer></script>{escaped}')


def page(client, url: str, *, status: int = 200, shows: str | None = SCRIPT, **kwargs) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == status, (url, response.status_code)
    assert response.headers["content-type"].startswith("text/html")
    assert_inert(response.text)
    if shows is not None:
        assert shows in unescape(response.text), f"{url} ne montre pas la donnée piégée"
    return response.text


@pytest.fixture
def xss_exam(db, make_user, clock):
    """A session, a bank and a candidate whose every free text carries the payloads."""
    version = import_bank(db, XSS_BANK)
    exam_session = sessions_service.create_session(
        session=db, name="Session " + PAYLOAD, opens_at=OPENS, closes_at=CLOSES
    )
    questionnaire = sessions_service.add_questionnaire(
        session=db,
        exam=exam_session,
        bank_version=version,
        override_reason="q-nombre a expiré.",
        now=OPENS,
    )
    alice = make_user("alice", "candidat")
    alice.display_name = "Alice " + PAYLOAD
    enrolment = sessions_service.enrol(
        session=db, exam=exam_session, user=alice, candidate_number="C-001"
    )
    for name, role in (("jules", "jury"), ("fanny", "formateur"), ("ada", "admin")):
        make_user(name, role)
    db.commit()
    return exam_session.id, questionnaire.id, enrolment.id


def take_and_submit(client, questionnaire_id: int) -> dict:
    """Alice answers every question (first option) and submits; her question pages are
    checked on the way."""
    login(client, "alice")
    attempt = client.post(f"/api/v1/questionnaires/{questionnaire_id}/attempts").json()
    shown = ""
    for position, question in enumerate(attempt["questions"], start=1):
        shown += page(client, f"/tentatives/{attempt['id']}/questions/{position}", shows=None)
        client.put(
            f"/api/v1/attempts/{attempt['id']}/answers/{question['question_id']}",
            json={"seq": 1, "selected": [question["options"][0]["id"]]},
        )
    assert SCRIPT in unescape(shown)  # the stems and options were on the pages
    assert unescape(shown).count("onerror=alert(1)") >= 3
    page(client, f"/tentatives/{attempt['id']}/relecture", shows=None)
    client.post(f"/api/v1/attempts/{attempt['id']}/submit")
    client.headers.pop("Authorization")
    return attempt


class TestStoredXss:
    def test_candidate_question_and_result_pages(self, client, xss_exam, clock):
        _session_id, questionnaire_id, _enrolment_id = xss_exam
        attempt = take_and_submit(client, questionnaire_id)
        clock.now = CLOSES.replace(hour=13)  # the correction is shown after the close
        login(client, "alice")
        result = page(client, f"/tentatives/{attempt['id']}/resultat")
        assert "Explication : " + SCRIPT in unescape(result)
        assert "Alice " + SCRIPT in unescape(result)  # the display name in the header
        page(client, "/")  # session name, questionnaire title, display name

    def test_jury_pages_and_decision_comment(self, client, xss_exam, clock):
        session_id, questionnaire_id, enrolment_id = xss_exam
        take_and_submit(client, questionnaire_id)
        client.cookies.clear()
        form_login(client, "jules")
        candidate_url = f"/sessions/{session_id}/candidats/{enrolment_id}"
        decided = client.post(
            f"{candidate_url}/decisions",
            data={
                "csrf_token": csrf_from(client.get(candidate_url).text),
                "competence": "C9",
                "modality": "soutenance",
                "decision": "acquis",
                "decided_on": "2026-12-02",
                "comment": "Commentaire " + PAYLOAD,
            },
            follow_redirects=False,
        )
        assert decided.status_code == 303
        candidate = page(client, candidate_url)
        assert "Commentaire " + SCRIPT in unescape(candidate)
        assert "Dossier de Alice " + SCRIPT in unescape(candidate)
        page(client, f"/sessions/{session_id}/jury")
        page(client, f"/sessions/{session_id}")
        page(client, f"/sessions/{session_id}/suivi")
        page(client, f"/sessions/{session_id}/suivi", headers={"HX-Request": "true"})
        page(client, "/sessions")
        page(client, "/")
        page(client, f"/sessions/{session_id}/questionnaires/{questionnaire_id}/analyse")
        page(
            client,
            f"/sessions/{session_id}/questionnaires/{questionnaire_id}/neutralisation",
            params={"question_id": "q-choix", "policy": "grant"},
            shows=None,
        )

    def test_session_name_and_enrolled_names_from_the_forms(self, client, xss_exam):
        form_login(client, "ada")
        home = client.get("/").text
        created = client.post(
            "/sessions",
            data={
                "csrf_token": csrf_from(home),
                "name": "Rattrapage " + PAYLOAD,
                "opens_at": "2026-12-10T08:00",
                "closes_at": "2026-12-10T12:00",
            },
            follow_redirects=False,
        )
        assert created.status_code == 303
        url = created.headers["location"]
        enrolled = client.post(
            f"{url}/inscriptions",
            data={
                "csrf_token": csrf_from(home),
                "last_name": "<img src=x onerror=alert(1)>",
                "first_name": "<script>alert(1)</script>",
                "email": "chloe@example.org",
                "candidate_number": "C-002",
            },
            follow_redirects=False,
        )
        assert enrolled.status_code == 303
        listing = page(client, "/sessions")
        assert "Rattrapage " + SCRIPT in unescape(listing)
        detail = page(client, url)
        assert "<script>alert(1)</script> <img src=x onerror=alert(1)>" in unescape(detail)
        page(client, f"{url}/suivi")
        page(client, f"{url}/jury")
        page(client, "/")

    def test_bank_pages_and_authoring(self, client, xss_exam):
        form_login(client, "fanny")
        page(client, "/")
        page(client, "/banques")
        page(client, "/banques/fraicheur", shows=None)
        bank = page(client, "/banques/essai", shows=None)
        version = page(client, "/banques/essai/versions/2026.1")
        assert "Explication : " + SCRIPT in unescape(version)
        assert 'href="https://exemple.fr/&#34;onmouseover=&#34;alert(1)"' in version
        page(client, "/banques/essai/questions/q-choix/statistiques", shows=None)
        drafted = client.post(
            "/banques/essai/brouillons",
            data={"csrf_token": csrf_from(bank), "version": "2026.1"},
            follow_redirects=False,
        )
        draft_url = drafted.headers["location"]
        page(client, draft_url)
        editor = page(client, f"{draft_url}/questions/0")
        text = unescape(re.search(r'<textarea id="text"[^>]*>(.*?)</textarea>', editor, re.S)[1])
        assert SCRIPT in text
        edited = text.replace("Quel taux ?", "Quel taux, revu ?")
        preview = client.post(
            f"{draft_url}/apercu",
            data={"text": edited, "index": "0"},
            headers={"HX-Request": "true", "X-CSRF-Token": csrf_from(editor)},
        )
        assert preview.status_code == 200
        assert_inert(preview.text)
        assert "Quel taux, revu ? " + SCRIPT in unescape(preview.text)
        saved = client.post(
            f"{draft_url}/questions/0",
            data={"csrf_token": csrf_from(editor), "text": edited},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        published = client.post(
            f"{draft_url}/publier",
            data={"csrf_token": csrf_from(editor), "version": "2026.2", "summary": PAYLOAD},
        )
        assert published.status_code == 200
        assert_inert(published.text)
        diff = page(
            client, "/banques/essai/diff", params={"de": "2026.1", "a": "2026.2"}, shows=None
        )
        assert "q-choix : stem" in diff
        page(client, "/banques/essai/versions/2026.2")

    def test_a_javascript_reference_is_refused_at_import(self):
        catalog = ThemeCatalog.from_referential(default_referential())
        bank = EXAM_BANK.replace(
            "url: https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000051212954",
            "url: javascript:alert(1)",
        )
        with pytest.raises(BankFileError):
            parse_bank_bytes(bank.encode(), filename="b", catalog=catalog, max_bytes=10**6)


# ----------------------------------------------------------------------------- CSRF

WRITES = sorted(route for route in MATRIX if not route.startswith("GET "))


def _cookie_caller(route: str) -> str:
    """A logged-in caller allowed on ``route``: the refusal can only come from CSRF."""
    expected = MATRIX[route]
    return next(p for i, p in enumerate(PRINCIPALS) if i > 0 and expected[i] == "A")


def _assert_csrf_refusal(response, route: str) -> None:
    assert response.status_code == 403, (route, response.status_code)
    if route.split(" ", 1)[1].startswith("/api/"):
        assert response.json() == {"detail": CSRF_MESSAGE}
    else:
        assert CSRF_MESSAGE in unescape(response.text)


class TestCsrf:
    @pytest.mark.parametrize("route", WRITES)
    def test_cookie_caller_needs_the_token(self, client, world, route):  # noqa: F811
        caller = _cookie_caller(route)
        missing = send(client, world, caller, route, csrf="missing", via="cookie")
        _assert_csrf_refusal(missing, route)
        forged = send(client, world, caller, route, csrf="forged", via="cookie")
        _assert_csrf_refusal(forged, route)
        accepted = send(client, world, caller, route, via="cookie")
        assert accepted.status_code != 403, (route, accepted.text[:200])

    @pytest.mark.parametrize("route", [r for r in WRITES if " /api/" in r])
    def test_bearer_caller_needs_no_token(self, client, world, route):  # noqa: F811
        response = send(client, world, _cookie_caller(route), route, csrf="missing", via="bearer")
        assert response.status_code not in (401, 403), (route, response.text[:200])
        assert response.status_code < 500

    @pytest.mark.parametrize("route", ["POST /connexion", "POST /deconnexion"])
    def test_anonymous_forms_need_the_cookie_token(self, client, world, route):  # noqa: F811
        _assert_csrf_refusal(send(client, world, "anonyme", route, csrf="missing"), route)
        _assert_csrf_refusal(send(client, world, "anonyme", route, csrf="forged"), route)

    def test_refused_posts_change_nothing(self, client, db, world):  # noqa: F811
        before = db.scalar(select(func.count()).select_from(ExamSession))
        for route in (
            "POST /sessions",
            "POST /sessions/{exam_session_id}/deliberation",
            "POST /sessions/{exam_session_id}/candidats/{enrolment_id}/decisions",
        ):
            response = send(client, world, "jury", route, csrf="missing")
            assert response.status_code == 403
        db.expire_all()
        assert db.scalar(select(func.count()).select_from(ExamSession)) == before
        assert db.get(ExamSession, world.session_id).deliberated_at is None
        jury_rows = select(func.count()).where(CompetenceOutcome.source == "jury")
        assert db.scalar(jury_rows) == 0


# ------------------------------------------------------------------ session fixation


def _set_cookie_value(response, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        cookie_name, _, rest = header.partition("=")
        if cookie_name == name:
            return rest.split(";", 1)[0] or None
    return None


class TestSessionFixation:
    PLANTED = "jeton-choisi-par-l-attaquant-0123456789abcdef0123456789"

    def test_a_planted_cookie_never_becomes_the_session(self, client, make_user):
        make_user("alice")
        client.cookies.set(SESSION_COOKIE, self.PLANTED)
        response = form_login(client)
        assert response.status_code == 303
        issued = _set_cookie_value(response, SESSION_COOKIE)
        assert issued and issued != self.PLANTED
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, self.PLANTED)
        assert client.get("/api/v1/me").status_code == 401
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, issued)
        assert client.get("/api/v1/me").json()["login"] == "alice"

    def test_cookie_and_csrf_token_change_at_each_login(self, client, make_user):
        make_user("alice")
        client.get("/connexion")
        anonymous_csrf = client.cookies.get(CSRF_COOKIE)
        first = form_login(client)
        first_cookie = _set_cookie_value(first, SESSION_COOKIE)
        home = client.get("/").text
        session_csrf = csrf_from(home)
        assert session_csrf != anonymous_csrf
        # The anonymous token is worthless once logged in.
        refused = client.post("/deconnexion", data={"csrf_token": anonymous_csrf})
        assert refused.status_code == 403
        # Logging in again (same browser) issues a new cookie and revokes the old one.
        again = client.post(
            "/connexion",
            data={"login": "alice", "password": "secret-pass", "csrf_token": session_csrf},
            follow_redirects=False,
        )
        assert again.status_code == 303
        second_cookie = _set_cookie_value(again, SESSION_COOKIE)
        assert second_cookie and second_cookie != first_cookie
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, first_cookie)
        assert client.get("/api/v1/me").status_code == 401
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, second_cookie)
        assert csrf_from(client.get("/").text) != session_csrf

    def test_session_cookie_flags(self, client, make_user):
        make_user("alice")
        response = form_login(client)
        header = next(
            h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
        )
        assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header


# ------------------------------------------------------------------- login throttling


class TestFormLoginThrottling:
    def test_fifth_failure_locks_the_form(self, client, make_user, settings):
        make_user("alice")
        for _ in range(settings.login_max_failures):
            assert form_login(client, password="nope").status_code == 401
        response = form_login(client)  # even the right password now
        assert response.status_code == 429
        retry_after = int(response.headers["Retry-After"])
        assert 0 < retry_after <= settings.login_lockout_minutes * 60
        assert (
            "Trop de tentatives de connexion échouées : réessayez dans 15 minute(s)."
            in unescape(response.text)
        )
        assert _set_cookie_value(response, SESSION_COOKIE) is None
        assert api_login(client).status_code == 429  # the API shares the counter

    def test_form_and_api_failures_add_up(self, client, make_user, settings):
        make_user("alice")
        make_user("bob")
        for index in range(settings.login_max_failures):
            if index % 2:
                assert form_login(client, password="nope").status_code == 401
            else:
                assert api_login(client, password="nope").status_code == 401
        assert form_login(client).status_code == 429
        assert form_login(client, "bob").status_code == 303  # per login


# -------------------------------------------------------------------- security headers


def assert_security_headers(response) -> None:
    headers = response.headers
    [policy] = headers.get_list("content-security-policy")
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "*" not in policy.split()
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives.get("script-src", directives["default-src"]) == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert headers.get_list("x-content-type-options") == ["nosniff"]
    assert headers.get_list("referrer-policy")[0] in (
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    )
    assert headers["x-frame-options"] == "DENY"


class TestSecurityHeaders:
    @pytest.mark.parametrize(
        ("url", "status"),
        [
            ("/connexion", 200),
            ("/confidentialite", 200),
            ("/", 303),  # the redirect to the login page
            ("/nulle-part", 404),
            ("/api/v1/health", 200),
            ("/api/v1/me", 401),
            ("/api/v1/nulle-part", 404),
            ("/openapi.json", 200),
            ("/static/ccpq.css", 200),
            ("/static/htmx.min.js", 200),
            ("/static/attempt.js", 200),
            ("/static/absent.js", 404),
        ],
    )
    def test_anonymous_responses(self, client, url, status):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == status
        assert_security_headers(response)

    def test_static_scripts_have_a_script_type(self, client):
        for name in ("htmx.min.js", "attempt.js"):
            content_type = client.get(f"/static/{name}").headers["content-type"]
            assert content_type.split(";")[0] in ("text/javascript", "application/javascript")

    def test_every_page_and_api_route(self, client, world):  # noqa: F811
        """Every GET route, for every caller: allowed pages and refusals alike."""
        for route in sorted(r for r in MATRIX if r.startswith("GET ")):
            for caller in PRINCIPALS:
                response = send(client, world, caller, route)
                assert response.status_code < 500, (route, caller)
                assert_security_headers(response)

    def test_state_changing_responses(self, client, world):  # noqa: F811
        for route in ("POST /sessions", "POST /api/v1/auth/logout"):
            assert_security_headers(send(client, world, "jury", route))
            assert_security_headers(send(client, world, "jury", route, csrf="missing"))
