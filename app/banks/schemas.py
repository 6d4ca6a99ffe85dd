"""API shapes of the banks domain."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict


class BankVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: str
    content_sha256: str
    question_count: int
    valid_from: date
    valid_until: date | None
    imported_at: datetime


class BankRead(BaseModel):
    id: str
    title: str
    theme: str
    versions: list[BankVersionRead]
