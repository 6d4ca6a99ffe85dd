"""Tables of exam sessions, their questionnaires and their enrolled candidates."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import UserAccount
from app.banks.models import BankVersion
from app.db import Base, CreatedAt, IntPK


class ExamSession(Base):
    """A sitting: a window in which enrolled candidates take its questionnaires."""

    __tablename__ = "exam_session"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(200))
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    # An accommodated candidate keeps their whole extra time past the closing time.
    accommodated_beyond_close: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[CreatedAt]
    # Set when the jury closes its deliberation: the session's records are then frozen.
    deliberated_at: Mapped[datetime | None]

    questionnaires: Mapped[list["SessionQuestionnaire"]] = relationship(
        back_populates="exam_session", lazy="raise", order_by="SessionQuestionnaire.id"
    )
    enrolments: Mapped[list["Enrolment"]] = relationship(
        back_populates="exam_session", lazy="raise", order_by="Enrolment.candidate_number"
    )


class SessionQuestionnaire(Base):
    """A questionnaire of a session: a bank version and its blueprint, frozen when added."""

    __tablename__ = "session_questionnaire"
    __table_args__ = (UniqueConstraint("exam_session_id", "theme"),)

    id: Mapped[IntPK]
    exam_session_id: Mapped[int] = mapped_column(
        ForeignKey("exam_session.id", ondelete="CASCADE"), index=True
    )
    bank_version_id: Mapped[int] = mapped_column(ForeignKey("bank_version.id"))
    theme: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(500))
    item_count: Mapped[int]
    duration_minutes: Mapped[int]
    shuffle_questions: Mapped[bool]
    shuffle_options: Mapped[bool]
    review: Mapped[str] = mapped_column(String(20))
    review_from: Mapped[str] = mapped_column(String(20))
    quotas: Mapped[dict] = mapped_column(JSON)
    max_attempts: Mapped[int] = mapped_column(default=1)
    partial_credit: Mapped[bool] = mapped_column(default=False)
    # question id → "remove" | "grant", set by the jury when a key proves wrong.
    neutralised: Mapped[dict] = mapped_column(JSON, default=dict)

    exam_session: Mapped[ExamSession] = relationship(back_populates="questionnaires", lazy="raise")
    bank_version: Mapped[BankVersion] = relationship(lazy="raise")


class Enrolment(Base):
    """A candidate enrolled in a session, with their accommodations."""

    __tablename__ = "enrolment"
    __table_args__ = (
        UniqueConstraint("exam_session_id", "user_id"),
        UniqueConstraint("exam_session_id", "candidate_number"),
    )

    id: Mapped[IntPK]
    exam_session_id: Mapped[int] = mapped_column(
        ForeignKey("exam_session.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    candidate_number: Mapped[str] = mapped_column(String(50))
    extra_time_percent: Mapped[int] = mapped_column(default=0)
    arrangements: Mapped[str | None] = mapped_column(Text)

    exam_session: Mapped[ExamSession] = relationship(back_populates="enrolments", lazy="raise")
    user: Mapped[UserAccount] = relationship(lazy="raise")
