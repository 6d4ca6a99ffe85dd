"""Properties of the scoring engine (hypothesis), with the referential's real threshold."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.referential.model import default_referential
from app.scoring.engine import (
    correct_selection,
    display_percent,
    is_passed,
    score_attempt,
    score_item,
    score_items,
)

THRESHOLD = default_referential().questionnaire("fiscalite").pass_threshold_percent

OPTION_IDS = [f"o{i}" for i in range(8)]
UNKNOWN_IDS = ["x", "zz"]


@st.composite
def choice_questions(draw, kind: str | None = None):
    """A single or multiple choice question: distinct option ids, a non-empty key."""
    kind = kind or draw(st.sampled_from(["single_choice", "multiple_choice"]))
    ids = draw(st.lists(st.sampled_from(OPTION_IDS), min_size=2, max_size=8, unique=True))
    if kind == "single_choice":
        key = {draw(st.sampled_from(ids))}
    else:
        key = set(draw(st.lists(st.sampled_from(ids), min_size=1, unique=True)))
    options = [{"id": i, "correct": True} if i in key else {"id": i} for i in ids]
    return {"id": draw(st.sampled_from(["q1", "q2", "q3", "q4"])), "type": kind, "options": options}


def selections(question: dict):
    ids = [o["id"] for o in question["options"]] + UNKNOWN_IDS
    return st.lists(st.sampled_from(ids), unique=True)


@st.composite
def questions_and_responses(draw):
    """Any question type with a response that may be missing, empty, right or wrong."""
    kind = draw(st.sampled_from(["single_choice", "multiple_choice", "true_false", "numeric"]))
    qid = draw(st.sampled_from(["q1", "q2", "q3", "q4", "q5"]))
    if kind == "true_false":
        question = {"id": qid, "type": kind, "answer": draw(st.booleans())}
        selected = draw(st.lists(st.sampled_from(["true", "false"]), unique=True))
        response = {"selected": selected}
    elif kind == "numeric":
        question = {"id": qid, "type": kind, "answer": "100", "tolerance": "0.5"}
        value = draw(
            st.one_of(
                st.sampled_from(["100", "99.5", "100.50", "100.51", "abc", "NaN", "-Infinity", ""]),
                st.decimals(min_value=98, max_value=102, places=3).map(str),
            )
        )
        response = {"value": value}
    else:
        question = {**draw(choice_questions(kind)), "id": qid}
        response = {"selected": draw(selections(question))}
    return question, draw(st.one_of(st.none(), st.just({}), st.just(response)))


neutralisations = st.dictionaries(
    st.sampled_from(["q1", "q2", "q3", "q4", "q5", "absent"]), st.sampled_from(["remove", "grant"])
)


def right(question: dict) -> dict:
    return {"selected": sorted(correct_selection(question))}


SINGLE = {
    "id": "s",
    "type": "single_choice",
    "options": [{"id": "a", "correct": True}, {"id": "b"}],
}


def attempt(points: int, max_points: int) -> list[tuple[dict, dict | None]]:
    """``points`` right answers out of ``max_points`` single choice questions."""
    return [(SINGLE, {"selected": ["a"]})] * points + [(SINGLE, None)] * (max_points - points)


class TestBounds:
    @given(questions_and_responses(), st.booleans())
    def test_item_points_between_zero_and_one(self, item, partial_credit):
        question, response = item
        assert 0 <= score_item(question, response, partial_credit=partial_credit) <= 1

    @given(st.lists(questions_and_responses(), max_size=30), st.booleans(), neutralisations)
    def test_attempt_points_and_percent(self, items, partial_credit, neutralised):
        result = score_attempt(
            items,
            threshold_percent=THRESHOLD,
            partial_credit=partial_credit,
            neutralised=neutralised,
        )
        assert isinstance(result.points, Fraction)
        assert 0 <= result.points <= result.max_points <= len(items)
        assert Decimal(0) <= result.percent <= Decimal(100)
        if result.max_points == 0:
            assert (result.percent, result.passed) == (Decimal(0), False)

    @given(st.lists(questions_and_responses(), max_size=30), st.booleans())
    def test_percent_is_the_exact_ratio_rounded_down(self, items, partial_credit):
        result = score_attempt(items, threshold_percent=THRESHOLD, partial_credit=partial_credit)
        assume(result.max_points > 0)
        exact = result.points * 100 / result.max_points
        assert result.percent.as_tuple().exponent == -2
        assert Fraction(result.percent) <= exact < Fraction(result.percent) + Fraction(1, 100)
        assert result.passed is (exact >= Fraction(THRESHOLD))


class TestOptionOrder:
    @given(st.data(), st.booleans())
    def test_shuffling_selection_or_options_never_changes_the_score(self, data, partial_credit):
        question = data.draw(choice_questions())
        selected = data.draw(selections(question))
        shuffled_question = {**question, "options": data.draw(st.permutations(question["options"]))}
        shuffled_selected = data.draw(st.permutations(selected))
        expected = score_item(question, {"selected": selected}, partial_credit=partial_credit)
        for q, s in [
            (question, shuffled_selected),
            (shuffled_question, selected),
            (shuffled_question, shuffled_selected),
        ]:
            assert score_item(q, {"selected": s}, partial_credit=partial_credit) == expected


class TestPartialCredit:
    @given(st.data())
    def test_formula_floored_at_zero(self, data):
        question = data.draw(choice_questions("multiple_choice"))
        selected = set(data.draw(selections(question)))
        key = correct_selection(question)
        points = score_item(question, {"selected": sorted(selected)}, partial_credit=True)
        raw = Fraction(len(selected & key) - len(selected - key), len(key))
        assert points == max(Fraction(0), raw)
        assert points >= 0
        if len(selected - key) >= len(selected & key):
            assert points == 0

    @given(st.data())
    def test_full_point_iff_exactly_the_key(self, data):
        question = data.draw(choice_questions("multiple_choice"))
        selected = data.draw(selections(question))
        points = score_item(question, {"selected": selected}, partial_credit=True)
        assert (points == 1) is (set(selected) == correct_selection(question))

    @given(st.data())
    def test_never_less_than_all_or_nothing(self, data):
        question = data.draw(choice_questions("multiple_choice"))
        response = {"selected": data.draw(selections(question))}
        strict = score_item(question, response)
        assert strict in (0, 1)
        assert score_item(question, response, partial_credit=True) >= strict

    @given(questions_and_responses())
    def test_other_types_stay_all_or_nothing(self, item):
        question, response = item
        assume(question["type"] != "multiple_choice")
        assert score_item(question, response, partial_credit=True) == score_item(question, response)

    def test_examples(self):
        question = {
            "type": "multiple_choice",
            "options": [
                {"id": "a", "correct": True},
                {"id": "b", "correct": True},
                {"id": "c", "correct": True},
                {"id": "d"},
            ],
        }

        def points(*selected):
            return score_item(question, {"selected": list(selected)}, partial_credit=True)

        assert points("a", "b", "c") == 1
        assert points("a", "b") == Fraction(2, 3)
        assert points("a", "b", "d") == Fraction(1, 3)
        assert points("a", "d") == 0
        assert points("d") == 0
        assert points() == 0
        assert points("a", "b", "c", "d") == Fraction(2, 3)


class TestThresholdBoundary:
    def test_threshold_read_from_the_referential(self):
        assert Decimal(60) == THRESHOLD

    def test_every_score_up_to_200_questions(self):
        for max_points in range(1, 201):
            for points in range(max_points + 1):
                passed = is_passed(Fraction(points), max_points, threshold_percent=THRESHOLD)
                assert passed is (100 * points >= 60 * max_points), (points, max_points)

    @given(st.integers(1, 200).flatmap(lambda m: st.tuples(st.integers(0, m), st.just(m))))
    def test_attempts_up_to_200_questions(self, score):
        points, max_points = score
        result = score_attempt(attempt(points, max_points), threshold_percent=THRESHOLD)
        assert (result.points, result.max_points) == (points, max_points)
        assert result.passed is (100 * points >= 60 * max_points)

    @pytest.mark.parametrize(
        ("points", "max_points", "percent", "passed"),
        [
            (24, 40, Decimal("60.00"), True),
            (23, 40, Decimal("57.50"), False),
            (6000, 10000, Decimal("60.00"), True),
            (5999, 10000, Decimal("59.99"), False),
        ],
    )
    def test_examples(self, points, max_points, percent, passed):
        result = score_attempt(attempt(points, max_points), threshold_percent=THRESHOLD)
        assert (result.percent, result.passed) == (percent, passed)

    def test_a_hair_below_fails_even_when_display_would_round_up(self):
        # 2999999/5000000 = 59.99998 %: displayed 59.99, not passed.
        points = Fraction(2999999, 5000000)
        assert display_percent(points, 1) == Decimal("59.99")
        assert is_passed(points, 1, threshold_percent=THRESHOLD) is False
        assert is_passed(Fraction(3, 5), 1, threshold_percent=THRESHOLD) is True


class TestNeutralisation:
    @given(st.lists(questions_and_responses(), max_size=30), st.booleans(), neutralisations)
    def test_remove_lowers_max_by_the_removed_count(self, items, partial_credit, neutralised):
        removed = [q for q, _ in items if neutralised.get(q["id"]) == "remove"]
        result = score_attempt(
            items,
            threshold_percent=THRESHOLD,
            partial_credit=partial_credit,
            neutralised=neutralised,
        )
        assert result.max_points == len(items) - len(removed)

    @given(st.lists(questions_and_responses(), max_size=30), st.booleans(), neutralisations)
    def test_removed_items_count_for_nothing(self, items, partial_credit, neutralised):
        kept = [(q, r) for q, r in items if neutralised.get(q["id"]) != "remove"]
        with_removal = score_attempt(
            items,
            threshold_percent=THRESHOLD,
            partial_credit=partial_credit,
            neutralised=neutralised,
        )
        without = score_attempt(
            kept,
            threshold_percent=THRESHOLD,
            partial_credit=partial_credit,
            neutralised={k: v for k, v in neutralised.items() if v != "remove"},
        )
        assert with_removal == without

    @given(questions_and_responses(), st.booleans())
    def test_grant_gives_the_point_whatever_the_response(self, item, partial_credit):
        question, response = item
        (score,) = score_items(
            [(question, response)],
            partial_credit=partial_credit,
            neutralised={question["id"]: "grant"},
        )
        assert (score.points, score.max_points) == (1, 1)

    def test_every_item_removed(self):
        items = [(SINGLE, {"selected": ["a"]})] * 3
        result = score_attempt(items, threshold_percent=THRESHOLD, neutralised={"s": "remove"})
        assert (result.points, result.max_points, result.percent, result.passed) == (
            0,
            0,
            Decimal("0.00"),
            False,
        )

    def test_remove_can_turn_a_fail_into_a_pass(self):
        other = {**SINGLE, "id": "t"}
        items = [(SINGLE, {"selected": ["a"]})] * 3 + [(other, {"selected": ["b"]})] * 2
        assert score_attempt(items, threshold_percent=THRESHOLD).passed is True
        items = [(SINGLE, {"selected": ["a"]})] * 2 + [(other, {"selected": ["b"]})] * 2
        assert score_attempt(items, threshold_percent=THRESHOLD).passed is False
        removed = score_attempt(items, threshold_percent=THRESHOLD, neutralised={"t": "remove"})
        assert (removed.points, removed.max_points, removed.passed) == (2, 2, True)
        granted = score_attempt(items, threshold_percent=THRESHOLD, neutralised={"t": "grant"})
        assert (granted.points, granted.max_points, granted.passed) == (4, 4, True)

    def test_unknown_action_refused(self):
        with pytest.raises(ValueError, match="neutralisation inconnue pour la question s"):
            score_attempt([(SINGLE, None)], threshold_percent=THRESHOLD, neutralised={"s": "x"})

    def test_question_without_id_is_never_neutralised(self):
        question = {k: v for k, v in SINGLE.items() if k != "id"}
        result = score_attempt(
            [(question, None)], threshold_percent=THRESHOLD, neutralised={"s": "grant"}
        )
        assert (result.points, result.max_points) == (0, 1)
