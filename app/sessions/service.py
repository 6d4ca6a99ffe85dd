"""Exam sessions, their questionnaires, enrolments and accommodations. Services only flush."""

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.attempts import service as attempts_service
from app.audit import service as audit_service
from app.auth import service as auth_service
from app.auth.models import UserAccount
from app.auth.roles import Role
from app.banks import freshness
from app.banks.models import BankVersion
from app.clock import paris_date
from app.db import utcnow
from app.sessions.enrolment_csv import EnrolmentRow
from app.sessions.models import Enrolment, ExamSession, SessionQuestionnaire

MAX_EXTRA_TIME_PERCENT = 200


class SessionError(Exception):
    """A refusal whose message is shown as is."""


def create_session(
    *,
    session: Session,
    name: str,
    opens_at: datetime,
    closes_at: datetime,
    accommodated_beyond_close: bool = True,
) -> ExamSession:
    name = name.strip()
    if not name:
        raise SessionError("Le nom de la session est obligatoire.")
    if closes_at <= opens_at:
        raise SessionError("La fermeture doit être postérieure à l'ouverture.")
    exam = ExamSession(
        name=name,
        opens_at=opens_at,
        closes_at=closes_at,
        accommodated_beyond_close=accommodated_beyond_close,
    )
    session.add(exam)
    session.flush()
    return exam


def get_session(*, session: Session, exam_session_id: int) -> ExamSession:
    """A session with its questionnaires and enrolments (and their accounts)."""
    exam = session.scalars(
        select(ExamSession)
        .options(
            selectinload(ExamSession.questionnaires).joinedload(SessionQuestionnaire.bank_version),
            selectinload(ExamSession.enrolments).joinedload(Enrolment.user),
        )
        .where(ExamSession.id == exam_session_id)
    ).one_or_none()
    if exam is None:
        raise SessionError("Session introuvable.")
    return exam


def list_sessions(*, session: Session) -> list[ExamSession]:
    return list(session.scalars(select(ExamSession).order_by(ExamSession.opens_at.desc())))


def add_questionnaire(
    *,
    session: Session,
    exam: ExamSession,
    bank_version: BankVersion,
    max_attempts: int = 1,
    override_reason: str | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> SessionQuestionnaire:
    """Pin a bank version to the session; its blueprint is copied, frozen with the session.

    A version with questions that expire before the session closes is refused unless a
    reason is given; the override goes to the audit log.
    """
    blueprint = bank_version.content.get("blueprint")
    if not blueprint:
        raise SessionError(
            f"La banque « {bank_version.bank_id} » {bank_version.version} n'a pas de "
            "blueprint : impossible d'en tirer un questionnaire."
        )
    expired = freshness.expired_before(bank_version.content, day=paris_date(exam.closes_at))
    reason = (override_reason or "").strip()
    if expired and not reason:
        listed = ", ".join(item.question_id for item in expired[:5])
        more = f" et {len(expired) - 5} autre(s)" if len(expired) > 5 else ""
        raise SessionError(
            f"La banque « {bank_version.bank_id} » {bank_version.version} contient "
            f"{len(expired)} question(s) échue(s) avant la fin de la session ({listed}{more}) : "
            "publiez une version à jour, ou indiquez le motif pour passer outre."
        )
    theme = bank_version.content["theme"]
    taken = session.scalar(
        select(SessionQuestionnaire).where(
            SessionQuestionnaire.exam_session_id == exam.id, SessionQuestionnaire.theme == theme
        )
    )
    if taken is not None:
        raise SessionError(f"La session a déjà un questionnaire sur le thème « {theme} ».")
    questionnaire = SessionQuestionnaire(
        exam_session_id=exam.id,
        bank_version_id=bank_version.id,
        theme=theme,
        title=blueprint["title"],
        item_count=blueprint["item_count"],
        duration_minutes=blueprint["duration_minutes"],
        shuffle_questions=blueprint["shuffle_questions"],
        shuffle_options=blueprint["shuffle_options"],
        review=blueprint["review"],
        review_from=blueprint["review_from"],
        quotas=blueprint["quotas"],
        max_attempts=max_attempts,
        partial_credit=bank_version.content.get("partial_credit", False),
        neutralised={},
    )
    session.add(questionnaire)
    session.flush()
    if expired:
        audit_service.record(
            session=session,
            action="session.questionnaire.expired_override",
            target=f"exam_session:{exam.id}",
            now=now or utcnow(),
            actor=actor,
            details={
                "bank": f"{bank_version.bank_id} {bank_version.version}",
                "expired": [item.question_id for item in expired],
                "reason": reason,
            },
        )
    return questionnaire


def enrol(
    *,
    session: Session,
    exam: ExamSession,
    user: UserAccount,
    candidate_number: str,
    extra_time_percent: int = 0,
    arrangements: str | None = None,
) -> Enrolment:
    if user.role != Role.CANDIDAT:
        raise SessionError(f"« {user.login} » n'est pas un compte candidat.")
    _check_extra_time(extra_time_percent)
    clash = session.scalar(
        select(Enrolment).where(
            Enrolment.exam_session_id == exam.id,
            (Enrolment.user_id == user.id) | (Enrolment.candidate_number == candidate_number),
        )
    )
    if clash is not None:
        raise SessionError(
            f"« {user.login} » ou le numéro {candidate_number} est déjà inscrit à cette session."
        )
    enrolment = Enrolment(
        exam_session_id=exam.id,
        user_id=user.id,
        candidate_number=candidate_number,
        extra_time_percent=extra_time_percent,
        arrangements=(arrangements or "").strip() or None,
    )
    session.add(enrolment)
    session.flush()
    return enrolment


def import_enrolments(
    *, session: Session, exam: ExamSession, rows: list[EnrolmentRow], filename: str
) -> list[Enrolment]:
    """Enrol every row, creating missing candidate accounts (login = email); all or nothing."""
    problems = []
    enrolments = []
    for row in rows:
        user = auth_service.get_user_by_login(session=session, login=row.email)
        if user is None:
            user = auth_service.create_user(
                session=session,
                login=row.email,
                # No password is known yet: the account is usable once one is set.
                password=secrets.token_urlsafe(24),
                role=Role.CANDIDAT,
                display_name=row.display_name,
                email=row.email,
            )
        try:
            enrolments.append(
                enrol(session=session, exam=exam, user=user, candidate_number=row.candidate_number)
            )
        except SessionError as error:
            problems.append(f"{filename}:{row.line}: {error}")
    if problems:
        raise SessionError("\n".join(problems))
    return enrolments


def _check_extra_time(extra_time_percent: int) -> None:
    if not 0 <= extra_time_percent <= MAX_EXTRA_TIME_PERCENT:
        raise SessionError(
            f"Temps supplémentaire invalide : entre 0 et {MAX_EXTRA_TIME_PERCENT} %."
        )


def set_accommodation(
    *,
    session: Session,
    enrolment_id: int,
    extra_time_percent: int,
    arrangements: str | None,
) -> Enrolment:
    """Change a candidate's extra time (running attempts follow) and arrangements."""
    _check_extra_time(extra_time_percent)
    enrolment = session.scalars(
        select(Enrolment)
        .options(joinedload(Enrolment.exam_session), joinedload(Enrolment.user))
        .where(Enrolment.id == enrolment_id)
    ).one_or_none()
    if enrolment is None:
        raise SessionError("Inscription introuvable.")
    enrolment.extra_time_percent = extra_time_percent
    enrolment.arrangements = (arrangements or "").strip() or None
    session.flush()
    attempts_service.recompute_deadlines(
        session=session, enrolment=enrolment, exam=enrolment.exam_session
    )
    return enrolment


def close_deliberation(*, session: Session, exam: ExamSession, actor: str, now: datetime) -> None:
    """Freeze the session's records: no jury decision, no regrade until reopened."""
    if exam.deliberated_at is not None:
        raise SessionError("La délibération de cette session est déjà close.")
    exam.deliberated_at = now
    session.flush()
    audit_service.record(
        session=session,
        action="session.deliberation.close",
        target=f"exam_session:{exam.id}",
        now=now,
        actor=actor,
    )


def reopen_deliberation(
    *, session: Session, exam: ExamSession, actor: str, reason: str, now: datetime
) -> None:
    """Unfreeze the records; the reason is kept in the audit log."""
    reason = reason.strip()
    if exam.deliberated_at is None:
        raise SessionError("La délibération de cette session n'est pas close.")
    if len(reason) < 10:
        raise SessionError("Indiquez le motif de la réouverture (10 caractères au moins).")
    exam.deliberated_at = None
    session.flush()
    audit_service.record(
        session=session,
        action="session.deliberation.reopen",
        target=f"exam_session:{exam.id}",
        now=now,
        actor=actor,
        details={"reason": reason},
    )


def open_sessions_freshness(*, session: Session, now: datetime, within_days: int):
    """For each session not yet closed: its questionnaires' items stale during the session."""
    rows = []
    exams = session.scalars(
        select(ExamSession)
        .options(
            selectinload(ExamSession.questionnaires).joinedload(SessionQuestionnaire.bank_version)
        )
        .where(ExamSession.closes_at > now)
        .order_by(ExamSession.opens_at)
    ).all()
    for exam in exams:
        for questionnaire in exam.questionnaires:
            stale = freshness.stale_items(
                questionnaire.bank_version.content,
                on_date=paris_date(now),
                within_days=max(within_days, (exam.closes_at - now).days),
            )
            rows.append((exam, questionnaire, stale))
    return rows
