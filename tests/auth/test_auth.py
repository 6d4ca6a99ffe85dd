"""Login, sessions, throttling, CSRF and roles, through the HTTP interface."""

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.dependencies import CSRF_COOKIE, SESSION_COOKIE
from app.auth.models import LoginAttempt, UserSession
from app.auth.passwords import hash_password, verify_password
from app.auth.roles import Role
from app.config import Settings
from app.db import utcnow
from app.dependencies import app_settings

WRONG = "Identifiant ou mot de passe incorrect."


def api_login(client, login="alice", password="secret-pass"):
    return client.post("/api/v1/auth/login", json={"login": login, "password": password})


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def form_login(client, login="alice", password="secret-pass", **fields):
    """Log in through the French form, as a browser does: read the token, post it back."""
    page = client.get("/connexion")
    data = {"login": login, "password": password, "csrf_token": csrf_from(page.text), **fields}
    return client.post("/connexion", data=data, follow_redirects=False)


class TestPasswords:
    def test_hash_is_argon2id_and_verifies(self):
        hashed = hash_password("s3cret")
        assert hashed.startswith("$argon2id$")
        assert verify_password(hashed, "s3cret") is True
        assert verify_password(hashed, "S3cret") is False

    def test_unknown_user_never_verifies(self):
        assert verify_password(None, "ccpq-no-such-user") is False

    def test_create_user_refuses_taken_login(self, db, make_user):
        make_user("alice")
        with pytest.raises(auth_service.AuthError, match="L'identifiant « alice » est déjà pris."):
            make_user("alice")


class TestApiLogin:
    def test_login_returns_token_and_user(self, client, make_user):
        user = make_user("alice", "formateur")
        response = api_login(client)
        assert response.status_code == 200
        body = response.json()
        assert body["user"] == {
            "id": user.id,
            "login": "alice",
            "display_name": "Alice",
            "role": "formateur",
        }
        assert len(body["token"]) >= 40 and len(body["csrf_token"]) >= 40
        cookie = response.headers["set-cookie"]
        assert f"{SESSION_COOKIE}={body['token']}" in cookie
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie

    def test_me_with_bearer_token(self, client, make_user):
        make_user("alice", "jury")
        token = api_login(client).json()["token"]
        client.cookies.clear()
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.json()["role"] == "jury"

    def test_me_anonymous_is_401(self, client):
        response = client.get("/api/v1/me")
        assert response.status_code == 401
        assert response.json() == {"detail": "Connexion requise."}

    @pytest.mark.parametrize(
        ("login", "password"), [("alice", "wrong-pass"), ("nobody", "secret-pass")]
    )
    def test_bad_credentials_same_message_and_recorded(
        self, client, db, make_user, login, password
    ):
        make_user("alice")
        response = api_login(client, login, password)
        assert response.status_code == 401
        assert response.json() == {"detail": WRONG}
        assert db.scalar(select(func.count()).select_from(UserSession)) == 0
        assert db.scalar(select(func.count()).where(LoginAttempt.login == login)) == 1

    def test_inactive_account_cannot_log_in(self, client, make_user, db):
        user = make_user("alice")
        user.is_active = False
        db.commit()
        assert api_login(client).status_code == 401

    def test_non_json_body_is_refused(self, client, make_user):
        make_user("alice")
        response = client.post(
            "/api/v1/auth/login",
            content="login=alice&password=secret-pass",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 403  # a form post is what a forged cross-site form sends


class TestThrottling:
    def test_fifth_failure_locks_the_login(self, client, make_user, settings):
        make_user("alice")
        for _ in range(settings.login_max_failures):
            assert api_login(client, password="nope").status_code == 401
        response = api_login(client)  # even the right password is refused now
        assert response.status_code == 429
        assert response.json() == {
            "detail": "Trop de tentatives de connexion échouées : réessayez dans 15 minute(s)."
        }
        assert 0 < int(response.headers["Retry-After"]) <= 15 * 60

    def test_old_failures_do_not_count(self, client, make_user, db, settings):
        make_user("alice")
        long_ago = utcnow() - timedelta(minutes=settings.login_lockout_minutes + 1)
        db.add_all(LoginAttempt(login="alice", attempted_at=long_ago) for _ in range(10))
        db.commit()
        assert api_login(client).status_code == 200

    def test_success_clears_the_counter(self, client, make_user, db):
        make_user("alice")
        for _ in range(4):
            api_login(client, password="nope")
        assert api_login(client).status_code == 200
        assert db.scalar(select(func.count()).where(LoginAttempt.login == "alice")) == 0

    def test_throttling_is_per_login(self, client, make_user, settings):
        make_user("alice")
        make_user("bob")
        for _ in range(settings.login_max_failures):
            api_login(client, "alice", "nope")
        assert api_login(client, "bob").status_code == 200


class TestSessions:
    def test_logout_revokes_the_token(self, client, make_user):
        make_user("alice")
        body = api_login(client).json()
        auth = {"Authorization": f"Bearer {body['token']}"}
        assert client.post("/api/v1/auth/logout", headers=auth).status_code == 204
        assert client.get("/api/v1/me", headers=auth).status_code == 401

    def test_expired_session_is_refused(self, client, make_user, db):
        make_user("alice")
        api_login(client)
        record = db.scalar(select(UserSession))
        record.expires_at = utcnow() - timedelta(seconds=1)
        db.commit()
        response = client.get("/api/v1/me")
        assert response.status_code == 401
        assert response.json() == {"detail": "Session expirée : reconnectez-vous."}
        page = client.get("/", follow_redirects=True)
        assert "Votre session a expiré : reconnectez-vous." in page.text

    def test_login_replaces_the_previous_session(self, client, make_user, db):
        make_user("alice")
        first = api_login(client).json()
        # The browser's cookie goes along with the second login, so its CSRF token too.
        second = client.post(
            "/api/v1/auth/login",
            json={"login": "alice", "password": "secret-pass"},
            headers={"X-CSRF-Token": first["csrf_token"]},
        ).json()["token"]
        first = first["token"]
        assert first != second
        sessions = db.scalars(select(UserSession).order_by(UserSession.id)).all()
        assert [s.revoked_at is not None for s in sessions] == [True, False]
        assert (
            client.get("/api/v1/me", headers={"Authorization": f"Bearer {first}"}).status_code
            == 401
        )

    def test_token_is_stored_hashed(self, client, make_user, db):
        make_user("alice")
        token = api_login(client).json()["token"]
        record = db.scalar(select(UserSession))
        assert record.token_sha256 == auth_service.token_digest(token) != token

    def test_session_lifetime_comes_from_settings(self, client, make_user, db, settings):
        make_user("alice")
        api_login(client)
        record = db.scalar(select(UserSession))
        assert record.expires_at - record.created_at == timedelta(
            minutes=settings.session_lifetime_minutes
        )


class TestCsrf:
    def test_cookie_authenticated_post_needs_the_token(self, client, make_user):
        make_user("alice")
        csrf = api_login(client).json()["csrf_token"]
        refused = client.post("/api/v1/auth/logout")
        assert refused.status_code == 403
        assert refused.json() == {
            "detail": "Jeton de sécurité (CSRF) absent ou invalide : "
            "rechargez la page puis recommencez."
        }
        forged = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "forged"})
        assert forged.status_code == 403
        assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204

    def test_login_form_without_token_is_refused(self, client, make_user, db):
        make_user("alice")
        response = client.post("/connexion", data={"login": "alice", "password": "secret-pass"})
        assert response.status_code == 403
        assert "Jeton de sécurité (CSRF) absent ou invalide" in response.text
        assert db.scalar(select(func.count()).select_from(UserSession)) == 0

    def test_login_form_with_forged_token_is_refused(self, client, make_user):
        make_user("alice")
        client.get("/connexion")
        response = client.post(
            "/connexion",
            data={"login": "alice", "password": "secret-pass", "csrf_token": "forged"},
        )
        assert response.status_code == 403

    def test_login_form_round_trip(self, client, make_user):
        make_user("alice", "candidat")
        response = form_login(client, suivant="/referentiel")
        assert response.status_code == 303
        assert response.headers["location"] == "/referentiel"
        assert SESSION_COOKIE in client.cookies
        home = client.get("/")
        assert "<h1>Bonjour Alice</h1>" in home.text

    def test_logout_form_needs_session_token(self, client, make_user):
        make_user("alice")
        form_login(client)
        home = client.get("/")
        anonymous_token = client.cookies.get(CSRF_COOKIE)
        assert anonymous_token is None  # replaced by the session's own token at login
        assert client.post("/deconnexion", data={"csrf_token": "forged"}).status_code == 403
        response = client.post(
            "/deconnexion", data={"csrf_token": csrf_from(home.text)}, follow_redirects=False
        )
        assert response.status_code == 303 and response.headers["location"] == "/connexion"
        assert client.get("/api/v1/me").status_code == 401

    def test_htmx_header_carries_the_token(self, client, make_user):
        make_user("alice")
        csrf = api_login(client).json()["csrf_token"]
        home = client.get("/")
        assert f'hx-headers=\'{{"X-CSRF-Token": "{csrf}"}}\'' in home.text


class TestLoginPage:
    def test_wrong_password_shows_french_error(self, client, make_user):
        make_user("alice")
        response = form_login(client, password="nope")
        assert response.status_code == 401
        assert '<div class="alert alert-error" role="alert" id="erreur-connexion">' in response.text
        assert f"<p>{WRONG}</p>" in response.text
        assert 'value="alice"' in response.text

    def test_open_redirect_is_neutralised(self, client, make_user):
        make_user("alice")
        response = form_login(client, suivant="//evil.example/")
        assert response.headers["location"] == "/"

    def test_page_requiring_login_redirects_with_next(self, client):
        response = client.get("/referentiel", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/connexion?suivant=/referentiel"


class TestRoles:
    @pytest.mark.parametrize(
        ("role", "status"),
        [("candidat", 403), ("formateur", 200), ("jury", 200), ("admin", 200)],
    )
    def test_bank_list_is_for_staff(self, client, make_user, role, status):
        make_user("alice", role)
        api_login(client)
        assert client.get("/api/v1/banks").status_code == status

    def test_forbidden_page_is_french(self, client, make_user):
        make_user("alice", "candidat")
        api_login(client)
        response = client.get("/banques")
        assert response.status_code == 403
        assert "Accès refusé : votre rôle ne permet pas d'ouvrir cette page." in unescape(
            response.text
        )

    @pytest.mark.parametrize(
        ("role", "heading"),
        [
            ("candidat", "<h1>Bonjour Alice</h1>"),
            ("formateur", "<h1>Espace formateur</h1>"),
            ("jury", "<h1>Espace jury</h1>"),
            ("admin", "<h1>Administration</h1>"),
        ],
    )
    def test_home_page_per_role(self, client, make_user, role, heading):
        make_user("alice", role)
        api_login(client)
        page = client.get("/")
        assert page.status_code == 200
        assert heading in page.text
        assert '<html lang="fr">' in page.text


class TestCookieSecurity:
    def test_secure_cookie_outside_dev(self, web_app, client, make_user):
        web_app.dependency_overrides[app_settings] = lambda: Settings(
            env="prod", secret_key="x" * 40
        )
        make_user("alice")
        cookie = api_login(client).headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie


def test_role_labels_are_french():
    assert [role.label for role in Role] == [
        "Candidat",
        "Formateur",
        "Membre du jury",
        "Administrateur",
    ]
