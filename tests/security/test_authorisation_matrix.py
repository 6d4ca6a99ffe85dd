"""Who may call what: every route of the application against every kind of caller.

``MATRIX`` classifies each route for six callers, from the product rules (not from the
code): anonymous; ``alice``, a candidate, on her own things; ``bob``, another candidate
of the same session, on alice's things; a formateur; a jury member; an admin.

- anonymous: the login page and form, the health check, the privacy notice (and
  static files);
- everyone logged in: home, referential, ``me``, logout;
- a candidate: her own questionnaires, attempts and record, nobody else's;
- a formateur: banks, drafts, item analysis; neither sessions nor the jury;
- jury and admin: sessions, jury, exports, analysis; the jury reads banks (to pin a
  version, to neutralise an item) but never edits them.

A route the application serves that the table does not classify fails, and so does a row
for a route that no longer exists: a new route has to be classified here.

Each case sends a request that would succeed if it were allowed: real ids from a small
world, a valid body, the right CSRF token for cookie callers (bearer tokens on the API), so
that a refusal is an authorisation refusal, not a CSRF or validation one.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape

import pytest
import yaml
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select

from app.attempts import service as attempts_service
from app.attempts.models import Answer
from app.auth import service as auth_service
from app.auth.dependencies import CSRF_COOKIE, SESSION_COOKIE, new_anonymous_csrf_token
from app.auth.models import UserAccount
from app.auth.passwords import hash_password
from app.auth.roles import Role
from app.banks import drafts as drafts_service
from app.db import utcnow
from app.main import create_app
from app.sessions import service as sessions_service
from tests.banks.samples import VALID_BANK
from tests.exam_fixtures import CLOSES, EXAM_BANK, OPENS, import_bank, login

PASSWORD = "secret-pass"
PRINCIPALS = ("anonyme", "alice", "bob", "formateur", "jury", "admin")
LOGINS = {"alice": "alice", "bob": "bob", "formateur": "fanny", "jury": "jules", "admin": "ada"}
ROLES = {
    "alice": Role.CANDIDAT,
    "bob": Role.CANDIDAT,
    "formateur": Role.FORMATEUR,
    "jury": Role.JURY,
    "admin": Role.ADMIN,
}

S = "/sessions/{exam_session_id}"
SQ = "/sessions/{exam_session_id}/questionnaires/{questionnaire_id}"
T = "/tentatives/{attempt_id}"
B = "/banques/{bank_id}"
D = "/brouillons/{draft_id}"

# Columns: anonyme, alice (on her own things), bob (on alice's things), formateur, jury, admin.
# A = allowed, D = denied.
MATRIX: dict[str, str] = {
    # Public. Logging out without a session is a harmless no-op.
    "GET /connexion": "AAAAAA",
    "POST /connexion": "AAAAAA",
    "POST /deconnexion": "AAAAAA",
    "POST /api/v1/auth/login": "AAAAAA",
    "GET /api/v1/health": "AAAAAA",
    "GET /confidentialite": "AAAAAA",  # the privacy notice, linked from every page
    # Everyone logged in.
    "POST /api/v1/auth/logout": "DAAAAA",
    "GET /api/v1/me": "DAAAAA",
    "GET /": "DAAAAA",
    "GET /referentiel": "DAAAAA",
    "GET /api/v1/referential": "DAAAAA",
    # Candidates: their own questionnaires (bob is enrolled in the same session, so the
    # questionnaire is his too), their own attempts and record only.
    "GET /api/v1/me/questionnaires": "DAADDD",
    "POST /api/v1/questionnaires/{questionnaire_id}/attempts": "DAADDD",
    "POST /questionnaires/{questionnaire_id}/demarrer": "DAADDD",
    "GET /api/v1/attempts/{attempt_id}": "DADDDD",
    "PUT /api/v1/attempts/{attempt_id}/answers/{question_id}": "DADDDD",
    "POST /api/v1/attempts/{attempt_id}/submit": "DADDDD",
    f"GET {T}/questions/{{position}}": "DADDDD",
    f"POST {T}/questions/{{position}}": "DADDDD",
    f"POST {T}/questions/{{position}}/marque": "DADDDD",
    f"GET {T}/relecture": "DADDDD",
    f"POST {T}/remettre": "DADDDD",
    f"GET {T}/resultat": "DADDDD",
    "GET /api/v1/candidates/{user_id}/record": "DADDAA",
    # Banks: read by formateur, jury and admin.
    "GET /api/v1/banks": "DDDAAA",
    "GET /banques": "DDDAAA",
    "GET /banques/fraicheur": "DDDAAA",
    f"GET {B}": "DDDAAA",
    f"GET {B}/versions/{{version}}": "DDDAAA",
    f"GET {B}/versions/{{version}}/export.yaml": "DDDAAA",
    f"GET {B}/diff": "DDDAAA",
    # Drafts and uploads: formateur and admin only (not the jury).
    "POST /banques/importer": "DDDADA",
    f"POST {B}/brouillons": "DDDADA",
    f"GET {D}": "DDDADA",
    f"GET {D}/questions/{{index}}": "DDDADA",
    f"POST {D}/questions/{{index}}": "DDDADA",
    f"POST {D}/apercu": "DDDADA",
    f"POST {D}/questions/{{index}}/supprimer": "DDDADA",
    f"POST {D}/publier": "DDDADA",
    # Item analysis: formateur, jury, admin.
    f"GET {SQ}/analyse": "DDDAAA",
    f"GET {SQ}/analyse.csv": "DDDAAA",
    f"GET {B}/questions/{{question_id}}/statistiques": "DDDAAA",
    # Sessions: jury and admin.
    "GET /sessions": "DDDDAA",
    "POST /sessions": "DDDDAA",
    f"GET {S}": "DDDDAA",
    f"POST {S}/questionnaires": "DDDDAA",
    f"POST {S}/inscriptions": "DDDDAA",
    f"POST {S}/inscriptions/csv": "DDDDAA",
    f"POST {S}/inscriptions/{{enrolment_id}}/amenagement": "DDDDAA",
    f"GET {S}/suivi": "DDDDAA",
    # Jury: jury and admin.
    f"GET {S}/jury": "DDDDAA",
    f"GET {S}/candidats/{{enrolment_id}}": "DDDDAA",
    f"POST {S}/candidats/{{enrolment_id}}/decisions": "DDDDAA",
    f"POST {S}/deliberation": "DDDDAA",
    f"POST {S}/deliberation/rouvrir": "DDDDAA",
    f"GET {SQ}/neutralisation": "DDDDAA",
    f"POST {SQ}/neutralisation": "DDDDAA",
    # Exports: jury and admin.
    "GET /api/v1/exam-sessions/{exam_session_id}/export": "DDDDAA",
}
# Served by the application but not API routes: the OpenAPI document and static files.
NON_API_ROUTES = {"/openapi.json", "/static"}

# ---------------------------------------------------------------------------- the world

SECOND_VERSION = EXAM_BANK.replace('version: "2026.1"', 'version: "2026.2"', 1).replace(
    "changelog:\n",
    'changelog:\n  - version: "2026.2"\n    date: 2026-02-01\n    summary: Seconde version.\n',
    1,
)
EXPLANATIONS = [q["explanation"].strip() for q in yaml.safe_load(VALID_BANK)["questions"]]


@functools.cache
def password_hash() -> str:
    """Argon2 is slow on purpose: hash the shared test password once per run."""
    return hash_password(PASSWORD)


@dataclass(frozen=True)
class Principal:
    name: str
    login: str | None
    token: str | None  # the session token (bearer or cookie); None when anonymous
    csrf: str  # the session's CSRF token, or the anonymous cookie's


@dataclass
class World:
    principals: dict[str, Principal]
    path_values: dict[str, object]
    alice_id: int
    bob_id: int
    session_id: int
    questionnaire_id: int
    alice_enrolment_id: int
    bob_enrolment_id: int
    alice_attempt_id: int
    version2_id: int
    draft_id: int
    question_text: str


@pytest.fixture
def world(db, web_app, clock, settings, monkeypatch) -> World:
    """A session with a questionnaire, alice's submitted attempt, bob enrolled, staff, a
    bank « essai » in two versions, a draft; a live session for each logged-in caller."""
    version1 = import_bank(db)
    version2 = import_bank(db, SECOND_VERSION)
    exam = sessions_service.create_session(
        session=db, name="Session de test", opens_at=OPENS, closes_at=CLOSES
    )
    users = {}
    with monkeypatch.context() as patch:
        patch.setattr(auth_service, "hash_password", lambda _password: password_hash())
        for name, login_ in LOGINS.items():
            users[name] = auth_service.create_user(
                session=db,
                login=login_,
                password=PASSWORD,
                role=ROLES[name],
                display_name=login_.title(),
            )
    questionnaire = sessions_service.add_questionnaire(
        session=db,
        exam=exam,
        bank_version=version1,
        override_reason="q-nombre a expiré le 30/06/2026 : elle n'est plus tirée.",
        now=OPENS,
    )
    alice_enrolment = sessions_service.enrol(
        session=db, exam=exam, user=users["alice"], candidate_number="C-001"
    )
    bob_enrolment = sessions_service.enrol(
        session=db, exam=exam, user=users["bob"], candidate_number="C-002"
    )
    grace = settings.deadline_grace_seconds
    attempt = attempts_service.start_or_resume(
        session=db,
        user_id=users["alice"].id,
        questionnaire_id=questionnaire.id,
        now=clock.now,
        grace=grace,
    )
    for item in attempt.items:
        first_option = "true" if item.question_id == "q-vrai-faux" else "a"
        attempts_service.save_answer(
            session=db,
            attempt=attempt,
            question_id=item.question_id,
            selected=[first_option],
            value=None,
            seq=1,
            now=clock.now,
            grace=grace,
        )
    attempts_service.submit(session=db, attempt=attempt, now=clock.now, grace=grace)
    draft = drafts_service.create_draft(
        session=db, bank_id="essai", version="2026.2", actor="fanny", now=OPENS
    )
    principals = {"anonyme": Principal("anonyme", None, None, new_anonymous_csrf_token())}
    for name, user in users.items():
        opened = auth_service.open_session(
            session=db,
            user=user,
            now=utcnow(),  # sessions are checked against the real clock
            lifetime_minutes=settings.session_lifetime_minutes,
        )
        principals[name] = Principal(name, user.login, opened.token, opened.record.csrf_token)
    db.commit()
    return World(
        principals=principals,
        path_values={
            "exam_session_id": exam.id,
            "questionnaire_id": questionnaire.id,
            "enrolment_id": alice_enrolment.id,
            "attempt_id": attempt.id,
            "position": 1,
            "question_id": "q-choix",
            "user_id": users["alice"].id,
            "bank_id": "essai",
            "version": "2026.1",
            "draft_id": draft.id,
            "index": "0",
        },
        alice_id=users["alice"].id,
        bob_id=users["bob"].id,
        session_id=exam.id,
        questionnaire_id=questionnaire.id,
        alice_enrolment_id=alice_enrolment.id,
        bob_enrolment_id=bob_enrolment.id,
        alice_attempt_id=attempt.id,
        version2_id=version2.id,
        draft_id=draft.id,
        question_text=drafts_service.question_yaml(draft.content["questions"][0]),
    )


# ----------------------------------------------------------------------- the requests

CSV = "nom;prénom;email;numéro de candidat\nDurand;Chloé;chloe@example.org;C-003\n"
Body = Callable[[World, Principal], dict]


def _form(**fields) -> Body:
    return lambda _world, _principal: {"data": dict(fields)}


def _no_body(_world: World, _principal: Principal) -> dict:
    return {}


# A syntactically valid body for every state-changing route (the CSRF token is added by
# ``send``), and the query string of the GET routes that need one.
BODIES: dict[str, Body] = {
    "POST /connexion": lambda _w, p: {
        "data": {"login": p.login or "alice", "password": PASSWORD, "suivant": "/"}
    },
    "POST /deconnexion": _form(),
    "POST /api/v1/auth/login": lambda _w, p: {
        "json": {"login": p.login or "alice", "password": PASSWORD}
    },
    "POST /api/v1/auth/logout": _no_body,
    "POST /api/v1/questionnaires/{questionnaire_id}/attempts": _no_body,
    "POST /questionnaires/{questionnaire_id}/demarrer": _form(),
    "PUT /api/v1/attempts/{attempt_id}/answers/{question_id}": lambda _w, _p: {
        "json": {"seq": 9, "selected": ["a"]}
    },
    "POST /api/v1/attempts/{attempt_id}/submit": _no_body,
    f"POST {T}/questions/{{position}}": _form(selected="a", go="suivante"),
    f"POST {T}/questions/{{position}}/marque": _form(),
    f"POST {T}/remettre": _form(confirm="oui"),
    f"POST {B}/brouillons": _form(version="2026.2"),
    "POST /banques/importer": lambda _w, _p: {
        "data": {},
        "files": {"file": ("vide.yaml", b"", "application/yaml")},
    },
    f"POST {D}/questions/{{index}}": lambda w, _p: {"data": {"text": w.question_text}},
    f"POST {D}/apercu": lambda w, _p: {"data": {"text": w.question_text, "index": "0"}},
    f"POST {D}/questions/{{index}}/supprimer": _form(),
    f"POST {D}/publier": _form(version="2026.3", summary="Énoncés revus."),
    "POST /sessions": _form(
        name="Session de rattrapage", opens_at="2026-12-10T08:00", closes_at="2026-12-10T12:00"
    ),
    # The session already has its fiscalite questionnaire: past the role check, the answer
    # is the French 400 refusal (a theme is pinned once).
    f"POST {S}/questionnaires": lambda w, _p: {
        "data": {"bank_version_id": str(w.version2_id), "max_attempts": "1", "override_reason": "x"}
    },
    f"POST {S}/inscriptions": _form(
        last_name="Durand", first_name="Chloé", email="chloe@example.org", candidate_number="C-003"
    ),
    f"POST {S}/inscriptions/csv": lambda _w, _p: {
        "data": {},
        "files": {"file": ("inscriptions.csv", CSV.encode(), "text/csv")},
    },
    f"POST {S}/inscriptions/{{enrolment_id}}/amenagement": _form(
        extra_time_percent="33", arrangements="Salle au calme"
    ),
    f"POST {S}/candidats/{{enrolment_id}}/decisions": _form(
        competence="C9",
        modality="soutenance",
        decision="acquis",
        decided_on="2026-12-02",
        comment="Soutenance claire.",
    ),
    f"POST {S}/deliberation": _form(),
    f"POST {S}/deliberation/rouvrir": _form(reason="Erreur de saisie."),
    f"POST {SQ}/neutralisation": _form(question_id="q-choix", policy="grant"),
    # GET routes with a query string
    f"GET {B}/diff": lambda _w, _p: {"params": {"de": "2026.1", "a": "2026.2"}},
    "GET /api/v1/exam-sessions/{exam_session_id}/export": lambda _w, _p: {
        "params": {"format": "csv"}
    },
}


def concrete(path: str, values: dict[str, object]) -> str:
    """The path with each {parameter} replaced by a real id of the world."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        assert name in values, f"paramètre de chemin sans valeur dans le monde de test : {name}"
        return str(values[name])

    return re.sub(r"\{(\w+)\}", value, path)


def send(client, world: World, principal_name: str, route: str, *, csrf="valid", via="auto"):
    """One request for ``route`` (« METHOD /path ») as ``principal_name`` would send it:
    bearer token on the API, session cookie and CSRF token on pages, the anonymous CSRF
    cookie and token when nobody is logged in.

    ``csrf`` is "valid", "missing" or "forged"; ``via`` is "auto", "cookie" or "bearer".
    """
    method, path = route.split(" ", 1)
    principal = world.principals[principal_name]
    kwargs = BODIES.get(route, _no_body)(world, principal)
    client.cookies.clear()
    client.headers.pop("Authorization", None)
    headers = {}
    bearer = principal.token is not None and (
        via == "bearer" or (via == "auto" and path.startswith("/api/"))
    )
    if bearer:
        headers["Authorization"] = f"Bearer {principal.token}"
    elif principal.token is not None:
        client.cookies.set(SESSION_COOKIE, principal.token)
    else:
        client.cookies.set(CSRF_COOKIE, principal.csrf)
    if not bearer and method != "GET" and csrf != "missing":
        token = principal.csrf if csrf == "valid" else f"forged-{principal.csrf[:8]}"
        if "data" in kwargs:
            kwargs["data"] = {**kwargs["data"], "csrf_token": token}
        else:
            headers["X-CSRF-Token"] = token
    return client.request(
        method,
        concrete(path, world.path_values),
        headers=headers,
        follow_redirects=False,
        **kwargs,
    )


def is_login_redirect(response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith(
        "/connexion?suivant="
    )


def assert_denied(response, route: str, principal: str) -> None:
    _method, path = route.split(" ", 1)
    if principal == "anonyme" and not path.startswith("/api/"):
        assert is_login_redirect(response), (response.status_code, response.text[:300])
    else:
        assert response.status_code in (401, 403, 404), (response.status_code, response.text[:300])


def assert_allowed(response) -> None:
    status = response.status_code
    assert status < 500, response.text[:300]
    assert status not in (401, 403, 404), (status, response.text[:300])
    assert status != 422, f"corps de requête invalide : {response.text[:300]}"
    assert not is_login_redirect(response), response.headers.get("location")


def assert_no_answer_key(body: str) -> None:
    """Nothing of the key: neither the JSON fields nor the page's markers nor the texts."""
    text = unescape(body)
    for marker in ('"correct"', '"expected"', "Bonne réponse :", "Réponse attendue"):
        assert marker not in text, marker
    for explanation in EXPLANATIONS:
        assert explanation not in text, explanation


# ----------------------------------------------------------------------------- tests


def application_routes() -> set[str]:
    """« METHOD /path » for every API route the application serves."""
    routes = set()
    for route in iter_route_contexts(create_app(sweeper=False).routes):
        if not isinstance(route.original_route, APIRoute):
            assert route.path in NON_API_ROUTES, f"route inattendue : {route.path}"
            continue
        routes.update(f"{method} {route.path}" for method in route.methods)
    return routes


def test_every_route_is_classified():
    served = application_routes()
    assert len(served) > 50  # the enumeration really walked the included routers
    assert sorted(served - set(MATRIX)) == [], "routes à classer dans MATRIX"
    assert sorted(set(MATRIX) - served) == [], "lignes de MATRIX sans route"
    assert all(re.fullmatch("[AD]{6}", expected) for expected in MATRIX.values())
    writes = {route for route in served if not route.startswith("GET ")}
    assert sorted(writes - set(BODIES)) == [], "routes sans corps de requête dans BODIES"
    assert set(BODIES) <= served


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_route_authorisation(client, world, route, principal):
    response = send(client, world, principal, route)
    if MATRIX[route][PRINCIPALS.index(principal)] == "A":
        assert_allowed(response)
        if principal in ("alice", "bob"):  # before the session closes: no key anywhere
            assert_no_answer_key(response.text)
    else:
        assert_denied(response, route, principal)


# ------------------------------------------------------- candidates, one from another


def _enrol_bob(db, make_user, exam) -> int:
    bob = make_user("bob", "candidat")
    exam_session = sessions_service.get_session(session=db, exam_session_id=exam.session_id)
    sessions_service.enrol(session=db, exam=exam_session, user=bob, candidate_number="C-002")
    db.commit()
    return bob.id


def _alice_id(db) -> int:
    return db.scalar(select(UserAccount.id).where(UserAccount.login == "alice"))


class TestBobNeverSeesAlice:
    def bob_requests(self, attempt_id: int, alice_id: int, question_id: str):
        return [
            ("GET", f"/api/v1/attempts/{attempt_id}", {}),
            (
                "PUT",
                f"/api/v1/attempts/{attempt_id}/answers/{question_id}",
                {"json": {"seq": 50, "selected": ["b"]}},
            ),
            ("POST", f"/api/v1/attempts/{attempt_id}/submit", {}),
            ("GET", f"/tentatives/{attempt_id}/questions/1", {}),
            ("POST", f"/tentatives/{attempt_id}/questions/1", {"data": {"selected": "b"}}),
            ("POST", f"/tentatives/{attempt_id}/questions/1/marque", {}),
            ("GET", f"/tentatives/{attempt_id}/relecture", {}),
            ("POST", f"/tentatives/{attempt_id}/remettre", {"data": {"confirm": "oui"}}),
            ("GET", f"/tentatives/{attempt_id}/resultat", {}),
            ("GET", f"/api/v1/candidates/{alice_id}/record", {}),
        ]

    def test_running_then_submitted_attempt(self, client, db, exam, clock, make_user):
        login(client, "alice")
        attempt = client.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts").json()
        first = attempt["questions"][0]
        saved = client.put(
            f"/api/v1/attempts/{attempt['id']}/answers/{first['question_id']}",
            json={"seq": 1, "selected": [first["options"][0]["id"]]},
        )
        assert saved.status_code == 200
        _enrol_bob(db, make_user, exam)
        alice_id = _alice_id(db)
        login(client, "bob")
        for method, url, kwargs in self.bob_requests(attempt["id"], alice_id, first["question_id"]):
            response = client.request(method, url, follow_redirects=False, **kwargs)
            assert response.status_code == 404, (method, url, response.status_code)
            assert first["stem"] not in unescape(response.text)
            assert "Alice" not in response.text
        # Nothing of alice's attempt moved.
        login(client, "alice")
        again = client.get(f"/api/v1/attempts/{attempt['id']}").json()
        assert again["status"] == "running"
        assert again["questions"][0]["seq"] == 1
        assert again["questions"][0]["response"] == saved.json()["response"]
        assert again["questions"][0]["flagged"] is False
        answers = db.scalars(select(Answer)).all()
        assert [a.seq for a in answers] == [1]
        # Submitted, results published after the close: still alice's only.
        assert client.post(f"/api/v1/attempts/{attempt['id']}/submit").status_code == 200
        clock.now = CLOSES.replace(hour=13)
        assert client.get(f"/tentatives/{attempt['id']}/resultat").status_code == 200
        assert client.get(f"/api/v1/candidates/{alice_id}/record").status_code == 200
        login(client, "bob")
        for method, url, kwargs in self.bob_requests(attempt["id"], alice_id, first["question_id"]):
            response = client.request(method, url, follow_redirects=False, **kwargs)
            assert response.status_code == 404, (method, url, response.status_code)
            assert_no_answer_key(response.text)
        own = client.get("/api/v1/me/questionnaires").json()
        assert [q["attempt_id"] for q in own] == [None]  # bob's own state, not alice's

    def test_bob_pages_by_cookie(self, client, world):
        """The same refusals for a browser (session cookie, CSRF token in the form)."""
        for route in (
            f"GET {T}/questions/{{position}}",
            f"POST {T}/questions/{{position}}",
            f"GET {T}/resultat",
            f"POST {T}/remettre",
            "GET /api/v1/candidates/{user_id}/record",
            "GET /api/v1/attempts/{attempt_id}",
        ):
            response = send(client, world, "bob", route)
            assert response.status_code == 404, route


# ------------------------------------------------------------- the key stays hidden


class TestNoAnswerKeyBeforeReview:
    """The questionnaire's policy: correction from the session's close (12:00)."""

    def test_whole_attempt_before_the_close(self, client, exam, clock):
        login(client, "alice")
        bodies = [client.get("/api/v1/me/questionnaires").text, client.get("/").text]
        started = client.post(f"/api/v1/questionnaires/{exam.questionnaire_id}/attempts")
        bodies.append(started.text)
        attempt = started.json()
        for position, question in enumerate(attempt["questions"], start=1):
            bodies.append(client.get(f"/tentatives/{attempt['id']}/questions/{position}").text)
            selected = [question["options"][0]["id"]]
            bodies.append(
                client.put(
                    f"/api/v1/attempts/{attempt['id']}/answers/{question['question_id']}",
                    json={"seq": 1, "selected": selected},
                ).text
            )
        bodies.append(client.get(f"/api/v1/attempts/{attempt['id']}").text)
        bodies.append(client.get(f"/tentatives/{attempt['id']}/relecture").text)
        submitted = client.post(f"/api/v1/attempts/{attempt['id']}/submit")
        assert submitted.json()["result"]["available"] is False
        bodies.append(submitted.text)
        clock.advance(hours=2, minutes=59)  # 11:59, one minute before the close
        bodies.append(client.get(f"/api/v1/attempts/{attempt['id']}").text)
        result = client.get(f"/tentatives/{attempt['id']}/resultat")
        assert "Le résultat sera disponible à partir du" in unescape(result.text)
        bodies.append(result.text)
        bodies.append(client.get("/").text)
        for body in bodies:
            assert_no_answer_key(body)
        # The detector is not blind: once the session has closed, the key is shown.
        clock.advance(minutes=2)
        after = client.get(f"/api/v1/attempts/{attempt['id']}").text
        page = client.get(f"/tentatives/{attempt['id']}/resultat").text
        with pytest.raises(AssertionError):
            assert_no_answer_key(after)
        with pytest.raises(AssertionError):
            assert_no_answer_key(page)
