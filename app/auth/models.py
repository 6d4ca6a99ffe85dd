"""Tables of accounts, server-side sessions and login attempts."""

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.roles import Role
from app.db import Base, CreatedAt, IntPK


class UserAccount(Base):
    __tablename__ = "user_account"

    id: Mapped[IntPK]
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [r.value for r in e])
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[CreatedAt]


class UserSession(Base):
    """A login: the cookie carries a random token, the table only its SHA-256."""

    __tablename__ = "user_session"

    id: Mapped[IntPK]
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[CreatedAt]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[UserAccount] = relationship(lazy="raise")


class LoginAttempt(Base):
    """A failed login, kept to throttle password guessing across every worker."""

    __tablename__ = "login_attempt"

    id: Mapped[IntPK]
    login: Mapped[str] = mapped_column(String(64), index=True)
    attempted_at: Mapped[CreatedAt]
