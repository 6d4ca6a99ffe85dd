"""What a candidate may see of an attempt, shared by the JSON API and the pages."""

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from app.attempts import service as attempts_service
from app.attempts.models import RUNNING, Attempt, AttemptItem
from app.attempts.schemas import (
    AttemptRead,
    Correction,
    QuestionnaireStatus,
    QuestionRead,
    ResultRead,
    TopicResult,
)
from app.attempts.service import answered_count, threshold_for
from app.attempts.timing import remaining_seconds
from app.clock import paris_datetime
from app.decimals import plain_decimal
from app.scoring.engine import correct_selection, score_items
from app.sessions.models import Enrolment, SessionQuestionnaire

TRUE_FALSE_OPTIONS = (("true", "Vrai"), ("false", "Faux"))


def options_in_order(item: AttemptItem) -> list[dict[str, str]] | None:
    """The options as this attempt shows them (its frozen order)."""
    content = item.question_version.content
    if content["type"] == "numeric":
        return None
    if content["type"] == "true_false":
        texts = dict(TRUE_FALSE_OPTIONS)
    else:
        texts = {option["id"]: option["text"] for option in content["options"]}
    return [{"id": option_id, "text": texts[option_id]} for option_id in item.option_order]


def _question_fields(item: AttemptItem) -> dict:
    # Plain data: the whole attempt is then validated in one call (see attempt_read), not
    # question by question and option by option (a start shows 40 questions).
    content = item.question_version.content
    answer = item.answer
    return {
        "question_id": item.question_id,
        "position": item.position,
        "type": content["type"],
        "topic": content["topic"],
        "stem": content["stem"],
        "options": options_in_order(item),
        "unit": content.get("unit"),
        "flagged": item.flagged,
        "response": answer.response if answer else None,
        "seq": answer.seq if answer else 0,
        "saved_at": answer.saved_at if answer else None,
    }


def question_read(item: AttemptItem) -> QuestionRead:
    return QuestionRead.model_validate(_question_fields(item))


def attempt_read(attempt: Attempt, *, now: datetime, topic_labels: dict[str, str]) -> AttemptRead:
    questionnaire = attempt.session_questionnaire
    return AttemptRead(
        id=attempt.id,
        questionnaire_id=questionnaire.id,
        title=questionnaire.title,
        status=attempt.status,
        started_at=attempt.started_at,
        deadline=attempt.deadline_at,
        remaining_seconds=remaining_seconds(deadline_at=attempt.deadline_at, now=now)
        if attempt.status == RUNNING
        else 0,
        answered=answered_count(attempt),
        total=len(attempt.items),
        questions=[_question_fields(item) for item in attempt.items],
        result=None
        if attempt.status == RUNNING
        else result_read(attempt, now=now, topic_labels=topic_labels),
    )


def result_available_at(attempt: Attempt) -> datetime | None:
    """When the candidate may see the result (None while the attempt runs)."""
    if attempt.finished_at is None:
        return None
    questionnaire = attempt.session_questionnaire
    if questionnaire.review_from == "session_close":
        return max(questionnaire.exam_session.closes_at, attempt.finished_at)
    return attempt.finished_at


def expected_response(content: dict) -> dict:
    if content["type"] == "numeric":
        return {"value": content["answer"], "tolerance": content["tolerance"]}
    return {"selected": sorted(correct_selection(content))}


def result_read(attempt: Attempt, *, now: datetime, topic_labels: dict[str, str]) -> ResultRead:
    """The result as the questionnaire's review policy allows it at ``now``."""
    available_at = result_available_at(attempt)
    if available_at is None:
        return ResultRead(available=False, message="Le questionnaire est en cours.")
    if now < available_at:
        return ResultRead(
            available=False,
            message=(
                "Votre questionnaire est remis. Le résultat sera disponible à partir du "
                f"{paris_datetime(available_at)}."
            ),
        )
    questionnaire = attempt.session_questionnaire
    result = ResultRead(
        available=True,
        message="Résultat disponible.",
        points=plain_decimal(attempt.points),
        max_points=int(attempt.max_points or 0),
        percent=attempt.percent.quantize(Decimal("0.01")),
        threshold_percent=threshold_for(questionnaire.theme),
        passed=attempt.passed,
    )
    scores = {
        score.question_id: score
        for score in score_items(
            attempts_service.scored_items(attempt),
            partial_credit=questionnaire.partial_credit,
            neutralised=questionnaire.neutralised or {},
        )
    }
    if questionnaire.review in ("topics", "correction"):
        totals: dict[str, list] = {}
        for item in attempt.items:
            score = scores[item.question_id]
            entry = totals.setdefault(item.question_version.content["topic"], [Fraction(0), 0])
            entry[0] += score.points
            entry[1] += score.max_points
        result.topics = [
            TopicResult(
                topic=t,
                label=topic_labels.get(t, t),
                points=plain_decimal(Decimal(p.numerator) / Decimal(p.denominator)),
                max_points=int(m),
            )
            for t, (p, m) in sorted(totals.items(), key=lambda kv: topic_labels.get(kv[0], kv[0]))
        ]
    if questionnaire.review == "correction":
        result.corrections = [
            Correction(
                question_id=item.question_id,
                position=item.position,
                correct=scores[item.question_id].max_points > 0
                and scores[item.question_id].points == scores[item.question_id].max_points,
                response=item.answer.response if item.answer else None,
                expected=expected_response(item.question_version.content),
                explanation=item.question_version.content["explanation"],
            )
            for item in attempt.items
        ]
    return result


def questionnaire_status(
    questionnaire: SessionQuestionnaire,
    enrolment: Enrolment,
    attempt: Attempt | None,
    *,
    now: datetime,
) -> QuestionnaireStatus:
    exam = questionnaire.exam_session
    if attempt is not None and attempt.status == RUNNING and now <= attempt.deadline_at:
        status = "en_cours"
    elif attempt is not None:
        status = "termine"
    elif now < exam.opens_at:
        status = "a_venir"
    elif now >= exam.closes_at:
        status = "ferme"
    else:
        status = "ouvert"
    minutes = questionnaire.duration_minutes * (100 + enrolment.extra_time_percent) / 100
    return QuestionnaireStatus(
        id=questionnaire.id,
        title=questionnaire.title,
        theme=questionnaire.theme,
        session=exam.name,
        opens_at=exam.opens_at,
        closes_at=exam.closes_at,
        duration_minutes=int(timedelta(minutes=minutes).total_seconds() // 60),
        item_count=questionnaire.item_count,
        status=status,
        attempt_id=attempt.id if attempt else None,
    )
