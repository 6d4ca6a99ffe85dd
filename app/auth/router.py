"""Login and logout: French pages for browsers and the JSON API."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse

from app.auth import service as auth_service
from app.auth.dependencies import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentAuth,
    CurrentUser,
    new_anonymous_csrf_token,
)
from app.auth.models import UserAccount
from app.auth.schemas import ErrorRead, LoginRequest, LoginResponse, UserRead
from app.config import Settings
from app.db import utcnow
from app.dependencies import AppSettings, DbSession
from app.web.templating import redirect, templates

router = APIRouter()
api = APIRouter(prefix="/api/v1", tags=["auth"])


def _login(
    *, session, settings: Settings, login: str, password: str, auth
) -> tuple[UserAccount, auth_service.OpenedSession]:
    """Check the credentials and open a new session, revoking the browser's old one."""
    now = utcnow()
    user = auth_service.authenticate(
        session=session,
        login=login,
        password=password,
        now=now,
        max_failures=settings.login_max_failures,
        lockout_minutes=settings.login_lockout_minutes,
    )
    if auth.record is not None:  # a login replaces whatever session the browser had
        auth_service.revoke_session(session=session, record=auth.record, now=now)
    opened = auth_service.open_session(
        session=session, user=user, now=now, lifetime_minutes=settings.session_lifetime_minutes
    )
    return user, opened


def _set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_lifetime_minutes * 60,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )
    response.delete_cookie(CSRF_COOKIE, path="/")


def _refusal(error: auth_service.AuthError) -> tuple[int, dict[str, str]]:
    if isinstance(error, auth_service.LoginThrottled):
        return 429, {"Retry-After": str(error.retry_after_seconds)}
    return 401, {}


def _safe_next(url: str | None) -> str:
    """Only local paths: the login form must not become an open redirect."""
    if (
        url
        and url.startswith("/")
        and not url.startswith("//")
        and "\\" not in url
        and url.isprintable()  # a tab or newline could turn "/\t/x" into "//x" in a browser
    ):
        return url
    return "/"


@router.get("/connexion", include_in_schema=False)
def login_page(request: Request, auth: CurrentAuth, suivant: str | None = None):
    if auth.user is not None:
        return redirect(request, _safe_next(suivant))
    return _render_login(request, suivant=suivant, expired=auth.stale_cookie)


def _render_login(
    request: Request,
    *,
    suivant: str | None,
    error: str | None = None,
    expired: bool = False,
    login: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
):
    csrf = request.cookies.get(CSRF_COOKIE) or new_anonymous_csrf_token()
    response = templates.TemplateResponse(
        request,
        "auth/login.html",
        {
            "csrf_token": csrf,
            "next": _safe_next(suivant),
            "error": error,
            "expired": expired,
            "login": login,
        },
        status_code=status_code,
        headers=headers,
    )
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/")
    return response


@router.post("/connexion", include_in_schema=False)
def login_form(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    auth: CurrentAuth,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    suivant: Annotated[str | None, Form()] = None,
):
    try:
        _user, opened = _login(
            session=session, settings=settings, login=login, password=password, auth=auth
        )
    except auth_service.AuthError as error:
        status, headers = _refusal(error)
        # Returned, not raised: the failure is recorded (committed) for throttling.
        return _render_login(
            request,
            suivant=suivant,
            error=str(error),
            login=login,
            status_code=status,
            headers=headers,
        )
    response = redirect(request, _safe_next(suivant))
    _set_session_cookie(response, opened.token, settings)
    return response


@router.post("/deconnexion", include_in_schema=False)
def logout_form(request: Request, session: DbSession, auth: CurrentAuth):
    if auth.record is not None:
        auth_service.revoke_session(session=session, record=auth.record, now=utcnow())
    response = redirect(request, "/connexion")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@api.post(
    "/auth/login",
    response_model=LoginResponse,
    responses={401: {"model": ErrorRead}, 429: {"model": ErrorRead}},
    summary="Ouvrir une session",
)
def api_login(body: LoginRequest, session: DbSession, settings: AppSettings, auth: CurrentAuth):
    try:
        user, opened = _login(
            session=session, settings=settings, login=body.login, password=body.password, auth=auth
        )
    except auth_service.AuthError as error:
        status, headers = _refusal(error)
        return JSONResponse({"detail": str(error)}, status_code=status, headers=headers)
    payload = LoginResponse(
        token=opened.token, csrf_token=opened.record.csrf_token, user=UserRead.model_validate(user)
    )
    response = JSONResponse(payload.model_dump(mode="json"))
    _set_session_cookie(response, opened.token, settings)
    return response


@api.post("/auth/logout", status_code=204, summary="Fermer la session")
def api_logout(session: DbSession, auth: CurrentAuth, _user: CurrentUser) -> Response:
    auth_service.revoke_session(session=session, record=auth.record, now=utcnow())
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@api.get("/me", response_model=UserRead, summary="Le compte connecté")
def me(user: CurrentUser) -> UserAccount:
    return user
