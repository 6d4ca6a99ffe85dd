"""The candidate record: one row per evaluation of one competence by one modality."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IntPK


class CompetenceOutcome(Base):
    """A modality's result for a competence: from a scored attempt or a jury decision."""

    __tablename__ = "competence_outcome"

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    competence: Mapped[str] = mapped_column(String(10))
    modality: Mapped[str] = mapped_column(String(100))
    passed: Mapped[bool]
    decided_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(20))  # "questionnaire" or "jury"
    exam_session_id: Mapped[int | None] = mapped_column(ForeignKey("exam_session.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempt.id"), index=True)
    jury_member_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    detail: Mapped[str] = mapped_column(Text, default="")
