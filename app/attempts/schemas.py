"""API shapes of attempts. No shape here carries a key before the review policy allows."""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

QuestionnaireState = Literal["a_venir", "ouvert", "en_cours", "termine", "ferme"]


class QuestionnaireStatus(BaseModel):
    id: int
    title: str
    theme: str
    session: str
    opens_at: datetime
    closes_at: datetime
    duration_minutes: int = Field(description="Durée, temps supplémentaire compris.")
    item_count: int
    status: QuestionnaireState
    attempt_id: int | None


class OptionRead(BaseModel):
    id: str
    text: str


class QuestionRead(BaseModel):
    question_id: str
    position: int
    type: str
    topic: str
    stem: str
    options: list[OptionRead] | None
    unit: str | None
    flagged: bool
    response: dict | None
    seq: int = Field(description="Numéro d'ordre de la réponse enregistrée (0 : aucune).")
    saved_at: datetime | None


class TopicResult(BaseModel):
    topic: str
    label: str
    points: Decimal
    max_points: int


class Correction(BaseModel):
    question_id: str
    position: int
    correct: bool
    response: dict | None
    expected: dict
    explanation: str


class ResultRead(BaseModel):
    available: bool
    message: str
    points: Decimal | None = None
    max_points: int | None = None
    percent: Decimal | None = None
    threshold_percent: Decimal | None = None
    passed: bool | None = None
    topics: list[TopicResult] | None = None
    corrections: list[Correction] | None = None


class AttemptRead(BaseModel):
    id: int
    questionnaire_id: int
    title: str
    status: Literal["running", "submitted", "expired"]
    started_at: datetime
    deadline: datetime
    remaining_seconds: int
    answered: int
    total: int
    questions: list[QuestionRead]
    result: ResultRead | None = None


class AnswerSave(BaseModel):
    selected: list[str] | None = Field(default=None, max_length=20)
    value: Decimal | str | None = None
    seq: int = Field(ge=1, description="Numéro d'ordre croissant, par question, côté client.")


class AnswerSaved(BaseModel):
    question_id: str
    stored: bool = Field(description="Faux si une réponse plus récente était déjà enregistrée.")
    seq: int
    response: dict
    saved_at: datetime
    remaining_seconds: int


class Refusal(BaseModel):
    """A refusal: a French message, or FastAPI's list of validation errors."""

    detail: str | list[dict]
