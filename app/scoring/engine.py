"""Points of each response and the attempt's result. Pure: no DB, no web.

Questions are the stored bank content (``QuestionVersion.content``); responses are the
saved answers: ``{"selected": [option ids]}`` (true/false uses ``"true"``/``"false"``) or
``{"value": "12.5"}``. Fractions throughout: the threshold itself passes, a hair below fails.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from fractions import Fraction


@dataclass(frozen=True)
class AttemptScore:
    points: Fraction
    max_points: int
    percent: Decimal  # rounded down to 2 decimals, for display; `passed` uses the exact value
    passed: bool


def correct_selection(question: dict) -> frozenset[str]:
    """The option ids that make the right answer."""
    if question["type"] == "true_false":
        return frozenset({"true" if question["answer"] else "false"})
    return frozenset(o["id"] for o in question["options"] if o.get("correct"))


def score_item(question: dict, response: dict | None) -> Fraction:
    """1 for a right answer, 0 otherwise (multiple choice: all or nothing)."""
    if not response:
        return Fraction(0)
    if question["type"] == "numeric":
        try:
            value = Decimal(str(response.get("value")))
        except (InvalidOperation, ValueError):
            return Fraction(0)
        if not value.is_finite():
            return Fraction(0)
        distance = abs(value - Decimal(question["answer"]))
        return Fraction(1) if distance <= Decimal(question["tolerance"]) else Fraction(0)
    selected = frozenset(response.get("selected") or ())
    return Fraction(1) if selected == correct_selection(question) else Fraction(0)


def score_attempt(
    items: Sequence[tuple[dict, dict | None]], *, threshold_percent: Decimal
) -> AttemptScore:
    """Sum the points; passed iff points / max ≥ threshold, compared exactly."""
    points = sum((score_item(q, r) for q, r in items), Fraction(0))
    max_points = len(items)
    ratio = points / max_points if max_points else Fraction(0)
    exact_percent = ratio * 100
    percent = (Decimal(exact_percent.numerator) / Decimal(exact_percent.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_DOWN
    )
    passed = max_points > 0 and exact_percent >= Fraction(threshold_percent)
    return AttemptScore(points, max_points, percent, passed)
