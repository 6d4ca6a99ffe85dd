"""Starting, saving, submitting and finalising attempts. Services only flush.

Every function takes ``now`` from the caller: the server's clock, injected so that tests
control it.
"""

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import (
    JSON,
    Connection,
    Insert,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    cast,
    column,
    exists,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.attempts.draw import DrawError, draw
from app.attempts.models import EXPIRED, RUNNING, SUBMITTED, Answer, Attempt, AttemptItem
from app.attempts.timing import accepts_saves, deadline
from app.audit import service as audit_service
from app.auth import service as auth_service
from app.auth.roles import Role
from app.banks import service as banks_service
from app.banks.models import QuestionVersion
from app.clock import paris_date, paris_datetime
from app.db import end_reads, sqlite_write_lock_first
from app.records import service as records_service
from app.referential.model import default_referential
from app.scoring.engine import score_attempt
from app.sessions.models import Enrolment, ExamSession, SessionQuestionnaire


class AttemptError(Exception):
    """A refusal whose message is shown to the candidate as is (HTTP 409)."""


class AttemptNotFound(Exception):
    """No such attempt for this candidate (HTTP 404: never tell whose it is)."""


class InvalidResponse(ValueError):
    """A response that does not fit the question (HTTP 422)."""


DEADLINE_PASSED = (
    "Le temps imparti est écoulé : cette réponse n'a pas été enregistrée. "
    "Les réponses enregistrées avant l'échéance sont conservées."
)


def _attempt_query():
    # The items' question versions are not read here: see _with_questions.
    return select(Attempt).options(
        joinedload(Attempt.session_questionnaire).joinedload(SessionQuestionnaire.exam_session),
        joinedload(Attempt.enrolment).joinedload(Enrolment.user),
        selectinload(Attempt.items).joinedload(AttemptItem.answer),
    )


def _named_version(
    questions: Mapping[str, QuestionVersion], question_id: str, version_id: int
) -> QuestionVersion | None:
    """The catalogue's copy of the version an item names, if the catalogue holds that one."""
    version = questions.get(question_id)
    return version if version is not None and version.id == version_id else None


def _with_questions(session: Session, attempts: list[Attempt]) -> list[Attempt]:
    """Give each item its question version from the bank version's catalogue.

    A bank version never changes, and the catalogue holds its questions decoded once per
    process: reading and decoding forty of them again cost every page and every submit
    more than the rest of the attempt's load.
    """
    strays: list[AttemptItem] = []
    for attempt in attempts:
        questions = banks_service.catalogue(
            session=session, version_id=attempt.session_questionnaire.bank_version_id
        ).questions
        for item in attempt.items:
            version = _named_version(questions, item.question_id, item.question_version_id)
            if version is None:
                strays.append(item)  # not from that version: read it as it is
            else:
                set_committed_value(item, "question_version", version)
    if strays:
        versions = session.scalars(
            select(QuestionVersion).where(
                QuestionVersion.id.in_({item.question_version_id for item in strays})
            )
        )
        by_id = {version.id: version for version in versions}
        for item in strays:
            set_committed_value(item, "question_version", by_id[item.question_version_id])
    return attempts


def load_attempt(*, session: Session, attempt_id: int, user_id: int | None = None) -> Attempt:
    """The attempt with everything a page needs; ``user_id`` restricts it to its owner."""
    query = _attempt_query().where(Attempt.id == attempt_id)
    if user_id is not None:
        query = query.join(Attempt.enrolment).where(Enrolment.user_id == user_id)
    attempt = session.scalars(query).unique().one_or_none()
    if attempt is None:
        raise AttemptNotFound()
    return _with_questions(session, [attempt])[0]


def threshold_for(theme: str) -> Decimal:
    """The pass threshold of a questionnaire, from the referential."""
    return default_referential().questionnaire(theme).pass_threshold_percent


def scored_items(attempt: Attempt) -> list[tuple[dict, dict | None]]:
    """(question content, saved response) for each item, as the scoring engine takes them."""
    return [
        (item.question_version.content, item.answer.response if item.answer else None)
        for item in attempt.items
    ]


def rescore(*, session: Session, attempt: Attempt) -> None:
    """Score the attempt with what was saved and write the result into the record."""
    questionnaire = attempt.session_questionnaire
    result = score_attempt(
        scored_items(attempt),
        threshold_percent=threshold_for(questionnaire.theme),
        partial_credit=questionnaire.partial_credit,
        neutralised=questionnaire.neutralised or {},
    )
    attempt.points = Decimal(result.points.numerator) / Decimal(result.points.denominator)
    attempt.max_points = Decimal(result.max_points)
    attempt.percent = result.percent
    attempt.passed = result.passed
    session.flush()
    records_service.write_attempt_outcomes(
        session=session,
        user_id=attempt.enrolment.user_id,
        exam_session_id=questionnaire.exam_session_id,
        attempt_id=attempt.id,
        theme=questionnaire.theme,
        passed=result.passed,
        percent=result.percent,
        decided_at=attempt.finished_at,
    )


def finalise(*, session: Session, attempt: Attempt, status: str, finished_at: datetime) -> None:
    """Close the attempt with what was saved, score it, record it.

    On SQLite the caller holds the write lock (its writers take turns).
    """
    _as_it_is_now(session, attempt)
    if attempt.status != RUNNING:  # finalised meanwhile by another request
        return
    attempt.status = status
    attempt.finished_at = finished_at
    rescore(session=session, attempt=attempt)
    audit_service.record(
        session=session,
        action="attempt.submit" if status == SUBMITTED else "attempt.expire",
        target=f"attempt:{attempt.id}",
        now=finished_at,
        details={
            "questionnaire_id": attempt.session_questionnaire_id,
            "points": str(attempt.points),
            "max_points": str(attempt.max_points),
            "passed": attempt.passed,
        },
    )


_OUTCOME = ("status", "finished_at", "points", "max_points", "percent", "passed")


def _as_it_is_now(session: Session, attempt: Attempt) -> None:
    """Read again what another request may have changed since ``attempt`` was loaded, its
    outcome and its answers, the row locked on PostgreSQL (an autosave in flight holds it
    until it commits): a submission scores the answers as they are now."""
    session.refresh(attempt, _OUTCOME, with_for_update=True)
    if attempt.status != RUNNING:
        return
    answers = session.scalars(
        select(Answer)
        .join(AttemptItem)
        .where(AttemptItem.attempt_id == attempt.id)
        .execution_options(populate_existing=True)
    )
    by_item = {answer.attempt_item_id: answer for answer in answers}
    for item in attempt.items:
        set_committed_value(item, "answer", by_item.get(item.id))


def finalise_if_expired(*, session: Session, attempt: Attempt, now: datetime, grace: int) -> bool:
    """Finalise a running attempt whose deadline and grace have passed (lazy finalisation)."""
    if attempt.status == RUNNING and not accepts_saves(
        deadline_at=attempt.deadline_at, now=now, grace_seconds=grace
    ):
        finalise(session=session, attempt=attempt, status=EXPIRED, finished_at=attempt.deadline_at)
        return True
    return False


def sweep_expired(*, session: Session, now: datetime, grace: int) -> int:
    """Finalise every expired attempt; safe to run in every process at once."""
    limit = now - timedelta(seconds=grace)
    ids = session.scalars(
        select(Attempt.id)
        .where(Attempt.status == RUNNING, Attempt.deadline_at < limit)
        .with_for_update(skip_locked=True)
    ).all()
    for attempt_id in ids:
        attempt = load_attempt(session=session, attempt_id=attempt_id)
        finalise_if_expired(session=session, attempt=attempt, now=now, grace=grace)
    return len(ids)


# The start's reads, built once (a sitting's starts come in one burst, and building a
# statement costs about as much as running it).
_QUESTIONNAIRE = (
    select(SessionQuestionnaire)
    .options(joinedload(SessionQuestionnaire.exam_session))
    .where(SessionQuestionnaire.id == bindparam("questionnaire_id"))
)
# What a start reads, in one statement: the questionnaire and its session, the caller's
# enrolment in it (if any), and the caller's attempts at it (a row each, if any).
_START_READS = (
    _QUESTIONNAIRE.add_columns(Enrolment, Attempt.id, Attempt.status)
    .outerjoin(
        Enrolment,
        (Enrolment.exam_session_id == SessionQuestionnaire.exam_session_id)
        & (Enrolment.user_id == bindparam("user_id")),
    )
    .outerjoin(
        Attempt,
        (Attempt.enrolment_id == Enrolment.id)
        & (Attempt.session_questionnaire_id == SessionQuestionnaire.id),
    )
    .order_by(Attempt.number)
)


def get_questionnaire(*, session: Session, questionnaire_id: int) -> SessionQuestionnaire:
    questionnaire = session.scalars(
        _QUESTIONNAIRE, {"questionnaire_id": questionnaire_id}
    ).one_or_none()
    if questionnaire is None:
        raise AttemptNotFound()
    return questionnaire


def start_or_resume(
    *, session: Session, user_id: int, questionnaire_id: int, now: datetime, grace: int
) -> Attempt:
    """The running attempt, or a new one drawn now; refusals say why in French.

    Reads, then writes (``reads_then_writes``): on SQLite the checks and the draw are
    done before the write lock is taken, and the writes that follow take it and carry
    their own condition (an attempt's number is taken once).
    """
    rows = session.execute(
        _START_READS, {"questionnaire_id": questionnaire_id, "user_id": user_id}
    ).all()
    if not rows:
        raise AttemptNotFound()
    questionnaire, enrolment = rows[0][0], rows[0][1]
    if enrolment is None:
        raise AttemptError("Vous n'êtes pas inscrit à la session de ce questionnaire.")
    # Only a running attempt is loaded whole: at a sitting's start there is none, and
    # loading with every relationship costs a start more than the rest of its reads.
    previous = [(attempt_id, status) for _, _, attempt_id, status in rows if attempt_id]
    for attempt_id, status in previous:
        if status == RUNNING:
            end_reads(session)  # it may be finalised here: read again under the write lock
            with sqlite_write_lock_first():
                attempt = load_attempt(session=session, attempt_id=attempt_id)
                finalise_if_expired(session=session, attempt=attempt, now=now, grace=grace)
            if attempt.status == RUNNING:
                return attempt
    exam = questionnaire.exam_session
    if now < exam.opens_at:
        raise AttemptError(
            f"La session « {exam.name} » n'est pas encore ouverte : elle ouvre le "
            f"{paris_datetime(exam.opens_at)}."
        )
    if now >= exam.closes_at:
        raise AttemptError(f"La session « {exam.name} » est fermée.")
    if len(previous) >= questionnaire.max_attempts:
        raise AttemptError("Vous avez déjà passé ce questionnaire.")
    attempt = _new_attempt(
        session=session,
        questionnaire=questionnaire,
        enrolment=enrolment,
        number=len(previous) + 1,
        now=now,
    )
    if attempt is None:  # another request of this candidate started it first
        return start_or_resume(
            session=session,
            user_id=user_id,
            questionnaire_id=questionnaire_id,
            now=now,
            grace=grace,
        )
    return attempt


_INSERT_ON = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
_ATTEMPT_NUMBER = ["enrolment_id", "session_questionnaire_id", "number"]


# The drawn items travel as one JSON array, so that their INSERT's text never changes: the
# multi-row VALUES it replaces (40 rows, 280 parameters) was parsed anew by the driver at
# every start, a third of a start's processor time on PostgreSQL. Each engine reads the
# array with its own JSON function, and the ORM loads the items from what RETURNING gives.
_DRAWN_FIELDS = {
    "position": Integer,
    "question_id": String,
    "question_version_id": Integer,
    "option_order": JSON,
}
_drawn = bindparam("drawn", type_=Text)
_recordset = (
    func.json_to_recordset(cast(_drawn, JSON))
    .table_valued(*(column(name, type_) for name, type_ in _DRAWN_FIELDS.items()))
    .render_derived(name="drawn", with_types=True)
)
_each = func.json_each(_drawn).table_valued("value")
_DRAWN_COLUMNS = {
    "postgresql": [_recordset.c[name] for name in _DRAWN_FIELDS],
    "sqlite": [func.json_extract(_each.c.value, f"$.{name}") for name in _DRAWN_FIELDS],
}


def _insert_drawn(columns: list) -> Select:
    """Attempt ``:attempt_id``'s drawn items, read by ``columns`` from ``:drawn``, inserted
    and loaded as ORM objects."""
    items = AttemptItem.__table__
    inserted = (
        insert(items)
        .from_select(
            ["attempt_id", *_DRAWN_FIELDS, "flagged", "seen"],
            select(bindparam("attempt_id", type_=Integer), *columns, false(), false()),
        )
        .returning(*items.c)
    )
    return select(AttemptItem).from_statement(inserted)


_INSERT_DRAWN = {dialect: _insert_drawn(columns) for dialect, columns in _DRAWN_COLUMNS.items()}


def _new_attempt(
    *,
    session: Session,
    questionnaire: SessionQuestionnaire,
    enrolment: Enrolment,
    number: int,
    now: datetime,
) -> Attempt | None:
    """A new attempt drawn now, ready for display; None if a concurrent start won."""
    catalogue = banks_service.catalogue(session=session, version_id=questionnaire.bank_version_id)
    seed = secrets.token_hex(16)
    try:
        drawn = draw(
            seed=seed,
            eligible=catalogue.eligible_on(paris_date(now)),
            quotas=questionnaire.quotas,
            options=catalogue.option_ids,
            shuffle_questions=questionnaire.shuffle_questions,
            shuffle_options=questionnaire.shuffle_options,
        )
    except DrawError as error:
        raise AttemptError(f"Ce questionnaire ne peut pas être tiré : {error}.") from None
    exam = questionnaire.exam_session
    values = {
        "enrolment_id": enrolment.id,
        "session_questionnaire_id": questionnaire.id,
        "number": number,
        "seed": seed,
        "status": RUNNING,
        "started_at": now,
        "deadline_at": deadline(
            started_at=now,
            duration_minutes=questionnaire.duration_minutes,
            extra_time_percent=enrolment.extra_time_percent,
            closes_at=exam.closes_at,
            accommodated_beyond_close=exam.accommodated_beyond_close,
        ),
    }
    end_reads(session)
    dialect = session.get_bind().dialect.name
    # Two tabs starting at once: the attempt's number is taken once, the other start
    # finds no row back and resumes the winner's attempt (no savepoint to roll back to).
    with sqlite_write_lock_first():
        attempt = session.scalars(
            _INSERT_ON[dialect](Attempt)
            .on_conflict_do_nothing(index_elements=_ATTEMPT_NUMBER)
            .returning(Attempt),
            [values],
        ).one_or_none()
    if attempt is None:
        return None
    rows = [
        {
            "position": position,
            "question_id": item.question_id,
            "question_version_id": catalogue.questions[item.question_id].id,
            "option_order": list(item.option_order) if item.option_order else None,
        }
        for position, item in enumerate(drawn, start=1)
    ]
    items = session.scalars(
        _INSERT_DRAWN[dialect],
        {"attempt_id": attempt.id, "drawn": json.dumps(rows)},
    ).all()
    items.sort(key=lambda item: item.position)
    audit_service.record(
        session=session,
        action="attempt.start",
        target=f"attempt:{attempt.id}",
        now=now,
        details={
            "questionnaire_id": questionnaire.id,
            "enrolment_id": enrolment.id,
            "seed": seed,
            "deadline": attempt.deadline_at.isoformat(),
        },
    )
    # The questions come from the bank version's catalogue, not from a second read of
    # every version (AttemptItem.question_version does not cascade: they stay detached).
    for item in items:
        set_committed_value(item, "question_version", catalogue.questions[item.question_id])
        set_committed_value(item, "answer", None)
    if dialect == "postgresql":  # for its saves (autosave_known)
        _know(
            session,
            attempt.id,
            {
                item.question_id: (item.id, item.question_version_id, item.question_version.content)
                for item in items
            },
        )
    set_committed_value(attempt, "items", items)
    set_committed_value(attempt, "session_questionnaire", questionnaire)
    set_committed_value(attempt, "enrolment", enrolment)
    return attempt


@dataclass(frozen=True)
class SaveOutcome:
    stored: bool
    answer: Answer


def item_by_question(attempt: Attempt, question_id: str) -> AttemptItem:
    for item in attempt.items:
        if item.question_id == question_id:
            return item
    raise AttemptNotFound()


def normalise_response(content: dict, *, selected: list[str] | None, value) -> dict:
    """A response checked against its question: known options, one for single choice."""
    kind = content["type"]
    if kind == "numeric":
        if value is None:
            raise InvalidResponse("Une valeur numérique est attendue.")
        try:
            number = Decimal(str(value).replace(",", ".").replace(" ", "").replace("\u202f", ""))
        except InvalidOperation:
            raise InvalidResponse(f"« {value} » n'est pas un nombre.") from None
        if not number.is_finite():
            raise InvalidResponse(f"« {value} » n'est pas un nombre.")
        return {"value": str(number)}
    chosen = list(dict.fromkeys(selected or []))
    unknown = sorted(set(chosen) - set(banks_service.option_ids(content)))
    if unknown:
        raise InvalidResponse(f"Option inconnue : {', '.join(unknown)}.")
    if kind in ("single_choice", "true_false") and len(chosen) > 1:
        raise InvalidResponse("Une seule réponse est possible pour cette question.")
    return {"selected": chosen}


def save_answer(
    *,
    session: Session,
    attempt: Attempt,
    question_id: str,
    selected: list[str] | None,
    value,
    seq: int,
    now: datetime,
    grace: int,
) -> SaveOutcome:
    """Store a response unless a newer one (higher ``seq``) is already there."""
    if attempt.status == EXPIRED:
        raise AttemptError(DEADLINE_PASSED)
    if attempt.status != RUNNING:
        raise AttemptError("Ce questionnaire est déjà remis : les réponses ne changent plus.")
    if finalise_if_expired(session=session, attempt=attempt, now=now, grace=grace):
        raise AttemptError(DEADLINE_PASSED)
    return _store_answer(
        session=session,
        attempt=attempt,
        item=item_by_question(attempt, question_id),
        selected=selected,
        value=value,
        seq=seq,
        now=now,
    )


@dataclass(frozen=True)
class Autosave:
    """One autosave as the candidate sent it."""

    attempt_id: int
    question_id: str
    selected: list[str] | None
    value: object
    seq: int


@dataclass(frozen=True)
class Saved:
    """What the autosave answers: the response the server holds and the deadline."""

    stored: bool
    seq: int
    response: dict
    saved_at: datetime
    deadline_at: datetime


@dataclass(frozen=True)
class AutosaveTarget:
    """What an autosave needs to write, read beforehand: whose it is, the item, the answer held."""

    user_id: int
    item_id: int
    first_seen_at: datetime | None
    deadline_at: datetime
    response: dict
    held: Saved | None


# The hot path's statements, built once (building one costs more than running it), on
# the tables rather than the mapped classes: run on the connection, they build no ORM
# object and skip the ORM's bulk-insert machinery.
_attempts, _items, _answers = Attempt.__table__, AttemptItem.__table__, Answer.__table__
_enrolments = Enrolment.__table__
# Who calls and what they save to, in one read: the caller's live session must be the
# candidate's whose enrolment the attempt is.
_AUTOSAVE_TARGET = auth_service.held_by_caller(
    select(
        _attempts.c.status,
        _attempts.c.deadline_at,
        _enrolments.c.user_id,
        _items.c.id.label("item_id"),
        _items.c.first_seen_at,
        QuestionVersion.__table__.c.content,
        _answers.c.seq,
        _answers.c.response,
        _answers.c.saved_at,
    )
    .join(_enrolments, _enrolments.c.id == _attempts.c.enrolment_id)
    .join(
        _items,
        (_items.c.attempt_id == _attempts.c.id)
        & (_items.c.question_id == bindparam("question_id")),
    )
    .join(QuestionVersion.__table__, QuestionVersion.__table__.c.id == _items.c.question_version_id)
    .outerjoin(_answers, _answers.c.attempt_item_id == _items.c.id)
    .where(_attempts.c.id == bindparam("attempt_id")),
    _enrolments.c.user_id,
    (Role.CANDIDAT,),
)
# Parameters are not named after columns: Core would take such a key given to an UPDATE
# as one more column to set.
_TOUCH_RUNNING_ATTEMPT = (
    update(_attempts)
    .where(_attempts.c.id == bindparam("attempt"), _attempts.c.status == RUNNING)
    .values(last_saved_at=bindparam("now"))
)
_MARK_SEEN = (
    update(_items)
    .where(_items.c.id == bindparam("item_id"))
    .values(seen=True, first_seen_at=bindparam("now"))
)
_HELD_ANSWER = select(_answers.c.seq, _answers.c.response, _answers.c.saved_at).where(
    _answers.c.attempt_item_id == bindparam("item_id")
)
# Compare-and-set on seq in one statement: a newer save is never overwritten.
_response, _seq, _now = (
    bindparam("response", type_=_answers.c.response.type),
    bindparam("seq", type_=_answers.c.seq.type),
    bindparam("now", type_=_answers.c.saved_at.type),
)
_UPSERT_ANSWER_ON_SQLITE = (
    sqlite_insert(_answers)
    .values(attempt_item_id=bindparam("item_id"), response=_response, seq=_seq, saved_at=_now)
    .on_conflict_do_update(
        index_elements=[_answers.c.attempt_item_id],
        set_={"response": _response, "seq": _seq, "saved_at": _now},
        where=_answers.c.seq < _seq,
    )
    .returning(_answers.c.seq)
)
# On PostgreSQL the three writes go in one statement (one round trip): the attempt row
# is touched only if it still runs (the UPDATE waits for a submission in flight, which
# locks the row, and then sees it), and the answer and the first view are written only
# if it was.
_item_id = bindparam("item_id", type_=_items.c.id.type)


def _autosave_on_postgresql(touched, at) -> Insert:
    """The answer and the item's first view, written at ``at`` if ``touched`` has a row."""
    return (
        postgresql_insert(_answers)
        .from_select(
            ["attempt_item_id", "response", "seq", "saved_at"],
            select(_item_id, _response, _seq, at).select_from(touched),
        )
        .on_conflict_do_update(
            index_elements=[_answers.c.attempt_item_id],
            set_={"response": _response, "seq": _seq, "saved_at": at},
            where=_answers.c.seq < _seq,
        )
        .add_cte(
            update(_items)
            .where(
                _items.c.id == _item_id,
                _items.c.first_seen_at.is_(None),
                exists(select(touched.c.id)),
            )
            .values(seen=True, first_seen_at=at)
            .cte("seen")
        )
    )


_touched = _TOUCH_RUNNING_ATTEMPT.returning(_attempts.c.id).cte("touched")
_AUTOSAVE_ON_POSTGRESQL = _autosave_on_postgresql(_touched, _now).returning(_answers.c.seq)
# A save to an attempt this process knows (autosave_known): the same writes, and the one
# statement also checks what the read checks otherwise. The attempt runs and is in time,
# the caller holds a live session of its candidate (their ``now`` is the server's clock,
# see caller_parameters), and the item is the attempt's, with the question version known.
_at = bindparam("at", type_=_answers.c.saved_at.type)
_touched_for_the_caller = (
    update(_attempts)
    .where(
        _attempts.c.id == bindparam("attempt"),
        _attempts.c.status == RUNNING,
        _attempts.c.deadline_at >= bindparam("cutoff", type_=_attempts.c.deadline_at.type),
        exists(
            auth_service.held_by_caller(
                select(_enrolments.c.id).where(_enrolments.c.id == _attempts.c.enrolment_id),
                _enrolments.c.user_id,
                (Role.CANDIDAT,),
            )
        ),
        exists(
            select(_items.c.id).where(
                _items.c.id == _item_id,
                _items.c.attempt_id == _attempts.c.id,
                _items.c.question_version_id == bindparam("version_id"),
            )
        ),
    )
    .values(last_saved_at=_at)
    .returning(_attempts.c.id, _attempts.c.deadline_at)
    .cte("touched")
)
_KNOWN_AUTOSAVE_ON_POSTGRESQL = _autosave_on_postgresql(_touched_for_the_caller, _at).returning(
    _answers.c.seq,
    select(_touched_for_the_caller.c.deadline_at).scalar_subquery().label("deadline_at"),
)
_ITEMS_OF_ATTEMPT = (
    select(
        _items.c.question_id,
        _items.c.id.label("item_id"),
        _items.c.question_version_id,
        SessionQuestionnaire.__table__.c.bank_version_id,
    )
    .join(_attempts, _attempts.c.id == _items.c.attempt_id)
    .join(
        SessionQuestionnaire.__table__,
        SessionQuestionnaire.__table__.c.id == _attempts.c.session_questionnaire_id,
    )
    .where(_items.c.attempt_id == bindparam("attempt"))
)
_ATTEMPT_STATUS = select(_attempts.c.status).where(_attempts.c.id == bindparam("attempt"))


# What a save on PostgreSQL needs to know of an attempt beforehand, in this process: its
# items (question id → item id, question version id and content), which never change once
# drawn. Learnt by the start, or by the first save through this process; kept by database
# (a process may serve several, the tests' do), for the newest attempts only: about 6 kB
# each, a sitting of 10 000 candidates is held whole.
_KNOWN_ITEMS: dict[tuple[URL, int], dict[str, tuple[int, int, dict]]] = {}
_KNOWN_LIMIT = 20_000


def _know(session: Session, attempt_id: int, items: dict[str, tuple[int, int, dict]]) -> None:
    if len(_KNOWN_ITEMS) >= _KNOWN_LIMIT:
        _KNOWN_ITEMS.clear()  # the next saves learn their attempt again
    _KNOWN_ITEMS[(session.get_bind().engine.url, attempt_id)] = items


def learn_items(*, session: Session, attempt_id: int) -> None:
    """Know the attempt's items for its next saves through this process (PostgreSQL)."""
    if (session.get_bind().engine.url, attempt_id) in _KNOWN_ITEMS:
        return
    rows = session.connection().execute(_ITEMS_OF_ATTEMPT, {"attempt": attempt_id}).all()
    if not rows:
        return
    version_id = rows[0].bank_version_id
    questions = banks_service.catalogue(session=session, version_id=version_id).questions
    items = {}
    for row in rows:
        version = _named_version(questions, row.question_id, row.question_version_id)
        if version is not None:
            items[row.question_id] = (row.item_id, version.id, version.content)
    _know(session, attempt_id, items)


def autosave_known(
    *, session: Session, save: Autosave, caller_token: str | None, now: datetime, grace: int
) -> Saved | None:
    """A save to an attempt this process knows (PostgreSQL), in one statement that checks
    who calls, that the attempt runs and is in time, and writes unless a newer save is held.

    None when it wrote nothing, whatever the reason: the usual way (``autosave_target``)
    then tells why, or answers with what is held.
    """
    known = _KNOWN_ITEMS.get((session.get_bind().engine.url, save.attempt_id))
    item = known.get(save.question_id) if known is not None else None
    if item is None or caller_token is None:
        return None
    item_id, version_id, content = item
    try:
        response = normalise_response(content, selected=save.selected, value=save.value)
    except InvalidResponse:
        return None  # told once who calls is known, as by the usual way
    written = (
        session.connection()
        .execute(
            _KNOWN_AUTOSAVE_ON_POSTGRESQL,
            {
                "attempt": save.attempt_id,
                "item_id": item_id,
                "version_id": version_id,
                "response": response,
                "seq": save.seq,
                "at": now,
                "cutoff": now - timedelta(seconds=grace),
                **auth_service.caller_parameters(caller_token),
            },
        )
        .first()
    )
    if written is None:
        return None
    return Saved(True, save.seq, response, now, written.deadline_at)


def autosave_target(
    *, session: Session, save: Autosave, caller_token: str | None, now: datetime, grace: int
) -> AutosaveTarget | None:
    """The hot path's only read (no ORM object is built): who calls and what they save to.

    None when the caller holding ``caller_token`` is not the attempt's candidate, and for
    the long way (time over, attempt remitted, unknown question): looking the caller up
    then tells a refusal (``autosave_the_long_way`` for the caller's own attempt).
    Raises InvalidResponse for a response that does not fit the question.
    """
    if caller_token is None:
        return None
    row = (
        session.connection()
        .execute(
            _AUTOSAVE_TARGET,
            {
                "attempt_id": save.attempt_id,
                "question_id": save.question_id,
                **auth_service.caller_parameters(caller_token),
            },
        )
        .one_or_none()
    )
    if (
        row is None
        or row.status != RUNNING
        or not accepts_saves(deadline_at=row.deadline_at, now=now, grace_seconds=grace)
    ):
        return None
    return AutosaveTarget(
        user_id=row.user_id,
        item_id=row.item_id,
        first_seen_at=row.first_seen_at,
        deadline_at=row.deadline_at,
        response=normalise_response(row.content, selected=save.selected, value=save.value),
        held=None
        if row.seq is None
        else Saved(False, row.seq, row.response, row.saved_at, row.deadline_at),
    )


def autosave(
    *, session: Session, save: Autosave, target: AutosaveTarget, now: datetime, grace: int
) -> Saved:
    """Store the response unless a newer one is held; every write checks its condition.

    The reads may be a moment old (see ``autosave_target``): the attempt must still run
    when the write happens, and the seq compare-and-set is one statement.
    """
    held = held_already(save=save, target=target)
    if held is not None:
        return held
    with sqlite_write_lock_first():  # on SQLite, the writes' transaction waits its turn
        written = write_autosave(session.connection(), save=save, target=target, now=now)
    if written is None:  # it stopped running in between (finalised, remitted): say why
        return autosave_the_long_way(
            session=session, save=save, user_id=target.user_id, now=now, grace=grace
        )
    return written


def held_already(*, save: Autosave, target: AutosaveTarget) -> Saved | None:
    """The answer held when it is as new as ``save`` or newer: nothing to write."""
    if target.held is not None and save.seq <= target.held.seq:
        return target.held
    return None


def write_autosave(
    connection: Connection, *, save: Autosave, target: AutosaveTarget, now: datetime
) -> Saved | None:
    """The autosave's conditional writes on ``connection``, not committed: what it will
    answer, or None when the attempt no longer runs (then ``autosave_the_long_way``)."""
    params = {
        "attempt": save.attempt_id,
        "item_id": target.item_id,
        "response": target.response,
        "seq": save.seq,
        "now": now,
    }
    if connection.dialect.name == "postgresql":
        stored = connection.execute(_AUTOSAVE_ON_POSTGRESQL, params).first()
        still_running = (
            stored is not None
            or connection.execute(_ATTEMPT_STATUS, params).scalar_one() == RUNNING
        )
    else:
        # The attempt row first: the answer is written only if the attempt still runs.
        still_running = connection.execute(_TOUCH_RUNNING_ATTEMPT, params).rowcount == 1
        stored = still_running and connection.execute(_UPSERT_ANSWER_ON_SQLITE, params).first()
        if stored and target.first_seen_at is None:
            connection.execute(_MARK_SEEN, params)
    if not still_running:
        return None
    if stored:
        return Saved(True, save.seq, target.response, now, target.deadline_at)
    current = connection.execute(_HELD_ANSWER, params).one()  # a newer save got there first
    return Saved(False, current.seq, current.response, current.saved_at, target.deadline_at)


def autosave_the_long_way(
    *, session: Session, save: Autosave, user_id: int, now: datetime, grace: int
) -> Saved:
    """The save of ``user_id``'s attempt through its ORM objects, in one transaction: the
    refusals (not found, time over, attempt remitted, unknown question) and finalising."""
    session.commit()  # one transaction from here (the save's statements may have run alone)
    with sqlite_write_lock_first():
        attempt = load_attempt(session=session, attempt_id=save.attempt_id, user_id=user_id)
        outcome = save_answer(
            session=session,
            attempt=attempt,
            question_id=save.question_id,
            selected=save.selected,
            value=save.value,
            seq=save.seq,
            now=now,
            grace=grace,
        )
    answer = outcome.answer
    return Saved(outcome.stored, answer.seq, answer.response, answer.saved_at, attempt.deadline_at)


def _store_answer(
    *,
    session: Session,
    attempt: Attempt,
    item: AttemptItem,
    selected: list[str] | None,
    value,
    seq: int,
    now: datetime,
) -> SaveOutcome:
    response = normalise_response(item.question_version.content, selected=selected, value=value)
    item.seen = True
    item.first_seen_at = item.first_seen_at or now
    existing = item.answer
    if existing is None:
        try:
            with session.begin_nested():
                created = Answer(item=item, response=response, seq=seq, saved_at=now)
                session.add(created)
                session.flush()
            attempt.last_saved_at = now
            session.flush()
            return SaveOutcome(stored=True, answer=created)
        except IntegrityError:  # a concurrent first save of the same item won the insert
            existing = session.scalars(
                select(Answer).where(Answer.attempt_item_id == item.id)
            ).one()
    if seq <= existing.seq:
        return SaveOutcome(stored=False, answer=existing)
    # Compare-and-set on seq: a concurrent newer save is never overwritten by this one.
    changed = session.execute(
        update(Answer)
        .where(Answer.id == existing.id, Answer.seq < seq)
        .values(response=response, seq=seq, saved_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(existing)
    if changed:
        attempt.last_saved_at = now
    session.flush()
    return SaveOutcome(stored=changed == 1, answer=existing)


def set_flag(*, session: Session, attempt: Attempt, question_id: str, flagged: bool) -> AttemptItem:
    if attempt.status != RUNNING:
        raise AttemptError("Ce questionnaire est déjà remis.")
    item = item_by_question(attempt, question_id)
    item.flagged = flagged
    session.flush()
    return item


def mark_seen(*, session: Session, item: AttemptItem, now: datetime) -> None:
    if not item.seen or item.first_seen_at is None:
        item.seen = True
        item.first_seen_at = item.first_seen_at or now
        session.flush()


def submit(*, session: Session, attempt: Attempt, now: datetime, grace: int) -> Attempt:
    """Submit and score; submitting twice is harmless."""
    if attempt.status != RUNNING:
        return attempt
    if finalise_if_expired(session=session, attempt=attempt, now=now, grace=grace):
        return attempt
    finalise(session=session, attempt=attempt, status=SUBMITTED, finished_at=now)
    return attempt


def recompute_deadlines(*, session: Session, enrolment: Enrolment, exam: ExamSession) -> int:
    """After an accommodation change, move the deadline of the candidate's running attempts."""
    attempts = session.scalars(
        select(Attempt)
        .options(joinedload(Attempt.session_questionnaire))
        .where(Attempt.enrolment_id == enrolment.id, Attempt.status == RUNNING)
    ).all()
    for attempt in attempts:
        attempt.deadline_at = deadline(
            started_at=attempt.started_at,
            duration_minutes=attempt.session_questionnaire.duration_minutes,
            extra_time_percent=enrolment.extra_time_percent,
            closes_at=exam.closes_at,
            accommodated_beyond_close=exam.accommodated_beyond_close,
        )
    session.flush()
    return len(attempts)


def answered_count(attempt: Attempt) -> int:
    return sum(1 for item in attempt.items if item.answer and _has_content(item.answer.response))


def _has_content(response: dict) -> bool:
    return bool(response.get("selected")) or response.get("value") not in (None, "")


def is_answered(item: AttemptItem) -> bool:
    return item.answer is not None and _has_content(item.answer.response)


def attempts_of_user(
    *, session: Session, user_id: int
) -> list[tuple[SessionQuestionnaire, Enrolment, Attempt | None]]:
    """Every questionnaire of the sessions the user is enrolled in, with the latest attempt."""
    rows = session.execute(
        select(SessionQuestionnaire, Enrolment)
        .join(Enrolment, Enrolment.exam_session_id == SessionQuestionnaire.exam_session_id)
        .options(joinedload(SessionQuestionnaire.exam_session))
        .where(Enrolment.user_id == user_id)
        .order_by(SessionQuestionnaire.exam_session_id, SessionQuestionnaire.id)
    ).all()
    latest: dict[tuple[int, int], Attempt] = {}
    if rows:
        for attempt in session.scalars(
            select(Attempt)
            .where(Attempt.enrolment_id.in_({enrolment.id for _, enrolment in rows}))
            .order_by(Attempt.number)
        ):
            latest[(attempt.enrolment_id, attempt.session_questionnaire_id)] = attempt
    return [(q, e, latest.get((e.id, q.id))) for q, e in rows]


def session_attempts(*, session: Session, exam_session_id: int) -> list[Attempt]:
    """Every attempt of a session with its items and answers (the proctor's view)."""
    return _with_questions(
        session,
        list(
            session.scalars(
                _attempt_query()
                .join(Attempt.session_questionnaire)
                .where(SessionQuestionnaire.exam_session_id == exam_session_id)
            ).unique()
        ),
    )


def count_running(*, session: Session) -> int:
    return session.scalar(select(func.count()).where(Attempt.status == RUNNING)) or 0
