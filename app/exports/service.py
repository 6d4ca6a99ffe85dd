"""Gathering a session's results for the jury's exports."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from app.attempts import service as attempts_service
from app.attempts.models import Attempt
from app.exports.report import (
    BlocResult,
    CandidateLine,
    QuestionnaireInfo,
    QuestionnaireResult,
    SessionReport,
    pseudonymise,
)
from app.records import service as records_service
from app.sessions import service as sessions_service

STATUS_LABELS = {"running": "en cours", "submitted": "remis", "expired": "temps écoulé"}


def _split_name(display_name: str) -> tuple[str, str]:
    first, _, last = display_name.partition(" ")
    return (last or first, first if last else "")


def session_report(
    *, session: Session, exam_session_id: int, now: datetime, pseudonymised: bool = False
) -> SessionReport:
    """Every candidate's questionnaire results, bloc states and decision, with bank versions."""
    exam = sessions_service.get_session(session=session, exam_session_id=exam_session_id)
    attempts = attempts_service.session_attempts(session=session, exam_session_id=exam.id)
    latest: dict[tuple[int, int], Attempt] = {}
    for attempt in sorted(attempts, key=lambda a: a.number):
        latest[(attempt.enrolment_id, attempt.session_questionnaire_id)] = attempt
    questionnaires = tuple(
        QuestionnaireInfo(
            theme=q.theme,
            title=q.title,
            bank_id=q.bank_version.bank_id,
            bank_version=q.bank_version.version,
            threshold_percent=attempts_service.threshold_for(q.theme),
        )
        for q in exam.questionnaires
    )
    lines = []
    for enrolment in exam.enrolments:
        record = records_service.candidate_record(session=session, user_id=enrolment.user_id)
        results = []
        for questionnaire in exam.questionnaires:
            attempt = latest.get((enrolment.id, questionnaire.id))
            finished = attempt is not None and attempt.finished_at is not None
            results.append(
                QuestionnaireResult(
                    theme=questionnaire.theme,
                    status=STATUS_LABELS[attempt.status] if attempt else "non passé",
                    points=attempt.points if finished else None,
                    max_points=attempt.max_points if finished else None,
                    percent=attempt.percent.quantize(Decimal("0.01")) if finished else None,
                    passed=attempt.passed if finished else None,
                )
            )
        last_name, first_name = _split_name(enrolment.user.display_name)
        lines.append(
            CandidateLine(
                candidate_number=enrolment.candidate_number,
                last_name=last_name,
                first_name=first_name,
                questionnaires=tuple(results),
                blocs=tuple(
                    BlocResult(code=bloc.code, title=bloc.title, state=str(bloc.state))
                    for bloc in record.blocs
                ),
                certification=str(record.certification),
                validated_blocs=record.validated_blocs,
            )
        )
    report = SessionReport(
        session_name=exam.name,
        opens_at=exam.opens_at,
        closes_at=exam.closes_at,
        generated_at=now,
        deliberated=exam.deliberated_at is not None,
        questionnaires=questionnaires,
        candidates=tuple(lines),
    )
    return pseudonymise(report) if pseudonymised else report
