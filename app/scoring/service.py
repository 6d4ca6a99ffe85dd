"""Neutralising a faulty item after the exam: dry run, then regrade in one transaction."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from app.attempts import service as attempts_service
from app.attempts.models import RUNNING, Attempt
from app.audit import service as audit_service
from app.scoring.engine import score_attempt
from app.sessions.models import ExamSession, SessionQuestionnaire

POLICIES = {"remove": "retirée du calcul pour tous", "grant": "point accordé à tous"}


class RegradeError(Exception):
    """A refusal whose message is shown as is."""


@dataclass(frozen=True)
class ScoreChange:
    attempt_id: int
    candidate_number: str
    candidate_name: str
    old_percent: Decimal
    new_percent: Decimal
    old_passed: bool
    new_passed: bool

    @property
    def verdict_changed(self) -> bool:
        return self.old_passed != self.new_passed


def _finished_attempts(session: Session, questionnaire: SessionQuestionnaire) -> list[Attempt]:
    attempts = attempts_service.session_attempts(
        session=session, exam_session_id=questionnaire.exam_session_id
    )
    return [
        a
        for a in attempts
        if a.session_questionnaire_id == questionnaire.id and a.status != RUNNING
    ]


def _check(
    session: Session, questionnaire: SessionQuestionnaire, question_id: str, policy: str
) -> None:
    if policy not in POLICIES:
        raise RegradeError(f"Politique inconnue « {policy} » : remove ou grant.")
    if session.get(ExamSession, questionnaire.exam_session_id).deliberated_at is not None:
        raise RegradeError(
            "La délibération de cette session est close : rouvrez-la avant de neutraliser."
        )
    if questionnaire.neutralised.get(question_id):
        raise RegradeError(f"La question « {question_id} » est déjà neutralisée.")


def dry_run(
    *, session: Session, questionnaire: SessionQuestionnaire, question_id: str, policy: str
) -> list[ScoreChange]:
    """Whose score and verdict would change, without changing anything."""
    _check(session, questionnaire, question_id, policy)
    neutralised = {**questionnaire.neutralised, question_id: policy}
    changes = []
    for attempt in _finished_attempts(session, questionnaire):
        if not any(item.question_id == question_id for item in attempt.items):
            continue
        result = score_attempt(
            attempts_service.scored_items(attempt),
            threshold_percent=attempts_service.threshold_for(questionnaire.theme),
            partial_credit=questionnaire.partial_credit,
            neutralised=neutralised,
        )
        changes.append(
            ScoreChange(
                attempt_id=attempt.id,
                candidate_number=attempt.enrolment.candidate_number,
                candidate_name=attempt.enrolment.user.display_name,
                old_percent=attempt.percent,
                new_percent=result.percent,
                old_passed=bool(attempt.passed),
                new_passed=result.passed,
            )
        )
    return sorted(changes, key=lambda c: c.candidate_number)


def apply(
    *,
    session: Session,
    questionnaire: SessionQuestionnaire,
    question_id: str,
    policy: str,
    actor: str,
    now: datetime,
) -> list[ScoreChange]:
    """Neutralise the item and rescore every finished attempt that showed it."""
    changes = dry_run(
        session=session, questionnaire=questionnaire, question_id=question_id, policy=policy
    )
    questionnaire.neutralised = {**questionnaire.neutralised, question_id: policy}
    session.flush()
    for attempt in _finished_attempts(session, questionnaire):
        if any(item.question_id == question_id for item in attempt.items):
            attempts_service.rescore(session=session, attempt=attempt)
    audit_service.record(
        session=session,
        action="questionnaire.neutralise",
        target=f"session_questionnaire:{questionnaire.id}",
        now=now,
        actor=actor,
        details={
            "question_id": question_id,
            "policy": policy,
            "attempts": len(changes),
            "verdicts_changed": [c.candidate_number for c in changes if c.verdict_changed],
        },
    )
    return changes
