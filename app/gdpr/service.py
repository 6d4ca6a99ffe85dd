"""Personal data (RGPD): pseudonymising candidates past the retention period, and the
candidate's right of access (everything held about them, as plain JSON values).
Services only flush.

What a purge keeps and erases is stated to users on ``/confidentialite``: keep the two
in step.

- kept: the account row (its id), candidate numbers, attempts (questionnaire, dates,
  score, each response reduced to what the scoring engine reads: choice ids or the
  normalised numeric value, so that a regrade still gives the same result), competence
  outcomes and jury decisions with their comments, the audit log (append-only, chained);
- erased: login, name, email, password, login sessions (revoked), failed logins under the
  old login, accommodations (free-text arrangements and extra time: health data).
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from app.attempts.models import Answer, Attempt, AttemptItem
from app.audit import service as audit_service
from app.auth import service as auth_service
from app.auth.models import LoginAttempt, UserAccount, UserSession
from app.auth.passwords import hash_password
from app.records import service as records_service
from app.records.models import CompetenceOutcome
from app.records.rules import SOURCE_JURY, modality_label
from app.referential.model import default_referential
from app.sessions.models import Enrolment, ExamSession, SessionQuestionnaire

ANONYMISED_NAME = "Candidat anonymisé"
ANONYMOUS_LOGIN_PREFIX = "anonyme-"
EXPORT_FORMAT = "ccpq-donnees-personnelles/1"
EXPORT_NOTICE = (
    "Données personnelles détenues par ccpq sur ce compte (droit d'accès, article 15 du "
    "RGPD). Dates en UTC, au format ISO 8601."
)
STATUS_LABELS = {"running": "en cours", "submitted": "remis", "expired": "temps écoulé"}
# The keys of a saved response that the scoring engine reads; nothing else is kept.
SCORED_RESPONSE_KEYS = ("selected", "value")


class GdprError(Exception):
    """A refusal whose message is shown as is."""


@dataclass(frozen=True)
class DueCandidate:
    """A candidate whose last session closed before the retention cut-off."""

    user_id: int
    login: str
    candidate_numbers: tuple[str, ...]
    last_closed_at: datetime


def anonymous_login(user_id: int) -> str:
    return f"{ANONYMOUS_LOGIN_PREFIX}{user_id}"


def retention_cutoff(reference: datetime, years: int) -> datetime:
    """``reference`` moved back ``years`` calendar years (29 February → 28 February)."""
    if years < 1:
        raise GdprError(f"durée de conservation invalide : {years} an(s) (1 au moins)")
    try:
        return reference.replace(year=reference.year - years)
    except ValueError:
        return reference.replace(year=reference.year - years, day=28)


def _is_pseudonymised(user: UserAccount, enrolments: list[Enrolment], live_sessions: int) -> bool:
    return (
        user.login == anonymous_login(user.id)
        and user.display_name == ANONYMISED_NAME
        and user.email is None
        and not user.is_active
        and live_sessions == 0
        and all(e.arrangements is None and e.extra_time_percent == 0 for e in enrolments)
    )


def due_candidates(*, session: Session, reference: datetime, retention_years: int) -> list:
    """Candidates past retention and not yet pseudonymised, as (DueCandidate, user, enrolments).

    Past retention: the latest closing time of every session they were enrolled in is
    more than ``retention_years`` before ``reference``; a candidate enrolled in a later
    session is kept whole.
    """
    cutoff = retention_cutoff(reference, retention_years)
    last_close = (
        select(Enrolment.user_id, func.max(ExamSession.closes_at).label("last_closed_at"))
        .join(ExamSession, ExamSession.id == Enrolment.exam_session_id)
        .group_by(Enrolment.user_id)
        .subquery()
    )
    rows = session.execute(
        select(UserAccount, last_close.c.last_closed_at)
        .join(last_close, last_close.c.user_id == UserAccount.id)
        .where(last_close.c.last_closed_at < cutoff)
        .order_by(UserAccount.id)
    ).all()
    if not rows:
        return []
    ids = [user.id for user, _ in rows]
    enrolments: dict[int, list[Enrolment]] = {user_id: [] for user_id in ids}
    for enrolment in session.scalars(
        select(Enrolment).where(Enrolment.user_id.in_(ids)).order_by(Enrolment.id)
    ):
        enrolments[enrolment.user_id].append(enrolment)
    live = dict(
        session.execute(
            select(UserSession.user_id, func.count())
            .where(UserSession.user_id.in_(ids), UserSession.revoked_at.is_(None))
            .group_by(UserSession.user_id)
        ).all()
    )
    due = []
    for user, last_closed_at in rows:
        if _is_pseudonymised(user, enrolments[user.id], live.get(user.id, 0)):
            continue
        numbers = tuple(dict.fromkeys(e.candidate_number for e in enrolments[user.id]))
        due.append(
            (DueCandidate(user.id, user.login, numbers, last_closed_at), user, enrolments[user.id])
        )
    return due


def scored_response(response: dict) -> dict:
    """A saved response reduced to the keys the scoring engine reads."""
    return {key: response[key] for key in SCORED_RESPONSE_KEYS if key in response}


def _pseudonymise(
    *, session: Session, user: UserAccount, enrolments: list[Enrolment], now: datetime
) -> None:
    new_login = anonymous_login(user.id)
    taken = auth_service.get_user_by_login(session=session, login=new_login)
    if taken is not None and taken.id != user.id:
        raise GdprError(
            f"l'identifiant « {new_login} » est déjà pris par le compte n° {taken.id} : "
            "renommez ce compte avant de relancer la purge (rien n'a été modifié)"
        )
    old_login = user.login
    user.login = new_login
    user.display_name = ANONYMISED_NAME
    user.email = None
    user.password_hash = hash_password(secrets.token_urlsafe(32))  # known to no one
    user.is_active = False
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(LoginAttempt).where(LoginAttempt.login == old_login))
    for enrolment in enrolments:
        enrolment.arrangements = None
        enrolment.extra_time_percent = 0
    answers = session.scalars(
        select(Answer)
        .join(AttemptItem, AttemptItem.id == Answer.attempt_item_id)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(Attempt.enrolment_id.in_([e.id for e in enrolments]))
    )
    for answer in answers:
        kept = scored_response(answer.response)
        if kept != answer.response:
            answer.response = kept
    session.flush()


def purge(
    *,
    session: Session,
    reference: datetime,
    retention_years: int,
    now: datetime,
    actor: str,
    dry_run: bool = False,
) -> list[DueCandidate]:
    """Pseudonymise every candidate past retention; one audit entry each (ids only).

    Idempotent: a candidate already pseudonymised is not listed again. With ``dry_run``
    nothing is written.
    """
    due = due_candidates(session=session, reference=reference, retention_years=retention_years)
    if dry_run:
        return [candidate for candidate, _, _ in due]
    cutoff = retention_cutoff(reference, retention_years)
    for _, user, enrolments in due:
        _pseudonymise(session=session, user=user, enrolments=enrolments, now=now)
        audit_service.record(
            session=session,
            action="gdpr.purge",
            target=f"user:{user.id}",
            now=now,
            actor=actor,
            details={
                "user_id": user.id,
                "enrolment_ids": [e.id for e in enrolments],
                "retention_years": retention_years,
                "cutoff": _plain(cutoff),
            },
        )
    return [candidate for candidate, _, _ in due]


# --------------------------------------------------------------------------- export


def find_candidate(*, session: Session, key: str) -> UserAccount:
    """The account named by its login or by one of its candidate numbers."""
    key = key.strip()
    ids = set(session.scalars(select(Enrolment.user_id).where(Enrolment.candidate_number == key)))
    by_login = auth_service.get_user_by_login(session=session, login=key) if key else None
    if by_login is not None:
        ids.add(by_login.id)
    if not ids:
        raise GdprError(
            f"candidat inconnu : « {key} » n'est ni un identifiant ni un numéro de candidat"
        )
    if len(ids) > 1:
        listed = ", ".join(str(user_id) for user_id in sorted(ids))
        raise GdprError(
            f"« {key} » désigne plusieurs comptes (n° {listed}) : précisez l'identifiant"
        )
    return session.get(UserAccount, ids.pop())


def _plain(value: Any) -> Any:
    """JSON values: Decimal → "72.5000", datetime → ISO 8601 in UTC."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def _modality_label(modality: str) -> str:
    try:
        return modality_label(default_referential(), modality)
    except ValueError:
        return modality


def personal_data(*, session: Session, user: UserAccount, now: datetime) -> dict[str, Any]:
    """Everything ccpq holds about ``user``, as plain JSON values."""
    enrolments = session.scalars(
        select(Enrolment)
        .options(joinedload(Enrolment.exam_session))
        .where(Enrolment.user_id == user.id)
        .order_by(Enrolment.id)
    ).all()
    attempts = session.scalars(
        select(Attempt)
        .join(Attempt.enrolment)
        .options(
            joinedload(Attempt.session_questionnaire).joinedload(SessionQuestionnaire.exam_session),
            selectinload(Attempt.items).joinedload(AttemptItem.answer),
        )
        .where(Enrolment.user_id == user.id)
        .order_by(Attempt.started_at, Attempt.id)
    ).all()
    outcomes = session.scalars(
        select(CompetenceOutcome)
        .where(CompetenceOutcome.user_id == user.id)
        .order_by(CompetenceOutcome.decided_at, CompetenceOutcome.id)
    ).all()
    session_ids = {o.exam_session_id for o in outcomes if o.exam_session_id is not None}
    session_names = dict(
        session.execute(
            select(ExamSession.id, ExamSession.name).where(ExamSession.id.in_(session_ids))
        ).all()
    )
    logins = session.scalars(
        select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
    ).all()
    record = records_service.candidate_record(session=session, user_id=user.id)
    return {
        "format": EXPORT_FORMAT,
        "notice": EXPORT_NOTICE,
        "generated_at": _plain(now),
        "account": {
            "id": user.id,
            "login": user.login,
            "name": user.display_name,
            "email": user.email,
            "role": user.role.value,
            "active": user.is_active,
            "created_at": _plain(user.created_at),
        },
        "login_sessions": [
            {
                "created_at": _plain(s.created_at),
                "expires_at": _plain(s.expires_at),
                "revoked_at": _plain(s.revoked_at),
            }
            for s in logins
        ],
        "enrolments": [
            {
                "exam_session_id": e.exam_session_id,
                "session_name": e.exam_session.name,
                "opens_at": _plain(e.exam_session.opens_at),
                "closes_at": _plain(e.exam_session.closes_at),
                "candidate_number": e.candidate_number,
                "extra_time_percent": e.extra_time_percent,
                "arrangements": e.arrangements,
            }
            for e in enrolments
        ],
        "attempts": [
            {
                "id": a.id,
                "session_name": a.session_questionnaire.exam_session.name,
                "questionnaire": a.session_questionnaire.title,
                "theme": a.session_questionnaire.theme,
                "number": a.number,
                "status": STATUS_LABELS.get(a.status, a.status),
                "started_at": _plain(a.started_at),
                "deadline_at": _plain(a.deadline_at),
                "finished_at": _plain(a.finished_at),
                "points": _plain(a.points),
                "max_points": _plain(a.max_points),
                "percent": _plain(a.percent),
                "passed": a.passed,
                "answers": [
                    {
                        "position": item.position,
                        "question_id": item.question_id,
                        "response": item.answer.response if item.answer else None,
                        "saved_at": _plain(item.answer.saved_at) if item.answer else None,
                        "flagged": item.flagged,
                    }
                    for item in a.items
                ],
            }
            for a in attempts
        ],
        "competence_outcomes": [
            {
                "competence": o.competence,
                "modality": o.modality,
                "modality_label": _modality_label(o.modality),
                "source": o.source,
                "passed": o.passed,
                "decided_at": _plain(o.decided_at),
                "session_name": session_names.get(o.exam_session_id),
                "attempt_id": o.attempt_id,
                "detail": o.detail,
            }
            for o in outcomes
        ],
        "jury_decisions": [
            {
                "competence": o.competence,
                "modality": o.modality,
                "modality_label": _modality_label(o.modality),
                "passed": o.passed,
                "decided_at": _plain(o.decided_at),
                "session_name": session_names.get(o.exam_session_id),
                "comment": o.detail,
            }
            for o in outcomes
            if o.source == SOURCE_JURY
        ],
        "certification": {
            "state": str(record.certification),
            "validated_blocs": list(record.validated_blocs),
        },
    }


def export(*, session: Session, key: str, now: datetime, actor: str) -> dict[str, Any]:
    """The personal data of the candidate named by ``key``; the export is audit-logged."""
    user = find_candidate(session=session, key=key)
    data = personal_data(session=session, user=user, now=now)
    audit_service.record(
        session=session,
        action="gdpr.export",
        target=f"user:{user.id}",
        now=now,
        actor=actor,
        details={"user_id": user.id},
    )
    return data
