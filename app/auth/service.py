"""Accounts, login with throttling, server-side sessions. Services only flush."""

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, delete, func, or_, select
from sqlalchemy.orm import Session, contains_eager

from app.auth.models import LoginAttempt, UserAccount, UserSession
from app.auth.passwords import hash_password, verify_password
from app.auth.roles import Role
from app.db import utcnow

MIN_PASSWORD_LENGTH = 4


class AuthError(Exception):
    """A refusal whose message can be shown to the user as is."""


class LoginThrottled(AuthError):
    def __init__(self, retry_after_seconds: int) -> None:
        minutes = max(1, -(-retry_after_seconds // 60))
        super().__init__(
            f"Trop de tentatives de connexion échouées : réessayez dans {minutes} minute(s)."
        )
        self.retry_after_seconds = retry_after_seconds


class InvalidCredentials(AuthError):
    def __init__(self) -> None:
        super().__init__("Identifiant ou mot de passe incorrect.")


@dataclass(frozen=True)
class OpenedSession:
    token: str
    record: UserSession


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_user_by_login(*, session: Session, login: str) -> UserAccount | None:
    return session.scalar(select(UserAccount).where(UserAccount.login == login))


def create_user(
    *,
    session: Session,
    login: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    email: str | None = None,
) -> UserAccount:
    """Create an account; refuses a taken login or a too short password."""
    login = login.strip()
    if not login:
        raise AuthError("L'identifiant ne peut pas être vide.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.")
    if get_user_by_login(session=session, login=login) is not None:
        raise AuthError(f"L'identifiant « {login} » est déjà pris.")
    user = UserAccount(
        login=login,
        display_name=display_name or login,
        email=email,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def _throttle_window_start(now: datetime, lockout_minutes: int) -> datetime:
    return now - timedelta(minutes=lockout_minutes)


def check_throttle(
    *, session: Session, login: str, now: datetime, max_failures: int, lockout_minutes: int
) -> None:
    """Raise LoginThrottled when ``login`` failed ``max_failures`` times within the window."""
    since = _throttle_window_start(now, lockout_minutes)
    count, oldest = session.execute(
        select(func.count(), func.min(LoginAttempt.attempted_at)).where(
            LoginAttempt.login == login, LoginAttempt.attempted_at > since
        )
    ).one()
    if count >= max_failures:
        # Comparisons stay in the database's own datetimes; SQLite returns naive ones.
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
        retry_after = int((oldest + timedelta(minutes=lockout_minutes) - now).total_seconds())
        raise LoginThrottled(max(retry_after, 1))


def authenticate(
    *,
    session: Session,
    login: str,
    password: str,
    now: datetime,
    max_failures: int,
    lockout_minutes: int,
) -> UserAccount:
    """The active account for these credentials; each failure is recorded for throttling."""
    login = login.strip()
    check_throttle(
        session=session,
        login=login,
        now=now,
        max_failures=max_failures,
        lockout_minutes=lockout_minutes,
    )
    user = get_user_by_login(session=session, login=login)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        session.add(LoginAttempt(login=login, attempted_at=now))
        session.flush()
        raise InvalidCredentials()
    session.execute(delete(LoginAttempt).where(LoginAttempt.login == login))
    return user


def open_session(
    *, session: Session, user: UserAccount, now: datetime, lifetime_minutes: int
) -> OpenedSession:
    """A fresh session with a new random token (never reuse one: no session fixation)."""
    token = secrets.token_urlsafe(32)
    record = UserSession(
        token_sha256=token_digest(token),
        csrf_token=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(minutes=lifetime_minutes),
    )
    session.add(record)
    session.flush()
    return OpenedSession(token=token, record=record)


# Built once: every request runs one, and building a statement costs more than running it.
_LIVE = (
    UserSession.token_sha256 == bindparam("digest"),
    UserSession.revoked_at.is_(None),
    UserSession.expires_at > bindparam("now"),
    UserAccount.is_active.is_(True),
)
_LIVE_SESSION = (
    select(UserSession)
    .join(UserSession.user)
    .options(contains_eager(UserSession.user))
    .where(*_LIVE)
)
_LIVE_ACCOUNT = (
    select(UserAccount.id, UserAccount.role)
    .join(UserSession, UserSession.user_id == UserAccount.id)
    .where(*_LIVE)
)


def held_by_caller(statement: Select, account_id, roles: Iterable[Role]) -> Select:
    """``statement`` kept to the rows whose account (``account_id``) is the caller's.

    The caller presents a token (parameters ``digest`` and ``now``): a live session of an
    active account of one of ``roles``. For a hot path that learns who calls and what they
    ask for in one read; a row missing says nothing of why (look the caller up for that).
    Its parameters for the caller: ``caller_parameters``.
    """
    return (
        statement.join(UserSession, UserSession.user_id == account_id)
        .join(UserAccount, UserAccount.id == account_id)
        # Not IN (…): an expanding parameter is rendered again at every execution.
        .where(*_LIVE, or_(*(UserAccount.role == role for role in sorted(roles))))
    )


def caller_parameters(token: str) -> dict[str, object]:
    """The parameters of a ``held_by_caller`` statement for the caller presenting ``token``
    (sessions expire on the server's clock, as in ``find_live_account``'s callers)."""
    return {"digest": token_digest(token), "now": utcnow()}


@dataclass(frozen=True)
class LiveAccount:
    user_id: int
    role: Role


def find_session(*, session: Session, token: str, now: datetime) -> UserSession | None:
    """The live session for ``token``: not revoked, not expired, its account active."""
    return session.scalar(_LIVE_SESSION, {"digest": token_digest(token), "now": now})


def find_live_account(*, session: Session, token: str, now: datetime) -> LiveAccount | None:
    """Who holds the live session ``token``, without building ORM objects (hot paths)."""
    row = (
        session.connection()
        .execute(_LIVE_ACCOUNT, {"digest": token_digest(token), "now": now})
        .one_or_none()
    )
    return LiveAccount(row.id, row.role) if row else None


def revoke_session(*, session: Session, record: UserSession, now: datetime) -> None:
    record.revoked_at = now
    session.flush()


def count_users_by_role(*, session: Session) -> dict[Role, int]:
    """How many active accounts each role has (every role listed, zero included)."""
    rows = session.execute(
        select(UserAccount.role, func.count())
        .where(UserAccount.is_active.is_(True))
        .group_by(UserAccount.role)
    ).all()
    counts = dict.fromkeys(Role, 0)
    counts.update({role: count for role, count in rows})
    return counts
