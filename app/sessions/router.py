"""Exam sessions for jury and admin: create, pin questionnaires, enrol, accommodate, proctor."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile

from app.attempts import service as attempts_service
from app.attempts.timing import remaining_seconds
from app.auth import service as auth_service
from app.auth.dependencies import require_roles
from app.auth.models import UserAccount
from app.auth.roles import Role
from app.banks import service as banks_service
from app.clock import PARIS
from app.dependencies import DbSession, Now
from app.sessions import service as sessions_service
from app.sessions.enrolment_csv import EnrolmentCsvError, parse_enrolment_csv
from app.web.templating import is_htmx, redirect, templates

Staff = Annotated[UserAccount, Depends(require_roles(Role.JURY, Role.ADMIN))]
MAX_CSV_BYTES = 1024 * 1024

router = APIRouter(include_in_schema=False)


def _local(value: str, field: str) -> datetime:
    """A datetime-local field, read as Paris time."""
    try:
        return datetime.fromisoformat(value).replace(tzinfo=PARIS)
    except ValueError:
        raise sessions_service.SessionError(
            f"{field} : date et heure invalides « {value} »."
        ) from None


def _detail(request: Request, session, user, exam_session_id: int, *, error=None, status=200):
    exam = sessions_service.get_session(session=session, exam_session_id=exam_session_id)
    return templates.TemplateResponse(
        request,
        "sessions/detail.html",
        {
            "user": user,
            "exam": exam,
            "bank_versions": banks_service.latest_versions_with_blueprint(session=session),
            "error": error,
        },
        status_code=status,
    )


@router.get("/sessions")
def sessions_page(request: Request, session: DbSession, user: Staff):
    return templates.TemplateResponse(
        request,
        "sessions/list.html",
        {"user": user, "sessions": sessions_service.list_sessions(session=session), "error": None},
    )


@router.post("/sessions")
def create_session(
    request: Request,
    session: DbSession,
    user: Staff,
    name: Annotated[str, Form(max_length=200)],
    opens_at: Annotated[str, Form()],
    closes_at: Annotated[str, Form()],
    accommodated_beyond_close: Annotated[bool, Form()] = False,
):
    try:
        exam = sessions_service.create_session(
            session=session,
            name=name,
            opens_at=_local(opens_at, "Ouverture"),
            closes_at=_local(closes_at, "Fermeture"),
            accommodated_beyond_close=accommodated_beyond_close,
        )
    except sessions_service.SessionError as error:
        return templates.TemplateResponse(
            request,
            "sessions/list.html",
            {
                "user": user,
                "sessions": sessions_service.list_sessions(session=session),
                "error": str(error),
            },
            status_code=400,
        )
    return redirect(request, f"/sessions/{exam.id}")


@router.get("/sessions/{exam_session_id}")
def session_page(exam_session_id: int, request: Request, session: DbSession, user: Staff):
    try:
        return _detail(request, session, user, exam_session_id)
    except sessions_service.SessionError as error:
        raise HTTPException(404, str(error)) from None


def _run(request, session, user, exam_session_id: int, action):
    """Apply ``action`` and come back to the session page; a refusal is shown there."""
    try:
        exam = sessions_service.get_session(session=session, exam_session_id=exam_session_id)
    except sessions_service.SessionError as error:
        raise HTTPException(404, str(error)) from None
    try:
        with session.begin_nested():  # a refused action leaves nothing behind
            action(exam)
    except (sessions_service.SessionError, auth_service.AuthError, EnrolmentCsvError) as error:
        session.expire_all()
        return _detail(request, session, user, exam_session_id, error=str(error), status=400)
    return redirect(request, f"/sessions/{exam_session_id}")


@router.post("/sessions/{exam_session_id}/questionnaires")
def add_questionnaire(
    exam_session_id: int,
    request: Request,
    session: DbSession,
    user: Staff,
    bank_version_id: Annotated[int, Form()],
    now: Now,
    max_attempts: Annotated[int, Form(ge=1, le=5)] = 1,
    override_reason: Annotated[str, Form(max_length=2000)] = "",
):
    def action(exam):
        try:
            version = banks_service.get_version(session=session, version_id=bank_version_id)
        except banks_service.BankNotFound:
            raise sessions_service.SessionError("Version de banque introuvable.") from None
        sessions_service.add_questionnaire(
            session=session,
            exam=exam,
            bank_version=version,
            max_attempts=max_attempts,
            override_reason=override_reason,
            actor=user.login,
            now=now,
        )

    return _run(request, session, user, exam_session_id, action)


@router.post("/sessions/{exam_session_id}/inscriptions")
def enrol_one(
    exam_session_id: int,
    request: Request,
    session: DbSession,
    user: Staff,
    last_name: Annotated[str, Form(max_length=100)],
    first_name: Annotated[str, Form(max_length=100)],
    email: Annotated[str, Form(max_length=320)],
    candidate_number: Annotated[str, Form(max_length=50)],
):
    # The form is a one-row enrolment file: the same checks, the same messages.
    csv_line = (
        "nom;prénom;email;numéro de candidat\n"
        f"{last_name};{first_name};{email};{candidate_number}\n"
    )

    def action(exam):
        rows = parse_enrolment_csv(csv_line.encode(), filename="formulaire")
        sessions_service.import_enrolments(
            session=session, exam=exam, rows=rows, filename="formulaire"
        )

    return _run(request, session, user, exam_session_id, action)


@router.post("/sessions/{exam_session_id}/inscriptions/csv")
async def enrol_csv(
    exam_session_id: int,
    request: Request,
    session: DbSession,
    user: Staff,
    file: Annotated[UploadFile, File()],
):
    data = await file.read(MAX_CSV_BYTES + 1)
    filename = file.filename or "inscriptions.csv"

    def action(exam):
        if len(data) > MAX_CSV_BYTES:
            raise sessions_service.SessionError(
                f"{filename} : fichier trop volumineux (1 Mio au plus)."
            )
        rows = parse_enrolment_csv(data, filename=filename)
        sessions_service.import_enrolments(session=session, exam=exam, rows=rows, filename=filename)

    return _run(request, session, user, exam_session_id, action)


@router.post("/sessions/{exam_session_id}/inscriptions/{enrolment_id}/amenagement")
def accommodate(
    exam_session_id: int,
    enrolment_id: int,
    request: Request,
    session: DbSession,
    user: Staff,
    extra_time_percent: Annotated[int, Form()],
    arrangements: Annotated[str, Form(max_length=2000)] = "",
):
    def action(exam):
        if enrolment_id not in {e.id for e in exam.enrolments}:
            raise sessions_service.SessionError("Inscription introuvable dans cette session.")
        sessions_service.set_accommodation(
            session=session,
            enrolment_id=enrolment_id,
            extra_time_percent=extra_time_percent,
            arrangements=arrangements,
        )

    return _run(request, session, user, exam_session_id, action)


@router.get("/sessions/{exam_session_id}/suivi")
def live_view(exam_session_id: int, request: Request, session: DbSession, user: Staff, now: Now):
    try:
        exam = sessions_service.get_session(session=session, exam_session_id=exam_session_id)
    except sessions_service.SessionError as error:
        raise HTTPException(404, str(error)) from None
    attempts = attempts_service.session_attempts(session=session, exam_session_id=exam.id)
    by_key = {(a.enrolment_id, a.session_questionnaire_id): a for a in attempts}
    rows = [
        {
            "enrolment": enrolment,
            "cells": [_cell(by_key.get((enrolment.id, q.id)), now) for q in exam.questionnaires],
        }
        for enrolment in exam.enrolments
    ]
    context = {"user": user, "exam": exam, "rows": rows, "now": now}
    template = "sessions/_live_rows.html" if is_htmx(request) else "sessions/live.html"
    return templates.TemplateResponse(request, template, context)


def _cell(attempt, now) -> dict:
    if attempt is None:
        return {"state": "non commencé"}
    states = {"running": "en cours", "submitted": "remis", "expired": "temps écoulé"}
    return {
        "state": states[attempt.status],
        "answered": attempts_service.answered_count(attempt),
        "total": len(attempt.items),
        "last_saved_at": attempt.last_saved_at,
        "remaining": remaining_seconds(deadline_at=attempt.deadline_at, now=now)
        if attempt.status == "running"
        else None,
    }
