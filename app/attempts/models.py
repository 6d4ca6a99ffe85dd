"""Tables of attempts, what each attempt showed, and the saved answers."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.banks.models import QuestionVersion
from app.db import Base, IntPK
from app.sessions.models import Enrolment, SessionQuestionnaire

RUNNING, SUBMITTED, EXPIRED = "running", "submitted", "expired"


class Attempt(Base):
    """One candidate taking one questionnaire once; the deadline is the server's."""

    __tablename__ = "attempt"
    __table_args__ = (UniqueConstraint("enrolment_id", "session_questionnaire_id", "number"),)

    id: Mapped[IntPK]
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id"), index=True)
    session_questionnaire_id: Mapped[int] = mapped_column(
        ForeignKey("session_questionnaire.id"), index=True
    )
    number: Mapped[int] = mapped_column(default=1)
    seed: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=RUNNING, index=True)
    started_at: Mapped[datetime]
    deadline_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    last_saved_at: Mapped[datetime | None]
    points: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    max_points: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    percent: Mapped[Decimal | None] = mapped_column(Numeric(9, 4))
    passed: Mapped[bool | None]

    enrolment: Mapped[Enrolment] = relationship(lazy="raise")
    session_questionnaire: Mapped[SessionQuestionnaire] = relationship(lazy="raise")
    items: Mapped[list["AttemptItem"]] = relationship(
        back_populates="attempt", lazy="raise", order_by="AttemptItem.position"
    )


class AttemptItem(Base):
    """A question as this attempt shows it: which version, where, in which option order."""

    __tablename__ = "attempt_item"
    __table_args__ = (
        UniqueConstraint("attempt_id", "position"),
        UniqueConstraint("attempt_id", "question_id"),
    )

    id: Mapped[IntPK]
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    question_id: Mapped[str] = mapped_column(String(80))
    question_version_id: Mapped[int] = mapped_column(ForeignKey("question_version.id"))
    option_order: Mapped[list | None] = mapped_column(JSON)
    flagged: Mapped[bool] = mapped_column(default=False)
    seen: Mapped[bool] = mapped_column(default=False)
    # When the candidate first opened the question: the item analysis times answers from it.
    first_seen_at: Mapped[datetime | None]

    attempt: Mapped[Attempt] = relationship(back_populates="items", lazy="raise")
    # No cascade: a started attempt shows the bank catalogue's shared, detached copies
    # (app.banks.service.catalogue); a question version is never created through an item.
    question_version: Mapped[QuestionVersion] = relationship(lazy="raise", cascade="")
    answer: Mapped["Answer | None"] = relationship(back_populates="item", lazy="raise")


class Answer(Base):
    """The newest saved response to an item; ``seq`` orders the client's saves."""

    __tablename__ = "answer"

    id: Mapped[IntPK]
    attempt_item_id: Mapped[int] = mapped_column(
        ForeignKey("attempt_item.id", ondelete="CASCADE"), unique=True
    )
    response: Mapped[dict] = mapped_column(JSON)
    seq: Mapped[int]
    saved_at: Mapped[datetime]

    item: Mapped[AttemptItem] = relationship(back_populates="answer", lazy="raise")
