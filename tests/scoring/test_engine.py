"""Points and pass/fail with exact arithmetic."""

from decimal import Decimal
from fractions import Fraction

import pytest

from app.scoring.engine import score_attempt, score_item

SINGLE = {"type": "single_choice", "options": [{"id": "a", "correct": True}, {"id": "b"}]}
MULTIPLE = {
    "type": "multiple_choice",
    "options": [{"id": "a", "correct": True}, {"id": "b", "correct": True}, {"id": "c"}],
}
TRUE_FALSE = {"type": "true_false", "answer": False}
NUMERIC = {"type": "numeric", "answer": "5104", "tolerance": "1"}


class TestItem:
    @pytest.mark.parametrize(
        ("question", "response", "points"),
        [
            (SINGLE, {"selected": ["a"]}, 1),
            (SINGLE, {"selected": ["b"]}, 0),
            (SINGLE, None, 0),
            (MULTIPLE, {"selected": ["b", "a"]}, 1),
            (MULTIPLE, {"selected": ["a"]}, 0),
            (MULTIPLE, {"selected": ["a", "b", "c"]}, 0),
            (TRUE_FALSE, {"selected": ["false"]}, 1),
            (TRUE_FALSE, {"selected": ["true"]}, 0),
            (NUMERIC, {"value": "5103"}, 1),
            (NUMERIC, {"value": "5105.0"}, 1),
            (NUMERIC, {"value": "5105.01"}, 0),
            (NUMERIC, {"value": "abc"}, 0),
            (NUMERIC, {"value": "NaN"}, 0),
        ],
    )
    def test_points(self, question, response, points):
        assert score_item(question, response) == Fraction(points)


class TestAttempt:
    def test_threshold_is_inclusive(self):
        items = [(SINGLE, {"selected": ["a"]})] * 24 + [(SINGLE, None)] * 16
        result = score_attempt(items, threshold_percent=Decimal(60))
        assert (result.points, result.max_points, result.percent, result.passed) == (
            24,
            40,
            Decimal("60.00"),
            True,
        )

    def test_just_below_fails(self):
        items = [(SINGLE, {"selected": ["a"]})] * 23 + [(SINGLE, None)] * 17
        result = score_attempt(items, threshold_percent=Decimal(60))
        assert (result.percent, result.passed) == (Decimal("57.50"), False)

    def test_percent_is_rounded_down_for_display_only(self):
        items = [(SINGLE, {"selected": ["a"]})] * 2 + [(SINGLE, None)]
        result = score_attempt(items, threshold_percent=Decimal("66.67"))
        assert (result.percent, result.passed) == (Decimal("66.66"), False)
        assert score_attempt(items, threshold_percent=Decimal("66.66")).passed is True


class TestPartialCredit:
    @pytest.mark.parametrize(
        ("selected", "points"),
        [
            (["a", "b"], Fraction(1)),
            (["a"], Fraction(1, 2)),
            (["a", "c"], Fraction(0)),
            (["a", "b", "c"], Fraction(1, 2)),
            (["c"], Fraction(0)),
            ([], Fraction(0)),
        ],
    )
    def test_multiple_choice(self, selected, points):
        assert score_item(MULTIPLE, {"selected": selected}, partial_credit=True) == points

    def test_off_by_default(self):
        assert score_item(MULTIPLE, {"selected": ["a"]}) == 0

    def test_single_choice_unchanged(self):
        assert score_item(SINGLE, {"selected": ["b"]}, partial_credit=True) == 0

    def test_attempt(self):
        items = [(MULTIPLE, {"selected": ["a"]})] * 6 + [(MULTIPLE, {"selected": ["a", "b"]})] * 2
        result = score_attempt(items, threshold_percent=Decimal(60), partial_credit=True)
        assert (result.points, result.max_points, result.percent, result.passed) == (
            5,
            8,
            Decimal("62.50"),
            True,
        )
        assert score_attempt(items, threshold_percent=Decimal(60)).passed is False


class TestNeutralisation:
    Q1 = {**SINGLE, "id": "q1"}
    Q2 = {**SINGLE, "id": "q2"}

    def test_remove(self):
        items = [(self.Q1, {"selected": ["a"]}), (self.Q2, {"selected": ["a"]})]
        result = score_attempt(items, threshold_percent=Decimal(60), neutralised={"q2": "remove"})
        assert (result.points, result.max_points, result.percent) == (1, 1, Decimal("100.00"))

    def test_grant(self):
        items = [(self.Q1, {"selected": ["a"]}), (self.Q2, None)]
        result = score_attempt(items, threshold_percent=Decimal(60), neutralised={"q2": "grant"})
        assert (result.points, result.max_points, result.passed) == (2, 2, True)

    def test_ids_not_drawn_are_ignored(self):
        items = [(self.Q1, {"selected": ["a"]})]
        result = score_attempt(items, threshold_percent=Decimal(60), neutralised={"q9": "remove"})
        assert (result.points, result.max_points) == (1, 1)
