"""Who is calling, role checks and CSRF protection, as FastAPI dependencies."""

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request

from app.auth import service as auth_service
from app.auth.models import UserAccount, UserSession
from app.auth.roles import Role
from app.db import utcnow
from app.dependencies import DbSession

SESSION_COOKIE = "ccpq_session"
CSRF_COOKIE = "ccpq_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No live session: the API answers 401, a page redirects to the login form."""

    def __init__(self, expired: bool = False) -> None:
        self.expired = expired


class Forbidden(Exception):
    """Logged in, but the role does not allow this."""


class CSRFError(Exception):
    """A state-changing browser request without the right CSRF token."""


@dataclass(frozen=True)
class Auth:
    user: UserAccount | None
    record: UserSession | None
    via: Literal["cookie", "bearer"] | None
    stale_cookie: bool = False

    @property
    def csrf_token(self) -> str | None:
        return self.record.csrf_token if self.record else None


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def get_auth(request: Request, session: DbSession) -> Auth:
    """The caller: a bearer token (API clients) or the session cookie (browsers)."""
    now = utcnow()
    bearer = _bearer_token(request)
    if bearer is not None:
        record = auth_service.find_session(session=session, token=bearer, now=now)
        auth = Auth(record.user, record, "bearer") if record else Auth(None, None, None)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        record = auth_service.find_session(session=session, token=cookie, now=now)
        auth = (
            Auth(record.user, record, "cookie")
            if record
            else Auth(None, None, None, stale_cookie=True)
        )
    else:
        auth = Auth(None, None, None)
    request.state.auth = auth
    return auth


CurrentAuth = Annotated[Auth, Depends(get_auth)]


async def csrf_protect(request: Request, auth: CurrentAuth) -> None:
    """Every state-changing request a browser can forge must carry the CSRF token.

    Bearer-authenticated calls are exempt (a browser never adds that header by itself),
    and so are anonymous JSON calls (a cross-site page cannot send application/json
    without a CORS preflight, and CORS is not enabled).
    """
    if request.method in SAFE_METHODS or auth.via == "bearer":
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if auth.via is None and content_type == "application/json":
        return
    expected = auth.csrf_token if auth.via == "cookie" else request.cookies.get(CSRF_COOKIE)
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    if not expected or not supplied or not hmac.compare_digest(expected, supplied):
        raise CSRFError()


def new_anonymous_csrf_token() -> str:
    return secrets.token_urlsafe(32)


async def require_user(auth: CurrentAuth) -> UserAccount:
    """The logged-in account, or LoginRequired."""
    if auth.user is None:
        raise LoginRequired(expired=auth.stale_cookie)
    return auth.user


CurrentUser = Annotated[UserAccount, Depends(require_user)]


def require_roles(*roles: Role):
    """A dependency that lets only the given roles through."""
    allowed = frozenset(roles)

    async def dependency(user: CurrentUser) -> UserAccount:
        if user.role not in allowed:
            raise Forbidden()
        return user

    return dependency
