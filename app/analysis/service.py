"""Item analysis of real attempts: per questionnaire of a session, per item across sessions."""

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.analysis.items import AnalysisReport, ItemResponse, analyse_items
from app.attempts import service as attempts_service
from app.attempts.models import RUNNING, Attempt, AttemptItem
from app.scoring.engine import correct_selection, score_items
from app.sessions.models import SessionQuestionnaire


def responses_of(
    attempts: list[Attempt], questionnaire: SessionQuestionnaire
) -> list[ItemResponse]:
    """One scored response per item of each finished attempt, neutralisation applied."""
    responses = []
    for attempt in attempts:
        if attempt.status == RUNNING:
            continue
        scores = score_items(
            attempts_service.scored_items(attempt),
            partial_credit=questionnaire.partial_credit,
            neutralised=questionnaire.neutralised or {},
        )
        for item, score in zip(attempt.items, scores, strict=True):
            if score.max_points == 0:  # removed from scoring: not analysed either
                continue
            content = item.question_version.content
            response = item.answer.response if item.answer else None
            responses.append(
                ItemResponse(
                    attempt_id=attempt.id,
                    question_id=item.question_id,
                    score=score.points,
                    choice=tuple((response or {}).get("selected") or ()),
                    key=tuple(sorted(correct_selection(content)))
                    if content["type"] != "numeric"
                    else (),
                    seconds=_seconds(item),
                )
            )
    return responses


def _seconds(item: AttemptItem) -> float | None:
    if item.answer is None or item.first_seen_at is None:
        return None
    return max(0.0, (item.answer.saved_at - item.first_seen_at).total_seconds())


def questionnaire_analysis(
    *, session: Session, questionnaire: SessionQuestionnaire
) -> AnalysisReport:
    attempts = [
        a
        for a in attempts_service.session_attempts(
            session=session, exam_session_id=questionnaire.exam_session_id
        )
        if a.session_questionnaire_id == questionnaire.id
    ]
    return analyse_items(responses_of(attempts, questionnaire))


def item_history(*, session: Session, bank_id: str, question_id: str):
    """The item's statistics in every questionnaire (session × bank version) that showed it."""
    questionnaires = session.scalars(
        select(SessionQuestionnaire)
        .join(SessionQuestionnaire.bank_version)
        .options(
            joinedload(SessionQuestionnaire.exam_session),
            joinedload(SessionQuestionnaire.bank_version),
        )
        .where(SessionQuestionnaire.bank_version.has(bank_id=bank_id))
        .order_by(SessionQuestionnaire.id)
    ).all()
    rows = []
    for questionnaire in questionnaires:
        report = questionnaire_analysis(session=session, questionnaire=questionnaire)
        stats = {item.question_id: item for item in report.items}.get(question_id)
        if stats is not None:
            rows.append((questionnaire, stats))
    return rows
