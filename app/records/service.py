"""Writing outcomes into candidate records and reading records back. Services only flush."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.decimals import french_percent
from app.records.models import CompetenceOutcome
from app.records.rules import (
    SOURCE_JURY,
    SOURCE_QUESTIONNAIRE,
    CandidateRecord,
    Outcome,
    build_record,
    questionnaire_modality,
)
from app.referential.model import default_referential


class RecordError(Exception):
    """A refusal whose message is shown as is."""


def write_attempt_outcomes(
    *,
    session: Session,
    user_id: int,
    exam_session_id: int,
    attempt_id: int,
    theme: str,
    passed: bool,
    percent,
    decided_at: datetime,
) -> list[CompetenceOutcome]:
    """A scored attempt's result, for every competence its questionnaire evaluates.

    Called again after a regrade: the attempt's rows are updated, never duplicated.
    """
    existing = {
        row.competence: row
        for row in session.scalars(
            select(CompetenceOutcome).where(CompetenceOutcome.attempt_id == attempt_id)
        )
    }
    rows = []
    for code in default_referential().questionnaire(theme).competences:
        row = existing.get(code) or CompetenceOutcome(
            user_id=user_id,
            competence=code,
            modality=questionnaire_modality(theme),
            source=SOURCE_QUESTIONNAIRE,
            exam_session_id=exam_session_id,
            attempt_id=attempt_id,
        )
        row.passed = passed
        row.decided_at = decided_at
        row.detail = french_percent(percent)
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def jury_modalities(code: str) -> tuple[str, ...]:
    """The modalities of a competence that the jury decides (all but questionnaires)."""
    return default_referential().competences[code].modalities


def record_jury_decision(
    *,
    session: Session,
    user_id: int,
    exam_session_id: int,
    competence: str,
    modality: str,
    passed: bool,
    decided_at: datetime,
    jury_member_id: int,
    jury_member_login: str,
    comment: str,
    now: datetime,
) -> CompetenceOutcome:
    referential = default_referential()
    if competence not in referential.competences:
        raise RecordError(f"Compétence inconnue : {competence}.")
    if modality not in jury_modalities(competence):
        raise RecordError(
            f"La modalité « {modality} » n'évalue pas {competence} ou ne relève pas du jury."
        )
    row = CompetenceOutcome(
        user_id=user_id,
        competence=competence,
        modality=modality,
        passed=passed,
        decided_at=decided_at,
        source=SOURCE_JURY,
        exam_session_id=exam_session_id,
        jury_member_id=jury_member_id,
        detail=comment.strip(),
    )
    session.add(row)
    session.flush()
    audit_service.record(
        session=session,
        action="jury.decision",
        target=f"user:{user_id}",
        now=now,
        actor=jury_member_login,
        details={
            "exam_session_id": exam_session_id,
            "competence": competence,
            "modality": modality,
            "passed": passed,
            "decided_at": decided_at.isoformat(),
            "comment": row.detail,
        },
    )
    return row


def outcomes_of(*, session: Session, user_id: int) -> list[Outcome]:
    rows = session.scalars(
        select(CompetenceOutcome)
        .where(CompetenceOutcome.user_id == user_id)
        .order_by(CompetenceOutcome.decided_at, CompetenceOutcome.id)
    )
    return [
        Outcome(
            competence=row.competence,
            modality=row.modality,
            passed=row.passed,
            decided_at=row.decided_at,
            source=row.source,
            detail=row.detail,
        )
        for row in rows
    ]


def candidate_record(*, session: Session, user_id: int) -> CandidateRecord:
    """Competences → blocs → certification, across every session of the candidate."""
    return build_record(default_referential(), outcomes_of(session=session, user_id=user_id))
