"""Who is calling, role checks and CSRF protection, as FastAPI dependencies."""

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

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


def _credentials(request: Request) -> tuple[str | None, Literal["cookie", "bearer"] | None]:
    """The token the caller presents, and how: the bearer header wins over the cookie."""
    if (bearer := _bearer_token(request)) is not None:
        return bearer, "bearer"
    if cookie := request.cookies.get(SESSION_COOKIE):
        return cookie, "cookie"
    return None, None


def caller_token(request: Request) -> str | None:
    """The token the caller presents (bearer header, else session cookie), if any."""
    return _credentials(request)[0]


def resolve_auth(request: Request, session: Session) -> Auth:
    """The caller: a bearer token (API clients) or the session cookie (browsers).

    Does I/O (run it in a thread); resolved once per request, then kept on the request.
    """
    if (known := getattr(request.state, "auth", None)) is not None:
        return known
    token, via = _credentials(request)
    record = (
        auth_service.find_session(session=session, token=token, now=utcnow()) if token else None
    )
    if record is not None:
        auth = Auth(record.user, record, via)
    else:
        auth = Auth(None, None, None, stale_cookie=via == "cookie")
    request.state.auth = auth
    return auth


def get_auth(request: Request, session: DbSession) -> Auth:
    return resolve_auth(request, session)


CurrentAuth = Annotated[Auth, Depends(get_auth)]


async def csrf_protect(request: Request, session: DbSession) -> None:
    """Every state-changing request a browser can forge must carry the CSRF token.

    Calls carrying a bearer token are exempt (a browser never adds that header by itself;
    an invalid token is refused by the route's own authentication), and so are anonymous
    JSON calls (a cross-site page cannot send application/json without a CORS preflight,
    and CORS is not enabled). Only the cookie case needs the session: API calls pay no
    lookup here.
    """
    if not csrf_needs_the_caller(request):
        return
    auth = getattr(request.state, "auth", None) or await run_in_threadpool(
        resolve_auth, request, session
    )
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


def csrf_needs_the_caller(request: Request) -> bool:
    """Whether ``csrf_protect`` must know who calls (``resolve_auth``): a request that
    changes state and carries no bearer token. A caller resolved beforehand is used as is."""
    return request.method not in SAFE_METHODS and _bearer_token(request) is None


def new_anonymous_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def _refuse_unless_allowed(
    role: Role | None, roles: frozenset[Role] | None, *, expired: bool
) -> None:
    """The refusals of every route: nobody logged in (``role`` None), or a role not let in."""
    if role is None:
        raise LoginRequired(expired=expired)
    if roles is not None and role not in roles:
        raise Forbidden()


def authorised_user(auth: Auth, roles: frozenset[Role] | None = None) -> UserAccount:
    """The logged-in account if its role is one of ``roles`` (any role when None)."""
    _refuse_unless_allowed(auth.user and auth.user.role, roles, expired=auth.stale_cookie)
    return auth.user


async def require_user(auth: CurrentAuth) -> UserAccount:
    """The logged-in account, or LoginRequired."""
    return authorised_user(auth)


CurrentUser = Annotated[UserAccount, Depends(require_user)]


def require_roles(*roles: Role):
    """A dependency that lets only the given roles through."""
    allowed = frozenset(roles)

    async def dependency(auth: CurrentAuth) -> UserAccount:
        return authorised_user(auth, allowed)

    return dependency


def authorised_account_id(request: Request, session: Session, roles: frozenset[Role]) -> int:
    """``authorised_user`` for a hot path: the account's id, without ORM objects.

    Does I/O (run it in a thread). Same refusals as the role dependencies.
    """
    if (known := getattr(request.state, "auth", None)) is not None:
        return authorised_user(known, roles).id
    token, via = _credentials(request)
    account = (
        auth_service.find_live_account(session=session, token=token, now=utcnow())
        if token
        else None
    )
    _refuse_unless_allowed(account and account.role, roles, expired=via == "cookie")
    return account.user_id
