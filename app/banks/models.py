"""Tables of banks, their immutable versions and the questions of each version."""

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, CreatedAt, IntPK


class Bank(Base):
    __tablename__ = "bank"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    theme: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[CreatedAt]

    versions: Mapped[list["BankVersion"]] = relationship(back_populates="bank", lazy="raise")


class BankVersion(Base):
    """A published version: never updated; a correction is a new version."""

    __tablename__ = "bank_version"
    __table_args__ = (UniqueConstraint("bank_id", "version"),)

    id: Mapped[IntPK]
    bank_id: Mapped[str] = mapped_column(ForeignKey("bank.id"), index=True)
    version: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(500))
    content_sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict] = mapped_column(JSON)
    question_count: Mapped[int]
    valid_from: Mapped[date]
    valid_until: Mapped[date | None]
    source: Mapped[str] = mapped_column(String(500))
    imported_at: Mapped[datetime]

    bank: Mapped[Bank] = relationship(back_populates="versions", lazy="raise")
    questions: Mapped[list["QuestionVersion"]] = relationship(
        back_populates="bank_version", lazy="raise", order_by="QuestionVersion.position"
    )


class QuestionVersion(Base):
    """One question as a given bank version states it; ``question_id`` is stable across versions."""

    __tablename__ = "question_version"
    __table_args__ = (UniqueConstraint("bank_version_id", "question_id"),)

    id: Mapped[IntPK]
    bank_version_id: Mapped[int] = mapped_column(
        ForeignKey("bank_version.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str] = mapped_column(String(80), index=True)
    position: Mapped[int]
    type: Mapped[str] = mapped_column(String(20))
    topic: Mapped[str] = mapped_column(String(80))
    difficulty: Mapped[int]
    content_sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict] = mapped_column(JSON)

    bank_version: Mapped[BankVersion] = relationship(back_populates="questions", lazy="raise")


class BankDraft(Base):
    """A trainer's work in progress on a bank: edited freely, published as a new version."""

    __tablename__ = "bank_draft"

    id: Mapped[IntPK]
    bank_id: Mapped[str] = mapped_column(ForeignKey("bank.id"), index=True)
    base_version: Mapped[str] = mapped_column(String(20))
    content: Mapped[dict] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
