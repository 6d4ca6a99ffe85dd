"""Item analysis pages for trainers and the jury, and its CSV export."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from app.analysis import service as analysis_service
from app.analysis.charts import facility_discrimination_svg
from app.analysis.items import to_csv
from app.auth.dependencies import require_roles
from app.auth.models import UserAccount
from app.auth.roles import Role
from app.dependencies import DbSession
from app.sessions import service as sessions_service
from app.web.templating import templates

Staff = Annotated[UserAccount, Depends(require_roles(Role.FORMATEUR, Role.JURY, Role.ADMIN))]

router = APIRouter(include_in_schema=False)


def _questionnaire(session, exam_session_id: int, questionnaire_id: int):
    try:
        exam = sessions_service.get_session(session=session, exam_session_id=exam_session_id)
    except sessions_service.SessionError as error:
        raise HTTPException(404, str(error)) from None
    for questionnaire in exam.questionnaires:
        if questionnaire.id == questionnaire_id:
            return exam, questionnaire
    raise HTTPException(404, "Questionnaire introuvable dans cette session.")


@router.get("/sessions/{exam_session_id}/questionnaires/{questionnaire_id}/analyse")
def analysis_page(
    exam_session_id: int, questionnaire_id: int, request: Request, session: DbSession, user: Staff
):
    exam, questionnaire = _questionnaire(session, exam_session_id, questionnaire_id)
    report = analysis_service.questionnaire_analysis(session=session, questionnaire=questionnaire)
    return templates.TemplateResponse(
        request,
        "analysis/questionnaire.html",
        {
            "user": user,
            "exam": exam,
            "questionnaire": questionnaire,
            "report": report,
            "chart": facility_discrimination_svg(
                report,
                title=f"Facilité et discrimination : {questionnaire.title}",
                chart_id="analyse",
            ),
        },
    )


@router.get("/sessions/{exam_session_id}/questionnaires/{questionnaire_id}/analyse.csv")
def analysis_csv(exam_session_id: int, questionnaire_id: int, session: DbSession, user: Staff):
    _, questionnaire = _questionnaire(session, exam_session_id, questionnaire_id)
    report = analysis_service.questionnaire_analysis(session=session, questionnaire=questionnaire)
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="analyse-session-{exam_session_id}-'
                f'{questionnaire.theme}.csv"'
            )
        },
    )


@router.get("/banques/{bank_id}/questions/{question_id}/statistiques")
def item_page(bank_id: str, question_id: str, request: Request, session: DbSession, user: Staff):
    rows = analysis_service.item_history(session=session, bank_id=bank_id, question_id=question_id)
    return templates.TemplateResponse(
        request,
        "analysis/item.html",
        {"user": user, "bank_id": bank_id, "question_id": question_id, "rows": rows},
    )
