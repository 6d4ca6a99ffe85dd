"""Points of each response and the attempt's result. Pure: no DB, no web.

Questions are the stored bank content (``QuestionVersion.content``, which carries the
question's ``"id"``); responses are the saved answers: ``{"selected": [option ids]}``
(true/false uses ``"true"``/``"false"``) or ``{"value": "12.5"}``. Fractions throughout:
the threshold itself passes, a hair below fails.

Two options change the scoring:

- partial credit (a per-bank option) for multiple choice questions:
  ``max(0, (|selected ∩ key| − |selected \\ key|) / |key|)``; without it, all or nothing;
- neutralisation of a question after the fact, by id: ``"remove"`` takes the item out of
  the scoring for everyone (neither points nor maximum), ``"grant"`` gives everyone the point.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from math import floor

__all__ = [
    "AttemptScore",
    "ItemScore",
    "Neutralisation",
    "correct_selection",
    "display_percent",
    "is_passed",
    "score_attempt",
    "score_item",
    "score_items",
]


class Neutralisation(StrEnum):
    """What happens to a neutralised question, for every candidate."""

    REMOVE = "remove"  # out of the scoring: counts neither in points nor in the maximum
    GRANT = "grant"  # everyone gets the full point, whatever the response


@dataclass(frozen=True)
class AttemptScore:
    points: Fraction
    max_points: int  # number of scored items (removed items excluded)
    percent: Decimal  # rounded down to 2 decimals, for display; `passed` uses the exact value
    passed: bool


@dataclass(frozen=True)
class ItemScore:
    """The score of one item of an attempt, neutralisation applied."""

    question_id: str | None
    points: Fraction
    max_points: int  # 1, or 0 for a removed item
    neutralisation: Neutralisation | None = None


def correct_selection(question: dict) -> frozenset[str]:
    """The option ids that make the right answer."""
    if question["type"] == "true_false":
        return frozenset({"true" if question["answer"] else "false"})
    return frozenset(o["id"] for o in question["options"] if o.get("correct"))


def _numeric_points(question: dict, response: dict) -> Fraction:
    try:
        value = Decimal(str(response.get("value")))
    except (InvalidOperation, ValueError):
        return Fraction(0)
    if not value.is_finite():
        return Fraction(0)
    distance = abs(value - Decimal(question["answer"]))
    return Fraction(1) if distance <= Decimal(question["tolerance"]) else Fraction(0)


def score_item(question: dict, response: dict | None, *, partial_credit: bool = False) -> Fraction:
    """Points of one response, between 0 and 1.

    Multiple choice is all or nothing unless ``partial_credit``: then each right option
    selected earns ``1/|key|`` and each wrong one selected costs as much, floored at 0.
    Other types are always all or nothing.
    """
    if not response:
        return Fraction(0)
    if question["type"] == "numeric":
        return _numeric_points(question, response)
    selected = frozenset(response.get("selected") or ())
    key = correct_selection(question)
    if partial_credit and question["type"] == "multiple_choice" and key:
        earned = len(selected & key) - len(selected - key)
        return max(Fraction(0), Fraction(earned, len(key)))
    return Fraction(1) if selected == key else Fraction(0)


def _neutralisations(neutralised: Mapping[str, str] | None) -> dict[str, Neutralisation]:
    result: dict[str, Neutralisation] = {}
    for question_id, action in (neutralised or {}).items():
        try:
            result[question_id] = Neutralisation(action)
        except ValueError:
            allowed = " ou ".join(f"« {n.value} »" for n in Neutralisation)
            raise ValueError(
                f"neutralisation inconnue pour la question {question_id} : « {action} »"
                f" (attendu : {allowed})"
            ) from None
    return result


def score_items(
    items: Sequence[tuple[dict, dict | None]],
    *,
    partial_credit: bool = False,
    neutralised: Mapping[str, str] | None = None,
) -> tuple[ItemScore, ...]:
    """Each item's points and maximum, neutralisation applied (ids from ``content["id"]``).

    Neutralised ids absent from ``items`` are ignored: a neutralisation is decided for a
    bank, and an attempt holds only the questions drawn for it.
    """
    actions = _neutralisations(neutralised)
    scores = []
    for question, response in items:
        question_id = question.get("id")
        action = actions.get(question_id) if question_id is not None else None
        if action is Neutralisation.REMOVE:
            scores.append(ItemScore(question_id, Fraction(0), 0, action))
        elif action is Neutralisation.GRANT:
            scores.append(ItemScore(question_id, Fraction(1), 1, action))
        else:
            points = score_item(question, response, partial_credit=partial_credit)
            scores.append(ItemScore(question_id, points, 1))
    return tuple(scores)


def display_percent(points: Fraction, max_points: int) -> Decimal:
    """``points / max`` as a percentage rounded DOWN to 2 decimals, exactly (0 if no max)."""
    if not max_points:
        return Decimal(0).scaleb(-2)
    return Decimal(floor(Fraction(points) * 10000 / max_points)).scaleb(-2)


def is_passed(points: Fraction, max_points: int, *, threshold_percent: Decimal) -> bool:
    """``points / max × 100 ≥ threshold``, compared as fractions; never passed without a max."""
    if not max_points:
        return False
    return Fraction(points) * 100 / max_points >= Fraction(threshold_percent)


def score_attempt(
    items: Sequence[tuple[dict, dict | None]],
    *,
    threshold_percent: Decimal,
    partial_credit: bool = False,
    neutralised: Mapping[str, str] | None = None,
) -> AttemptScore:
    """Sum the points; passed iff points / max ≥ threshold, compared exactly.

    If every item is removed, the maximum is 0: percent 0, not passed.
    """
    scores = score_items(items, partial_credit=partial_credit, neutralised=neutralised)
    points = sum((s.points for s in scores), Fraction(0))
    max_points = sum(s.max_points for s in scores)
    return AttemptScore(
        points,
        max_points,
        display_percent(points, max_points),
        is_passed(points, max_points, threshold_percent=threshold_percent),
    )
