"""Candidate records: the jury's pages (grid, candidate, decisions, deliberation,
neutralisation, exports) and the JSON API."""

import hashlib
from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, Response

from app.audit import service as audit_service
from app.auth.dependencies import CurrentUser, require_roles
from app.auth.models import UserAccount
from app.auth.roles import Role
from app.clock import PARIS
from app.dependencies import DbSession, Now
from app.exports import service as exports_service
from app.exports.formats import EXPORTERS
from app.records import service as records_service
from app.records.charts import bins_of, histogram_svg
from app.records.schemas import CandidateRecordRead, record_read
from app.referential.model import default_referential
from app.scoring import service as scoring_service
from app.sessions import service as sessions_service
from app.web.templating import redirect, templates

Jury = Annotated[UserAccount, Depends(require_roles(Role.JURY, Role.ADMIN))]

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["dossier et jury"])


def _session_or_404(session, exam_session_id: int):
    try:
        return sessions_service.get_session(session=session, exam_session_id=exam_session_id)
    except sessions_service.SessionError as error:
        raise HTTPException(404, str(error)) from None


# --------------------------------------------------------------------------- API


@api.get(
    "/candidates/{user_id}/record",
    response_model=CandidateRecordRead,
    summary="Dossier du candidat : compétences, blocs, certification",
)
def get_record(user_id: int, session: DbSession, user: CurrentUser):
    if user.role == Role.CANDIDAT and user.id != user_id:
        raise HTTPException(404, "Dossier introuvable.")
    if user.role == Role.FORMATEUR:
        raise HTTPException(403, "Accès refusé : votre rôle ne permet pas d'ouvrir cette page.")
    record = records_service.candidate_record(session=session, user_id=user_id)
    return record_read(user_id, record)


@api.get(
    "/exam-sessions/{exam_session_id}/export",
    summary="Export des résultats de la session (csv, xlsx, pdf, json)",
    responses={200: {"content": {m: {} for _, m, _ in EXPORTERS.values()}}},
)
def export_session(
    exam_session_id: int,
    session: DbSession,
    user: Jury,
    now: Now,
    format: Annotated[str, Query(pattern="^(csv|xlsx|pdf|json)$")] = "csv",
    pseudonymise: bool = False,
) -> Response:
    _session_or_404(session, exam_session_id)
    report = exports_service.session_report(
        session=session, exam_session_id=exam_session_id, now=now, pseudonymised=pseudonymise
    )
    render, media_type, extension = EXPORTERS[format]
    body = render(report)
    digest = hashlib.sha256(body).hexdigest()
    audit_service.record(
        session=session,
        action="session.export",
        target=f"exam_session:{exam_session_id}",
        now=now,
        actor=user.login,
        details={"format": format, "pseudonymised": pseudonymise, "sha256": digest},
    )
    suffix = "-pseudonymise" if pseudonymise else ""
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": (
                f'attachment; filename="session-{exam_session_id}{suffix}.{extension}"'
            ),
            "X-Content-SHA256": digest,
        },
    )


# --------------------------------------------------------------------------- pages


@router.get("/sessions/{exam_session_id}/jury")
def jury_grid(exam_session_id: int, request: Request, session: DbSession, user: Jury, now: Now):
    exam = _session_or_404(session, exam_session_id)
    report = exports_service.session_report(session=session, exam_session_id=exam.id, now=now)
    charts = []
    for index, info in enumerate(report.questionnaires):
        percents = [
            line.questionnaires[index].percent
            for line in report.candidates
            if line.questionnaires[index].percent is not None
        ]
        charts.append(
            {
                "info": info,
                "questionnaire": exam.questionnaires[index],
                "svg": histogram_svg(
                    percents,
                    threshold=info.threshold_percent,
                    title=f"Distribution des scores : {info.title}",
                    chart_id=f"histo-{index}",
                ),
                "bins": bins_of(percents),
            }
        )
    return templates.TemplateResponse(
        request,
        "records/jury.html",
        {
            "user": user,
            "exam": exam,
            "report": report,
            "charts": charts,
            "enrolments": {e.candidate_number: e for e in exam.enrolments},
        },
    )


def _enrolment(exam, enrolment_id: int):
    for enrolment in exam.enrolments:
        if enrolment.id == enrolment_id:
            return enrolment
    raise HTTPException(404, "Candidat introuvable dans cette session.")


def _candidate_page(request, session, user, exam, enrolment, *, error=None, status=200):
    record = records_service.candidate_record(session=session, user_id=enrolment.user_id)
    referential = default_referential()
    return templates.TemplateResponse(
        request,
        "records/candidate.html",
        {
            "user": user,
            "exam": exam,
            "enrolment": enrolment,
            "record": record,
            "modality_labels": {m.id: m.label for m in referential.modalities},
            "jury_modalities": {
                code: records_service.jury_modalities(code) for code in referential.competences
            },
            "error": error,
        },
        status_code=status,
    )


@router.get("/sessions/{exam_session_id}/candidats/{enrolment_id}")
def candidate_page(
    exam_session_id: int, enrolment_id: int, request: Request, session: DbSession, user: Jury
):
    exam = _session_or_404(session, exam_session_id)
    return _candidate_page(request, session, user, exam, _enrolment(exam, enrolment_id))


@router.post("/sessions/{exam_session_id}/candidats/{enrolment_id}/decisions")
def record_decision(
    exam_session_id: int,
    enrolment_id: int,
    request: Request,
    session: DbSession,
    user: Jury,
    now: Now,
    competence: Annotated[str, Form(max_length=10)],
    modality: Annotated[str, Form(max_length=100)],
    decision: Annotated[str, Form(pattern="^(acquis|non_acquis)$")],
    decided_on: Annotated[date, Form()],
    comment: Annotated[str, Form(max_length=2000)] = "",
):
    exam = _session_or_404(session, exam_session_id)
    enrolment = _enrolment(exam, enrolment_id)
    if exam.deliberated_at is not None:
        return _candidate_page(
            request,
            session,
            user,
            exam,
            enrolment,
            status=409,
            error="La délibération de cette session est close : le dossier est figé.",
        )
    try:
        records_service.record_jury_decision(
            session=session,
            user_id=enrolment.user_id,
            exam_session_id=exam.id,
            competence=competence,
            modality=modality,
            passed=decision == "acquis",
            decided_at=datetime.combine(decided_on, time(12), tzinfo=PARIS),
            jury_member_id=user.id,
            jury_member_login=user.login,
            comment=comment,
            now=now,
        )
    except records_service.RecordError as error:
        return _candidate_page(
            request, session, user, exam, enrolment, error=str(error), status=400
        )
    return redirect(request, f"/sessions/{exam.id}/candidats/{enrolment.id}")


@router.post("/sessions/{exam_session_id}/deliberation")
def close_deliberation(
    exam_session_id: int, request: Request, session: DbSession, user: Jury, now: Now
):
    exam = _session_or_404(session, exam_session_id)
    try:
        sessions_service.close_deliberation(session=session, exam=exam, actor=user.login, now=now)
    except sessions_service.SessionError as error:
        raise HTTPException(409, str(error)) from None
    return redirect(request, f"/sessions/{exam.id}/jury")


@router.post("/sessions/{exam_session_id}/deliberation/rouvrir")
def reopen_deliberation(
    exam_session_id: int,
    request: Request,
    session: DbSession,
    user: Jury,
    now: Now,
    reason: Annotated[str, Form(max_length=2000)] = "",
):
    exam = _session_or_404(session, exam_session_id)
    try:
        sessions_service.reopen_deliberation(
            session=session, exam=exam, actor=user.login, reason=reason, now=now
        )
    except sessions_service.SessionError as error:
        raise HTTPException(409, str(error)) from None
    return redirect(request, f"/sessions/{exam.id}/jury")


def _questionnaire(exam, questionnaire_id: int):
    for questionnaire in exam.questionnaires:
        if questionnaire.id == questionnaire_id:
            return questionnaire
    raise HTTPException(404, "Questionnaire introuvable dans cette session.")


@router.get("/sessions/{exam_session_id}/questionnaires/{questionnaire_id}/neutralisation")
def neutralisation_page(
    exam_session_id: int,
    questionnaire_id: int,
    request: Request,
    session: DbSession,
    user: Jury,
    question_id: str | None = None,
    policy: str = "remove",
):
    exam = _session_or_404(session, exam_session_id)
    questionnaire = _questionnaire(exam, questionnaire_id)
    changes, error = None, None
    if question_id:
        try:
            changes = scoring_service.dry_run(
                session=session,
                questionnaire=questionnaire,
                question_id=question_id,
                policy=policy,
            )
        except scoring_service.RegradeError as error_:
            error = str(error_)
    return templates.TemplateResponse(
        request,
        "records/neutralisation.html",
        {
            "user": user,
            "exam": exam,
            "questionnaire": questionnaire,
            "questions": questionnaire.bank_version.content["questions"],
            "question_id": question_id,
            "policy": policy,
            "policies": scoring_service.POLICIES,
            "changes": changes,
            "error": error,
        },
        status_code=400 if error else 200,
    )


@router.post("/sessions/{exam_session_id}/questionnaires/{questionnaire_id}/neutralisation")
def neutralise(
    exam_session_id: int,
    questionnaire_id: int,
    request: Request,
    session: DbSession,
    user: Jury,
    now: Now,
    question_id: Annotated[str, Form(max_length=80)],
    policy: Annotated[str, Form(max_length=10)],
):
    exam = _session_or_404(session, exam_session_id)
    questionnaire = _questionnaire(exam, questionnaire_id)
    try:
        scoring_service.apply(
            session=session,
            questionnaire=questionnaire,
            question_id=question_id,
            policy=policy,
            actor=user.login,
            now=now,
        )
    except scoring_service.RegradeError as error:
        raise HTTPException(409, str(error)) from None
    return redirect(request, f"/sessions/{exam.id}/jury")
