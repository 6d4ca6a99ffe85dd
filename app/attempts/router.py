"""Taking a questionnaire: the candidate's JSON API and French pages."""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.attempts import service as attempts_service
from app.attempts import views
from app.attempts.models import RUNNING, Attempt
from app.attempts.schemas import (
    AnswerSave,
    AnswerSaved,
    AttemptRead,
    QuestionnaireStatus,
    Refusal,
)
from app.attempts.timing import remaining_seconds
from app.auth.dependencies import (
    authorised_account_id,
    caller_token,
    csrf_needs_the_caller,
    csrf_protect,
    require_roles,
    resolve_auth,
)
from app.auth.models import UserAccount
from app.auth.roles import Role
from app.banks import service as banks_service
from app.clock import paris_time
from app.db import (
    end_reads,
    loop_session,
    reads_then_writes,
    request_session,
    sqlite_write_lock_first,
    statements_alone,
)
from app.dependencies import AppSettings, DbSession, Now, app_settings, get_now
from app.group_commit import write_in_group
from app.web.admission import leave_admission, urgent
from app.web.bodies import body_schema, json_body
from app.web.direct import DirectRoute, resolved
from app.web.templating import redirect, templates

CANDIDATES = frozenset({Role.CANDIDAT})
Candidate = Annotated[UserAccount, Depends(require_roles(*CANDIDATES))]

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["passation"])

NOT_FOUND = "Tentative introuvable."


@contextmanager
def refusals():
    """Domain refusals become HTTP answers with their French message."""
    try:
        yield
    except attempts_service.AttemptNotFound:
        raise HTTPException(404, NOT_FOUND) from None
    except attempts_service.AttemptError as error:
        raise HTTPException(409, str(error)) from None
    except attempts_service.InvalidResponse as error:
        raise HTTPException(422, str(error)) from None


async def _in_one_hop(
    handler,
    request: Request,
    *,
    body: type[BaseModel] | None = None,
    on_the_loop: bool = False,
    **arguments,
):
    """A sitting's hot endpoint (a ``DirectRoute``, app/web/direct.py): the clock, the
    settings, the session and the CSRF check every route makes, then ``handler`` (who
    calls, the reads, the writes, the commit) in one thread hop at most, with ``body`` read
    as that model if given. Each hop costs more than the statements of a save.

    A handler ``on_the_loop`` takes no hop: on PostgreSQL it runs whole on the event loop
    through the asyncio driver (``loop_session``); on SQLite, where it must only read, it
    runs there as it is (SQLite reads in the process, and a WAL read waits for no lock).
    """
    now = await resolved(request, get_now)
    grace = (await resolved(request, app_settings)).deadline_grace_seconds
    call = partial(handler, request=request, now=now, grace=grace)
    if on_the_loop:
        async with loop_session() as session:
            if session is not None:
                if csrf_needs_the_caller(request):
                    await session.run_sync(lambda sync_session: resolve_auth(request, sync_session))
                await _checked(request, None, body, arguments)
                return await session.run_sync(
                    lambda sync_session: call(session=sync_session, **arguments)
                )
    async with request_session(request) as session:
        await _checked(request, session, body, arguments)
        if on_the_loop and session.get_bind().dialect.name == "sqlite":
            return call(session=session, **arguments)
        return await run_in_threadpool(call, session=session, **arguments)


async def _checked(
    request: Request, session: Session | None, body: type[BaseModel] | None, arguments: dict
) -> None:
    """The CSRF check (who calls is known already without ``session``), then ``body`` read
    into ``arguments``."""
    await csrf_protect(request, session)
    if body is not None:
        arguments["body"] = await json_body(request, body)


def _json(model: BaseModel) -> Response:
    """``model`` as the response's JSON: the route declares it, so no second validation."""
    return Response(model.model_dump_json(), media_type="application/json")


def _topic_labels(session, attempt: Attempt) -> dict[str, str]:
    return banks_service.topic_labels(
        session=session, version_id=attempt.session_questionnaire.bank_version_id
    )


def own_attempt(
    attempt_id: int, session: DbSession, user: Candidate, now: Now, settings: AppSettings
) -> Attempt:
    """The candidate's attempt, finalised on the way if its time is over (lazy)."""
    with refusals():
        attempt = attempts_service.load_attempt(
            session=session, attempt_id=attempt_id, user_id=user.id
        )
    attempts_service.finalise_if_expired(
        session=session, attempt=attempt, now=now, grace=settings.deadline_grace_seconds
    )
    return attempt


OwnAttempt = Annotated[Attempt, Depends(own_attempt)]


# --------------------------------------------------------------------------- JSON API


@api.get(
    "/me/questionnaires",
    response_model=list[QuestionnaireStatus],
    summary="Mes questionnaires et leur état",
)
def my_questionnaires(session: DbSession, user: Candidate, now: Now):
    return [
        views.questionnaire_status(q, e, a, now=now)
        for q, e, a in attempts_service.attempts_of_user(session=session, user_id=user.id)
    ]


@reads_then_writes
async def start_attempt(questionnaire_id: int, request: Request) -> Response:
    # A sitting starts in one burst.
    return await _in_one_hop(_start_attempt, request, questionnaire_id=questionnaire_id)


def _start_attempt(
    *, request: Request, session: Session, questionnaire_id: int, now: datetime, grace: int
) -> Response:
    user_id = authorised_account_id(request, session, CANDIDATES)
    with refusals():
        attempt = attempts_service.start_or_resume(
            session=session,
            user_id=user_id,
            questionnaire_id=questionnaire_id,
            now=now,
            grace=grace,
        )
    labels = _topic_labels(session, attempt)
    session.commit()  # on SQLite, the write lock is free again before the view is built
    return _json(views.attempt_read(attempt, now=now, topic_labels=labels))


@api.get("/attempts/{attempt_id}", response_model=AttemptRead, summary="Une tentative")
def get_attempt(attempt: OwnAttempt, session: DbSession, now: Now):
    return views.attempt_read(attempt, now=now, topic_labels=_topic_labels(session, attempt))


@urgent
@reads_then_writes
async def save_answer(attempt_id: int, question_id: str, request: Request) -> Response:
    # The request a sitting sends most.
    answer = await _in_one_hop(
        _save_answer,
        request,
        body=AnswerSave,
        on_the_loop=True,
        attempt_id=attempt_id,
        question_id=question_id,
    )
    if isinstance(answer, Response):
        return answer
    if answer.target is not None:
        # The write waits for the process's next group commit, holding no slot; the long
        # way after it (the attempt stopped running meanwhile: rare) goes on without one.
        leave_admission(request.scope)
        written = await write_in_group(
            partial(
                attempts_service.write_autosave,
                save=answer.save,
                target=answer.target,
                now=answer.now,
            )
        )
        if written is not None:
            return _saved(answer.save, written, now=answer.now)
    return await _in_one_hop(_save_the_long_way, request, pending=answer)


@reads_then_writes
async def submit_attempt(attempt_id: int, request: Request) -> Response:
    # A sitting ends at one deadline, and everyone submits at once.
    return await _in_one_hop(_submit_attempt, request, attempt_id=attempt_id)


def _submit_attempt(
    *, request: Request, session: Session, attempt_id: int, now: datetime, grace: int
) -> Response:
    user_id = authorised_account_id(request, session, CANDIDATES)
    with refusals():
        attempt = attempts_service.load_attempt(
            session=session, attempt_id=attempt_id, user_id=user_id
        )
    labels = _topic_labels(session, attempt)
    end_reads(session)  # on SQLite, the write lock is held for the scoring's writes alone
    with sqlite_write_lock_first():
        attempts_service.submit(session=session, attempt=attempt, now=now, grace=grace)
    session.commit()
    return _json(views.attempt_read(attempt, now=now, topic_labels=labels))


def _hot_route(method: str, path: str, endpoint, **options) -> DirectRoute:
    """A route of the candidates' API, served ahead of the app's other routes (create_app),
    not through the included routers, and with no dependency resolved (app/web/direct.py)."""
    return DirectRoute(api.prefix + path, endpoint, methods=[method], tags=api.tags, **options)


# A sitting's hot paths: its start, its saves and its end.
HOT_ROUTES = [
    _hot_route(
        "PUT",
        "/attempts/{attempt_id}/answers/{question_id}",
        save_answer,
        response_model=AnswerSaved,
        responses={
            404: {"model": Refusal, "description": "Tentative ou question introuvable"},
            409: {"model": Refusal, "description": "Temps écoulé ou questionnaire remis"},
            422: {"model": Refusal, "description": "Réponse qui ne convient pas à la question"},
        },
        openapi_extra=body_schema(AnswerSave),
        summary="Enregistrer une réponse (idempotent, ordonné par seq)",
    ),
    _hot_route(
        "POST",
        "/questionnaires/{questionnaire_id}/attempts",
        start_attempt,
        response_model=AttemptRead,
        summary="Commencer le questionnaire, ou reprendre la tentative en cours",
    ),
    _hot_route(
        "POST",
        "/attempts/{attempt_id}/submit",
        submit_attempt,
        response_model=AttemptRead,
        summary="Remettre",
    ),
]


@dataclass(frozen=True)
class _PendingSave:
    """A save read and checked on SQLite, whose writes are still to do: through the group
    commit, or the long way when there is no ``target`` (a refusal to tell in French, or
    an attempt to finalise)."""

    save: attempts_service.Autosave
    user_id: int
    target: attempts_service.AutosaveTarget | None
    now: datetime


def _save_answer(
    *,
    request: Request,
    session: Session,
    attempt_id: int,
    question_id: str,
    body: AnswerSave,
    now: datetime,
    grace: int,
) -> Response | _PendingSave:
    """The save, or on SQLite its reads only (on the event loop, see ``_in_one_hop``)."""
    statements_alone(session)
    save = attempts_service.Autosave(
        attempt_id=attempt_id,
        question_id=question_id,
        selected=body.selected,
        value=body.value,
        seq=body.seq,
    )
    on_sqlite = session.get_bind().dialect.name == "sqlite"

    def saved() -> attempts_service.Saved | _PendingSave:
        token = caller_token(request)
        if not on_sqlite:
            known = attempts_service.autosave_known(
                session=session, save=save, caller_token=token, now=now, grace=grace
            )
            if known is not None:
                return known
        target = attempts_service.autosave_target(
            session=session, save=save, caller_token=token, now=now, grace=grace
        )
        # Who calls tells why there is no target: a refusal, or the long way for their own.
        user_id = (
            target.user_id
            if target is not None
            else authorised_account_id(request, session, CANDIDATES)
        )
        end_reads(session)
        held = None if target is None else attempts_service.held_already(save=save, target=target)
        if held is not None:
            return held
        if on_sqlite:
            return _PendingSave(save, user_id, target, now)
        if target is None:
            return attempts_service.autosave_the_long_way(
                session=session, save=save, user_id=user_id, now=now, grace=grace
            )
        attempts_service.learn_items(session=session, attempt_id=save.attempt_id)
        return attempts_service.autosave(
            session=session, save=save, target=target, now=now, grace=grace
        )

    return _answered(session, save, saved, now=now)


def _save_the_long_way(
    *, request: Request, session: Session, pending: _PendingSave, now: datetime, grace: int
) -> Response:
    """What the group commit could not write, or a save without target: why, in French."""
    long_way = partial(
        attempts_service.autosave_the_long_way,
        session=session,
        save=pending.save,
        user_id=pending.user_id,
        now=pending.now,
        grace=grace,
    )
    return _answered(session, pending.save, long_way, now=pending.now)


def _answered(session: Session, save: attempts_service.Autosave, saved, *, now: datetime):
    """What ``saved()`` saved as the JSON answer, or its refusal, committed either way (a
    lazily finalised attempt stays finalised); a pending save goes on as it is."""
    try:
        with refusals():
            outcome = saved()
            if isinstance(outcome, _PendingSave):
                return outcome
            session.commit()
    except HTTPException as error:
        session.commit()
        return JSONResponse({"detail": error.detail}, status_code=error.status_code)
    return _saved(save, outcome, now=now)


def _saved(
    save: attempts_service.Autosave, saved: attempts_service.Saved, *, now: datetime
) -> Response:
    return _json(
        AnswerSaved(
            question_id=save.question_id,
            stored=saved.stored,
            seq=saved.seq,
            response=saved.response,
            saved_at=saved.saved_at,
            remaining_seconds=remaining_seconds(deadline_at=saved.deadline_at, now=now),
        )
    )


# --------------------------------------------------------------------------- pages


@router.post("/questionnaires/{questionnaire_id}/demarrer")
def start_page(
    questionnaire_id: int,
    request: Request,
    session: DbSession,
    user: Candidate,
    now: Now,
    settings: AppSettings,
):
    try:
        attempt = attempts_service.start_or_resume(
            session=session,
            user_id=user.id,
            questionnaire_id=questionnaire_id,
            now=now,
            grace=settings.deadline_grace_seconds,
        )
    except attempts_service.AttemptNotFound:
        raise HTTPException(404, "Questionnaire introuvable.") from None
    except attempts_service.AttemptError as error:
        raise HTTPException(409, str(error)) from None
    position = next((i.position for i in attempt.items if not i.seen), 1)
    return redirect(request, f"/tentatives/{attempt.id}/questions/{position}")


def _item_at(attempt: Attempt, position: int):
    """The item shown at ``position`` (1-based), or 404."""
    if not 1 <= position <= len(attempt.items):
        raise HTTPException(404, "Question introuvable.")
    return attempt.items[position - 1]


def _finished_redirect(request: Request, attempt: Attempt):
    return redirect(request, f"/tentatives/{attempt.id}/resultat")


@router.get("/tentatives/{attempt_id}/questions/{position}")
def question_page(
    attempt: OwnAttempt,
    position: int,
    request: Request,
    session: DbSession,
    user: Candidate,
    now: Now,
    settings: AppSettings,
):
    if attempt.status != RUNNING:
        return _finished_redirect(request, attempt)
    item = _item_at(attempt, position)
    attempts_service.mark_seen(session=session, item=item, now=now)
    return templates.TemplateResponse(
        request,
        "attempts/question.html",
        {
            "user": user,
            "attempt": attempt,
            "item": item,
            "question": views.question_read(item),
            "remaining": remaining_seconds(deadline_at=attempt.deadline_at, now=now),
            "saved_time": paris_time(item.answer.saved_at) if item.answer else None,
            "answered": attempts_service.is_answered,
        },
    )


@router.post("/tentatives/{attempt_id}/questions/{position}")
@urgent
def question_form(
    attempt: OwnAttempt,
    position: int,
    request: Request,
    session: DbSession,
    user: Candidate,
    now: Now,
    settings: AppSettings,
    selected: Annotated[list[str] | None, Form()] = None,
    value: Annotated[str | None, Form(max_length=50)] = None,
    go: Annotated[str, Form()] = "suivante",
):
    """The save without JavaScript: the form posts, the server numbers the save."""
    if attempt.status != RUNNING:
        return _finished_redirect(request, attempt)
    item = _item_at(attempt, position)
    if selected or (value or "").strip():
        with refusals():
            attempts_service.save_answer(
                session=session,
                attempt=attempt,
                question_id=item.question_id,
                selected=selected,
                value=value if item.question_version.content["type"] == "numeric" else None,
                seq=(item.answer.seq if item.answer else 0) + 1,
                now=now,
                grace=settings.deadline_grace_seconds,
            )
    targets = {
        "precedente": max(1, position - 1),
        "suivante": min(len(attempt.items), position + 1),
        "rester": position,
    }
    if go == "relecture":
        return redirect(request, f"/tentatives/{attempt.id}/relecture")
    return redirect(request, f"/tentatives/{attempt.id}/questions/{targets.get(go, position)}")


@router.post("/tentatives/{attempt_id}/questions/{position}/marque")
def toggle_flag(
    attempt: OwnAttempt,
    position: int,
    request: Request,
    session: DbSession,
    user: Candidate,
):
    if attempt.status != RUNNING:
        return _finished_redirect(request, attempt)
    item = _item_at(attempt, position)
    with refusals():
        attempts_service.set_flag(
            session=session, attempt=attempt, question_id=item.question_id, flagged=not item.flagged
        )
    return redirect(request, f"/tentatives/{attempt.id}/questions/{position}")


@router.get("/tentatives/{attempt_id}/relecture")
def review_page(
    attempt: OwnAttempt,
    request: Request,
    user: Candidate,
    now: Now,
):
    if attempt.status != RUNNING:
        return _finished_redirect(request, attempt)
    return templates.TemplateResponse(
        request,
        "attempts/review.html",
        {
            "user": user,
            "attempt": attempt,
            "remaining": remaining_seconds(deadline_at=attempt.deadline_at, now=now),
            "unanswered": [i for i in attempt.items if not attempts_service.is_answered(i)],
            "flagged": [i for i in attempt.items if i.flagged],
            "answered": attempts_service.is_answered,
        },
    )


@router.post("/tentatives/{attempt_id}/remettre")
def submit_page(
    attempt: OwnAttempt,
    request: Request,
    session: DbSession,
    now: Now,
    settings: AppSettings,
    confirm: Annotated[str | None, Form()] = None,
    auto: Annotated[str | None, Form()] = None,
):
    if attempt.status == RUNNING:
        if confirm != "oui" and auto != "1":
            return redirect(request, f"/tentatives/{attempt.id}/relecture")
        attempts_service.submit(
            session=session, attempt=attempt, now=now, grace=settings.deadline_grace_seconds
        )
    return _finished_redirect(request, attempt)


@router.get("/tentatives/{attempt_id}/resultat")
def result_page(
    attempt: OwnAttempt,
    request: Request,
    session: DbSession,
    user: Candidate,
    now: Now,
):
    if attempt.status == RUNNING:
        return redirect(request, f"/tentatives/{attempt.id}/questions/1")
    labels = _topic_labels(session, attempt)
    return templates.TemplateResponse(
        request,
        "attempts/result.html",
        {
            "user": user,
            "attempt": attempt,
            "result": views.result_read(attempt, now=now, topic_labels=labels),
            "items": {item.question_id: item for item in attempt.items},
            "finished_at": attempt.finished_at,
        },
    )
